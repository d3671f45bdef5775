package resources

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrInvalid is wrapped by errors about resource values that cannot exist:
// negative or non-finite scalars, inverted ranges, bad names or roles.
var ErrInvalid = errors.New("resources: invalid")

// Unreserved is the role of resources that no role has reserved.
const Unreserved = "*"

// Kind is the type of a resource or attribute value.
type Kind uint8

// The kinds of values. Resources are scalars, ranges or sets; attributes may
// also be text.
const (
	KindScalar Kind = iota + 1
	KindRanges
	KindSet
	KindText
)

func (k Kind) String() string {
	switch k {
	case KindScalar:
		return "scalar"
	case KindRanges:
		return "ranges"
	case KindSet:
		return "set"
	case KindText:
		return "text"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Resource is one named quantity reserved to a role (or unreserved, "*").
// Only the field that matches Kind is meaningful. Ranges and Set are
// normalized (sorted, merged, unique) inside a Resources value and must not
// be modified.
type Resource struct {
	Name   string
	Role   string
	Kind   Kind
	Scalar Scalar
	Ranges []Range
	Set    []string
	// Reservations is the reservation stack, outermost first, when any
	// reservation in it is dynamic (its last entry names Role); nil for
	// unreserved and statically reserved resources. See reservations.go.
	Reservations []Reservation
	// Volume makes a disk resource a persistent volume when its ID is set.
	Volume Volume
}

// IsEmpty reports whether r holds nothing.
func (r Resource) IsEmpty() bool {
	switch r.Kind {
	case KindScalar:
		return r.Scalar == 0
	case KindRanges:
		return len(r.Ranges) == 0
	case KindSet:
		return len(r.Set) == 0
	}
	return true
}

// Reserved reports whether r is reserved to a role.
func (r Resource) Reserved() bool { return r.Role != Unreserved }

// String formats r in the agent flag syntax: name[(role)]:value.
func (r Resource) String() string {
	var b strings.Builder
	r.format(&b)
	return b.String()
}

func (r Resource) format(b *strings.Builder) {
	b.WriteString(r.Name)
	if r.Role != Unreserved {
		b.WriteByte('(')
		if r.Reservations == nil {
			b.WriteString(r.Role)
		} else {
			formatReservations(b, r.Reservations)
		}
		b.WriteByte(')')
	}
	formatVolume(b, r.Volume)
	b.WriteByte(':')
	switch r.Kind {
	case KindScalar:
		b.WriteString(r.Scalar.String())
	case KindRanges:
		formatRanges(b, r.Ranges)
	case KindSet:
		formatSet(b, r.Set)
	}
}

// Quantity returns the amount r holds: its scalar value, or the number of
// elements of its ranges or set.
func (r Resource) Quantity() Scalar {
	switch r.Kind {
	case KindScalar:
		return r.Scalar
	case KindRanges:
		return Units(countRanges(r.Ranges))
	case KindSet:
		return Units(int64(len(r.Set)))
	}
	return 0
}

func compareKey(a, b *Resource) int {
	if c := cmp.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Role, b.Role); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Kind, b.Kind); c != 0 {
		return c
	}
	if c := slices.CompareFunc(a.Reservations, b.Reservations, compareReservation); c != 0 {
		return c
	}
	return compareVolume(a.Volume, b.Volume)
}

// Resources is a normalized, immutable list of resources; see the package
// documentation. The zero value is empty and ready to use.
type Resources []Resource

// New validates list and returns it normalized: sorted, with entries of the
// same name, role and kind merged and empty entries dropped. An empty role
// means unreserved.
func New(list ...Resource) (Resources, error) {
	out := make(Resources, 0, len(list))
	for _, r := range list {
		if r.Role == "" {
			r.Role = Unreserved
		}
		if err := validate(&r); err != nil {
			return nil, err
		}
		r = normalized(r)
		if !r.IsEmpty() {
			out = append(out, r)
		}
	}
	slices.SortStableFunc(out, func(a, b Resource) int { return compareKey(&a, &b) })
	merged := out[:0]
	for _, r := range out {
		if n := len(merged); n > 0 && compareKey(&merged[n-1], &r) == 0 {
			merged[n-1] = combine(merged[n-1], r)
			continue
		}
		merged = append(merged, r)
	}
	if len(merged) == 0 {
		return nil, nil
	}
	return merged, nil
}

