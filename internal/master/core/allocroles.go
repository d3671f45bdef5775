package core

import (
	"slices"
	"time"

	"github.com/mesoproject/meso/internal/allocator"
	"github.com/mesoproject/meso/internal/resources"
)

// internal/allocator refuses to let frameworks subscribe to the role "*",
// which Mesos allows (it is FrameworkInfo.role's default, and most
// frameworks use it: they are offered unreserved resources only). Until the
// allocator accepts "*", the core gives it the role starRole instead, a name
// that no framework may subscribe to and no agent may reserve resources
// for; resources allocatable to starRole are then exactly the unreserved
// ones. roleAllocator does the mapping at the boundary so that the rest of
// the core sees the real roles.
const starRole = "meso-unreserved-role"

func toAllocRole(role string) string {
	if role == resources.Unreserved {
		return starRole
	}
	return role
}

func fromAllocRole(role string) string {
	if role == starRole {
		return resources.Unreserved
	}
	return role
}

func toAllocRoles(roles []string) []string {
	if !slices.Contains(roles, resources.Unreserved) {
		return roles
	}
	out := make([]string, len(roles))
	for i, r := range roles {
		out[i] = toAllocRole(r)
	}
	return out
}

// roleAllocator wraps the allocator, mapping "*" to starRole and back.
type roleAllocator struct{ a *allocator.Allocator }

func (r roleAllocator) AddAgent(id string, total resources.Resources, used []allocator.Holding) error {
	mapped := make([]allocator.Holding, len(used))
	for i, h := range used {
		h.Role = toAllocRole(h.Role)
		mapped[i] = h
	}
	return r.a.AddAgent(id, total, mapped)
}

func (r roleAllocator) RemoveAgent(id string) error     { return r.a.RemoveAgent(id) }
func (r roleAllocator) DeactivateAgent(id string) error { return r.a.DeactivateAgent(id) }

func (r roleAllocator) mapInfo(info allocator.Framework) allocator.Framework {
	info.Roles = toAllocRoles(info.Roles)
	info.SuppressedRoles = toAllocRoles(info.SuppressedRoles)
	return info
}

func (r roleAllocator) AddFramework(id string, info allocator.Framework) error {
	return r.a.AddFramework(id, r.mapInfo(info))
}

func (r roleAllocator) UpdateFramework(id string, info allocator.Framework) error {
	return r.a.UpdateFramework(id, r.mapInfo(info))
}

func (r roleAllocator) RemoveFramework(id string) error     { return r.a.RemoveFramework(id) }
func (r roleAllocator) ActivateFramework(id string) error   { return r.a.ActivateFramework(id) }
func (r roleAllocator) DeactivateFramework(id string) error { return r.a.DeactivateFramework(id) }

func (r roleAllocator) Suppress(fwID string, roles []string) error {
	return r.a.Suppress(fwID, toAllocRoles(roles))
}

func (r roleAllocator) Revive(fwID string, roles []string) error {
	return r.a.Revive(fwID, toAllocRoles(roles))
}

func (r roleAllocator) Recover(fwID, role, agentID string, res resources.Resources, refuse time.Duration, now time.Time) error {
	return r.a.Recover(fwID, toAllocRole(role), agentID, res, refuse, now)
}

func (r roleAllocator) Release(fwID, role, agentID string, res resources.Resources) error {
	return r.a.Release(fwID, toAllocRole(role), agentID, res)
}

func (r roleAllocator) Allocated(fwID, role, agentID string, res resources.Resources) error {
	return r.a.Allocated(fwID, toAllocRole(role), agentID, res)
}

func (r roleAllocator) Allocate(now time.Time) []allocator.Offer {
	offers := r.a.Allocate(now)
	for i := range offers {
		offers[i].Role = fromAllocRole(offers[i].Role)
	}
	return offers
}
