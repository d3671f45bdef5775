package resources

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrParse is wrapped by every error from the text parsers in this package.
var ErrParse = errors.New("parse error")

// ParseError describes malformed input: which parser, the offending token
// and what is wrong with it. It prints as
// `resources: "cpus:abc": invalid scalar value`.
type ParseError struct {
	What  string // "resources", "attributes" or "quantities"
	Token string
	Msg   string
}

func (e *ParseError) Error() string { return fmt.Sprintf("%s: %q: %s", e.What, e.Token, e.Msg) }

// Unwrap lets errors.Is(err, ErrParse) match.
func (e *ParseError) Unwrap() error { return ErrParse }

func parseErr(what, token, msg string) error { return &ParseError{What: what, Token: token, Msg: msg} }

// Parse reads resources in the agent flag syntax, unreserved unless a role is
// given: "cpus:4;mem:8192;ports:[31000-32000];cpus(web):2;zones:{a,b}".
// Duplicate entries add up, zero amounts are dropped, and a name used with
// two kinds is an error. Input that is a JSON array is read as Mesos' JSON
// form: [{"name":"cpus","type":"SCALAR","scalar":{"value":4},"role":"web"}].
func Parse(text string) (Resources, error) {
	return ParseWithRole(text, Unreserved)
}

// ParseWithRole is Parse with defaultRole for entries that name no role
// (Mesos' deprecated --default_role).
func ParseWithRole(text, defaultRole string) (Resources, error) {
	if err := ValidateRole(defaultRole); err != nil {
		return nil, err
	}
	trimmed := strings.TrimSpace(text)
	var list []Resource
	var err error
	if strings.HasPrefix(trimmed, "[") && json.Valid([]byte(trimmed)) {
		list, err = parseJSON(trimmed, defaultRole)
	} else {
		list, err = parseText(text, defaultRole)
	}
	if err != nil {
		return nil, err
	}
	kinds := map[string]Kind{}
	for _, r := range list {
		if k, ok := kinds[r.Name]; ok && k != r.Kind {
			return nil, parseErr("resources", r.Name, fmt.Sprintf("used as both %s and %s", k, r.Kind))
		}
		kinds[r.Name] = r.Kind
	}
	return New(list...)
}

// MustParse is Parse for constants and tests; it panics on error.
func MustParse(text string) Resources {
	r, err := Parse(text)
	if err != nil {
		panic(err)
	}
	return r
}

func parseText(text, defaultRole string) ([]Resource, error) {
	var list []Resource
	for _, tok := range strings.Split(text, ";") {
		tok = strings.TrimSpace(tok)
		if tok == "" {
			continue
		}
		r, err := parseEntry(tok, defaultRole)
		if err != nil {
			return nil, err
		}
		list = append(list, r)
	}
	return list, nil
}

func parseEntry(tok, defaultRole string) (Resource, error) {
	key, val, ok := strings.Cut(tok, ":")
	if !ok || strings.Contains(val, ":") {
		return Resource{}, parseErr("resources", tok, "missing or extra ':'")
	}
	r := Resource{Role: defaultRole}
	if open := strings.IndexByte(key, '('); open >= 0 {
		rest := strings.TrimSpace(key[open+1:])
		if !strings.HasSuffix(rest, ")") || strings.ContainsAny(rest[:len(rest)-1], "()") {
			return Resource{}, parseErr("resources", tok, "mismatched parentheses")
		}
		r.Role = strings.TrimSpace(rest[:len(rest)-1])
		key = key[:open]
	}
	r.Name = strings.TrimSpace(key)
	if err := validateName(r.Name); err != nil {
		return Resource{}, parseErr("resources", tok, "invalid name")
	}
	if err := ValidateRole(r.Role); err != nil {
		return Resource{}, parseErr("resources", tok, "invalid role: "+unprefixed(err))
	}
	v, err := parseValue(val)
	if err != nil {
		return Resource{}, parseErr("resources", tok, unprefixed(err))
	}
	switch v.Kind {
	case KindScalar:
		if v.Scalar < 0 {
			return Resource{}, parseErr("resources", tok, "negative scalar value")
		}
		r.Kind, r.Scalar = KindScalar, v.Scalar
	case KindRanges:
		r.Kind, r.Ranges = KindRanges, v.Ranges
	case KindSet:
		r.Kind, r.Set = KindSet, v.Set
	default:
		return Resource{}, parseErr("resources", tok, "invalid scalar value")
	}
	return r, nil
}

// unprefixed strips the sentinel's text from a wrapped validation error.
func unprefixed(err error) string {
	return strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": ")
}

// value is a parsed Mesos Value.
type value struct {
	Kind   Kind
	Scalar Scalar
	Ranges []Range
	Set    []string
	Text   string
}

