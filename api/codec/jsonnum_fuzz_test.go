package codec

import (
	"math"
	"math/big"
	"regexp"
	"strconv"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// jsonNumber is RFC 8259's number grammar.
var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`)

// refInteger is the exact value of a well-formed JSON number when it is an
// integer, nil when it has a fraction. Exponents far beyond the digits are
// decided without big arithmetic: a nonzero value is then beyond 1e400 (no
// integer in any protobuf range) or below 1e-400 (a fraction).
func refInteger(lit string) *big.Int {
	m := jsonNumber.FindStringSubmatch(lit)
	mant := m[1] + trimDot(m[2])
	exp := int64(0)
	if m[3] != "" {
		e, err := strconv.ParseInt(m[3][1:], 10, 64)
		if lim := int64(len(mant) + 400); err != nil || e > lim || e < -lim {
			if allZero(mant) {
				return new(big.Int)
			}
			if m[3][1] == '-' {
				return nil // a fraction
			}
			return new(big.Int).Lsh(big.NewInt(1), 1400) // beyond every range
		}
		exp = e
	}
	exp -= int64(len(trimDot(m[2])))
	r, _ := new(big.Rat).SetString(mant)
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(abs(exp)), nil)
	if exp >= 0 {
		r.Mul(r, new(big.Rat).SetInt(scale))
	} else {
		r.Quo(r, new(big.Rat).SetInt(scale))
	}
	if !r.IsInt() {
		return nil
	}
	v := new(big.Int).Set(r.Num())
	if m[0][0] == '-' {
		v.Neg(v)
	}
	return v
}

func trimDot(s string) string {
	if s == "" {
		return ""
	}
	return s[1:]
}

func allZero(s string) bool {
	for _, c := range s {
		if c != '0' {
			return false
		}
	}
	return true
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// kindRange is the integer range of each integer kind.
var kindRange = map[protoreflect.Kind][2]*big.Int{
	protoreflect.Int32Kind:  {big.NewInt(math.MinInt32), big.NewInt(math.MaxInt32)},
	protoreflect.Int64Kind:  {big.NewInt(math.MinInt64), big.NewInt(math.MaxInt64)},
	protoreflect.Uint32Kind: {big.NewInt(0), big.NewInt(math.MaxUint32)},
	protoreflect.Uint64Kind: {big.NewInt(0), new(big.Int).SetUint64(math.MaxUint64)},
}

func valueInt(v protoreflect.Value, k protoreflect.Kind) *big.Int {
	switch k {
	case protoreflect.Uint32Kind, protoreflect.Uint64Kind:
		return new(big.Int).SetUint64(v.Uint())
	}
	return big.NewInt(v.Int())
}

// FuzzScanNumber checks the JSON number scanner against the grammar, and
// the integer conversion against exact arithmetic: an integer kind takes a
// number exactly when it denotes an integer in the kind's range, in any
// notation, and yields that integer; float kinds agree with strconv.
func FuzzScanNumber(f *testing.F) {
	for _, s := range []string{"0", "-0", "1", "-1", "01", "1.", ".5", "1.5", "2.0", "2e0", "2E+3", "1e-0", "-",
		"1e", "1e+", "18446744073709551615", "18446744073709551616", "-9223372036854775808", "-9223372036854775809",
		"4294967295", "2147483648", "-2147483648", "1e19", "1.8446744073709551615e19", "100e-2", "123e-2",
		"0.000e99999999999", "1e-99999999999", "1e99999999999", "0.1e1", "1e400", "1e308", "1e309", "-1e-400",
		"12,", "5]", "1.0e+01x", "-00", "2.50e1"} {
		f.Add([]byte(s))
	}
	kinds := []protoreflect.Kind{protoreflect.Int32Kind, protoreflect.Int64Kind, protoreflect.Uint32Kind, protoreflect.Uint64Kind}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, ok := scanNumber(b)
		m := jsonNumber.Find(b)
		if n < 0 || n > len(b) {
			t.Fatalf("scanNumber(%q) = %d, beyond the input", b, n)
		}
		if ok {
			if m == nil || len(m) != n {
				t.Fatalf("scanNumber(%q) = %d, true; the grammar's longest number is %q", b, n, m)
			}
		} else {
			// A refused prefix must not be a number followed by a
			// character that cannot continue one.
			if m != nil && (len(m) == len(b) || !continues(b[len(m)])) {
				t.Fatalf("scanNumber(%q) refused the number %q", b, m)
			}
			return
		}
		lit := b[:n]
		want := refInteger(string(lit))
		for _, k := range kinds {
			v, err := parseNumber(lit, k)
			rng := kindRange[k]
			in := want != nil && want.Cmp(rng[0]) >= 0 && want.Cmp(rng[1]) <= 0
			switch {
			case in && err != nil:
				t.Fatalf("parseNumber(%s, %v) refused %v: %v", lit, k, want, err)
			case !in && err == nil:
				t.Fatalf("parseNumber(%s, %v) = %v, want an error (exact value %v)", lit, k, v, want)
			case in && valueInt(v, k).Cmp(want) != 0:
				t.Fatalf("parseNumber(%s, %v) = %v, want %v", lit, k, v, want)
			}
		}
		for _, k := range []protoreflect.Kind{protoreflect.DoubleKind, protoreflect.FloatKind} {
			bits := 64
			if k == protoreflect.FloatKind {
				bits = 32
			}
			f, ferr := strconv.ParseFloat(string(lit), bits)
			v, err := parseNumber(lit, k)
			if (err == nil) != (ferr == nil) {
				t.Fatalf("parseNumber(%s, %v): %v; strconv: %v", lit, k, err, ferr)
			}
			if err == nil && v.Float() != f {
				t.Fatalf("parseNumber(%s, %v) = %v, want %v", lit, k, v.Float(), f)
			}
		}
	})
}

// continues reports whether c could extend a number (so a number followed
// by it is not a whole token: "1." and "1e" are malformed, not "1").
func continues(c byte) bool {
	return c == '.' || c == 'e' || c == 'E' || c >= '0' && c <= '9'
}
