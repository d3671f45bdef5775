package core

import (
	"errors"
	"fmt"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/resources"
	"google.golang.org/protobuf/proto"
)

// This file converts between the wire form of resources (mesospb.Resource)
// and internal/resources, which has no protobuf conversion of its own.

// errResources wraps every conversion failure.
var errResources = errors.New("invalid resources")

// FromProto converts wire resources to a normalized resources.Resources.
// A reservation is read from the post-refinement `reservations` stack (the
// innermost role) or from the pre-refinement `role` field. allocation_info is
// ignored here (see allocationRoles). Kinds and features meso does not model
// (disk info, revocable, shared, resource providers) are rejected.
func FromProto(list []*mesospb.Resource) (resources.Resources, error) {
	out := make([]resources.Resource, 0, len(list))
	for i, p := range list {
		r, err := fromProto(p)
		if err != nil {
			return nil, fmt.Errorf("%w: resource %d (%q): %w", errResources, i, p.GetName(), err)
		}
		out = append(out, r)
	}
	rs, err := resources.New(out...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errResources, err)
	}
	return rs, nil
}

func fromProto(p *mesospb.Resource) (resources.Resource, error) {
	if p == nil {
		return resources.Resource{}, errors.New("null resource")
	}
	switch {
	case p.Disk != nil:
		return resources.Resource{}, errors.New("disk info (volumes) is not supported")
	case p.Revocable != nil:
		return resources.Resource{}, errors.New("revocable resources are not supported")
	case p.Shared != nil:
		return resources.Resource{}, errors.New("shared resources are not supported")
	case p.ProviderId != nil:
		return resources.Resource{}, errors.New("resource providers are not supported")
	}
	r := resources.Resource{Name: p.GetName(), Role: reservationRole(p)}
	switch p.GetType() {
	case mesospb.Value_SCALAR:
		if p.Scalar == nil {
			return r, errors.New("scalar resource without a scalar value")
		}
		s, err := resources.ScalarFromFloat(p.Scalar.GetValue())
		if err != nil {
			return r, err
		}
		r.Kind, r.Scalar = resources.KindScalar, s
	case mesospb.Value_RANGES:
		r.Kind = resources.KindRanges
		for _, rg := range p.GetRanges().GetRange() {
			r.Ranges = append(r.Ranges, resources.Range{Begin: rg.GetBegin(), End: rg.GetEnd()})
		}
	case mesospb.Value_SET:
		r.Kind = resources.KindSet
		r.Set = append(r.Set, p.GetSet().GetItem()...)
	default:
		return r, fmt.Errorf("unsupported resource type %s", p.GetType())
	}
	return r, nil
}

// reservationRole is the role a wire resource is reserved to ("*" when
// unreserved).
func reservationRole(p *mesospb.Resource) string {
	if rs := p.GetReservations(); len(rs) > 0 {
		if role := rs[len(rs)-1].GetRole(); role != "" {
			return role
		}
	}
	if p.Role != nil && p.GetRole() != "" {
		return p.GetRole()
	}
	return resources.Unreserved
}

// allocationRoles splits wire resources by their allocation_info role. ""
// keys the resources that carry none.
func allocationRoles(list []*mesospb.Resource) map[string][]*mesospb.Resource {
	out := map[string][]*mesospb.Resource{}
	for _, p := range list {
		role := ""
		if p.AllocationInfo != nil {
			role = p.AllocationInfo.GetRole()
		}
		out[role] = append(out[role], p)
	}
	return out
}

// ProtoFormat says how ToProto writes reservations and allocation info.
type ProtoFormat struct {
	// AllocationRole, when set, goes into allocation_info.role of every
	// resource (offers to MULTI_ROLE frameworks, and what agents store).
	AllocationRole string
	// Refinement writes reservations as the post-refinement `reservations`
	// stack (RESERVATION_REFINEMENT frameworks); otherwise the
	// pre-refinement `role` field is set, "*" included, as Mesos does for
	// frameworks without that capability.
	Refinement bool
}

// ToProto converts resources to their wire form.
func ToProto(rs resources.Resources, f ProtoFormat) []*mesospb.Resource {
	out := make([]*mesospb.Resource, 0, len(rs))
	for _, r := range rs {
		p := &mesospb.Resource{Name: proto.String(r.Name)}
		switch r.Kind {
		case resources.KindScalar:
			p.Type = mesospb.Value_SCALAR.Enum()
			p.Scalar = &mesospb.Value_Scalar{Value: proto.Float64(r.Scalar.Float())}
		case resources.KindRanges:
			p.Type = mesospb.Value_RANGES.Enum()
			p.Ranges = &mesospb.Value_Ranges{}
			for _, rg := range r.Ranges {
				p.Ranges.Range = append(p.Ranges.Range, &mesospb.Value_Range{
					Begin: proto.Uint64(rg.Begin), End: proto.Uint64(rg.End)})
			}
		case resources.KindSet:
			p.Type = mesospb.Value_SET.Enum()
			p.Set = &mesospb.Value_Set{Item: append([]string(nil), r.Set...)}
		}
		switch {
		case f.Refinement && r.Role != resources.Unreserved:
			p.Reservations = []*mesospb.Resource_ReservationInfo{{
				Type: mesospb.Resource_ReservationInfo_STATIC.Enum(), Role: proto.String(r.Role)}}
		case !f.Refinement:
			p.Role = proto.String(r.Role)
		}
		if f.AllocationRole != "" {
			p.AllocationInfo = &mesospb.Resource_AllocationInfo{Role: proto.String(f.AllocationRole)}
		}
		out = append(out, p)
	}
	return out
}

// withAllocationRole returns deep copies of list with allocation_info.role
// set to role on every resource (what the master does to the resources of
// launched tasks and executors, so that agents can report their role back).
func withAllocationRole(list []*mesospb.Resource, role string) []*mesospb.Resource {
	out := make([]*mesospb.Resource, len(list))
	for i, p := range list {
		c := proto.Clone(p).(*mesospb.Resource)
		c.AllocationInfo = &mesospb.Resource_AllocationInfo{Role: proto.String(role)}
		out[i] = c
	}
	return out
}
