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
// caller knows the allocation role. Dynamic and refined reservations and
// persistent volumes (disk info with persistence and volume) are read;
// reservation labels, disk sources, revocable, shared and resource-provider
// resources are not supported and are reported as errors wrapping
// ErrInvalid, as are missing required fields, text values, negative or
// non-finite scalars and inverted ranges.
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
	case p.Revocable != nil:
		return Resource{}, bad("revocable resources are not supported")
	case p.Shared != nil:
		return Resource{}, bad("shared resources are not supported")
	case p.ProviderId != nil:
		return Resource{}, bad("resource providers are not supported")
	}
	stack, err := protoStack(p)
	if err != nil {
		return Resource{}, bad("%v", err)
	}
	r := Resource{Name: name}.withStack(stack)
	if r.Volume, err = protoVolume(p.Disk); err != nil {
		return Resource{}, bad("%v", err)
	}
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

// protoStack reads the reservation stack from any of the formats.
func protoStack(p *mesospb.Resource) ([]Reservation, error) {
	for _, res := range append([]*mesospb.Resource_ReservationInfo{p.Reservation}, p.Reservations...) {
		if res != nil && res.Labels != nil && len(res.Labels.GetLabels()) > 0 {
			return nil, fmt.Errorf("reservation labels are not supported")
		}
	}
	if n := len(p.Reservations); n > 0 {
		stack := make([]Reservation, n)
		for i, res := range p.Reservations {
			switch res.GetType() {
			case mesospb.Resource_ReservationInfo_STATIC, mesospb.Resource_ReservationInfo_DYNAMIC:
			default:
				return nil, fmt.Errorf("reservation type %v is neither STATIC nor DYNAMIC", res.GetType())
			}
			if res.Role == nil {
				return nil, fmt.Errorf("reservation without a role")
			}
			stack[i] = Reservation{Role: res.GetRole(), Principal: res.GetPrincipal(),
				Dynamic: res.GetType() == mesospb.Resource_ReservationInfo_DYNAMIC}
		}
		if p.Role != nil && p.GetRole() != stack[n-1].Role {
			return nil, fmt.Errorf("role %q disagrees with reservation to %q", p.GetRole(), stack[n-1].Role)
		}
		return stack, nil
	}
	role := p.GetRole() // the field's default is "*"
	switch {
	case p.Reservation != nil && role == Unreserved:
		return nil, fmt.Errorf("a dynamic reservation needs a role")
	case p.Reservation != nil:
		return []Reservation{{Role: role, Principal: p.Reservation.GetPrincipal(), Dynamic: true}}, nil
	case role == Unreserved:
		return nil, nil
	}
	return []Reservation{{Role: role}}, nil
}

// protoVolume reads a persistent volume's disk info.
func protoVolume(d *mesospb.Resource_DiskInfo) (Volume, error) {
	switch {
	case d == nil:
		return Volume{}, nil
	case d.Source != nil:
		return Volume{}, fmt.Errorf("disk sources (MOUNT, PATH, BLOCK, RAW) are not supported")
	case d.Persistence == nil && d.Volume == nil:
		return Volume{}, nil
	case d.Persistence == nil:
		return Volume{}, fmt.Errorf("disk info with a volume but no persistence")
	case d.Persistence.GetId() == "":
		return Volume{}, fmt.Errorf("persistence id is empty")
	case d.Volume == nil:
		return Volume{}, fmt.Errorf("persistent volume %q without a volume (container_path, mode)", d.Persistence.GetId())
	case d.Volume.GetContainerPath() == "":
		return Volume{}, fmt.Errorf("persistent volume %q without a container_path", d.Persistence.GetId())
	case d.Volume.HostPath != nil || d.Volume.Image != nil || d.Volume.Source != nil:
		return Volume{}, fmt.Errorf("persistent volume %q must not set host_path, image or source", d.Persistence.GetId())
	}
	return Volume{
		ID: d.Persistence.GetId(), Principal: d.Persistence.GetPrincipal(),
		ContainerPath: d.Volume.GetContainerPath(), ReadOnly: d.Volume.GetMode() == mesospb.Volume_RO,
	}, nil
}

// ToProto converts r to wire resources in Mesos' "endpoint" format, which
// frameworks with and without the RESERVATION_REFINEMENT capability both
// read: the role field is always set ("*" when unreserved) and reserved
// resources also carry the reservations stack (a one-entry STATIC one for
// static reservations; a single dynamic reservation also sets the
// pre-refinement reservation field with its principal). Persistent
// volumes carry disk info with persistence and volume. For MULTI_ROLE frameworks every resource carries
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
		stack := x.Stack()
		for _, res := range stack {
			info := &mesospb.Resource_ReservationInfo{
				Type: mesospb.Resource_ReservationInfo_STATIC.Enum(),
				Role: proto.String(res.Role),
			}
			if res.Dynamic {
				info.Type = mesospb.Resource_ReservationInfo_DYNAMIC.Enum()
				info.Principal = proto.String(res.Principal)
			}
			p.Reservations = append(p.Reservations, info)
		}
		if len(stack) == 1 && stack[0].Dynamic {
			p.Reservation = &mesospb.Resource_ReservationInfo{Principal: proto.String(stack[0].Principal)}
		}
		if v := x.Volume; v.ID != "" {
			mode := mesospb.Volume_RW
			if v.ReadOnly {
				mode = mesospb.Volume_RO
			}
			p.Disk = &mesospb.Resource_DiskInfo{
				Persistence: &mesospb.Resource_DiskInfo_Persistence{Id: proto.String(v.ID), Principal: proto.String(v.Principal)},
				Volume:      &mesospb.Volume{ContainerPath: proto.String(v.ContainerPath), Mode: mode.Enum()},
			}
		}
		if multiRole {
			p.AllocationInfo = &mesospb.Resource_AllocationInfo{Role: proto.String(allocationRole)}
		}
		out[i] = p
	}
	return out
}
