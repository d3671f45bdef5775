package present

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/resources"
)

// Resources is Mesos' JSON model of a list of resources: one key per
// resource name; scalars summed (cpus, mem, disk and gpus always present,
// 0 when absent), ranges merged, sets united, whatever their roles.
func Resources(list []*mesospb.Resource) map[string]any {
	out := map[string]any{"cpus": 0.0, "mem": 0.0, "disk": 0.0, "gpus": 0.0}
	scalars := map[string]resources.Scalar{}
	ranges := map[string][]*mesospb.Value_Range{}
	sets := map[string][]string{}
	for _, r := range list {
		name := r.GetName()
		switch r.GetType() {
		case mesospb.Value_SCALAR:
			s, err := resources.ScalarFromFloat(r.GetScalar().GetValue())
			if err != nil {
				continue
			}
			scalars[name] += s
		case mesospb.Value_RANGES:
			ranges[name] = append(ranges[name], r.GetRanges().GetRange()...)
		case mesospb.Value_SET:
			sets[name] = append(sets[name], r.GetSet().GetItem()...)
		}
	}
	for name, s := range scalars {
		out[name] = s.Float()
	}
	for name, rgs := range ranges {
		out[name] = Ranges(rgs)
	}
	for name, items := range sets {
		slices.Sort(items)
		out[name] = Set(slices.Compact(items))
	}
	return out
}

// Ranges formats ranges as Mesos prints Value.Ranges: sorted, overlapping
// and adjacent ranges merged, "[31000-31005, 32000-32000]".
func Ranges(list []*mesospb.Value_Range) string {
	type span struct{ b, e uint64 }
	spans := make([]span, 0, len(list))
	for _, r := range list {
		if r.GetBegin() <= r.GetEnd() {
			spans = append(spans, span{r.GetBegin(), r.GetEnd()})
		}
	}
	slices.SortFunc(spans, func(x, y span) int { return cmp.Compare(x.b, y.b) })
	var merged []span
	for _, s := range spans {
		if n := len(merged); n > 0 && (s.b <= merged[n-1].e || s.b-1 == merged[n-1].e) {
			merged[n-1].e = max(merged[n-1].e, s.e)
			continue
		}
		merged = append(merged, s)
	}
	parts := make([]string, len(merged))
	for i, s := range merged {
		parts[i] = strconv.FormatUint(s.b, 10) + "-" + strconv.FormatUint(s.e, 10)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// Set formats set items as Mesos prints Value.Set: "{a, b}".
func Set(items []string) string {
	return "{" + strings.Join(items, ", ") + "}"
}

// Attributes is Mesos' JSON model of attributes: name to value, numbers
// for scalars, the printed form for ranges and sets, text as is.
func Attributes(list []*mesospb.Attribute) map[string]any {
	out := map[string]any{}
	for _, a := range list {
		switch a.GetType() {
		case mesospb.Value_SCALAR:
			out[a.GetName()] = a.GetScalar().GetValue()
		case mesospb.Value_RANGES:
			out[a.GetName()] = Ranges(a.GetRanges().GetRange())
		case mesospb.Value_SET:
			out[a.GetName()] = Set(a.GetSet().GetItem())
		case mesospb.Value_TEXT:
			out[a.GetName()] = a.GetText().GetValue()
		}
	}
	return out
}

// ReservedResources is the "reserved_resources" object: role (the last of
// a resource's reservations, or its legacy role) to the Resources model of
// what is reserved to it.
func ReservedResources(list []*mesospb.Resource) map[string]any {
	byRole := map[string][]*mesospb.Resource{}
	for _, r := range list {
		if role := reservedRole(r); role != "" {
			byRole[role] = append(byRole[role], r)
		}
	}
	out := make(map[string]any, len(byRole))
	for role, rs := range byRole {
		out[role] = Resources(rs)
	}
	return out
}

// UnreservedResources keeps the resources reserved to no role.
func UnreservedResources(list []*mesospb.Resource) []*mesospb.Resource {
	var out []*mesospb.Resource
	for _, r := range list {
		if reservedRole(r) == "" {
			out = append(out, r)
		}
	}
	return out
}

func reservedRole(r *mesospb.Resource) string {
	if rs := r.GetReservations(); len(rs) > 0 {
		return rs[len(rs)-1].GetRole()
	}
	if role := r.GetRole(); role != "*" {
		return role
	}
	return ""
}

// allocationRole is the role of the first resource carrying
// allocation_info, or "".
func allocationRole(list []*mesospb.Resource) string {
	for _, r := range list {
		if r.AllocationInfo != nil {
			return r.GetAllocationInfo().GetRole()
		}
	}
	return ""
}

// Seconds converts a TimeInfo to seconds since the epoch (0 when unset).
func Seconds(t *mesospb.TimeInfo) float64 {
	if t == nil {
		return 0
	}
	return float64(t.GetNanoseconds()) / 1e9
}
