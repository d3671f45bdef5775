package mesosflag

import (
	"errors"
	"testing"

	"github.com/spf13/pflag"
)

func TestParseBytes(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
	}{
		{"2GB", 2 << 30}, {"512mb", 512 << 20}, {"100B", 100}, {"3KB", 3072}, {"1TB", 1 << 40}, {"42", 42}, {"0B", 0},
	} {
		got, err := ParseBytes(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "GB", "1.5GB", "-1GB", "2 GB", "2PB", "9999999999TB", "99999999999999999999"} {
		if _, err := ParseBytes(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseBytes(%q): err = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0B", 2 << 30: "2GB", 1536 << 20: "1536MB", 1000: "1000B", 1 << 40: "1TB"} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestBytesFlag(t *testing.T) {
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	var n int64
	BytesVar(fs, &n, "fetcher_cache_size", 2<<30, "")
	if got := fs.Lookup("fetcher_cache_size").DefValue; got != "2GB" {
		t.Errorf("default prints %q", got)
	}
	if err := fs.Parse([]string{"--fetcher_cache_size=64MB"}); err != nil || n != 64<<20 {
		t.Fatalf("parse: %v, n = %d", err, n)
	}
}

func FuzzParseBytes(f *testing.F) {
	for _, s := range []string{"2GB", "0B", "1tb", "12", "", "1.5GB", "9223372036854775807B", "8589934592GB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseBytes(s)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("ParseBytes(%q) = %d < 0", s, n)
		}
		back, err := ParseBytes(FormatBytes(n))
		if err != nil || back != n {
			t.Fatalf("%q -> %d -> %q -> %d, %v", s, n, FormatBytes(n), back, err)
		}
	})
}
