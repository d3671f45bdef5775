package mesosflag

import (
	"strings"
	"testing"
	"time"
)

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{
		"5secs", "1.5mins", "100ms", "2weeks", "15s", "2h45m", "-3days", ".5hrs",
		"9223372036854775807ns", "15251weeks", "1..2secs", "", "secs", "0",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			return
		}
		// Whatever parses prints in Mesos syntax, and that text parses back
		// to a value within the printing precision.
		out := FormatDuration(d)
		back, err := ParseDuration(out)
		if err != nil {
			t.Fatalf("ParseDuration(%q) = %d prints %q which does not parse: %v", s, d, out, err)
		}
		if diff := back - d; diff > tolerance(d) || -diff > tolerance(d) {
			t.Fatalf("%q -> %d -> %q -> %d", s, d, out, back)
		}
		if strings.ContainsAny(out, " \t") {
			t.Fatalf("formatted %q has spaces", out)
		}
	})
}

// tolerance is the loss from printing 15 significant digits.
func tolerance(d time.Duration) time.Duration {
	if d < 0 {
		d = -d
	}
	if d < 0 { // math.MinInt64
		d = 1<<63 - 1
	}
	return d/1e14 + 1
}
