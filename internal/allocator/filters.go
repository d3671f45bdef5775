package allocator

import (
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
		}
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
}

// filtered reports whether the filter of slot blocks offering offerable
// (what the agent has for role r) at now (UnixNano), and if so until when.
// Expired filters are dropped. memo says offerable is all the agent has for
// r, so the coverage check may be cached against the agent's version; an
// offer cut by quota is checked afresh.
func (ag *agent) filtered(slot int32, r *role, offerable resources.Resources, now int64, memo bool) (bool, int64) {
	if int(slot) >= len(ag.filters) {
		return false, 0
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
	if fr.memoVersion != ag.version || fr.memoRole != r.uid {
		fr.memoCovers = fr.res.Contains(offerable)
		fr.memoVersion, fr.memoRole = ag.version, r.uid
	}
	return fr.memoCovers, f.expires
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
