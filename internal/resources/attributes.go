package resources

import (
	"strings"

	"github.com/mesoproject/meso/api/mesospb"
)

// Attribute is a named value describing an agent (rack, zone, ...). Only the
// field that matches Kind is meaningful.
type Attribute struct {
	Name   string
	Kind   Kind
	Scalar Scalar
	Ranges []Range
	Set    []string
	Text   string
}

// String formats a in the agent flag syntax, name:value.
func (a Attribute) String() string {
	var b strings.Builder
	b.WriteString(a.Name)
	b.WriteByte(':')
	switch a.Kind {
	case KindScalar:
		b.WriteString(a.Scalar.String())
	case KindRanges:
		formatRanges(&b, a.Ranges)
	case KindSet:
		formatSet(&b, a.Set)
	case KindText:
		b.WriteString(a.Text)
	}
	return b.String()
}

// Attributes is an ordered list of agent attributes, in the order given.
type Attributes []Attribute

// ParseAttributes reads the agent flag syntax "rack:r1;zone:a;level:3;
// ports:[1-5];zones:{a,b}". Entries are separated by ';' or newlines; the
// name ends at the first ':'. A value in brackets is ranges, in braces a
// set, a decimal number a scalar, and anything else text.
func ParseAttributes(text string) (Attributes, error) {
	var out Attributes
	for _, tok := range strings.FieldsFunc(text, func(c rune) bool { return c == ';' || c == '\n' }) {
		tok = strings.TrimSpace(tok)
		if tok == "" {
			continue
		}
		name, val, ok := strings.Cut(tok, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.TrimSpace(val) == "" {
			return nil, parseErr("attributes", tok, "want name:value")
		}
		if strings.ContainsFunc(name, func(c rune) bool { return c < ' ' || c == 0x7f }) {
			return nil, parseErr("attributes", tok, "invalid name")
		}
		v, err := parseValue(val)
		if err != nil {
			return nil, parseErr("attributes", tok, unprefixed(err))
		}
		out = append(out, Attribute{Name: name, Kind: v.Kind, Scalar: v.Scalar, Ranges: v.Ranges, Set: v.Set, Text: v.Text})
	}
	return out, nil
}

// Get returns the first attribute named name.
func (as Attributes) Get(name string) (Attribute, bool) {
	for _, a := range as {
		if a.Name == name {
			return a, true
		}
	}
	return Attribute{}, false
}

// String formats as in the agent flag syntax, separated by ';'.
func (as Attributes) String() string {
	parts := make([]string, len(as))
	for i, a := range as {
		parts[i] = a.String()
	}
	return strings.Join(parts, ";")
}

// AttributesFromProto converts wire attributes (as offers carry them) into
// Attributes, in order. An attribute whose type does not match its value
// keeps its name and type with a zero value; non-finite or negative scalars
// become 0. It never fails: attributes only describe.
func AttributesFromProto(in []*mesospb.Attribute) Attributes {
	out := make(Attributes, 0, len(in))
	for _, p := range in {
		a := Attribute{Name: p.GetName()}
		switch p.GetType() {
		case mesospb.Value_SCALAR:
			a.Kind = KindScalar
			a.Scalar, _ = ScalarFromFloat(p.GetScalar().GetValue())
		case mesospb.Value_RANGES:
			a.Kind = KindRanges
			for _, r := range p.GetRanges().GetRange() {
				if r.GetBegin() <= r.GetEnd() {
					a.Ranges = append(a.Ranges, Range{Begin: r.GetBegin(), End: r.GetEnd()})
				}
			}
			a.Ranges = normalizeRanges(a.Ranges)
		case mesospb.Value_SET:
			a.Kind = KindSet
			a.Set = normalizeSet(append([]string(nil), p.GetSet().GetItem()...))
		default:
			a.Kind = KindText
			a.Text = p.GetText().GetValue()
		}
		out = append(out, a)
	}
	return out
}
