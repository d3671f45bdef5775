package codec

import (
	"fmt"
	"math"
	"strconv"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// scanNumber returns the length of the JSON number at the start of b and
// whether it is well formed:
// -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
func scanNumber(b []byte) (int, bool) {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = skipDigits(b, i)
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		j := skipDigits(b, i+1)
		if j == i+1 {
			return j, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := skipDigits(b, i)
		if j == i {
			return j, false
		}
		i = j
	}
	return i, true
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// parseNumber converts a well-formed JSON number to a value of kind k.
// Integer kinds take any notation of an integer in range (2, 2.0, 2e0) and
// reject fractions; float kinds reject values out of range.
func parseNumber(lit []byte, k protoreflect.Kind) (protoreflect.Value, error) {
	switch k {
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		bits := 64
		if k == protoreflect.FloatKind {
			bits = 32
		}
		if f, ok := nonFiniteValue(lit); ok {
			if bits == 32 {
				return protoreflect.ValueOfFloat32(float32(f)), nil
			}
			return protoreflect.ValueOfFloat64(f), nil
		}
		f, err := strconv.ParseFloat(string(lit), bits)
		if err != nil {
			return protoreflect.Value{}, &pathError{msg: fmt.Sprintf("number %s out of range for %s", lit, k)}
		}
		if bits == 32 {
			return protoreflect.ValueOfFloat32(float32(f)), nil
		}
		return protoreflect.ValueOfFloat64(f), nil
	}
	neg, mag, ok := parseInteger(lit)
	if !ok {
		return protoreflect.Value{}, &pathError{msg: fmt.Sprintf("number %s is not an integer in range for %s", lit, k)}
	}
	if v, ok := fitInteger(neg, mag, k); ok {
		return v, nil
	}
	return protoreflect.Value{}, &pathError{msg: fmt.Sprintf("number %s out of range for %s", lit, k)}
}

func fitInteger(neg bool, mag uint64, k protoreflect.Kind) (protoreflect.Value, bool) {
	switch k {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		if neg && mag <= 1<<31 {
			return protoreflect.ValueOfInt32(int32(-int64(mag))), true
		}
		if !neg && mag <= math.MaxInt32 {
			return protoreflect.ValueOfInt32(int32(mag)), true
		}
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		if neg && mag <= 1<<63 {
			return protoreflect.ValueOfInt64(int64(-mag)), true
		}
		if !neg && mag <= math.MaxInt64 {
			return protoreflect.ValueOfInt64(int64(mag)), true
		}
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		if mag == 0 || (!neg && mag <= math.MaxUint32) {
			return protoreflect.ValueOfUint32(uint32(mag)), true
		}
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		if mag == 0 || !neg {
			return protoreflect.ValueOfUint64(mag), true
		}
	}
	return protoreflect.Value{}, false
}

// parseInteger reads a well-formed JSON number that denotes an integer, in
// any notation, exactly (no float rounding). ok is false for fractions and
// for magnitudes beyond uint64.
func parseInteger(lit []byte) (neg bool, mag uint64, ok bool) {
	i := 0
	if lit[0] == '-' {
		neg = true
		i++
	}
	intStart := i
	i = skipDigits(lit, i)
	intPart := lit[intStart:i]
	var frac []byte
	if i < len(lit) && lit[i] == '.' {
		j := skipDigits(lit, i+1)
		frac = lit[i+1 : j]
		i = j
	}
	exp := 0
	if i < len(lit) {
		exp = parseExponent(lit[i+1:])
	}
	// The value is digits × 10^scale, digits being intPart then frac.
	digits := digitSeq{intPart, frac}
	scale := exp - len(frac)
	lo, hi := 0, digits.len()
	for lo < hi && digits.at(lo) == '0' {
		lo++
	}
	if lo == hi {
		return neg, 0, true
	}
	if scale < 0 {
		if -scale >= hi-lo {
			return neg, 0, false // a nonzero digit is in the fraction
		}
		for k := hi + scale; k < hi; k++ {
			if digits.at(k) != '0' {
				return neg, 0, false
			}
		}
		hi += scale
		scale = 0
	}
	if hi-lo+scale > 20 {
		return neg, 0, false
	}
	for k := lo; k < hi; k++ {
		if mag, ok = mulAdd(mag, uint64(digits.at(k)-'0')); !ok {
			return neg, 0, false
		}
	}
	for ; scale > 0; scale-- {
		if mag, ok = mulAdd(mag, 0); !ok {
			return neg, 0, false
		}
	}
	return neg, mag, true
}

// parseExponent reads [+-]digits, saturating far beyond any useful range.
func parseExponent(b []byte) int {
	sign := 1
	if b[0] == '+' || b[0] == '-' {
		if b[0] == '-' {
			sign = -1
		}
		b = b[1:]
	}
	e := 0
	for _, c := range b {
		if e < 1e8 {
			e = e*10 + int(c-'0')
		}
	}
	return sign * e
}

func mulAdd(x, d uint64) (uint64, bool) {
	if x > (math.MaxUint64-d)/10 {
		return 0, false
	}
	return x*10 + d, true
}

// digitSeq is the concatenation of two digit strings, without copying.
type digitSeq [2][]byte

func (s digitSeq) len() int { return len(s[0]) + len(s[1]) }

func (s digitSeq) at(i int) byte {
	if i < len(s[0]) {
		return s[0][i]
	}
	return s[1][i-len(s[0])]
}

// Non-finite floats have no JSON number. They are written, and read back, as
// protobuf's JSON mapping spells them: the strings "NaN", "Infinity" and
// "-Infinity". (Mesos prints bare nan and inf, which no JSON parser takes.)
const (
	jsonNaN    = "NaN"
	jsonInf    = "Infinity"
	jsonNegInf = "-Infinity"
)

func isFloatKind(k protoreflect.Kind) bool {
	return k == protoreflect.FloatKind || k == protoreflect.DoubleKind
}

func nonFiniteName(s []byte) bool {
	_, ok := nonFiniteValue(s)
	return ok
}

// nonFiniteValue returns the value one of the three names stands for.
func nonFiniteValue(s []byte) (float64, bool) {
	switch string(s) {
	case jsonNaN:
		return math.NaN(), true
	case jsonInf:
		return math.Inf(1), true
	case jsonNegInf:
		return math.Inf(-1), true
	}
	return 0, false
}

// nonFiniteText returns the name of a non-finite f, or "" for a finite one.
func nonFiniteText(f float64) string {
	switch {
	case math.IsNaN(f):
		return jsonNaN
	case math.IsInf(f, 1):
		return jsonInf
	case math.IsInf(f, -1):
		return jsonNegInf
	}
	return ""
}
