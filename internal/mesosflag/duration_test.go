package mesosflag

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mesoproject/meso/internal/resources"
	"github.com/spf13/pflag"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		// Mesos (stout) syntax.
		{"5secs", 5 * time.Second},
		{"2mins", 2 * time.Minute},
		{"1hrs", time.Hour},
		{"3days", 3 * Day},
		{"2weeks", 2 * Week},
		{"1weeks", Week},
		{"100ms", 100 * time.Millisecond},
		{"10us", 10 * time.Microsecond},
		{"10ns", 10},
		{"1.5secs", 1500 * time.Millisecond},
		{"0.1secs", 100 * time.Millisecond},
		{".5mins", 30 * time.Second},
		{"5.secs", 5 * time.Second},
		{"0secs", 0},
		{"0.5ns", 0}, // below a nanosecond truncates, as stout's int64 cast
		{"1.9999999999ns", 1},
		{"15250.25weeks", 15250*Week + Week/4}, // near the top, exact
		{"-5secs", -5 * time.Second},
		{"+5secs", 5 * time.Second},
		{" 5secs ", 5 * time.Second},
		// Go syntax.
		{"15s", 15 * time.Second},
		{"2h45m", 2*time.Hour + 45*time.Minute},
		{"1.5h", 90 * time.Minute},
		{"0", 0},
		{"-1s", -time.Second},
		{"300µs", 300 * time.Microsecond},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if err != nil {
			t.Errorf("ParseDuration(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseDuration(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestParseDurationErrors(t *testing.T) {
	for _, in := range []string{
		"", "secs", "5", "5sec", "5 secs", "5SECS", "1.2.3secs", ".secs", "-", "abc",
		"1e3secs", "5secsx", "15251weeks", "9223372036854775808ns", "99999999999999999999999hrs",
		"--5secs", "5s5secs",
	} {
		d, err := ParseDuration(in)
		if err == nil {
			t.Errorf("ParseDuration(%q) = %v, want error", in, d)
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseDuration(%q) error %v does not wrap ErrInvalid", in, err)
		}
	}
}

func TestParseDurationLimits(t *testing.T) {
	got, err := ParseDuration("9223372036854775807ns")
	if err != nil || got != math.MaxInt64 {
		t.Errorf("max = %d, %v", got, err)
	}
	got, err = ParseDuration("-9223372036854775808ns")
	if err != nil || got != math.MinInt64 {
		t.Errorf("min = %d, %v", got, err)
	}
}

// The expected strings are what stout's operator<< prints for the same
// durations.
func TestFormatDuration(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "0ns"},
		{1, "1ns"},
		{999, "999ns"},
		{time.Microsecond, "1us"},
		{1500, "1500ns"}, // not whole in us: one level down
		{10 * time.Microsecond, "10us"},
		{100 * time.Millisecond, "100ms"},
		{1500 * time.Microsecond, "1500us"},
		{1500*time.Microsecond + 1, "1.500001ms"},
		{time.Second, "1secs"},
		{2 * time.Second, "2secs"},
		{5 * time.Second, "5secs"},
		{15 * time.Second, "15secs"},
		{1500 * time.Millisecond, "1500ms"},
		{time.Minute, "1mins"},
		{90 * time.Second, "90secs"},
		{15 * time.Minute, "15mins"},
		{time.Hour, "1hrs"},
		{90 * time.Minute, "90mins"},
		{time.Hour + 500*time.Millisecond, "1.00013888888889hrs"},
		{Day, "1days"},
		{36 * time.Hour, "36hrs"},
		{3 * Day, "3days"},
		{Week, "1weeks"},
		{10 * Day, "10days"},
		{2 * Week, "2weeks"},
		{Week + time.Hour, "1.00595238095238weeks"},
		{-5 * time.Second, "-5secs"},
		{math.MaxInt64, "15250.2844524715weeks"},
		{math.MinInt64, "-15250.2844524715weeks"},
	}
	for _, tt := range tests {
		if got := FormatDuration(tt.in); got != tt.want {
			t.Errorf("FormatDuration(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// Whole-unit durations round-trip exactly through FormatDuration and
// ParseDuration.
func TestDurationRoundTrip(t *testing.T) {
	for _, d := range []time.Duration{
		0, 1, 999, 1500, time.Millisecond, 1500 * time.Millisecond, 5 * time.Second,
		90 * time.Second, 15 * time.Minute, 36 * time.Hour, 10 * Day, 2 * Week, -3 * time.Minute,
		1234567 * time.Microsecond,
	} {
		s := FormatDuration(d)
		got, err := ParseDuration(s)
		if err != nil || got != d {
			t.Errorf("ParseDuration(FormatDuration(%d) = %q) = %d, %v", d, s, got, err)
		}
	}
}

func TestDurationFlag(t *testing.T) {
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	var grace, ping time.Duration
	DurationVar(fs, &grace, "executor_shutdown_grace_period", 5*time.Second, "")
	DurationVar(fs, &ping, "agent_ping_timeout", 15*time.Second, "")
	if err := fs.Parse([]string{"--executor_shutdown_grace_period=2mins"}); err != nil {
		t.Fatal(err)
	}
	if grace != 2*time.Minute || ping != 15*time.Second {
		t.Fatalf("grace=%v ping=%v", grace, ping)
	}
	f := fs.Lookup("agent_ping_timeout")
	if f.DefValue != "15secs" || f.Value.Type() != "duration" {
		t.Errorf("DefValue=%q Type=%q", f.DefValue, f.Value.Type())
	}
	if err := fs.Parse([]string{"--agent_ping_timeout=soon"}); err == nil {
		t.Error("bad duration accepted")
	}
	if ping != 15*time.Second {
		t.Errorf("failed Set changed the value to %v", ping)
	}
}

func TestResourcesAndAttributesFlags(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "res.json")
	if err := os.WriteFile(file, []byte(`[{"name":"cpus","type":"SCALAR","scalar":{"value":2}}]`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	var res, res2 resources.Resources
	var attrs resources.Attributes
	ResourcesVar(fs, &res, "resources", nil, "")
	ResourcesVar(fs, &res2, "more", nil, "")
	AttributesVar(fs, &attrs, "attributes", nil, "")
	err := fs.Parse([]string{
		"--resources=cpus:4;mem:8192;ports:[31000-32000]",
		"--more=file://" + file,
		"--attributes=rack:r1;zone:a",
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := resources.MustParse("cpus:4;mem:8192;ports:[31000-32000]"); res.String() != want.String() {
		t.Errorf("resources = %s", res)
	}
	if res2.String() != "cpus:2" {
		t.Errorf("file resources = %s", res2)
	}
	if attrs.String() != "rack:r1;zone:a" {
		t.Errorf("attributes = %s", attrs)
	}
	for _, args := range [][]string{
		{"--resources=cpus:abc"},
		{"--attributes=rack"},
		{"--resources=file://" + filepath.Join(dir, "missing")},
	} {
		err := fs.Parse(args)
		if err == nil || !errors.Is(err, ErrInvalid) {
			t.Errorf("%v: err = %v, want ErrInvalid", args, err)
		}
	}
}
