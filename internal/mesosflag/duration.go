package mesosflag

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// ErrInvalid is wrapped by every error this package returns for bad input.
var ErrInvalid = errors.New("mesosflag: invalid value")

// Week and Day are the two Mesos duration units time lacks.
const (
	Day  = 24 * time.Hour
	Week = 7 * Day
)

// units are Mesos' duration units, smallest first.
var units = []struct {
	name string
	size time.Duration
}{
	{"ns", time.Nanosecond},
	{"us", time.Microsecond},
	{"ms", time.Millisecond},
	{"secs", time.Second},
	{"mins", time.Minute},
	{"hrs", time.Hour},
	{"days", Day},
	{"weeks", Week},
}

func unitSize(name string) (time.Duration, bool) {
	for _, u := range units {
		if u.name == name {
			return u.size, true
		}
	}
	return 0, false
}

// ParseDuration reads a duration in Mesos syntax ("5secs", "1.5mins",
// "100ms", "2weeks") or in Go syntax ("15s", "2h45m").
func ParseDuration(s string) (time.Duration, error) {
	text := strings.TrimSpace(s)
	neg := false
	body := text
	if body != "" && (body[0] == '-' || body[0] == '+') {
		neg = body[0] == '-'
		body = body[1:]
	}
	num := body[:len(body)-len(strings.TrimLeft(body, "0123456789."))]
	if unit, ok := unitSize(body[len(num):]); ok {
		d, err := scale(num, unit, neg)
		if err != nil {
			return 0, fmt.Errorf("%w: duration %q: %v", ErrInvalid, s, err)
		}
		return d, nil
	}
	d, err := time.ParseDuration(text)
	if err != nil {
		return 0, fmt.Errorf("%w: duration %q: want a number followed by one of ns, us, ms, secs, mins, hrs, days, weeks (or Go syntax like 15s)", ErrInvalid, s)
	}
	return d, nil
}

var maxDuration = big.NewInt(math.MaxInt64)

// scale computes num*unit exactly, truncating below one nanosecond.
func scale(num string, unit time.Duration, neg bool) (time.Duration, error) {
	intPart, frac, _ := strings.Cut(num, ".")
	if intPart == "" && frac == "" {
		return 0, errors.New("missing number")
	}
	if strings.Contains(frac, ".") {
		return 0, errors.New("more than one decimal point")
	}
	digits, ok := new(big.Int).SetString(intPart+frac+"0", 10) // the "0" makes "" parse
	if !ok {
		return 0, errors.New("malformed number")
	}
	digits.Mul(digits, big.NewInt(int64(unit)))
	digits.Quo(digits, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(len(frac)+1)), nil))
	limit := maxDuration
	if neg {
		limit = new(big.Int).Add(maxDuration, big.NewInt(1))
	}
	if digits.Cmp(limit) > 0 {
		return 0, errors.New("out of range")
	}
	if neg {
		return time.Duration(-digits.Uint64()), nil
	}
	return time.Duration(digits.Int64()), nil
}

// FormatDuration prints d the way Mesos (stout) prints durations: "5secs",
// "15mins", "100ms", "90secs", "1.5secs", "0ns".
func FormatDuration(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign = "-"
		if d == math.MinInt64 {
			d = math.MaxInt64 // as stout does: |min| does not fit
		} else {
			d = -d
		}
	}
	i := 0
	for i+1 < len(units) && d >= units[i+1].size {
		i++
	}
	u := units[i]
	if i > 0 && d%u.size != 0 && d%units[i-1].size == 0 {
		u = units[i-1]
	}
	v := float64(d) / float64(u.size)
	return sign + strconv.FormatFloat(v, 'g', 15, 64) + u.name
}

// Duration is a time.Duration as a pflag.Value reading and printing Mesos
// syntax. Convert a *time.Duration with (*Duration)(p), or use DurationVar.
type Duration time.Duration

// Set parses s with ParseDuration.
func (d *Duration) Set(s string) error {
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// String formats d with FormatDuration.
func (d *Duration) String() string {
	if d == nil {
		return FormatDuration(0)
	}
	return FormatDuration(time.Duration(*d))
}

// Type names the value kind in help output.
func (d *Duration) Type() string { return "duration" }

// DurationVar defines a duration flag named name on fs, stored in p, with
// default def.
func DurationVar(fs *pflag.FlagSet, p *time.Duration, name string, def time.Duration, usage string) {
	*p = def
	fs.Var((*Duration)(p), name, usage)
}
