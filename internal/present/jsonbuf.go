package present

import (
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// The JSON primitives of the streaming presenter (stateenc.go). They write
// what encoding/json writes for the same Go values (strings with HTML
// characters, U+2028/U+2029 and invalid UTF-8 escaped, floats in its
// 'f'/'e' choice), so the document is the one MasterStateJSON and
// encoding/json produce, byte for byte (TestStateEncoderEqualsJSON).

const hexDigits = "0123456789abcdef"

// jsonSafe marks the ASCII bytes written as they are inside a string.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = true
	}
	for _, b := range `"\<>&` {
		t[b] = false
	}
	return t
}()

func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default: // other control bytes, <, > and &
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendFloat writes f as encoding/json does. A value JSON cannot hold
// (NaN, ±Inf) is written as null: Mesos' writer (stout's jsonify, printf
// "%#.15g") puts out nan, inf or -inf, which no JSON parser accepts, and
// encoding/json fails the whole document; null is the closest valid
// JSON (what JavaScript's JSON.stringify writes) and, unlike 0, is not
// mistaken for a value.
func appendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	format := byte('f')
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' { // e-07 as e-7
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

func appendBool(b []byte, v bool) []byte { return strconv.AppendBool(b, v) }

// key writes `"name":` (name needs no escaping), after a comma unless it
// is the object's first key (b ends with '{'; an empty b was just flushed
// after a value).
func key(b []byte, name string) []byte {
	if n := len(b); n == 0 || b[n-1] != '{' {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, name...)
	return append(b, '"', ':')
}

func strField(b []byte, name, v string) []byte { return appendString(key(b, name), v) }

func floatField(b []byte, name string, v float64) []byte { return appendFloat(key(b, name), v) }

func boolField(b []byte, name string, v bool) []byte { return appendBool(key(b, name), v) }

func intField(b []byte, name string, v int64) []byte { return strconv.AppendInt(key(b, name), v, 10) }

// strings writes a list of strings; nil is null, as encoding/json writes
// a nil slice.
func appendStrings(b []byte, list []string) []byte {
	if list == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
