package allocator

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/mesoproject/meso/internal/resources"
)

var (
	propRoles = []string{"a", "b", "a/x", "c", "*"}
	propFws   = []string{"f1", "f2", "f3", "f4", "f5"}
	propAgent = []string{"a1", "a2", "a3", "a4", "a5", "a6"}
)

func randTotal(rng *rand.Rand) resources.Resources {
	list := []resources.Resource{
		{Name: "cpus", Kind: resources.KindScalar, Scalar: resources.Scalar(1000 * (1 + rng.IntN(8)))},
		{Name: "mem", Kind: resources.KindScalar, Scalar: resources.Units(int64(256 * (1 + rng.IntN(8))))},
		{Name: "ports", Kind: resources.KindRanges, Ranges: []resources.Range{{Begin: 31000, End: 31000 + uint64(rng.IntN(20))}}},
	}
	if rng.IntN(4) == 0 {
		list = append(list, resources.Resource{Name: "gpus", Kind: resources.KindScalar, Scalar: resources.Units(1)})
	}
	if rng.IntN(3) == 0 {
		list = append(list, resources.Resource{Name: "cpus", Role: propRoles[rng.IntN(len(propRoles))], Kind: resources.KindScalar, Scalar: resources.Units(2)})
	}
	if rng.IntN(4) == 0 {
		list = append(list, resources.Resource{Name: "zones", Kind: resources.KindSet, Set: []string{"x", "y"}})
	}
	r, err := resources.New(list...)
	if err != nil {
		panic(err)
	}
	return r
}

// part returns a non-empty piece of r: half of each scalar, one port, one
// set item, as a framework launching a task would use.
func part(rng *rand.Rand, r resources.Resources) resources.Resources {
	var list []resources.Resource
	for _, x := range r {
		if rng.IntN(3) == 0 {
			continue
		}
		switch x.Kind {
		case resources.KindScalar:
			x.Scalar = max(x.Scalar/2, 1)
		case resources.KindRanges:
			x.Ranges = []resources.Range{{Begin: x.Ranges[0].Begin, End: x.Ranges[0].Begin}}
		case resources.KindSet:
			x.Set = x.Set[:1]
		}
		list = append(list, x)
	}
	out, err := resources.New(list...)
	if err != nil {
		panic(err)
	}
	return out
}

func randRoles(rng *rand.Rand) []string {
	n := 1 + rng.IntN(2)
	roles := slices.Clone(propRoles)
	rng.Shuffle(len(roles), func(i, j int) { roles[i], roles[j] = roles[j], roles[i] })
	return roles[:n]
}

// sim drives an Allocator and the reference with the same random events.
type sim struct {
	t      *testing.T
	rng    *rand.Rand
	a      *Allocator
	ref    *reference
	now    time.Time
	offers []Offer // outstanding, possibly partly recovered
	roles  map[string][]string
	log    []string
}

func (s *sim) both(what string, fast, ref error) {
	s.log = append(s.log, fmt.Sprintf("%s -> %v", what, fast))
	if (fast == nil) != (ref == nil) {
		s.fail("%s: allocator error %v, reference error %v", what, fast, ref)
	}
}

func (s *sim) fail(format string, args ...any) {
	s.t.Helper()
	tail := s.log[max(0, len(s.log)-25):]
	s.t.Fatalf(format+"\nlast events:\n%s", append(args, fmt.Sprint(slices.Concat(tail)))...)
}

