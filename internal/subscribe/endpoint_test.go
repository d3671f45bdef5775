package subscribe

import (
	"net/url"
	"testing"
	"time"
)

// apiPath is a path the tests resolve against (the scheduler API's).
const apiPath = "/api/v1/scheduler"

func TestResolveLocation(t *testing.T) {
	from, _ := url.Parse("https://m1:5050/api/v1/scheduler")
	for loc, want := range map[string]string{
		"//m2:5050/api/v1/scheduler":      "https://m2:5050/api/v1/scheduler",
		"http://m3:5050/api/v1/scheduler": "http://m3:5050/api/v1/scheduler",
		"//m4:5050":                       "https://m4:5050/api/v1/scheduler",
	} {
		got, err := ResolveLocation(from, loc, apiPath)
		if err != nil || got.String() != want {
			t.Errorf("resolveLocation(%q) = %v, %v; want %s", loc, got, err, want)
		}
	}
	for _, bad := range []string{"", "mailto:x@y", "//:5050/x", "%zz"} {
		if got, err := ResolveLocation(from, bad, apiPath); err == nil {
			t.Errorf("resolveLocation(%q) = %v, want an error", bad, got)
		}
	}
}

func TestBackoffBounds(t *testing.T) {
	b := Backoff{Min: time.Second, Max: 10 * time.Second}
	for i, d := range []time.Duration{1, 2, 4, 8, 10, 10} {
		d *= time.Second
		got := b.Next()
		if got < d/2 || got > d {
			t.Errorf("delay %d = %v, want within [%v, %v]", i, got, d/2, d)
		}
	}
	b.Reset()
	if got := b.Next(); got > time.Second {
		t.Errorf("delay after reset = %v, want <= 1s", got)
	}
}

// FuzzResolveLocation: a redirect is followed only to an http(s) URL with a
// host, that parses back; the path the Location names is kept (only an empty one becomes the
// scheduler API's), and so are host, query and scheme.
func FuzzResolveLocation(f *testing.F) {
	for _, loc := range []string{"//m2:5050/api/v1/scheduler", "http://m3:5050/api/v1/scheduler", "//m4:5050",
		"/api/v1/scheduler", "https://[::1]:5050/x?y=1#z", "mailto:x@y", "//:5050/x", "%zz", "javascript:alert(1)",
		"HTTP://M5/", "//m6:5050/a/../b", "file:///etc/passwd", "ftp://m7/", "//user:pw@m8:1/", "?leader=1", ""} {
		f.Add(uint8(0), loc)
	}
	froms := []string{"http://m1:5050/api/v1/scheduler", "https://m1:5050/api/v1/scheduler", "http://[::1]:1/base/api/v1/scheduler"}
	f.Fuzz(func(t *testing.T, which uint8, loc string) {
		from, _ := url.Parse(froms[int(which)%len(froms)])
		to, err := ResolveLocation(from, loc, apiPath)
		ref, rerr := from.Parse(loc)
		usable := rerr == nil && loc != "" && (ref.Scheme == "http" || ref.Scheme == "https") && ref.Hostname() != ""
		if usable {
			_, rerr = url.Parse(ref.String())
			usable = rerr == nil // "//::" parses, but not back
		}
		if err != nil {
			if usable {
				t.Fatalf("resolveLocation(%s, %q) refused %v: %v", from, loc, ref, err)
			}
			return
		}
		if !usable {
			t.Fatalf("resolveLocation(%s, %q) = %v, want an error", from, loc, to)
		}
		wantPath := ref.Path
		if wantPath == "" || wantPath == "/" {
			wantPath = apiPath
		}
		if to.Scheme != ref.Scheme || to.Host != ref.Host || to.Path != wantPath || to.RawQuery != ref.RawQuery {
			t.Fatalf("resolveLocation(%s, %q) = %v, want %v with path %q", from, loc, to, ref, wantPath)
		}
		back, err := url.Parse(to.String())
		if err != nil || back.Scheme != to.Scheme || back.Host != to.Host || back.Path != to.Path {
			t.Fatalf("resolveLocation(%s, %q) = %v, which does not parse back: %v, %v", from, loc, to, back, err)
		}
	})
}
