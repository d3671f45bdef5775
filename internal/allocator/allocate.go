package allocator

import (
	"math"
	"slices"
	"strings"
	"time"

	"github.com/mesoproject/meso/internal/resources"
)

// Allocate runs one allocation cycle at time now and returns the offers it
// makes, in the order it made them. Offered resources are allocated to
// their framework until Recover or Allocated.
func (a *Allocator) Allocate(now time.Time) []Offer {
	a.prepare()
	if len(a.sortedRoles) == 0 {
		return nil
	}
	a.prepareHeadroom()
	t := now.UnixNano()
	order := a.visitOrder()
	var offers []Offer
	if a.head.on {
		// Stage 1: roles whose guarantees are unmet, and only toward them.
		for _, ag := range order {
			if ag.active && !ag.available.IsEmpty() && !a.skipIdle(ag, t) {
				offers = a.allocateAgent(ag, t, offers, true)
			}
		}
	}
	// Stage 2: everyone, within limits and leaving the headroom.
	for _, ag := range order {
		if !ag.active || ag.available.IsEmpty() {
			continue
		}
		if a.skipIdle(ag, t) {
			continue
		}
		offers = a.allocateAgent(ag, t, offers, false)
	}
	return offers
}

// skipIdle reports whether ag's idle mark still holds at t.
func (a *Allocator) skipIdle(ag *agent, t int64) bool {
	return !a.noIdle && ag.idle && ag.idleEpoch == a.epoch && t < ag.idleUntil
}

// visitOrder returns the agents in this cycle's order.
func (a *Allocator) visitOrder() []*agent {
	if a.rng == nil {
		return a.agentOrder
	}
	a.visit = append(a.visit[:0], a.agentOrder...)
	a.rng.Shuffle(len(a.visit), func(i, j int) { a.visit[i], a.visit[j] = a.visit[j], a.visit[i] })
	return a.visit
}

// allocateAgent offers one agent's available resources, role by role. In
// stage 1 it serves only roles with an unmet guarantee, with offers that
// meet part of it. In stage 2 it marks the agent idle, with the time the
// earliest blocking filter expires. What limits or the headroom held back
// stays held back until something is released (charge), an agent is added
// or activated, or quotas change: each of those ends every idle mark.
func (a *Allocator) allocateAgent(ag *agent, now int64, offers []Offer, stage1 bool) []Offer {
	until := int64(math.MaxInt64)
	reserved := ag.available.HasReserved()
	a.roleScratch = append(a.roleScratch[:0], a.sortedRoles...)
	for _, r := range a.roleScratch {
		if ag.available.IsEmpty() {
			break
		}
		if stage1 && (r.top == nil || !a.needsAny(r.top)) {
			continue
		}
		offerable := ag.available
		if reserved {
			offerable = offerable.AllocatableTo(r.name)
			if offerable.IsEmpty() {
				continue
			}
		}
		offer, cut := a.capOffer(r, offerable)
		if offer.IsEmpty() || !a.allocatable(offer) || (stage1 && !a.progress(r, r.top, offer)) {
			continue
		}
		// With uniform filters (filters.go), a member is passed on one bit.
		fast, covered := false, false
		if !cut {
			fast, covered = ag.uniformFilters(r, offer, now)
		}
		for i, c := range r.members {
			if ag.hasGPU && !c.fw.gpu && !a.cfg.OfferGPUsToAll {
				continue
			}
			blocked, exp := covered && ag.hasFilter(c.slot), ag.minExpires
			if !fast {
				blocked, exp = ag.filtered(c.slot, r, offer, now, !cut)
			}
			if blocked {
				until = min(until, exp)
				continue
			}
			if a.cfg.OfferFanout > 1 && !stage1 {
				offers = a.fanOut(ag, r, i, offer, cut, now, offers)
			} else {
				offers = append(offers, Offer{Framework: c.fw.id, Agent: ag.id, Role: r.name, Resources: offer})
			}
			a.take(r, offer)
			ag.setAvailable(ag.available.Subtract(offer), false)
			a.hold(ag, c, offer, false)
			a.resortMember(r, i)
			a.resortRole(r)
			break
		}
	}
	if !stage1 {
		ag.idle, ag.idleEpoch, ag.idleUntil = true, a.epoch, until
	}
	return offers
}

// allocatable applies Config.MinAllocatable.
func (a *Allocator) allocatable(r resources.Resources) bool {
	if len(a.cfg.MinAllocatable) == 0 {
		return true
	}
	for _, q := range a.cfg.MinAllocatable {
		if r.ContainsQuantities(q) {
			return true
		}
	}
	return false
}

