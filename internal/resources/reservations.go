package resources

import (
	"cmp"
	"fmt"
	"strings"
)

// Reservation is one entry of a resource's reservation stack: a static
// reservation (the agent's --resources, only ever the first entry) or a
// dynamic one made by a RESERVE operation, by Principal. Each entry after
// the first refines the one before it to a strict descendant role (Mesos
// 1.4's reservation refinement).
type Reservation struct {
	Role      string
	Principal string
	Dynamic   bool
}

// Volume is a persistent volume's identity on a disk resource (Mesos'
// DiskInfo with persistence and volume). The zero value means "not a
// volume".
type Volume struct {
	// ID is the persistence id, unique per role on an agent.
	ID string
	// Principal created the volume.
	Principal string
	// ContainerPath is where a task sees the volume, relative to its
	// sandbox.
	ContainerPath string
	ReadOnly      bool
}

// IsVolume reports whether r is a persistent volume.
func (r Resource) IsVolume() bool { return r.Volume.ID != "" }

// Dynamic reports whether r's innermost reservation is dynamic.
func (r Resource) Dynamic() bool {
	n := len(r.Reservations)
	return n > 0 && r.Reservations[n-1].Dynamic
}

// Stack returns r's full reservation stack, outermost first: empty when
// unreserved, one static entry for a static reservation.
func (r Resource) Stack() []Reservation {
	if r.Reservations != nil {
		return r.Reservations
	}
	if r.Role == Unreserved {
		return nil
	}
	return []Reservation{{Role: r.Role}}
}

// withStack sets r's reservation stack and role from stack, keeping the
// canonical form (nil Reservations without dynamic entries).
func (r Resource) withStack(stack []Reservation) Resource {
	r.Role, r.Reservations = Unreserved, nil
	if n := len(stack); n > 0 {
		r.Role = stack[n-1].Role
		if n > 1 || stack[0].Dynamic {
			r.Reservations = stack
		}
	}
	return r
}

// PushReservation returns r dynamically reserved (refined) to role by
// principal.
func (r Resource) PushReservation(role, principal string) Resource {
	stack := append(append([]Reservation(nil), r.Stack()...), Reservation{Role: role, Principal: principal, Dynamic: true})
	return r.withStack(stack)
}

// PopReservation returns r without its innermost reservation.
func (r Resource) PopReservation() Resource {
	stack := r.Stack()
	if len(stack) == 0 {
		return r
	}
	return r.withStack(append([]Reservation(nil), stack[:len(stack)-1]...))
}

// Base returns what r is made of before any dynamic operation: no
// dynamic reservation, no volume. It is what an agent's --resources
// must hold for r to be applied on top of them.
func (r Resource) Base() Resource {
	r.Volume = Volume{}
	var stack []Reservation
	for _, x := range r.Stack() {
		if x.Dynamic {
			break
		}
		stack = append(stack, x)
	}
	return r.withStack(stack)
}

// PushReservation returns r with every entry dynamically reserved
// (refined) to role by principal.
func (r Resources) PushReservation(role, principal string) (Resources, error) {
	return r.Map(func(x Resource) Resource { return x.PushReservation(role, principal) })
}

// Map returns f applied to every entry of r, normalized.
func (r Resources) Map(f func(Resource) Resource) (Resources, error) {
	out := make([]Resource, len(r))
	for i := range r {
		out[i] = f(r[i])
	}
	return New(out...)
}

// Checkpointed returns the entries of r that dynamic operations made:
// dynamically reserved resources and persistent volumes. They are what
// the master records and the agent checkpoints.
func (r Resources) Checkpointed() Resources {
	return r.Filter(func(x *Resource) bool { return x.Reservations != nil || x.IsVolume() })
}

// Volumes returns the persistent volumes in r.
func (r Resources) Volumes() Resources {
	return r.Filter(func(x *Resource) bool { return x.IsVolume() })
}

