package resources

import (
	"fmt"
	"slices"
	"strings"
)

// Quantity is an amount of a named resource regardless of role: a scalar
// value, or the number of elements of ranges or sets.
type Quantity struct {
	Name  string
	Value Scalar
}

// Quantities is a list of quantities sorted by name, one per name.
type Quantities []Quantity

// Quantities sums r per name over roles and kinds.
func (r Resources) Quantities() Quantities {
	var q Quantities
	for i := range r {
		v := r[i].Quantity()
		if n := len(q); n > 0 && q[n-1].Name == r[i].Name {
			q[n-1].Value += v
			continue
		}
		q = append(q, Quantity{r[i].Name, v})
	}
	return q
}

// ContainsQuantities reports whether r holds at least each quantity of q.
func (r Resources) ContainsQuantities(q Quantities) bool {
	i := 0
	for _, want := range q {
		var have Scalar
		for i < len(r) && r[i].Name < want.Name {
			i++
		}
		for k := i; k < len(r) && r[k].Name == want.Name; k++ {
			have += r[k].Quantity()
		}
		if have < want.Value {
			return false
		}
	}
	return true
}

// ParseQuantities parses "cpus:0.01;mem:32": ';'-separated name:number
// pairs, numbers non-negative and finite. Duplicate names add up; zero
// amounts are dropped.
func ParseQuantities(text string) (Quantities, error) {
	var q Quantities
	for _, tok := range strings.Split(text, ";") {
		tok = strings.TrimSpace(tok)
		if tok == "" {
			continue
		}
		name, val, ok := strings.Cut(tok, ":")
		name = strings.TrimSpace(name)
		if !ok || strings.Contains(val, ":") {
			return nil, parseErr("quantities", tok, "missing or extra ':'")
		}
		if err := validateName(name); err != nil {
			return nil, parseErr("quantities", tok, "invalid name")
		}
		s, err := parseScalar(strings.TrimSpace(val))
		if err != nil {
			return nil, parseErr("quantities", tok, "invalid scalar value")
		}
		if s < 0 {
			return nil, parseErr("quantities", tok, "negative value")
		}
		if s > 0 {
			q = append(q, Quantity{name, s})
		}
	}
	slices.SortStableFunc(q, func(a, b Quantity) int { return strings.Compare(a.Name, b.Name) })
	out := q[:0]
	for _, x := range q {
		if n := len(out); n > 0 && out[n-1].Name == x.Name {
			out[n-1].Value += x.Value
			continue
		}
		out = append(out, x)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// String formats q as "cpus:0.01;mem:32".
func (q Quantities) String() string {
	parts := make([]string, len(q))
	for i, x := range q {
		parts[i] = fmt.Sprintf("%s:%s", x.Name, x.Value)
	}
	return strings.Join(parts, ";")
}
