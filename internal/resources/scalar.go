package resources

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Scalar is a fixed-point quantity in thousandths (three decimal places).
// Mesos converts every Value::Scalar to this form before doing arithmetic,
// which makes sums and comparisons exact.
type Scalar int64

// scalarUnit is the number of Scalar units in 1.0.
const scalarUnit = 1000

// maxScalarFloat bounds the values ScalarFromFloat accepts, far below the
// point where float64 loses integer precision in thousandths.
const maxScalarFloat = 1 << 50

// ScalarFromFloat rounds f to the nearest thousandth. It rejects NaN,
// infinities and magnitudes beyond 2^50.
func ScalarFromFloat(f float64) (Scalar, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%w: scalar value must be finite", ErrInvalid)
	}
	if math.Abs(f) > maxScalarFloat {
		return 0, fmt.Errorf("%w: scalar value %g is too large", ErrInvalid, f)
	}
	return Scalar(math.Round(f * scalarUnit)), nil
}

// Units returns the scalar for a whole number of units (Units(4) == 4.000).
func Units(n int64) Scalar { return Scalar(n * scalarUnit) }

// Float returns s as a float64.
func (s Scalar) Float() float64 { return float64(s) / scalarUnit }

// String formats s with up to three decimals and no trailing zeros ("0.3",
// "4", "0.001").
func (s Scalar) String() string {
	neg := s < 0
	u := uint64(s)
	if neg {
		u = uint64(-s)
	}
	whole, frac := u/scalarUnit, u%scalarUnit
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	b.WriteString(strconv.FormatUint(whole, 10))
	if frac != 0 {
		f := fmt.Sprintf("%03d", frac)
		b.WriteByte('.')
		b.WriteString(strings.TrimRight(f, "0"))
	}
	return b.String()
}

// isDecimal reports whether s is a plain decimal number: an optional sign,
// digits with an optional fraction, and an optional exponent. It refuses the
// extra spellings strconv accepts (nan, inf, hex, underscores).
func isDecimal(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			exp++
		}
		if exp == 0 {
			return false
		}
	}
	return i == len(s)
}

// parseScalar parses a decimal number into a Scalar.
func parseScalar(s string) (Scalar, error) {
	if !isDecimal(s) {
		return 0, fmt.Errorf("%w: invalid scalar value", ErrInvalid)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: invalid scalar value", ErrInvalid)
	}
	return ScalarFromFloat(f)
}
