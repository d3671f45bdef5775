package mesosbackend

import (
	"errors"
	"strings"
	"testing"

	"github.com/mesoproject/meso/internal/resources"
)

func TestParseConstraints(t *testing.T) {
	for in, want := range map[string]string{
		"":                             "",
		"os:centos7;zone:us-east-1a,b": "os:centos7;zone:us-east-1a,b",
		" zone : a , b ; gpu: ;":       "gpu:;zone:a,b",
		"gpu":                          "gpu:",
		"rack:r1,r1":                   "rack:r1",
		"b:1;a:2":                      "a:2;b:1",
	} {
		cs, err := ParseConstraints(in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if got := cs.String(); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
	for _, in := range []string{":v", "a:b:c", "a:x,,y", "a:1;a:2", "a,b:c", "\x01:x", strings.Repeat("a", 70000)} {
		if _, err := ParseConstraints(in); !errors.Is(err, ErrConstraints) {
			t.Errorf("%q: error %v, want ErrConstraints", in, err)
		}
	}
}

func TestConstraintsMatch(t *testing.T) {
	attrs, err := resources.ParseAttributes("rack:r1;level:3.5;ports:[8000-9000,10000-10010];zones:{a,b,c}")
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]bool{
		"":                true,
		"rack:r1":         true,
		"rack:r2,r1":      true, // text: one of
		"rack:r2":         false,
		"rack:":           true, // presence
		"gpu:":            false,
		"level:3":         true, // scalar: value <= the agent's
		"level:3.5":       true,
		"level:4":         false,
		"level:4,2":       true,
		"level:high":      false,
		"ports:8080":      true, // range: inside one
		"ports:10005":     true,
		"ports:9500":      false,
		"ports:x":         false,
		"zones:a,b":       true, // set: subset
		"zones:a,d":       false,
		"rack:r1;zones:c": true,
		"rack:r1;zones:d": false,
	} {
		cs, err := ParseConstraints(in)
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if got := cs.Match(attrs); got != want {
			t.Errorf("%q: match %t, want %t", in, got, want)
		}
	}
}

// FuzzParseConstraints: the parser never panics, and what it accepts
// formats to text that parses to the same constraints.
func FuzzParseConstraints(f *testing.F) {
	for _, s := range []string{"", "os:centos7;zone:a,b", "gpu", "gpu:;x:1", "a:b:c", " a : b ; ", ";;", "a:,"} {
		f.Add(s)
	}
	attrs, _ := resources.ParseAttributes("os:centos7;zone:a;level:3;ports:[1-5];zones:{a,b}")
	f.Fuzz(func(t *testing.T, s string) {
		cs, err := ParseConstraints(s)
		if err != nil {
			if !errors.Is(err, ErrConstraints) {
				t.Fatalf("%q: error %v does not wrap ErrConstraints", s, err)
			}
			return
		}
		again, err := ParseConstraints(cs.String())
		if err != nil {
			t.Fatalf("%q -> %q: %v", s, cs.String(), err)
		}
		if again.String() != cs.String() {
			t.Fatalf("%q: round trip %q -> %q", s, cs.String(), again.String())
		}
		_ = cs.Match(attrs)
	})
}

// FuzzParseSettings: settings text from users never panics the parser, and
// errors always name a setting.
func FuzzParseSettings(f *testing.F) {
	f.Add("8", "2g", "rack:r1", "k:v,a\\:b:c", "/a:/b:ro", "80:80")
	f.Fuzz(func(t *testing.T, cores, mem, cons, labels, vols, ports string) {
		_, err := ParseSettings(map[string]string{
			KeyCoresMax: cores, KeyExecutorMemory: mem, KeyConstraints: cons,
			KeyTaskLabels: labels, KeyDockerVolumes: vols, KeyDockerPortMaps: ports,
		})
		if err != nil && !errors.Is(err, ErrSetting) {
			t.Fatalf("error %v does not wrap ErrSetting", err)
		}
	})
}
