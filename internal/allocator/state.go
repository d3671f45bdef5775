package allocator

import (
	"slices"
	"strings"

	"github.com/mesoproject/meso/internal/resources"
)

// agent is the allocator's record of one agent.
type agent struct {
	id        string
	total     resources.Resources
	available resources.Resources // total minus every holding
	active    bool
	hasGPU    bool
	holdings  []holding

	// filters is indexed by candidate slot; filterRes interns the declined
	// resources the filters refer to.
	filters   []filter
	filterRes []filterRes
	// The allocation loop's fast path over filters (filtered): a bit per
	// slot with a filter, so that passing a filtered candidate reads one
	// bit instead of its filter record; how many filterRes are in use and,
	// when one is, which (sole); and a time before which none of the
	// agent's filters expires (a lower bound: 0 when unknown).
	filterBits []uint64
	liveRes    int32
	sole       int32
	minExpires int64

	// version changes whenever available changes; filters cache their
	// coverage check against it.
	version uint32
	// books changes whenever what Agent reports changes (holdings, total,
	// active), so that callers may cache what they build from it; it
	// starts at a value no earlier agent of the same id reached.
	books uint64

	// idle means no framework could receive anything here as of epoch
	// idleEpoch; it holds until idleUntil (UnixNano), when the earliest
	// blocking filter expires, or until available grows.
	idle      bool
	idleEpoch uint64
	idleUntil int64
}

// holding is what one candidate holds on an agent.
type holding struct {
	cand    *candidate
	offered resources.Resources
	used    resources.Resources
}

func (ag *agent) holding(c *candidate) *holding {
	for i := range ag.holdings {
		if ag.holdings[i].cand == c {
			return &ag.holdings[i]
		}
	}
	return nil
}

// setAvailable replaces the agent's available resources; grew says whether
// they may have grown, which ends the idle mark.
func (ag *agent) setAvailable(r resources.Resources, grew bool) {
	ag.available = r
	ag.version++
	ag.books++
	if grew {
		ag.idle = false
	}
}

// framework is the allocator's record of one framework. A framework named
// only by an agent's used resources, before it subscribes, is a placeholder
// (registered false) that holds resources but receives no offers.
type framework struct {
	id         string
	registered bool
	active     bool
	gpu        bool
	cands      map[string]*candidate // by role, subscribed or still holding
}

// candidate is a (framework, role) pair: the unit that receives offers and
// has a share, filters and a suppression flag.
type candidate struct {
	slot       int32
	fw         *framework
	role       *role
	subscribed bool
	suppressed bool
	holdings   int // number of agents where it holds resources
	alloc      []int64
	share      float64
}

func (c *candidate) eligible() bool {
	return c.fw.registered && c.fw.active && c.subscribed && !c.suppressed
}

// role is the allocator's record of a role with at least one candidate.
type role struct {
	uid     uint64 // unique for the allocator's lifetime, never reused
	name    string
	weight  float64
	alloc   []int64
	share   float64 // dominant share divided by weight
	cands   []*candidate
	members []*candidate // eligible candidates, sorted by share
	path    []*node      // the role tree from the top down to this role

	// The quotas that bound offers to this role (quota.go): those of the
	// role and its ancestors that set limits, and the top-most guarantee
	// among them, whose unmet part the role may receive in stage 1.
	limited []*quota
	top     *quota
	// limitedNodes and topNode are the nodes (on path) of those quotas'
	// roles, whose allocation is their consumption.
	limitedNodes []*node
	topNode      *node
}

func (a *Allocator) candidate(fw *framework, roleName string) *candidate {
	if c, ok := fw.cands[roleName]; ok {
		return c
	}
	r, ok := a.roles[roleName]
	if !ok {
		a.roleUIDs++
		r = &role{uid: a.roleUIDs, name: roleName, weight: a.Weight(roleName), path: a.pathOf(roleName)}
		a.roles[roleName] = r
		a.bindQuota(r)
	}
	var slot int32
	if n := len(a.freeSlots); n > 0 {
		slot = a.freeSlots[n-1]
		a.freeSlots = a.freeSlots[:n-1]
	} else {
		slot = int32(len(a.slots))
		a.slots = append(a.slots, nil)
	}
	c := &candidate{slot: slot, fw: fw, role: r}
	a.slots[slot] = c
	r.cands = append(r.cands, c)
	fw.cands[roleName] = c
	a.membersDirty = true
	return c
}

// gcCandidate drops a candidate that is neither subscribed nor holding, and
// a placeholder framework left without candidates.
func (a *Allocator) gcCandidate(c *candidate) {
	if c.subscribed || c.holdings > 0 || a.slots[c.slot] != c {
		return
	}
	a.clearFilters(c)
	r := c.role
	r.cands = slices.DeleteFunc(r.cands, func(x *candidate) bool { return x == c })
	if len(r.cands) == 0 {
		delete(a.roles, r.name)
		a.dropPath(r.path)
	}
	delete(c.fw.cands, r.name)
	a.slots[c.slot] = nil
	a.freeSlots = append(a.freeSlots, c.slot)
	a.membersDirty = true
	if !c.fw.registered && len(c.fw.cands) == 0 {
		delete(a.frameworks, c.fw.id)
	}
}

// hold adds r to what c holds on ag (as offered or used) and to its shares.
func (a *Allocator) hold(ag *agent, c *candidate, r resources.Resources, used bool) {
	h := ag.holding(c)
	if h == nil {
		ag.holdings = append(ag.holdings, holding{cand: c})
		h = &ag.holdings[len(ag.holdings)-1]
		c.holdings++
	}
	ag.books++
	if used {
		h.used = h.used.Add(r)
	} else {
		h.offered = h.offered.Add(r)
	}
	a.charge(c, r, 1)
}

// charge adds sign times r's scalars to the candidate's and role's
// allocation and refreshes their shares.
//
// With quotas, a release may loosen a limit or the headroom on any agent,
// so it ends every idle mark.
func (a *Allocator) charge(c *candidate, r resources.Resources, sign int64) {
	if sign < 0 && len(a.quotas) > 0 {
		a.epoch++
	}
	a.addScalars(&c.alloc, r, sign)
	a.addScalars(&c.role.alloc, r, sign)
	c.share = a.dominantShare(c.alloc)
	c.role.share = a.dominantShare(c.role.alloc) / c.role.weight
	for _, n := range c.role.path {
		a.addScalars(&n.alloc, r, sign)
		n.share = a.dominantShare(n.alloc) / n.weight
	}
}

// release removes holding h (index i on ag) entirely, returning its
// resources to the agent.
func (a *Allocator) releaseAll(ag *agent, i int) {
	h := ag.holdings[i]
	all := h.offered.Add(h.used)
	a.charge(h.cand, all, -1)
	ag.holdings = slices.Delete(ag.holdings, i, i+1)
	h.cand.holdings--
	ag.setAvailable(ag.available.Add(all), true)
	a.orderDirty = true
}

// insertAgent keeps agentOrder sorted by id.
func (a *Allocator) insertAgent(ag *agent) {
	i, _ := slices.BinarySearchFunc(a.agentOrder, ag.id, func(x *agent, id string) int { return strings.Compare(x.id, id) })
	a.agentOrder = slices.Insert(a.agentOrder, i, ag)
}

func (a *Allocator) deleteAgent(ag *agent) {
	i, found := slices.BinarySearchFunc(a.agentOrder, ag.id, func(x *agent, id string) int { return strings.Compare(x.id, id) })
	if found {
		a.agentOrder = slices.Delete(a.agentOrder, i, i+1)
	}
	delete(a.agents, ag.id)
}
