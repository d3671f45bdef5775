package rdd_test

import (
	"context"
	"errors"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/mesoproject/meso/rdd"
)

// sizeKeys are the settings whose value is a byte size.
var sizeKeys = []string{"spark.shuffle.memory", "spark.storage.memory"}

// TestConfigSizeRange: sizes beyond int64 are refused with an error naming
// the setting (they used to wrap around, to a negative number that the
// defaults then replaced).
func TestConfigSizeRange(t *testing.T) {
	for _, v := range []string{"8589934592g", "9223372036854775807k", "9223372036854775808", "8796093022208m"} {
		for _, key := range sizeKeys {
			var c rdd.Config
			err := c.Set(key, v)
			if !errors.Is(err, rdd.ErrConfig) || !strings.Contains(err.Error(), key) {
				t.Errorf("Set(%q, %q) = %v (config %d/%d), want an error naming the setting",
					key, v, err, c.ShuffleMemory, c.StorageMemory)
			}
		}
	}
	var c rdd.Config
	if err := c.Set("spark.storage.memory", "8589934591g"); err != nil || c.StorageMemory != 8589934591<<30 {
		t.Errorf("largest size in g: %d, %v", c.StorageMemory, err)
	}
}

// refSize is the byte size s denotes, computed exactly, or nil when s is
// not a size.
func refSize(s string) *big.Int {
	s = strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30}, {"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"b", 1}} {
		if s2, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = s2, u.m
			break
		}
	}
	digits := strings.TrimPrefix(s, "+")
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return nil
	}
	n, _ := new(big.Int).SetString(digits, 10)
	return n.Mul(n, big.NewInt(mult))
}

// FuzzConfigSet: Set accepts a size exactly when it denotes a number of
// bytes in [0, MaxInt64] and stores that number; every refusal wraps
// ErrConfig and names the setting.
func FuzzConfigSet(f *testing.F) {
	for _, v := range []string{"0", "64m", "2g", "1kb", " 7 ", "16MB", "+3k", "-1", "8589934592g",
		"9223372036854775807k", "9223372036854775807", "9223372036854775807b", "x", "", "1.5g", "true"} {
		f.Add(uint8(0), v)
	}
	f.Add(uint8(2), "8")
	f.Add(uint8(3), "no")
	f.Add(uint8(4), "local[4]")
	keys := append(slices.Clone(sizeKeys), "spark.task.maxFailures", "spark.ui.showConsoleProgress",
		"spark.master", "spark.default.parallelism", "spark.stage.maxConsecutiveAttempts", "spark.shuffle.spill", "spark.nope")
	f.Fuzz(func(t *testing.T, which uint8, v string) {
		key := keys[int(which)%len(keys)]
		var c rdd.Config
		err := c.Set(key, v)
		if err != nil && (!errors.Is(err, rdd.ErrConfig) || !strings.Contains(err.Error(), key)) {
			t.Fatalf("Set(%q, %q): error %q does not wrap ErrConfig and name the setting", key, v, err)
		}
		if key == "spark.nope" && err == nil {
			t.Fatalf("unknown setting accepted")
		}
		if !slices.Contains(sizeKeys, key) {
			return
		}
		got := c.ShuffleMemory
		if key == "spark.storage.memory" {
			got = c.StorageMemory
		}
		want := refSize(v)
		ok := want != nil && want.Sign() >= 0 && want.IsInt64()
		switch {
		case ok && err != nil:
			t.Fatalf("Set(%q, %q) refused a valid size %v: %v", key, v, want, err)
		case !ok && err == nil:
			t.Fatalf("Set(%q, %q) accepted %d; want an error (exact value %v)", key, v, got, want)
		case ok && got != want.Int64():
			t.Fatalf("Set(%q, %q) stored %d, want %v", key, v, got, want)
		}
	})
}