// normalized returns r with private, normalized copies of its value and the
// fields of other kinds cleared.
func normalized(r Resource) Resource {
	if len(r.Reservations) == 0 {
		r.Reservations = nil
	} else {
		r.Reservations = slices.Clone(r.Reservations)
	}
	switch r.Kind {
	case KindScalar:
		r.Ranges, r.Set = nil, nil
	case KindRanges:
		r.Scalar, r.Set = 0, nil
		r.Ranges = normalizeRanges(slices.Clone(r.Ranges))
	case KindSet:
		r.Scalar, r.Ranges = 0, nil
		r.Set = normalizeSet(slices.Clone(r.Set))
	}
	return r
}

func validate(r *Resource) error {
	if err := validateName(r.Name); err != nil {
		return err
	}
	if err := ValidateRole(r.Role); err != nil {
		return err
	}
	if err := validateReservations(r); err != nil {
		return err
	}
	switch r.Kind {
	case KindScalar:
		if r.Scalar < 0 {
			return fmt.Errorf("%w: %s: negative scalar value %s", ErrInvalid, r.Name, r.Scalar)
		}
	case KindRanges:
		for _, rg := range r.Ranges {
			if rg.Begin > rg.End {
				return fmt.Errorf("%w: %s: range %d-%d begins after it ends", ErrInvalid, r.Name, rg.Begin, rg.End)
			}
		}
	case KindSet:
		for _, it := range r.Set {
			if it == "" {
				return fmt.Errorf("%w: %s: empty set item", ErrInvalid, r.Name)
			}
		}
	default:
		return fmt.Errorf("%w: %s: resources cannot be of kind %s", ErrInvalid, r.Name, r.Kind)
	}
	return nil
}

func validateName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty resource name", ErrInvalid)
	}
	for _, c := range name {
		if c <= ' ' || c == 0x7f || strings.ContainsRune("():;[]{},", c) {
			return fmt.Errorf("%w: resource name %q contains %q", ErrInvalid, name, c)
		}
	}
	return nil
}

// combine adds two resources with the same key.
func combine(a, b Resource) Resource {
	switch a.Kind {
	case KindScalar:
		a.Scalar += b.Scalar
	case KindRanges:
		a.Ranges = addRanges(a.Ranges, b.Ranges)
	case KindSet:
		a.Set = addSets(a.Set, b.Set)
	}
	return a
}

// minus subtracts b from a (same key), clamping at empty.
func minus(a, b Resource) Resource {
	switch a.Kind {
	case KindScalar:
		a.Scalar = max(a.Scalar-b.Scalar, 0)
	case KindRanges:
		a.Ranges = subtractRanges(a.Ranges, b.Ranges)
	case KindSet:
		a.Set = subtractSets(a.Set, b.Set)
	}
	return a
}

func covers(a, b *Resource) bool {
	switch a.Kind {
	case KindScalar:
		return a.Scalar >= b.Scalar
	case KindRanges:
		return containsRanges(a.Ranges, b.Ranges)
	case KindSet:
		return containsSet(a.Set, b.Set)
	}
	return false
}

func equalResource(a, b *Resource) bool {
	return compareKey(a, b) == 0 && a.Scalar == b.Scalar &&
		slices.Equal(a.Ranges, b.Ranges) && slices.Equal(a.Set, b.Set)
}

// IsEmpty reports whether r holds nothing.
func (r Resources) IsEmpty() bool { return len(r) == 0 }

