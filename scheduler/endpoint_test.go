package scheduler

import (
	"errors"
	"strings"
	"testing"

	"github.com/mesoproject/meso/internal/subscribe"
)

func TestParseMasters(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"127.0.0.1:5050", []string{"http://127.0.0.1:5050/api/v1/scheduler"}},
		{"http://m1:5050/", []string{"http://m1:5050/api/v1/scheduler"}},
		{"https://m1/mesos", []string{"https://m1/mesos/api/v1/scheduler"}},
		{"http://m1:5050/api/v1/scheduler", []string{"http://m1:5050/api/v1/scheduler"}},
		{" m1:5050 , m2:5050,", []string{"http://m1:5050/api/v1/scheduler", "http://m2:5050/api/v1/scheduler"}},
		{"[::1]:5050", []string{"http://[::1]:5050/api/v1/scheduler"}},
	} {
		got, err := parseMasters(tc.in)
		if err != nil {
			t.Errorf("parseMasters(%q): %v", tc.in, err)
			continue
		}
		var s []string
		for _, u := range got {
			s = append(s, u.String())
		}
		if strings.Join(s, " ") != strings.Join(tc.want, " ") {
			t.Errorf("parseMasters(%q) = %v, want %v", tc.in, s, tc.want)
		}
	}
	for _, bad := range []string{"", " , ", "zk://zk:2181/mesos", "ftp://m1", "http://", "http://:5050", "%zz"} {
		if _, err := parseMasters(bad); !errors.Is(err, ErrConfig) {
			t.Errorf("parseMasters(%q) = %v, want ErrConfig", bad, err)
		}
	}
}

func FuzzParseMasters(f *testing.F) {
	for _, s := range []string{"127.0.0.1:5050", "http://m:5050/x,https://n", "zk://a", "[::1]:1", "%", "//x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		us, err := parseMasters(s)
		if err != nil {
			return
		}
		for _, u := range us {
			if u.Host == "" || !strings.HasSuffix(u.Path, apiPath) {
				t.Fatalf("parseMasters(%q) gave %v", s, u)
			}
			if _, err := subscribe.ResolveLocation(u, "//"+u.Host, apiPath); err != nil {
				t.Fatalf("resolveLocation on %v: %v", u, err)
			}
		}
	})
}