func (s *sim) step() {
	rng := s.rng
	fw := propFws[rng.IntN(len(propFws))]
	ag := propAgent[rng.IntN(len(propAgent))]
	switch op := rng.IntN(100); {
	case op < 8:
		total := randTotal(rng)
		var used []Holding
		if rng.IntN(3) == 0 {
			used = append(used, Holding{Framework: fw, Role: propRoles[rng.IntN(len(propRoles))], Resources: part(rng, total.Unreserved())})
		}
		s.both(fmt.Sprintf("add-agent %s %v used=%v", ag, total, used), s.a.AddAgent(ag, total, used), s.ref.AddAgent(ag, total, used))
	case op < 10:
		s.both("remove-agent "+ag, s.a.RemoveAgent(ag), s.ref.RemoveAgent(ag))
	case op < 12:
		s.both("deactivate-agent "+ag, s.a.DeactivateAgent(ag), s.ref.setAgentActive(ag, false))
	case op < 15:
		s.both("activate-agent "+ag, s.a.ActivateAgent(ag), s.ref.setAgentActive(ag, true))
	case op < 22:
		info := Framework{Roles: randRoles(rng), GPUResources: rng.IntN(2) == 0}
		if rng.IntN(4) == 0 {
			info.SuppressedRoles = info.Roles[:1]
		}
		s.roles[fw] = info.Roles
		if rng.IntN(3) == 0 {
			s.both(fmt.Sprintf("update-framework %s %+v", fw, info), s.a.UpdateFramework(fw, info), s.ref.UpdateFramework(fw, info))
		} else {
			s.both(fmt.Sprintf("add-framework %s %+v", fw, info), s.a.AddFramework(fw, info), s.ref.AddFramework(fw, info))
		}
	case op < 24:
		s.both("remove-framework "+fw, s.a.RemoveFramework(fw), s.ref.RemoveFramework(fw))
	case op < 26:
		s.both("deactivate-framework "+fw, s.a.DeactivateFramework(fw), s.ref.setFrameworkActive(fw, false))
	case op < 29:
		s.both("activate-framework "+fw, s.a.ActivateFramework(fw), s.ref.setFrameworkActive(fw, true))
	case op < 32:
		roles := s.someRoles(fw)
		s.both(fmt.Sprintf("suppress %s %v", fw, roles), s.a.Suppress(fw, roles), s.ref.suppressRevive(fw, roles, true))
	case op < 35:
		roles := s.someRoles(fw)
		s.both(fmt.Sprintf("revive %s %v", fw, roles), s.a.Revive(fw, roles), s.ref.suppressRevive(fw, roles, false))
	case op < 37:
		role, w := propRoles[rng.IntN(len(propRoles))], float64(1+rng.IntN(4))
		s.both(fmt.Sprintf("weight %s %v", role, w), s.a.SetWeight(role, w), s.ref.SetWeight(role, w))
	case op < 60:
		s.now = s.now.Add(time.Duration(rng.IntN(4000)) * time.Millisecond)
		s.allocate()
	case op < 85:
		s.respond()
	default:
		s.releaseSome(ag)
	}
}

func (s *sim) someRoles(fw string) []string {
	if rs := s.roles[fw]; len(rs) > 0 && s.rng.IntN(2) == 0 {
		return rs[:1]
	}
	return nil
}

// respond answers one outstanding offer: decline, accept part, or a bogus
// recover of more than was offered.
func (s *sim) respond() {
	if len(s.offers) == 0 {
		return
	}
	i := s.rng.IntN(len(s.offers))
	o := s.offers[i]
	s.offers = slices.Delete(s.offers, i, i+1)
	refuse := []time.Duration{0, UseDefaultRefuse, 3 * time.Second, time.Hour}[s.rng.IntN(4)]
	switch s.rng.IntN(4) {
	case 0:
		use := part(s.rng, o.Resources)
		s.both(fmt.Sprintf("launch %v %v", o, use), s.a.Allocated(o.Framework, o.Role, o.Agent, use), s.ref.Allocated(o.Framework, o.Role, o.Agent, use))
		rest := o.Resources.Subtract(use)
		s.both(fmt.Sprintf("recover %v %v %v", o, rest, refuse), s.a.Recover(o.Framework, o.Role, o.Agent, rest, refuse, s.now),
			s.ref.Recover(o.Framework, o.Role, o.Agent, rest, refuse, s.now))
	case 1:
		more := o.Resources.Add(resources.MustParse("cpus:1000"))
		s.both(fmt.Sprintf("bogus-recover %v", o), s.a.Recover(o.Framework, o.Role, o.Agent, more, refuse, s.now),
			s.ref.Recover(o.Framework, o.Role, o.Agent, more, refuse, s.now))
		s.offers = append(s.offers, o)
	default:
		s.both(fmt.Sprintf("decline %v %v", o, refuse), s.a.Recover(o.Framework, o.Role, o.Agent, o.Resources, refuse, s.now),
			s.ref.Recover(o.Framework, o.Role, o.Agent, o.Resources, refuse, s.now))
	}
}

