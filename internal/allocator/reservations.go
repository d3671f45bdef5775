package allocator

import (
	"errors"
	"fmt"
	"slices"

	"github.com/mesoproject/meso/internal/resources"
)

// ErrNotAvailable: a conversion (RESERVE, UNRESERVE, CREATE, DESTROY)
// names resources that are not available on the agent, or not offered to
// the framework. The operator API answers it with 409 Conflict, as Mesos
// does.
var ErrNotAvailable = errors.New("allocator: resources not available")

// Conversions change what resources are (reserved or not, volume or not)
// without changing how much there is, so the cluster totals and every
// share stay as they were; only the agent's total, its available
// resources and, for ConvertOffered, the framework's offered resources
// change. Mesos calls these updateAvailable (operator operations) and
// updateAllocation (offer operations).

// ConvertAvailable replaces from by to in the agent's unallocated
// resources (an operator's RESERVE_RESOURCES and the others). from and to
// must be the same quantities; from must be available, or it fails with
// ErrNotAvailable and changes nothing.
func (a *Allocator) ConvertAvailable(agentID string, from, to resources.Resources) error {
	ag, ok := a.agents[agentID]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownAgent, agentID)
	}
	if err := sameQuantities(from, to); err != nil {
		return err
	}
	if !ag.available.Contains(from) {
		return fmt.Errorf("%w: agent %q has %v available, not %v", ErrNotAvailable, agentID, ag.available, from)
	}
	ag.total = ag.total.Subtract(from).Add(to)
	ag.setAvailable(ag.available.Subtract(from).Add(to), true)
	a.headroomGrew() // what stays unreserved changed: quota headroom too
	return nil
}

// ConvertOffered replaces from by to in what the framework was offered on
// the agent under role (an offer operation in an ACCEPT). The converted
// resources stay offered to it: a later operation of the same ACCEPT may
// use them, and what is left returns with Recover.
func (a *Allocator) ConvertOffered(fwID, role, agentID string, from, to resources.Resources) error {
	ag, _, h, err := a.lookupHolding(fwID, role, agentID)
	if err != nil {
		return err
	}
	if err := sameQuantities(from, to); err != nil {
		return err
	}
	if h == nil || !h.offered.Contains(from) {
		return fmt.Errorf("%w: framework %q role %q on agent %q was not offered %v", ErrNotAvailable, fwID, role, agentID, from)
	}
	h.offered = h.offered.Subtract(from).Add(to)
	ag.total = ag.total.Subtract(from).Add(to)
	ag.version++
	ag.books++
	return nil
}

// sameQuantities checks that a conversion keeps every amount.
func sameQuantities(from, to resources.Resources) error {
	if !slices.Equal(from.Quantities(), to.Quantities()) {
		return fmt.Errorf("%w: conversion of %v into %v changes amounts", ErrInvalid, from, to)
	}
	return nil
}
