package mesosflag

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// byteUnits are stout's Bytes units, binary multiples, largest first.
var byteUnits = []struct {
	name string
	size int64
}{{"TB", 1 << 40}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"B", 1}}

// ParseBytes reads a size the way Mesos reads Bytes flags: a non-negative
// whole number followed by B, KB, MB, GB or TB (binary multiples, any
// case): "2GB", "512MB", "100B". A bare number is taken as bytes.
func ParseBytes(s string) (int64, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("%w: bytes %q: expecting a whole number and a unit (B, KB, MB, GB, TB)", ErrInvalid, s)
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: bytes %q: out of range", ErrInvalid, s)
	}
	unit := strings.ToUpper(s[i:])
	if unit == "" {
		return n, nil
	}
	for _, u := range byteUnits {
		if u.name == unit {
			if n > math.MaxInt64/u.size {
				return 0, fmt.Errorf("%w: bytes %q: out of range", ErrInvalid, s)
			}
			return n * u.size, nil
		}
	}
	return 0, fmt.Errorf("%w: bytes %q: unknown unit %q (want B, KB, MB, GB or TB)", ErrInvalid, s, s[i:])
}

// FormatBytes prints n as Mesos does: in the largest unit that divides it
// ("2GB", "1536MB", "0B").
func FormatBytes(n int64) string {
	for _, u := range byteUnits {
		if n != 0 && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}

// Bytes is a byte count as a pflag.Value reading and printing Mesos syntax.
type Bytes int64

// Set parses s with ParseBytes.
func (b *Bytes) Set(s string) error {
	v, err := ParseBytes(s)
	if err != nil {
		return err
	}
	*b = Bytes(v)
	return nil
}

// String formats b with FormatBytes.
func (b *Bytes) String() string {
	if b == nil {
		return FormatBytes(0)
	}
	return FormatBytes(int64(*b))
}

// Type names the value kind in help output.
func (b *Bytes) Type() string { return "bytes" }

// BytesVar defines a byte-size flag named name on fs, stored in p, with
// default def.
func BytesVar(fs *pflag.FlagSet, p *int64, name string, def int64, usage string) {
	*p = def
	fs.Var((*Bytes)(p), name, usage)
}
