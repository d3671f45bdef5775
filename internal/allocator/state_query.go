package allocator

import (
	"slices"
	"strings"

	"github.com/mesoproject/meso/internal/resources"
)

// AgentState is a snapshot of one agent as the allocator sees it.
type AgentState struct {
	ID        string
	Active    bool
	Total     resources.Resources
	Available resources.Resources
	// Holdings lists what each framework holds here, by framework then role.
	Holdings []HoldingState
}

// HoldingState is what one framework holds on an agent under one role.
type HoldingState struct {
	Framework string
	Role      string
	Offered   resources.Resources
	Used      resources.Resources
}

// Agent returns a snapshot of an agent.
func (a *Allocator) Agent(id string) (AgentState, bool) {
	ag, ok := a.agents[id]
	if !ok {
		return AgentState{}, false
	}
	s := AgentState{ID: id, Active: ag.active, Total: ag.total, Available: ag.available}
	for _, h := range ag.holdings {
		s.Holdings = append(s.Holdings, HoldingState{h.cand.fw.id, h.cand.role.name, h.offered, h.used})
	}
	slices.SortFunc(s.Holdings, func(x, y HoldingState) int {
		if c := strings.Compare(x.Framework, y.Framework); c != 0 {
			return c
		}
		return strings.Compare(x.Role, y.Role)
	})
	return s, true
}

// AgentHoldings is Agent's Holdings for callers that keep what an earlier
// call returned: books is AgentBooks' number, and when the agent's books
// are still prevBooks, or its holdings are the same as prev (the same
// framework and role pairs, each with the same Offered and Used slices,
// which the allocator replaces and never modifies, or both empty), it
// returns prev itself without building a new list. Offers made and
// declined between two calls change the books but leave the holdings as
// they were.
func (a *Allocator) AgentHoldings(id string, prevBooks uint64, prev []HoldingState) (books uint64, holdings []HoldingState, known bool) {
	ag, ok := a.agents[id]
	if !ok {
		return 0, nil, false
	}
	if ag.books == prevBooks || sameHoldings(ag.holdings, prev) {
		return ag.books, prev, true
	}
	s, _ := a.Agent(id)
	return ag.books, s.Holdings, true
}

// sameHoldings says whether hs holds what list (sorted by framework and
// role, as Agent returns it) says, the same resource slices each.
func sameHoldings(hs []holding, list []HoldingState) bool {
	if len(hs) != len(list) {
		return false
	}
	for i := range hs {
		h := &hs[i]
		fw, role := h.cand.fw.id, h.cand.role.name
		// Holdings are few on an agent (one per framework and role).
		j := slices.IndexFunc(list, func(x HoldingState) bool { return x.Framework == fw && x.Role == role })
		if j < 0 || !sameResources(h.offered, list[j].Offered) || !sameResources(h.used, list[j].Used) {
			return false
		}
	}
	return true
}

// sameResources says whether a and b are the same slice (or both empty).
func sameResources(a, b resources.Resources) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// AgentBooks returns a number that changes whenever what Agent returns
// for the agent changes, and whether the allocator knows the agent.
func (a *Allocator) AgentBooks(id string) (uint64, bool) {
	ag, ok := a.agents[id]
	if !ok {
		return 0, false
	}
	return ag.books, true
}

// Agents returns the ids of all agents, sorted.
func (a *Allocator) Agents() []string {
	ids := make([]string, len(a.agentOrder))
	for i, ag := range a.agentOrder {
		ids[i] = ag.id
	}
	return ids
}

// RoleState describes a role that has frameworks or allocations.
type RoleState struct {
	Role   string
	Weight float64
	// Share is the role's dominant share divided by its weight, the key
	// roles are sorted by.
	Share      float64
	Frameworks []string // subscribed frameworks, sorted
}

// Roles returns the known roles, sorted by name. Shares reflect the last
// change.
func (a *Allocator) Roles() []RoleState {
	a.prepare()
	out := make([]RoleState, 0, len(a.roles))
	for _, r := range a.roles {
		rs := RoleState{Role: r.name, Weight: r.weight, Share: r.share}
		for _, c := range r.cands {
			if c.subscribed {
				rs.Frameworks = append(rs.Frameworks, c.fw.id)
			}
		}
		slices.Sort(rs.Frameworks)
		out = append(out, rs)
	}
	slices.SortFunc(out, func(x, y RoleState) int { return strings.Compare(x.Role, y.Role) })
	return out
}