// releaseSome ends some tasks on an agent.
func (s *sim) releaseSome(agentID string) {
	st, ok := s.a.Agent(agentID)
	if !ok {
		return
	}
	for _, h := range st.Holdings {
		if h.Used.IsEmpty() || s.rng.IntN(2) == 0 {
			continue
		}
		r := part(s.rng, h.Used)
		s.both(fmt.Sprintf("release %s %s %s %v", h.Framework, h.Role, agentID, r), s.a.Release(h.Framework, h.Role, agentID, r),
			s.ref.Release(h.Framework, h.Role, agentID, r))
	}
}

func (s *sim) allocate() {
	got := s.a.Allocate(s.now)
	want := s.ref.Allocate(s.now)
	s.log = append(s.log, fmt.Sprintf("allocate at %v -> %v", s.now.Sub(time.Unix(0, 0)), got))
	if len(got) != len(want) {
		s.fail("allocate: got %v, reference %v", got, want)
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Framework != w.Framework || g.Agent != w.Agent || g.Role != w.Role || !g.Resources.Equal(w.Resources) {
			s.fail("allocate offer %d: got %v, reference %v", i, got, want)
		}
	}
	s.checkOffers(got)
	s.offers = append(s.offers, got...)
}

// checkOffers checks directly that offers honour suppression, activity,
// GPU capability and filters, as recorded by the reference before the cycle.
func (s *sim) checkOffers(offers []Offer) {
	for _, o := range offers {
		f := s.ref.frameworks[o.Framework]
		if f == nil || !f.registered || !f.active || f.suppressed[o.Role] || !slices.Contains(f.roles, o.Role) {
			s.fail("offer %v to an ineligible framework %+v", o, f)
		}
		if ag := s.ref.agents[o.Agent]; !ag.active {
			s.fail("offer %v from an inactive agent", o)
		}
		if flt, ok := s.ref.filters[refFilterKey{o.Framework, o.Role, o.Agent}]; ok && s.now.Before(flt.expires) && flt.res.Contains(o.Resources) {
			s.fail("offer %v despite filter %v until %v", o, flt.res, flt.expires)
		}
		for _, x := range o.Resources {
			if !resources.IsAllocatableTo(x.Role, o.Role) {
				s.fail("offer %v includes resources reserved to %q", o, x.Role)
			}
		}
	}
}

// checkAgents checks the accounting invariants of every agent: nothing is
// over-committed, available + offered + used == total, and no range or
// set value is in two places at once.
func (s *sim) checkAgents() {
	for _, id := range s.a.Agents() {
		st, _ := s.a.Agent(id)
		pieces := []resources.Resources{st.Available}
		sum := st.Available
		for _, h := range st.Holdings {
			if h.Offered.IsEmpty() && h.Used.IsEmpty() {
				s.fail("agent %s: empty holding %+v", id, h)
			}
			pieces = append(pieces, h.Offered, h.Used)
			sum = sum.Add(h.Offered).Add(h.Used)
		}
		if !sum.Equal(st.Total) {
			s.fail("agent %s: available+offered+used = %v, total %v", id, sum, st.Total)
		}
		for i := range pieces {
			for j := i + 1; j < len(pieces); j++ {
				common := pieces[i].Intersect(pieces[j]).Filter(func(r *resources.Resource) bool { return r.Kind != resources.KindScalar })
				if !common.IsEmpty() {
					s.fail("agent %s: %v is in two places at once", id, common)
				}
			}
		}
		ref := s.ref.agents[id]
		if ref == nil || !ref.avail.Equal(st.Available) {
			s.fail("agent %s: available %v, reference %+v", id, st.Available, ref)
		}
	}
}

