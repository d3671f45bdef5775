package resources

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
)

// FromProto converts wire resources into a normalized Resources value. It
// accepts each of Mesos' three reservation formats: "pre-refinement" (the
// role field, default "*"), "post-refinement" (the reservations stack) and
// "endpoint" (both, kept consistent). allocation_info is ignored: the
// caller knows the allocation role. Dynamic or refined reservations, disk
// info, revocable, shared and resource-provider resources are not supported
// and are reported as errors wrapping ErrInvalid, as are missing required
// fields, text values, negative or non-finite scalars and inverted ranges.
func FromProto(in []*mesospb.Resource) (Resources, error) {
	list := make([]Resource, 0, len(in))
	for _, p := range in {
		r, err := fromProto(p)
		if err != nil {
			return nil, err
		}
		list = append(list, r)
	}
	return New(list...)
}

func fromProto(p *mesospb.Resource) (Resource, error) {
	if p == nil || p.Name == nil || p.Type == nil {
		return Resource{}, fmt.Errorf("%w: resource without name or type", ErrInvalid)
	}
	name := p.GetName()
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalid, name, fmt.Sprintf(format, args...))
	}
	switch {
	case p.Disk != nil:
		return Resource{}, bad("disk info (volumes, disk sources) is not supported")
	case p.Revocable != nil:
		return Resource{}, bad("revocable resources are not supported")
	case p.Shared != nil:
		return Resource{}, bad("shared resources are not supported")
	case p.ProviderId != nil:
		return Resource{}, bad("resource providers are not supported")
	}
	role, err := protoRole(p)
	if err != nil {
		return Resource{}, bad("%v", err)
	}
	r := Resource{Name: name, Role: role}
	switch p.GetType() {
	case mesospb.Value_SCALAR:
		if p.Scalar == nil || p.Scalar.Value == nil {
			return Resource{}, bad("SCALAR without scalar value")
		}
		s, err := ScalarFromFloat(p.Scalar.GetValue())
		if err != nil {
			return Resource{}, bad("invalid scalar value %v", p.Scalar.GetValue())
		}
		r.Kind, r.Scalar = KindScalar, s
	case mesospb.Value_RANGES:
		r.Kind = KindRanges
		for _, rg := range p.GetRanges().GetRange() {
			if rg.Begin == nil || rg.End == nil {
				return Resource{}, bad("range without begin or end")
			}
			r.Ranges = append(r.Ranges, Range{rg.GetBegin(), rg.GetEnd()})
		}
	case mesospb.Value_SET:
		r.Kind, r.Set = KindSet, p.GetSet().GetItem()
	default:
		return Resource{}, bad("type %v is not a resource type", p.GetType())
	}
	if err := validate(&r); err != nil {
		return Resource{}, err
	}
	return r, nil
}

// protoRole reads the reservation role from either format.
func protoRole(p *mesospb.Resource) (string, error) {
	if n := len(p.Reservations); n > 0 {
		if n > 1 {
			return "", fmt.Errorf("refined reservations are not supported")
		}
		res := p.Reservations[0]
		if res.GetType() != mesospb.Resource_ReservationInfo_STATIC {
			return "", fmt.Errorf("only static reservations are supported, not %v", res.GetType())
		}
		if p.Role != nil && p.GetRole() != res.GetRole() {
			return "", fmt.Errorf("role %q disagrees with reservation to %q", p.GetRole(), res.GetRole())
		}
		return res.GetRole(), nil
	}
	if p.Reservation != nil {
		return "", fmt.Errorf("dynamic reservations are not supported")
	}
	return p.GetRole(), nil // the field's default is "*"
}

// ToProto converts r to wire resources in Mesos' "endpoint" format, which
// frameworks with and without the RESERVATION_REFINEMENT capability both
// read: the role field is always set ("*" when unreserved) and reserved
// resources also carry a one-entry STATIC reservations stack naming the
// same role. For MULTI_ROLE frameworks every resource carries
// allocation_info{role: allocationRole}; for others there is none.
func (r Resources) ToProto(allocationRole string, multiRole bool) []*mesospb.Resource {
	out := make([]*mesospb.Resource, len(r))
	for i := range r {
		x := &r[i]
		p := &mesospb.Resource{Name: proto.String(x.Name), Role: proto.String(x.Role)}
		switch x.Kind {
		case KindScalar:
			p.Type = mesospb.Value_SCALAR.Enum()
			p.Scalar = &mesospb.Value_Scalar{Value: proto.Float64(x.Scalar.Float())}
		case KindRanges:
			p.Type = mesospb.Value_RANGES.Enum()
			p.Ranges = &mesospb.Value_Ranges{Range: make([]*mesospb.Value_Range, len(x.Ranges))}
			for j, rg := range x.Ranges {
				p.Ranges.Range[j] = &mesospb.Value_Range{Begin: proto.Uint64(rg.Begin), End: proto.Uint64(rg.End)}
			}
		case KindSet:
			p.Type = mesospb.Value_SET.Enum()
			p.Set = &mesospb.Value_Set{Item: append([]string(nil), x.Set...)}
		}
		if x.Role != Unreserved {
			p.Reservations = []*mesospb.Resource_ReservationInfo{{
				Type: mesospb.Resource_ReservationInfo_STATIC.Enum(),
				Role: proto.String(x.Role),
			}}
		}
		if multiRole {
			p.AllocationInfo = &mesospb.Resource_AllocationInfo{Role: proto.String(allocationRole)}
		}
		out[i] = p
	}
	return out
}