// parseValue reads a Mesos value: "[1-5,7-9]" ranges, "{a,b}" a set, a
// decimal number a scalar, anything else text. Spaces are ignored, as Mesos
// removes them before parsing.
func parseValue(s string) (value, error) {
	s = strings.Map(func(c rune) rune {
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			return -1
		}
		return c
	}, s)
	switch {
	case s == "":
		return value{}, fmt.Errorf("%w: empty value", ErrInvalid)
	case s[0] == '[':
		rs, err := parseRanges(s)
		return value{Kind: KindRanges, Ranges: rs}, err
	case s[0] == '{':
		items, err := parseSet(s)
		return value{Kind: KindSet, Set: items}, err
	case strings.ContainsAny(s, "[]{}"):
		return value{}, fmt.Errorf("%w: misplaced bracket", ErrInvalid)
	case isDecimal(s):
		sc, err := parseScalar(s)
		return value{Kind: KindScalar, Scalar: sc}, err
	}
	return value{Kind: KindText, Text: s}, nil
}

func parseRanges(s string) ([]Range, error) {
	if !strings.HasSuffix(s, "]") || strings.ContainsAny(s[1:len(s)-1], "[]{}") {
		return nil, fmt.Errorf("%w: mismatched brackets in ranges", ErrInvalid)
	}
	body := s[1 : len(s)-1]
	var rs []Range
	for _, part := range strings.Split(body, ",") {
		if part == "" {
			continue
		}
		lo, hi, ok := strings.Cut(part, "-")
		if !ok {
			return nil, fmt.Errorf("%w: range %q is not begin-end", ErrInvalid, part)
		}
		b, err1 := strconv.ParseUint(lo, 10, 64)
		e, err2 := strconv.ParseUint(hi, 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%w: range %q needs non-negative integers", ErrInvalid, part)
		}
		if b > e {
			return nil, fmt.Errorf("%w: range %q begins after it ends", ErrInvalid, part)
		}
		rs = append(rs, Range{b, e})
	}
	return normalizeRanges(rs), nil
}

func parseSet(s string) ([]string, error) {
	if !strings.HasSuffix(s, "}") || strings.ContainsAny(s[1:len(s)-1], "[]{}") {
		return nil, fmt.Errorf("%w: mismatched braces in set", ErrInvalid)
	}
	var items []string
	for _, it := range strings.Split(s[1:len(s)-1], ",") {
		if it != "" {
			items = append(items, it)
		}
	}
	return normalizeSet(items), nil
}

// jsonResource is the subset of mesos.v1.Resource's JSON form the flag
// accepts.
type jsonResource struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	Scalar *struct {
		Value float64 `json:"value"`
	} `json:"scalar"`
	Ranges *struct {
		Range []struct {
			Begin uint64 `json:"begin"`
			End   uint64 `json:"end"`
		} `json:"range"`
	} `json:"ranges"`
	Set *struct {
		Item []string `json:"item"`
	} `json:"set"`
	Role         *string `json:"role"`
	Reservations []struct {
		Type string `json:"type"`
		Role string `json:"role"`
	} `json:"reservations"`
}

func parseJSON(text, defaultRole string) ([]Resource, error) {
	var in []jsonResource
	if err := json.Unmarshal([]byte(text), &in); err != nil {
		return nil, parseErr("resources", text, "invalid JSON: "+err.Error())
	}
	list := make([]Resource, 0, len(in))
	for _, j := range in {
		r, err := fromJSON(j, defaultRole)
		if err != nil {
			return nil, err
		}
		list = append(list, r)
	}
	return list, nil
}

func fromJSON(j jsonResource, defaultRole string) (Resource, error) {
	r := Resource{Name: j.Name, Role: defaultRole}
	tok := j.Name
	if err := validateName(j.Name); err != nil {
		return r, parseErr("resources", tok, "invalid name")
	}
	if j.Role != nil {
		r.Role = *j.Role
	}
	if n := len(j.Reservations); n > 0 {
		for _, res := range j.Reservations {
			if res.Type != "STATIC" {
				return r, parseErr("resources", tok, "only STATIC reservations may be given on the command line")
			}
		}
		r.Role = j.Reservations[n-1].Role
	}
	if err := ValidateRole(r.Role); err != nil {
		return r, parseErr("resources", tok, "invalid role: "+unprefixed(err))
	}
	switch j.Type {
	case "SCALAR":
		if j.Scalar == nil {
			return r, parseErr("resources", tok, "SCALAR without scalar")
		}
		s, err := ScalarFromFloat(j.Scalar.Value)
		if err != nil || s < 0 {
			return r, parseErr("resources", tok, "invalid scalar value")
		}
		r.Kind, r.Scalar = KindScalar, s
	case "RANGES":
		r.Kind = KindRanges
		if j.Ranges != nil {
			for _, rg := range j.Ranges.Range {
				if rg.Begin > rg.End {
					return r, parseErr("resources", tok, "range begins after it ends")
				}
				r.Ranges = append(r.Ranges, Range{rg.Begin, rg.End})
			}
		}
	case "SET":
		r.Kind = KindSet
		if j.Set != nil {
			for _, it := range j.Set.Item {
				if it == "" {
					return r, parseErr("resources", tok, "empty set item")
				}
				r.Set = append(r.Set, it)
			}
		}
	default:
		return r, parseErr("resources", tok, fmt.Sprintf("unsupported type %q", j.Type))
	}
	return r, nil
}
