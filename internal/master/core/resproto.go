package core

import (
	"github.com/mesoproject/meso/api/mesospb"
	"google.golang.org/protobuf/proto"
)

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

// withAllocationRole returns deep copies of list with allocation_info.role
// set to role on every resource (what the master does to the resources of
// launched tasks and executors, so that agents can report their role back).
// The copies share one AllocationInfo (records are never edited in place).
func withAllocationRole(list []*mesospb.Resource, role string) []*mesospb.Resource {
	out := make([]*mesospb.Resource, len(list))
	if len(list) == 0 {
		return out
	}
	info := &mesospb.Resource_AllocationInfo{Role: proto.String(role)}
	for i, p := range list {
		c := proto.Clone(p).(*mesospb.Resource)
		c.AllocationInfo = info
		out[i] = c
	}
	return out
}