// Add returns r + o.
func (r Resources) Add(o Resources) Resources {
	if len(o) == 0 {
		return r
	}
	if len(r) == 0 {
		return o
	}
	out := make(Resources, 0, len(r)+len(o))
	i, j := 0, 0
	for i < len(r) && j < len(o) {
		switch c := compareKey(&r[i], &o[j]); {
		case c < 0:
			out = append(out, r[i])
			i++
		case c > 0:
			out = append(out, o[j])
			j++
		default:
			out = append(out, combine(r[i], o[j]))
			i, j = i+1, j+1
		}
	}
	out = append(out, r[i:]...)
	return append(out, o[j:]...)
}

// Subtract returns r - o. Parts of o that r does not hold are ignored, so the
// result never goes negative; check Contains first when that matters.
func (r Resources) Subtract(o Resources) Resources {
	if len(o) == 0 || len(r) == 0 {
		return r
	}
	if sameSlice(r, o) {
		return nil
	}
	return subtractInto(make(Resources, 0, len(r)), r, o)
}

// SubtractInPlace is Subtract written over r's own array, without
// allocating: only for an r the caller alone holds (a copy it made), which
// the result replaces.
func (r Resources) SubtractInPlace(o Resources) Resources {
	if len(o) == 0 || len(r) == 0 {
		return r
	}
	if sameSlice(r, o) {
		return nil
	}
	out := subtractInto(r[:0], r, o) // written at or behind the element read
	clear(r[len(out):])              // no stale references past the end
	return out
}

