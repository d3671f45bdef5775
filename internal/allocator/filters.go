package allocator

import (
	"math"
	mathbits "math/bits"
	"slices"
	"time"

	"github.com/mesoproject/meso/internal/resources"
)

// filter is a refusal by one candidate of one agent's resources. The zero
// value is "no filter".
type filter struct {
	expires int64 // UnixNano; the filter applies while now < expires
	res     int32 // 1 + index into agent.filterRes; 0 means no filter
}

// filterRes is an interned set of declined resources with a reference
// count, so that thousands of filters on one agent share one value and one
// containment check.
type filterRes struct {
	res  resources.Resources
	refs int32
	// The last containment check: whether res contains what the agent
	// offers to memoRole at agent version memoVersion.
	memoVersion uint32
	memoRole    uint64 // role.uid
	memoCovers  bool
}

func (ag *agent) internFilterRes(r resources.Resources) int32 {
	free := -1
	for i := range ag.filterRes {
		fr := &ag.filterRes[i]
		if fr.refs == 0 {
			if free < 0 {
				free = i
			}
			continue
		}
		if fr.res.Equal(r) {
			fr.refs++
			return int32(i + 1)
		}
	}
	if free < 0 {
		ag.filterRes = append(ag.filterRes, filterRes{})
		free = len(ag.filterRes) - 1
	}
	ag.filterRes[free] = filterRes{res: r, refs: 1}
	ag.liveRes++
	if ag.liveRes == 1 {
		ag.sole = int32(free)
	}
	return int32(free + 1)
}

// dropFilter clears the filter in slot, if any.
func (ag *agent) dropFilter(slot int32) {
	if int(slot) >= len(ag.filters) {
		return
	}
	f := &ag.filters[slot]
	if f.res != 0 {
		fr := &ag.filterRes[f.res-1]
		fr.refs--
		if fr.refs == 0 {
			fr.res = nil
			ag.liveRes--
			if ag.liveRes == 1 {
				ag.sole = int32(slices.IndexFunc(ag.filterRes, func(fr filterRes) bool { return fr.refs > 0 }))
			}
		}
		ag.filterBits[slot>>6] &^= 1 << (slot & 63)
	}
	*f = filter{}
}

// setFilter installs (or replaces) the filter of slot on ag.
func (ag *agent) setFilter(slot int32, r resources.Resources, expires int64) {
	if int(slot) >= len(ag.filters) {
		if int(slot) < cap(ag.filters) {
			ag.filters = ag.filters[:slot+1]
		} else {
			grown := make([]filter, slot+1, max(2*cap(ag.filters), int(slot)+1))
			copy(grown, ag.filters)
			ag.filters = grown
		}
	}
	ag.dropFilter(slot)
	ag.filters[slot] = filter{expires: expires, res: ag.internFilterRes(r)}
	if words := int(slot)>>6 + 1; len(ag.filterBits) < words {
		ag.filterBits = append(ag.filterBits, make([]uint64, words-len(ag.filterBits))...)
	}
	ag.filterBits[slot>>6] |= 1 << (slot & 63)
	if ag.liveRes == 1 && ag.minExpires != 0 {
		ag.minExpires = min(ag.minExpires, expires)
	} else {
		ag.minExpires = 0 // worked out again by the next filtered
	}
}

// filtered reports whether the filter of slot blocks offering offerable
// (what the agent has for role r) at now (UnixNano), and if so until when.
// Expired filters are dropped. memo says offerable is all the agent has for
// r, so the coverage check may be cached against the agent's version; an
// offer cut by quota is checked afresh.
//
// The fast path, for the common case of an agent whose filters all refuse
// the same resources and none of which has expired: the slot's bit and
// the shared containment memo decide, without reading the filter itself,
// and the time returned is minExpires, no later than the filter's own
// expiry (so an idle mark ends no later than it should).
func (ag *agent) filtered(slot int32, r *role, offerable resources.Resources, now int64, memo bool) (bool, int64) {
	if !ag.hasFilter(slot) {
		return false, 0
	}
	if memo && ag.liveRes == 1 {
		if fast, covers := ag.uniformFilters(r, offerable, now); fast {
			if covers && ag.hasFilter(slot) { // the sweep may have dropped it
				return true, ag.minExpires
			}
			return false, 0
		}
	}
	f := &ag.filters[slot]
	if f.res == 0 {
		return false, 0
	}
	if now >= f.expires {
		ag.dropFilter(slot)
		return false, 0
	}
	fr := &ag.filterRes[f.res-1]
	if !memo {
		return fr.res.Contains(offerable), f.expires
	}
	return ag.covers(fr, r, offerable), f.expires
}

// hasFilter reports whether slot has a filter on ag (maybe expired).
func (ag *agent) hasFilter(slot int32) bool {
	w := int(slot) >> 6
	return w < len(ag.filterBits) && ag.filterBits[w]&(1<<(slot&63)) != 0
}

// uniformFilters reports whether filtered's fast path applies to ag at
// now (every filter refuses the same resources and none has expired,
// after dropping the expired ones), and if so whether those resources
// contain offerable, what the agent has for role r. While it applies, a
// slot is filtered exactly when hasFilter says so, until minExpires.
func (ag *agent) uniformFilters(r *role, offerable resources.Resources, now int64) (fast, covers bool) {
	if ag.liveRes != 1 {
		return false, false
	}
	if now >= ag.minExpires {
		ag.sweepFilters(now)
		if ag.liveRes != 1 {
			return false, false
		}
	}
	return true, ag.covers(&ag.filterRes[ag.sole], r, offerable)
}

// covers reports whether fr's resources contain offerable, what the agent
// has for role r, memoized against the agent's version.
func (ag *agent) covers(fr *filterRes, r *role, offerable resources.Resources) bool {
	if fr.memoVersion != ag.version || fr.memoRole != r.uid {
		fr.memoCovers = fr.res.Contains(offerable)
		fr.memoVersion, fr.memoRole = ag.version, r.uid
	}
	return fr.memoCovers
}

// sweepFilters drops the agent's filters expired at now and sets
// minExpires to the earliest expiry of those left (math.MaxInt64 for
// none). The fast path of filtered calls it once minExpires has passed
// (or is unknown), so once per expiry rather than once per check.
func (ag *agent) sweepFilters(now int64) {
	earliest := int64(math.MaxInt64)
	for w, bits := range ag.filterBits {
		for bits != 0 {
			slot := int32(w<<6 + mathbits.TrailingZeros64(bits))
			bits &= bits - 1
			if e := ag.filters[slot].expires; now >= e {
				ag.dropFilter(slot)
			} else {
				earliest = min(earliest, e)
			}
		}
	}
	ag.minExpires = earliest
}

// clearFilters removes every filter of candidate c, on every agent.
func (a *Allocator) clearFilters(c *candidate) {
	for _, ag := range a.agentOrder {
		ag.dropFilter(c.slot)
	}
}

// refuseDuration maps Recover's refuse argument to a filter duration.
func (a *Allocator) refuseDuration(refuse time.Duration) time.Duration {
	switch {
	case refuse < 0:
		return a.defaultRefuse
	case refuse > MaxRefuse:
		return MaxRefuse
	}
	return refuse
}