// ApplyCheckpointed returns total with ckpt (dynamic reservations and
// volumes, see Checkpointed) carved out of it: their Base is taken out of
// total and they are put in. It fails, wrapping ErrInvalid, when total
// does not hold their Base.
func ApplyCheckpointed(total, ckpt Resources) (Resources, error) {
	base, err := ckpt.Map(Resource.Base)
	if err != nil {
		return nil, err
	}
	if !total.Contains(base) {
		return nil, fmt.Errorf("%w: checkpointed resources %v need %v, which %v does not hold", ErrInvalid, ckpt, base, total)
	}
	return total.Subtract(base).Add(ckpt), nil
}

// Convert replaces from by to in r. It fails, wrapping ErrInvalid, when r
// does not hold from.
func (r Resources) Convert(from, to Resources) (Resources, error) {
	if !r.Contains(from) {
		return nil, fmt.Errorf("%w: %v does not hold %v", ErrInvalid, r, from)
	}
	return r.Subtract(from).Add(to), nil
}

func compareReservation(a, b Reservation) int {
	if c := cmp.Compare(a.Role, b.Role); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Principal, b.Principal); c != 0 {
		return c
	}
	switch {
	case a.Dynamic == b.Dynamic:
		return 0
	case a.Dynamic:
		return 1
	}
	return -1
}

func compareVolume(a, b Volume) int {
	return cmp.Or(cmp.Compare(a.ID, b.ID), cmp.Compare(a.Principal, b.Principal),
		cmp.Compare(a.ContainerPath, b.ContainerPath), compareBool(a.ReadOnly, b.ReadOnly))
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// validateReservations checks r's stack: static only first, each later
// entry a strict descendant of the one before, the last naming r.Role;
// and that only disk may be a volume.
func validateReservations(r *Resource) error {
	for i, x := range r.Reservations {
		if err := ValidateRole(x.Role); err != nil || x.Role == Unreserved {
			return fmt.Errorf("%w: %s: invalid reservation role %q", ErrInvalid, r.Name, x.Role)
		}
		if i > 0 {
			prev := r.Reservations[i-1].Role
			if !x.Dynamic {
				return fmt.Errorf("%w: %s: a static reservation can only be the first in the stack", ErrInvalid, r.Name)
			}
			if x.Role == prev || !IsAllocatableTo(prev, x.Role) {
				return fmt.Errorf("%w: %s: reservation to %q does not refine %q (it must be a descendant)", ErrInvalid, r.Name, x.Role, prev)
			}
		}
	}
	if n := len(r.Reservations); n > 0 && r.Reservations[n-1].Role != r.Role {
		return fmt.Errorf("%w: %s: role %q is not the innermost reservation %q", ErrInvalid, r.Name, r.Role, r.Reservations[n-1].Role)
	}
	if r.IsVolume() {
		if r.Name != "disk" || r.Kind != KindScalar {
			return fmt.Errorf("%w: %s: only disk can be a persistent volume", ErrInvalid, r.Name)
		}
		if err := validateVolumeID(r.Volume.ID); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrInvalid, r.Name, err)
		}
	}
	return nil
}

// validateVolumeID follows Mesos' rules for persistence ids: they name a
// directory on the agent.
func validateVolumeID(id string) error {
	if id == "." || id == ".." || strings.ContainsAny(id, "/\\ \t\n\x00") {
		return fmt.Errorf("persistence id %q must not be '.', '..' or contain '/', '\\' or spaces", id)
	}
	return nil
}

// formatReservations writes a stack with a dynamic entry, '|' between
// entries, a dynamic one as "role,principal": "cpus(db,ops):2", a
// refinement of a static reservation "cpus(eng|eng/web,ops):1". It is a
// display form: Parse reads static reservations only.
func formatReservations(b *strings.Builder, stack []Reservation) {
	for i, x := range stack {
		if i > 0 {
			b.WriteByte('|')
		}
		b.WriteString(x.Role)
		if x.Dynamic {
			b.WriteByte(',')
			b.WriteString(x.Principal)
		}
	}
}

func formatVolume(b *strings.Builder, v Volume) {
	if v.ID == "" {
		return
	}
	b.WriteByte('[')
	b.WriteString(v.ID)
	if v.ContainerPath != "" {
		b.WriteByte(',')
		b.WriteString(v.ContainerPath)
	}
	if v.ReadOnly {
		b.WriteString(",ro")
	}
	b.WriteByte(']')
}
