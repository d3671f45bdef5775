package resources

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"cpus:4;mem:8192;disk:50000;ports:[31000-32000];gpus:0;cpus(web):2;zones:{a,b}",
		"cpus:abc", "ports:[1-2,2-5]", "cpus(a/b):1", "cpus:1e3", "x:{}", "ports:[]",
		`[{"name":"cpus","type":"SCALAR","scalar":{"value":2},"role":"web"}]`,
		`[{"name":"p","type":"RANGES","ranges":{"range":[{"begin":1,"end":0}]}}]`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrParse) && !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse(%q): unclassified error %v", s, err)
			}
			return
		}
		// The JSON form can carry roles and set items (such as "(" or ",")
		// that the text form cannot spell, so only text input must round-trip.
		back, err := Parse(r.String())
		if isText := !strings.HasPrefix(strings.TrimSpace(s), "["); isText && (err != nil || !back.Equal(r)) {
			t.Fatalf("Parse(%q) = %q does not round-trip: %v, %v", s, r, back, err)
		}
		if !r.Contains(r) || !r.Subtract(r).IsEmpty() || !r.Add(r).Contains(r) {
			t.Fatalf("laws broken for %q", r)
		}
	})
}

func FuzzParseAttributes(f *testing.F) {
	for _, s := range []string{"rack:r1;zone:a;level:3;ports:[1-5]", "a:{x,y}\nb:-1.5", "host:a:b", "x:[1-", ":"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		as, err := ParseAttributes(s)
		if err != nil {
			if !errors.Is(err, ErrParse) {
				t.Fatalf("ParseAttributes(%q): unclassified error %v", s, err)
			}
			return
		}
		back, err := ParseAttributes(as.String())
		if err != nil || back.String() != as.String() {
			t.Fatalf("ParseAttributes(%q) = %q does not round-trip: %q, %v", s, as, back, err)
		}
	})
}

func FuzzFromProto(f *testing.F) {
	for _, s := range []string{"cpus:4;cpus(web):2;ports:[1-5,9-9];zones:{a,b}", "mem:0.001"} {
		for _, p := range MustParse(s).ToProto("web", true) {
			b, err := proto.Marshal(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var p mesospb.Resource
		if err := (proto.UnmarshalOptions{AllowPartial: true}).Unmarshal(b, &p); err != nil {
			return
		}
		r, err := FromProto([]*mesospb.Resource{&p})
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		back, err := FromProto(r.ToProto("", false))
		if err != nil || !back.Equal(r) {
			t.Fatalf("%v does not round-trip: %v, %v", r, back, err)
		}
	})
}
