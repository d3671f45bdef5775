package resources

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ErrConstraints is wrapped by every constraints parse error.
var ErrConstraints = errors.New("bad constraints")

// MaxConstraintsText bounds the text ParseConstraints reads.
const MaxConstraintsText = 64 << 10

// Constraint is one term of Spark's spark.mesos.constraints (and
// spark.mesos.driver.constraints): the agent must have
// attribute Attr, and when Values is not empty its value must match them
// (see Constraints.Match).
type Constraint struct {
	Attr   string
	Values []string
}

// Constraints is a parsed spark.mesos.constraints, sorted by attribute.
type Constraints []Constraint

// ParseConstraints reads Spark's syntax: terms separated by ';', each
// "attr:v1,v2" or, to require only that the attribute exists, "attr:" (or
// "attr"). Spaces around terms and values are ignored; empty terms are
// skipped. An attribute named twice, an empty name or an empty value in a
// list is an error wrapping ErrConstraints.
func ParseConstraints(s string) (Constraints, error) {
	if len(s) > MaxConstraintsText {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrConstraints, MaxConstraintsText)
	}
	var out Constraints
	for term := range strings.SplitSeq(s, ";") {
		term = strings.TrimSpace(term)
		if term == "" {
			continue
		}
		name, vals, _ := strings.Cut(term, ":")
		name = strings.TrimSpace(name)
		if name == "" || strings.ContainsFunc(name, invalidNameRune) {
			return nil, fmt.Errorf("%w: %q: want attribute:value[,value...]", ErrConstraints, term)
		}
		if strings.Contains(vals, ":") {
			return nil, fmt.Errorf("%w: %q: more than one ':'", ErrConstraints, term)
		}
		c := Constraint{Attr: name}
		if vals = strings.TrimSpace(vals); vals != "" {
			for v := range strings.SplitSeq(vals, ",") {
				v = strings.TrimSpace(v)
				if v == "" {
					return nil, fmt.Errorf("%w: %q: empty value", ErrConstraints, term)
				}
				if !slices.Contains(c.Values, v) {
					c.Values = append(c.Values, v)
				}
			}
		}
		if slices.ContainsFunc(out, func(o Constraint) bool { return o.Attr == name }) {
			return nil, fmt.Errorf("%w: attribute %q named twice", ErrConstraints, name)
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Constraint) int { return strings.Compare(a.Attr, b.Attr) })
	return out, nil
}

func invalidNameRune(r rune) bool { return r < ' ' || r == 0x7f || r == ',' }

// String formats cs in the syntax ParseConstraints reads.
func (cs Constraints) String() string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.Attr + ":" + strings.Join(c.Values, ",")
	}
	return strings.Join(parts, ";")
}

// Match reports whether an agent with attrs satisfies every constraint, with
// Spark's semantics per attribute type: no values means the attribute exists;
// a scalar matches when some value is <= the agent's; ranges when some value
// (a whole number) lies in one of the agent's ranges; a set when the values
// are a subset of the agent's; text when the agent's text is one of the
// values.
func (cs Constraints) Match(attrs Attributes) bool {
	for _, c := range cs {
		a, ok := attrs.Get(c.Attr)
		if !ok || !c.matches(a) {
			return false
		}
	}
	return true
}

func (c Constraint) matches(a Attribute) bool {
	if len(c.Values) == 0 {
		return true
	}
	switch a.Kind {
	case KindScalar:
		return slices.ContainsFunc(c.Values, func(v string) bool {
			f, err := strconv.ParseFloat(v, 64)
			return err == nil && f <= a.Scalar.Float()
		})
	case KindRanges:
		return slices.ContainsFunc(c.Values, func(v string) bool {
			n, err := strconv.ParseUint(v, 10, 64)
			return err == nil && slices.ContainsFunc(a.Ranges, func(r Range) bool {
				return r.Begin <= n && n <= r.End
			})
		})
	case KindSet:
		for _, v := range c.Values {
			if !slices.Contains(a.Set, v) {
				return false
			}
		}
		return true
	case KindText:
		return slices.Contains(c.Values, a.Text)
	}
	return false
}