func TestAgainstReference(t *testing.T) {
	runs, steps := 300, 300
	if testing.Short() {
		runs = 50
	}
	for seed := range uint64(runs) {
		cfg := Config{}
		if seed%3 == 1 {
			cfg.MinAllocatable = []resources.Quantities{{{Name: "cpus", Value: 500}, {Name: "mem", Value: resources.Units(128)}}, {{Name: "ports", Value: resources.Units(3)}}}
		}
		if seed%4 == 2 {
			cfg.FairnessExcluded = []string{"gpus"}
			cfg.OfferGPUsToAll = true
			cfg.DefaultRefuse = time.Second
		}
		s := &sim{t: t, rng: rand.New(rand.NewPCG(seed, 99)), a: New(cfg), ref: newReference(cfg),
			now: time.Unix(0, 0), roles: map[string][]string{}}
		for range steps {
			s.step()
			s.checkAgents()
		}
	}
}

// TestSharesConvergeToWeights runs frameworks that keep launching one small
// task per offer while tasks finish at random, and checks that the roles'
// allocations settle in proportion to their weights.
func TestSharesConvergeToWeights(t *testing.T) {
	weights := map[string]float64{"w1": 1, "w2": 2, "w3": 3}
	a := New(Config{ShuffleSeed: 42})
	for role, w := range weights {
		if err := a.SetWeight(role, w); err != nil {
			t.Fatal(err)
		}
		if err := a.AddFramework("fw-"+role, Framework{Roles: []string{role}}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 60 {
		if err := a.AddAgent(fmt.Sprintf("a%02d", i), resources.MustParse("cpus:4;mem:4096"), nil); err != nil {
			t.Fatal(err)
		}
	}
	task := resources.MustParse("cpus:1;mem:512")
	type running struct{ fw, role, agent string }
	var tasks []running
	rng := rand.New(rand.NewPCG(7, 7))
	now := time.Unix(0, 0)
	sums := map[string]float64{}
	const cycles, measureFrom = 600, 300
	for cycle := range cycles {
		now = now.Add(time.Second)
		for _, o := range a.Allocate(now) {
			use := o.Resources
			if o.Resources.Contains(task) {
				use = task
				tasks = append(tasks, running{o.Framework, o.Role, o.Agent})
				if err := a.Allocated(o.Framework, o.Role, o.Agent, task); err != nil {
					t.Fatal(err)
				}
			} else {
				use = nil
			}
			if err := a.Recover(o.Framework, o.Role, o.Agent, o.Resources.Subtract(use), 0, now); err != nil {
				t.Fatal(err)
			}
		}
		// Each task finishes with probability 1/10 per cycle.
		kept := tasks[:0]
		for _, tk := range tasks {
			if rng.IntN(10) == 0 {
				if err := a.Release(tk.fw, tk.role, tk.agent, task); err != nil {
					t.Fatal(err)
				}
				continue
			}
			kept = append(kept, tk)
		}
		tasks = kept
		if cycle >= measureFrom {
			for _, tk := range tasks {
				sums[tk.role]++
			}
		}
	}
	var perWeight []float64
	for role, w := range weights {
		perWeight = append(perWeight, sums[role]/w)
	}
	lo, hi := slices.Min(perWeight), slices.Max(perWeight)
	t.Logf("average tasks per unit of weight: %v", perWeight)
	if lo <= 0 || hi/lo > 1.1 {
		t.Fatalf("allocations per unit of weight differ by more than 10%%: %v", perWeight)
	}
}