// prepare brings shares, member lists and orders up to date before a cycle.
func (a *Allocator) prepare() {
	if a.sharesDirty {
		for _, c := range a.slots {
			if c != nil {
				c.share = a.dominantShare(c.alloc)
			}
		}
		for _, r := range a.roles {
			r.share = a.dominantShare(r.alloc) / r.weight
		}
		for _, n := range a.nodes {
			n.share = a.dominantShare(n.alloc) / n.weight
		}
		a.sharesDirty, a.orderDirty = false, true
	}
	if a.membersDirty {
		a.sortedRoles = a.sortedRoles[:0]
		for _, r := range a.roles {
			r.members = r.members[:0]
			for _, c := range r.cands {
				if c.eligible() {
					r.members = append(r.members, c)
				}
			}
			if len(r.members) > 0 {
				a.sortedRoles = append(a.sortedRoles, r)
			}
		}
		a.membersDirty, a.orderDirty = false, true
	}
	if a.orderDirty {
		for _, r := range a.sortedRoles {
			slices.SortFunc(r.members, compareCandidates)
		}
		slices.SortFunc(a.sortedRoles, compareRoles)
		a.orderDirty = false
	}
}

func compareCandidates(x, y *candidate) int {
	switch {
	case x.share < y.share:
		return -1
	case x.share > y.share:
		return 1
	}
	return strings.Compare(x.fw.id, y.fw.id)
}

// resortMember moves r.members[i], whose share just grew, to its place.
func (a *Allocator) resortMember(r *role, i int) {
	moveRight(r.members, i, compareCandidates)
}

// resortRole moves r, whose share just grew, to its place in sortedRoles.
// A role in a tree (with a parent or children) moves its whole subtree,
// so the order is rebuilt.
func (a *Allocator) resortRole(r *role) {
	if len(r.path) > 1 || r.path[0].refs > 1 {
		slices.SortFunc(a.sortedRoles, compareRoles)
		return
	}
	i := slices.Index(a.sortedRoles, r)
	moveRight(a.sortedRoles, i, compareRoles)
}

// moveRight moves s[i] right to its sorted position, assuming s is sorted
// except that s[i] may have grown.
func moveRight[T any](s []T, i int, cmp func(T, T) int) {
	x := s[i]
	rest := s[i+1:]
	n, _ := slices.BinarySearchFunc(rest, x, func(e, t T) int {
		if cmp(e, t) < 0 {
			return -1
		}
		return 1
	})
	copy(s[i:i+n], rest[:n])
	s[i+n] = x
}

// fanOut appends the offer of ag's resources to r.members[i] and, for
// optimistic offers, the same offer to up to Config.OfferFanout-1 more
// candidates of other frameworks: the next members of r in DRF order,
// then, when no quota shapes offers, the members of the other roles (in
// DRF order) for whom the agent's allocatable resources are exactly the
// offer. Each must pass the rules the holder passed (GPUs, filters). The
// shadows are not charged; a lone offer gets no group.
func (a *Allocator) fanOut(ag *agent, r *role, i int, offer resources.Resources, cut bool, now int64, offers []Offer) []Offer {
	picked := append(a.picked[:0], r.members[i])
	try := func(c *candidate, cr *role, memo bool) {
		if len(picked) >= a.cfg.OfferFanout || slices.ContainsFunc(picked, func(p *candidate) bool { return p.fw == c.fw }) {
			return
		}
		if ag.hasGPU && !c.fw.gpu && !a.cfg.OfferGPUsToAll {
			return
		}
		if blocked, _ := ag.filtered(c.slot, cr, offer, now, memo); blocked {
			return
		}
		picked = append(picked, c)
	}
	for _, c := range r.members[i+1:] {
		try(c, r, !cut)
	}
	if !cut && !a.head.on {
		reserved := ag.available.HasReserved()
		for _, r2 := range a.roleScratch {
			if len(picked) >= a.cfg.OfferFanout {
				break
			}
			if r2 == r || len(r2.limited) > 0 {
				continue
			}
			if reserved && !ag.available.AllocatableTo(r2.name).Equal(offer) {
				continue
			}
			for _, c := range r2.members {
				try(c, r2, true)
			}
		}
	}
	a.picked = picked[:0]
	var group uint64
	if len(picked) > 1 {
		a.groups++
		group = a.groups
	}
	for k, c := range picked {
		offers = append(offers, Offer{Framework: c.fw.id, Agent: ag.id, Role: c.role.name, Resources: offer,
			Group: group, Shadow: k > 0})
	}
	return offers
}
