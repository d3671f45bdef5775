package present

import (
	"slices"
	"strings"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/resources"
)

// resEntry is one name of a Resources object being written: what each
// kind of resource of that name adds up to. As in Resources, a set
// outranks ranges, which outrank a scalar, which outranks the default 0
// of cpus, mem, disk and gpus.
type resEntry struct {
	name      string
	kind      int // 0 default, 1 scalar, 2 ranges, 3 set
	scalar    resources.Scalar
	hasScalar bool
	ranges    []*mesospb.Value_Range
	hasRanges bool
	items     []string
	hasSet    bool
}

// resScratch is reused across the resources of one document.
type resScratch struct{ entries []resEntry }

func (s *resScratch) entry(name string) *resEntry {
	for i := range s.entries {
		if s.entries[i].name == name {
			return &s.entries[i]
		}
	}
	s.entries = append(s.entries, resEntry{name: name})
	return &s.entries[len(s.entries)-1]
}

// appendResources writes Resources(list) as a JSON object.
func (s *resScratch) appendResources(b []byte, list []*mesospb.Resource) []byte {
	s.entries = append(s.entries[:0], resEntry{name: "cpus"}, resEntry{name: "mem"}, resEntry{name: "disk"}, resEntry{name: "gpus"})
	for _, r := range list {
		switch r.GetType() {
		case mesospb.Value_SCALAR:
			v, err := resources.ScalarFromFloat(r.GetScalar().GetValue())
			if err != nil {
				continue
			}
			e := s.entry(r.GetName())
			e.scalar += v
			e.hasScalar = true
		case mesospb.Value_RANGES:
			e := s.entry(r.GetName())
			e.ranges = append(e.ranges, r.GetRanges().GetRange()...)
			e.hasRanges = true
		case mesospb.Value_SET:
			e := s.entry(r.GetName())
			e.items = append(e.items, r.GetSet().GetItem()...)
			e.hasSet = true
		}
	}
	slices.SortFunc(s.entries, func(x, y resEntry) int { return strings.Compare(x.name, y.name) })
	b = append(b, '{')
	for i := range s.entries {
		e := &s.entries[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(appendString(b, e.name), ':')
		switch {
		case e.hasSet:
			slices.Sort(e.items)
			b = appendString(b, Set(slices.Compact(e.items)))
		case e.hasRanges:
			b = appendString(b, Ranges(e.ranges))
		case e.hasScalar:
			b = appendFloat(b, e.scalar.Float())
		default:
			b = append(b, '0')
		}
	}
	return append(b, '}')
}

// appendReserved writes ReservedResources(list): role to the resources
// reserved to it.
func (s *resScratch) appendReserved(b []byte, list []*mesospb.Resource) []byte {
	var roles []string
	for _, r := range list {
		if role := reservedRole(r); role != "" && !slices.Contains(roles, role) {
			roles = append(roles, role)
		}
	}
	slices.Sort(roles)
	b = append(b, '{')
	var mine []*mesospb.Resource
	for i, role := range roles {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(appendString(b, role), ':')
		mine = mine[:0]
		for _, r := range list {
			if reservedRole(r) == role {
				mine = append(mine, r)
			}
		}
		b = s.appendResources(b, mine)
	}
	return append(b, '}')
}

// appendUnreserved writes Resources(UnreservedResources(list)).
func (s *resScratch) appendUnreserved(b []byte, list []*mesospb.Resource) []byte {
	for _, r := range list {
		if reservedRole(r) != "" {
			return s.appendResources(b, UnreservedResources(list))
		}
	}
	return s.appendResources(b, list)
}

// appendAttributes writes Attributes(list). A name given twice keeps its
// last value, as the map does.
func appendAttributes(b []byte, list []*mesospb.Attribute) []byte {
	type attr struct {
		name string
		a    *mesospb.Attribute
	}
	var as []attr
	for _, a := range list {
		switch a.GetType() {
		case mesospb.Value_SCALAR, mesospb.Value_RANGES, mesospb.Value_SET, mesospb.Value_TEXT:
		default:
			continue
		}
		if i := slices.IndexFunc(as, func(x attr) bool { return x.name == a.GetName() }); i >= 0 {
			as[i].a = a
			continue
		}
		as = append(as, attr{a.GetName(), a})
	}
	slices.SortFunc(as, func(x, y attr) int { return strings.Compare(x.name, y.name) })
	b = append(b, '{')
	for i, x := range as {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(appendString(b, x.name), ':')
		a := x.a
		switch a.GetType() {
		case mesospb.Value_SCALAR:
			b = appendFloat(b, a.GetScalar().GetValue())
		case mesospb.Value_RANGES:
			b = appendString(b, Ranges(a.GetRanges().GetRange()))
		case mesospb.Value_SET:
			b = appendString(b, Set(a.GetSet().GetItem()))
		case mesospb.Value_TEXT:
			b = appendString(b, a.GetText().GetValue())
		}
	}
	return append(b, '}')
}