// subtractInto appends r minus o (both sorted by key) to out, nil when
// nothing is left. out may be r[:0]: it is written at or behind the
// element read.
func subtractInto(out, r, o Resources) Resources {
	i, j := 0, 0
	for i < len(r) {
		if j == len(o) {
			out = append(out, r[i:]...)
			break
		}
		switch c := compareKey(&r[i], &o[j]); {
		case c < 0:
			out = append(out, r[i])
			i++
		case c > 0:
			j++
		default:
			if d := minus(r[i], o[j]); !d.IsEmpty() {
				out = append(out, d)
			}
			i, j = i+1, j+1
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// Intersect returns what r and o both hold (the minimum of scalars, the
// common values of ranges and sets).
func (r Resources) Intersect(o Resources) Resources {
	var out Resources
	i, j := 0, 0
	for i < len(r) && j < len(o) {
		switch c := compareKey(&r[i], &o[j]); {
		case c < 0:
			i++
		case c > 0:
			j++
		default:
			x := r[i]
			switch x.Kind {
			case KindScalar:
				x.Scalar = min(x.Scalar, o[j].Scalar)
			case KindRanges:
				x.Ranges = intersectRanges(x.Ranges, o[j].Ranges)
			case KindSet:
				x.Set = intersectSets(x.Set, o[j].Set)
			}
			if !x.IsEmpty() {
				out = append(out, x)
			}
			i, j = i+1, j+1
		}
	}
	return out
}

// Contains reports whether r holds everything in o (r ⊇ o).
func (r Resources) Contains(o Resources) bool {
	if len(o) > len(r) {
		return false
	}
	if sameSlice(r, o) {
		return true
	}
	i := 0
	for j := range o {
		for i < len(r) && compareKey(&r[i], &o[j]) < 0 {
			i++
		}
		if i == len(r) || compareKey(&r[i], &o[j]) != 0 || !covers(&r[i], &o[j]) {
			return false
		}
		i++
	}
	return true
}

// Equal reports whether r and o hold exactly the same resources.
func (r Resources) Equal(o Resources) bool {
	if len(r) != len(o) {
		return false
	}
	if sameSlice(r, o) {
		return true
	}
	for i := range r {
		if !equalResource(&r[i], &o[i]) {
			return false
		}
	}
	return true
}

// sameSlice reports whether a and b are the same slice (same backing array
// and length), a cheap shortcut for immutable values handed around.
func sameSlice(a, b Resources) bool {
	return len(a) == len(b) && len(a) > 0 && &a[0] == &b[0]
}

// Filter returns the entries for which keep returns true. It returns r itself
// when every entry is kept.
func (r Resources) Filter(keep func(*Resource) bool) Resources {
	for i := range r {
		if keep(&r[i]) {
			continue
		}
		out := make(Resources, i, len(r)-1)
		copy(out, r[:i])
		for k := i + 1; k < len(r); k++ {
			if keep(&r[k]) {
				out = append(out, r[k])
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	}
	return r
}

// Unreserved returns the unreserved entries of r.
func (r Resources) Unreserved() Resources {
	return r.Filter(func(x *Resource) bool { return x.Role == Unreserved })
}

// Reserved returns the entries of r reserved to any role.
func (r Resources) Reserved() Resources {
	return r.Filter(func(x *Resource) bool { return x.Role != Unreserved })
}

// HasReserved reports whether any entry of r is reserved.
func (r Resources) HasReserved() bool {
	for i := range r {
		if r[i].Role != Unreserved {
			return true
		}
	}
	return false
}

// ReservedTo returns the entries of r reserved to exactly role.
func (r Resources) ReservedTo(role string) Resources {
	return r.Filter(func(x *Resource) bool { return x.Role == role })
}

// AllocatableTo returns what a framework in role may be offered: unreserved
// entries and entries reserved to role or to one of its ancestors.
func (r Resources) AllocatableTo(role string) Resources {
	return r.Filter(func(x *Resource) bool { return IsAllocatableTo(x.Role, role) })
}

// Scalars returns the scalar entries of r.
func (r Resources) Scalars() Resources {
	return r.Filter(func(x *Resource) bool { return x.Kind == KindScalar })
}

// Scalar returns the total scalar amount named name, over all roles.
func (r Resources) Scalar(name string) Scalar {
	var s Scalar
	for i := range r {
		if r[i].Name == name && r[i].Kind == KindScalar {
			s += r[i].Scalar
		}
	}
	return s
}

// Get returns the entry with the given name, role and kind.
func (r Resources) Get(name, role string, kind Kind) (Resource, bool) {
	key := Resource{Name: name, Role: role, Kind: kind}
	i, found := slices.BinarySearchFunc(r, key, func(a, b Resource) int { return compareKey(&a, &b) })
	if !found {
		return Resource{}, false
	}
	return r[i], true
}

// Has reports whether r has any entry named name.
func (r Resources) Has(name string) bool {
	i, _ := slices.BinarySearchFunc(r, name, func(a Resource, n string) int { return cmp.Compare(a.Name, n) })
	return i < len(r) && r[i].Name == name
}

// String formats r in the agent flag syntax, entries separated by ';'. The
// output parses back to an equal value.
func (r Resources) String() string {
	var b strings.Builder
	for i := range r {
		if i > 0 {
			b.WriteByte(';')
		}
		r[i].format(&b)
	}
	return b.String()
}

// Sum is a running total of resources that allocates little: adding
// resources with the keys the total has already (the common case when
// summing many holdings of the same kinds, such as every holding of cpus
// and mem) adds their scalars in place into a slice the Sum owns; other
// additions merge as Add does. The zero value is an empty total.
type Sum struct {
	r     Resources
	owned bool // r is this Sum's own slice, its scalars writable
}

// Add adds o to the total.
func (s *Sum) Add(o Resources) {
	if len(o) == 0 {
		return
	}
	if s.owned && len(s.r) == len(o) {
		same := true
		for i := range o {
			if o[i].Kind != KindScalar || compareKey(&s.r[i], &o[i]) != 0 {
				same = false
				break
			}
		}
		if same {
			for i := range o {
				s.r[i].Scalar += o[i].Scalar
			}
			return
		}
	}
	if len(s.r) == 0 {
		// Copy o, so that the next addition may write in place (the
		// entries' ranges and sets are shared, never written).
		s.r, s.owned = slices.Clone(o), true
		return
	}
	s.r, s.owned = s.r.Add(o), true // Add of two non-empty lists is a new slice
}

// Resources returns the total, immutable as every Resources: adding to
// the Sum afterwards makes a new slice rather than write this one.
func (s *Sum) Resources() Resources {
	s.owned = false
	return s.r
}
