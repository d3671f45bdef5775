package sim

import "github.com/mesoproject/meso/internal/resources"

// fits returns how many tasks needing need fit into avail, at most limit.
// Both are quantities sorted by name (resources.Quantities); a name need
// has and avail lacks fits nothing. need must not be empty.
func fits(avail, need resources.Quantities, limit int) int {
	n := limit
	i := 0
	for _, want := range need {
		if want.Value <= 0 {
			continue
		}
		for i < len(avail) && avail[i].Name < want.Name {
			i++
		}
		if i == len(avail) || avail[i].Name != want.Name {
			return 0
		}
		n = min(n, int(avail[i].Value/want.Value))
		if n <= 0 {
			return 0
		}
	}
	return n
}