// refSlots is the slot count a master string asks for, or 0 when it is
// not one of local, local[N] (N >= 1) or local[*].
func refSlots(m string) int {
	switch m {
	case "", "local[*]":
		return runtime.NumCPU()
	case "local":
		return 1
	}
	n, ok1 := strings.CutPrefix(m, "local[")
	n, ok2 := strings.CutSuffix(n, "]")
	if !ok1 || !ok2 || n == "" || strings.Trim(n, "0123456789") != "" {
		return 0
	}
	v, _ := new(big.Int).SetString(n, 10)
	if v.Sign() <= 0 || !v.IsInt64() || v.Int64() > math.MaxInt {
		return 0
	}
	return int(v.Int64())
}

// FuzzMaster: Start accepts exactly local, local[N] (N >= 1) and local[*]
// (or nothing), and runs the session with N slots.
func FuzzMaster(f *testing.F) {
	for _, m := range []string{"", "local", "local[*]", "local[1]", "local[16]", "local[0]", "local[-1]", "local[x]",
		"local[01]", "local[ 2]", "local[2]\n", "1]", "yarn", "local[99999999999999999999]", "local[*]x", "LOCAL"} {
		f.Add(m)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, m string) {
		if strings.HasPrefix(m, "mesos://") {
			t.Skip("cluster masters start a framework: e2e/rdd_cluster_test.go covers them")
		}
		want := refSlots(m)
		if want > 1<<20 {
			t.Skip("slot count too large to start here") // a channel of that capacity: valid, but slow to test
		}
		s, err := rdd.Start(rdd.Config{Master: m, LocalDir: dir})
		if err != nil {
			if !errors.Is(err, rdd.ErrConfig) {
				t.Fatalf("master %q: error %v does not wrap ErrConfig", m, err)
			}
			if want != 0 {
				t.Fatalf("master %q refused, want %d slots: %v", m, want, err)
			}
			return
		}
		defer s.Close()
		if s.Slots() != want {
			t.Fatalf("master %q: %d slots, want %d", m, s.Slots(), want)
		}
	})
}

// refLines are the lines of files read in turn: split at "\n", one "\r"
// removed from each line's end, no line after a final "\n".
func refLines(contents ...[]byte) []string {
	var out []string
	for _, c := range contents {
		if len(c) == 0 {
			continue
		}
		lines := strings.Split(strings.TrimSuffix(string(c), "\n"), "\n")
		for _, l := range lines {
			out = append(out, strings.TrimSuffix(l, "\r"))
		}
	}
	return out
}

// FuzzTextFile: whatever the bytes of two files in a directory and the
// partition count asked for, TextFile yields every line once, in order,
// however the files are split.
func FuzzTextFile(f *testing.F) {
	f.Add([]byte("a\nb\nc\n"), []byte("d\r\ne"), uint8(3))
	f.Add([]byte("\n\n\n"), []byte{}, uint8(7))
	f.Add([]byte("one long line without an end"), []byte("x\ny\n"), uint8(200))
	f.Add([]byte("a\r\r\nb\rc\n\r\n"), []byte("\n"), uint8(1))
	f.Add([]byte(strings.Repeat("0123456789\n", 40)), []byte(strings.Repeat("z", 300)+"\n"), uint8(33))
	s, err := rdd.Start(rdd.Config{Master: "local[2]", LocalDir: f.TempDir()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	f.Fuzz(func(t *testing.T, a, b []byte, parts uint8) {
		dir := t.TempDir()
		for name, data := range map[string][]byte{"part-a": a, "part-b": b, "_SUCCESS": []byte("skipped\n"), ".hidden": []byte("skipped\n")} {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		r := rdd.TextFile(dir, int(parts))
		got, err := rdd.Collect(context.Background(), s, r)
		if err != nil {
			t.Fatal(err)
		}
		if want := refLines(a, b); !slices.Equal(got, want) {
			t.Fatalf("TextFile(%d parts of %q + %q) = %q, want %q", parts, a, b, got, want)
		}
		if n := r.NumPartitions(); len(a)+len(b) > 0 && n == 0 {
			t.Fatalf("%d partitions for %d bytes", n, len(a)+len(b))
		}
	})
}
