package allocator

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/mesoproject/meso/internal/resources"
)

// TestQuotaProperties drives random clusters with quotas, greedy
// frameworks that launch everything they are offered and tasks that end
// at random, and checks after every cycle that (1) no cycle takes a role
// (with its descendants) above a limit it was within, and (2) every
// guarantee is met: the guarantees fit the cluster, every guaranteed role
// has an active framework, and nothing else (filters, GPUs, minimum
// sizes) stands in the way, so the allocator must meet them, unless an
// ancestor's limit is used up.
func TestQuotaProperties(t *testing.T) {
	runs := 100
	if testing.Short() {
		runs = 40
	}
	roles := []string{"a", "a/x", "a/y", "b", "c"}
	for seed := range uint64(runs) {
		rng := rand.New(rand.NewPCG(seed, 7))
		a := New(Config{ShuffleSeed: seed + 1})
		var cpus int64
		for i := range 3 + rng.IntN(6) {
			n := int64(1 + rng.IntN(8))
			cpus += n
			total := resources.MustParse(fmt.Sprintf("cpus:%d;mem:%d", n, 256*(1+rng.IntN(4))))
			if err := a.AddAgent(fmt.Sprintf("a%d", i), total, nil); err != nil {
				t.Fatal(err)
			}
		}
		// Guarantees on a, a/x and c within the cluster; limits anywhere.
		gA := rng.Int64N(cpus/2 + 1)
		gX := rng.Int64N(gA + 1)
		gC := rng.Int64N(cpus - gA + 1)
		quotas := map[string]Quota{
			"a":   {Guarantees: q("cpus", gA), Limits: q("cpus", gA+rng.Int64N(cpus))},
			"a/x": {Guarantees: q("cpus", gX)},
			"c":   {Guarantees: q("cpus", gC)},
			"b":   {Limits: q("cpus", rng.Int64N(cpus))},
		}
		if err := a.UpdateQuotas(quotas); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		for i, role := range roles {
			if err := a.AddFramework(fmt.Sprintf("f%d", i), Framework{Roles: []string{role}}); err != nil {
				t.Fatal(err)
			}
		}
		type task struct {
			fw, role, agent string
			res             resources.Resources
		}
		var tasks []task
		now := time.Unix(0, 0)
		for cycle := range 40 {
			now = now.Add(time.Second)
			before := map[string]resources.Scalar{}
			for role := range quotas {
				before[role] = subtreeCPUs(a, role)
			}
			for _, o := range a.Allocate(now) {
				if err := a.Allocated(o.Framework, o.Role, o.Agent, o.Resources); err != nil {
					t.Fatal(err)
				}
				tasks = append(tasks, task{o.Framework, o.Role, o.Agent, o.Resources})
			}
			for role, quo := range quotas {
				used := subtreeCPUs(a, role)
				if l, ok := quantity(quo.Limits, "cpus"); ok && used > l && used > before[role] {
					t.Fatalf("seed %d cycle %d: role %s holds cpus:%v, above its limit %v (it held %v)", seed, cycle, role, used, l, before[role])
				}
				// A guarantee is out of reach when an ancestor's limit is
				// used up (by the ancestor's own frameworks, say).
				capped := false
				for anc, aq := range quotas {
					if l, ok := quantity(aq.Limits, "cpus"); ok && strings.HasPrefix(role, anc+"/") && subtreeCPUs(a, anc) >= l {
						capped = true
					}
				}
				if g, ok := quantity(quo.Guarantees, "cpus"); ok && used < g && !capped {
					var b []string
					for _, id := range a.Agents() {
						st, _ := a.Agent(id)
						b = append(b, fmt.Sprintf("%+v", st))
					}
					t.Fatalf("seed %d cycle %d: role %s holds cpus:%v, below its guarantee %v; quotas %v\n%v", seed, cycle, role, used, g, quotas, b)
				}
			}
			kept := tasks[:0]
			for _, tk := range tasks {
				if rng.IntN(4) == 0 {
					if err := a.Release(tk.fw, tk.role, tk.agent, tk.res); err != nil {
						t.Fatal(err)
					}
					continue
				}
				kept = append(kept, tk)
			}
			tasks = kept
		}
	}
}

func q(name string, units int64) resources.Quantities {
	if units == 0 {
		return nil
	}
	return resources.Quantities{{Name: name, Value: resources.Units(units)}}
}

func subtreeCPUs(a *Allocator, role string) resources.Scalar {
	var sum resources.Scalar
	for _, id := range a.Agents() {
		st, _ := a.Agent(id)
		for _, h := range st.Holdings {
			if h.Role == role || len(h.Role) > len(role) && h.Role[:len(role)+1] == role+"/" {
				sum += h.Offered.Scalar("cpus") + h.Used.Scalar("cpus")
			}
		}
	}
	return sum
}
