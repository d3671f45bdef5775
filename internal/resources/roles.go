package resources

import (
	"fmt"
	"strings"
)

// ValidateRole checks a role name the way Mesos does: "*" (unreserved) or
// one or more '/'-separated components, each non-empty, not "." or "..",
// not starting with '-', not "*", and free of whitespace, control
// characters and backslashes.
func ValidateRole(role string) error {
	if role == Unreserved {
		return nil
	}
	if role == "" {
		return fmt.Errorf("%w: empty role name", ErrInvalid)
	}
	for _, part := range strings.Split(role, "/") {
		switch {
		case part == "":
			return fmt.Errorf("%w: role %q has an empty component", ErrInvalid, role)
		case part == "." || part == "..":
			return fmt.Errorf("%w: role %q has a %q component", ErrInvalid, role, part)
		case part == "*":
			return fmt.Errorf("%w: role %q uses '*' as a component", ErrInvalid, role)
		case part[0] == '-':
			return fmt.Errorf("%w: role %q has a component starting with '-'", ErrInvalid, role)
		}
		for _, c := range part {
			if c <= ' ' || c == 0x7f || c == '\\' {
				return fmt.Errorf("%w: role %q contains %q", ErrInvalid, role, c)
			}
		}
	}
	return nil
}

// IsAllocatableTo reports whether resources reserved to reservation (or
// unreserved, "*") may be offered to a framework in role: the reservation
// must be "*", role itself, or an ancestor of role ("eng" for "eng/web").
func IsAllocatableTo(reservation, role string) bool {
	if reservation == Unreserved || reservation == role {
		return true
	}
	return len(role) > len(reservation) && role[len(reservation)] == '/' &&
		strings.HasPrefix(role, reservation)
}
