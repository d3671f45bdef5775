package resources

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestScalarFixedPoint(t *testing.T) {
	a := MustParse("cpus:0.1")
	b := MustParse("cpus:0.2")
	if got, want := a.Add(b), MustParse("cpus:0.3"); !got.Equal(want) {
		t.Fatalf("0.1+0.2 = %v, want %v", got, want)
	}
	sum := Resources(nil)
	for range 10 {
		sum = sum.Add(a)
	}
	if !sum.Equal(MustParse("cpus:1")) {
		t.Fatalf("ten times 0.1 = %v", sum)
	}
	if got := MustParse("cpus:0.0004"); !got.IsEmpty() {
		t.Fatalf("0.0004 rounds to zero and is dropped, got %v", got)
	}
	if got := MustParse("cpus:0.0005").String(); got != "cpus:0.001" {
		t.Fatalf("0.0005 rounds half away from zero, got %q", got)
	}
	for in, want := range map[Scalar]string{0: "0", 300: "0.3", 4000: "4", 1: "0.001", 1250: "1.25", -1500: "-1.5"} {
		if got := in.String(); got != want {
			t.Errorf("Scalar(%d).String() = %q, want %q", int64(in), got, want)
		}
	}
}

func TestArithmetic(t *testing.T) {
	tests := []struct {
		a, b, sum, diff string
		contains        bool
	}{
		{"cpus:4;mem:1024", "cpus:1", "cpus:5;mem:1024", "cpus:3;mem:1024", true},
		{"cpus:1", "cpus:4", "cpus:5", "", false},
		{"cpus:1", "mem:4", "cpus:1;mem:4", "cpus:1", false},
		{"cpus:2;cpus(web):2", "cpus(web):1", "cpus:2;cpus(web):3", "cpus:2;cpus(web):1", true},
		{"cpus:2", "cpus(web):1", "cpus:2;cpus(web):1", "cpus:2", false},
		{"ports:[1-10]", "ports:[3-4]", "ports:[1-10]", "ports:[1-2,5-10]", true},
		{"ports:[1-10]", "ports:[1-1]", "ports:[1-10]", "ports:[2-10]", true},
		{"ports:[1-10]", "ports:[10-10]", "ports:[1-10]", "ports:[1-9]", true},
		{"ports:[1-10]", "ports:[1-10]", "ports:[1-10]", "", true},
		{"ports:[1-10]", "ports:[5-15]", "ports:[1-15]", "ports:[1-4]", false},
		{"ports:[1-5]", "ports:[6-10]", "ports:[1-10]", "ports:[1-5]", false},
		{"ports:[1-5,8-10]", "ports:[3-9]", "ports:[1-10]", "ports:[1-2,10-10]", false},
		{"ports:[1-5,8-10]", "ports:[6-7]", "ports:[1-10]", "ports:[1-5,8-10]", false},
		{"ports:[0-18446744073709551615]", "ports:[5-5]", "ports:[0-18446744073709551615]", "ports:[0-4,6-18446744073709551615]", true},
		{"zones:{a,b,c}", "zones:{b}", "zones:{a,b,c}", "zones:{a,c}", true},
		{"zones:{a}", "zones:{b}", "zones:{a,b}", "zones:{a}", false},
		{"", "cpus:1", "cpus:1", "", false},
		{"cpus:1", "", "cpus:1", "cpus:1", true},
	}
	for _, tt := range tests {
		a, b := MustParse(tt.a), MustParse(tt.b)
		if got := a.Add(b); !got.Equal(MustParse(tt.sum)) {
			t.Errorf("%q + %q = %q, want %q", tt.a, tt.b, got, tt.sum)
		}
		if got := a.Subtract(b); !got.Equal(MustParse(tt.diff)) {
			t.Errorf("%q - %q = %q, want %q", tt.a, tt.b, got, tt.diff)
		}
		if got := a.Contains(b); got != tt.contains {
			t.Errorf("%q contains %q = %v, want %v", tt.a, tt.b, got, tt.contains)
		}
		if a.String() != tt.a && tt.a != "" {
			t.Errorf("String() = %q, want %q", a.String(), tt.a)
		}
	}
}

func TestSubtractDoesNotModifyInputs(t *testing.T) {
	a := MustParse("ports:[1-10];cpus:4;zones:{a,b}")
	before := a.String()
	_ = a.Subtract(MustParse("ports:[3-4];cpus:1;zones:{a}"))
	_ = a.Add(MustParse("ports:[11-20];cpus:1;zones:{c}"))
	if a.String() != before {
		t.Fatalf("inputs changed: %q -> %q", before, a.String())
	}
}

func TestFilters(t *testing.T) {
	r := MustParse("cpus:4;cpus(eng):2;cpus(eng/web):1;cpus(ops):3;mem(eng/web/x):5")
	cases := map[string]string{
		"unreserved":    r.Unreserved().String(),
		"reserved":      r.Reserved().String(),
		"reservedTo":    r.ReservedTo("eng").String(),
		"alloc eng/web": r.AllocatableTo("eng/web").String(),
		"alloc ops":     r.AllocatableTo("ops").String(),
		"alloc engine":  r.AllocatableTo("engine").String(),
	}
	want := map[string]string{
		"unreserved":    "cpus:4",
		"reserved":      "cpus(eng):2;cpus(eng/web):1;cpus(ops):3;mem(eng/web/x):5",
		"reservedTo":    "cpus(eng):2",
		"alloc eng/web": "cpus:4;cpus(eng):2;cpus(eng/web):1",
		"alloc ops":     "cpus:4;cpus(ops):3",
		"alloc engine":  "cpus:4",
	}
	for k, got := range cases {
		if got != want[k] {
			t.Errorf("%s = %q, want %q", k, got, want[k])
		}
	}
	if got := r.Scalar("cpus"); got != Units(10) {
		t.Errorf("Scalar(cpus) = %v", got)
	}
}

func TestParse(t *testing.T) {
	r, err := Parse("cpus:4;mem:8192;disk:50000;ports:[31000-32000];gpus:0;cpus(web):2;zones:{a,b}")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.String(), "cpus:4;cpus(web):2;disk:50000;mem:8192;ports:[31000-32000];zones:{a,b}"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	ok := map[string]string{
		" cpus : 4 ; mem:1 ":           "cpus:4;mem:1",
		"cpus:1;cpus:2.5":              "cpus:3.5",
		"ports:[5-6, 1-2];ports:[3-4]": "ports:[1-6]",
		"ports:[]":                     "",
		"zones:{b,a,b}":                "zones:{a,b}",
		"cpus( web ):1":                "cpus(web):1",
		"cpus(*):1":                    "cpus:1",
		"cpus:1e1":                     "cpus:10",
		";;":                           "",
		`[{"name":"cpus","type":"SCALAR","scalar":{"value":2},"role":"web"}]`:                                  "cpus(web):2",
		`[{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":1,"end":3}]}}]`:                          "ports:[1-3]",
		`[{"name":"z","type":"SET","set":{"item":["b","a"]},"reservations":[{"type":"STATIC","role":"a/b"}]}]`: "z(a/b):{a,b}",
	}
	for in, want := range ok {
		r, err := Parse(in)
		if err != nil {
			t.Errorf("Parse(%q): %v", in, err)
			continue
		}
		if r.String() != want {
			t.Errorf("Parse(%q) = %q, want %q", in, r, want)
		}
	}
	bad := map[string]string{
		"cpus:abc":                        `resources: "cpus:abc": invalid scalar value`,
		"cpus:-1":                         `resources: "cpus:-1": negative scalar value`,
		"cpus:NaN":                        `resources: "cpus:NaN": invalid scalar value`,
		"cpus:inf":                        `resources: "cpus:inf": invalid scalar value`,
		"cpus:1e400":                      `resources: "cpus:1e400": invalid scalar value`,
		"cpus":                            `resources: "cpus": missing or extra ':'`,
		"cpus:1:2":                        `resources: "cpus:1:2": missing or extra ':'`,
		":4":                              `resources: ":4": invalid name`,
		"cpus(web:4":                      `resources: "cpus(web:4": mismatched parentheses`,
		"cpus(web)x:4":                    `resources: "cpus(web)x:4": mismatched parentheses`,
		"cpus(-x):4":                      `resources: "cpus(-x):4": invalid role: role "-x" has a component starting with '-'`,
		"cpus(a//b):4":                    `resources: "cpus(a//b):4": invalid role: role "a//b" has an empty component`,
		"ports:[5-1]":                     `resources: "ports:[5-1]": range "5-1" begins after it ends`,
		"ports:[5]":                       `resources: "ports:[5]": range "5" is not begin-end`,
		"ports:[1-x]":                     `resources: "ports:[1-x]": range "1-x" needs non-negative integers`,
		"ports:[1-2":                      `resources: "ports:[1-2": mismatched brackets in ranges`,
		"ports:1-2]":                      `resources: "ports:1-2]": misplaced bracket`,
		"ports:[1-2];ports:3":             `resources: "ports": used as both ranges and scalar`,
		`[{"name":"cpus","type":"TEXT"}]`: `resources: "cpus": unsupported type "TEXT"`,
		`[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"reservations":[{"type":"DYNAMIC","role":"a"}]}]`: `resources: "cpus": only STATIC reservations may be given on the command line`,
	}
	for in, want := range bad {
		_, err := Parse(in)
		if err == nil {
			t.Errorf("Parse(%q) succeeded, want %s", in, want)
			continue
		}
		if err.Error() != want {
			t.Errorf("Parse(%q) error = %q, want %q", in, err, want)
		}
		if !errors.Is(err, ErrParse) {
			t.Errorf("Parse(%q) error does not wrap ErrParse", in)
		}
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := New(Resource{Name: "cpus", Kind: KindScalar, Scalar: -1}); !errors.Is(err, ErrInvalid) {
		t.Errorf("negative scalar: %v", err)
	}
	if _, err := New(Resource{Name: "ports", Kind: KindRanges, Ranges: []Range{{5, 1}}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("inverted range: %v", err)
	}
	if _, err := New(Resource{Name: "x", Kind: KindText}); !errors.Is(err, ErrInvalid) {
		t.Errorf("text resource: %v", err)
	}
	in := []Range{{8, 9}, {1, 3}}
	r, err := New(Resource{Name: "ports", Kind: KindRanges, Ranges: in}, Resource{Name: "ports", Kind: KindRanges, Ranges: []Range{{4, 5}}})
	if err != nil || r.String() != "ports:[1-5,8-9]" {
		t.Fatalf("New = %v, %v", r, err)
	}
	if in[0] != (Range{8, 9}) {
		t.Fatalf("New modified its input")
	}
}

func TestAttributes(t *testing.T) {
	as, err := ParseAttributes("rack:r1;zone:a;level:3;ports:[1-5];zones:{b,a};host:h:1\nneg:-2.5")
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name string
		kind Kind
		text string
	}{
		{"rack", KindText, "rack:r1"}, {"zone", KindText, "zone:a"}, {"level", KindScalar, "level:3"},
		{"ports", KindRanges, "ports:[1-5]"}, {"zones", KindSet, "zones:{a,b}"}, {"host", KindText, "host:h:1"},
		{"neg", KindScalar, "neg:-2.5"},
	}
	if len(as) != len(want) {
		t.Fatalf("got %d attributes: %v", len(as), as)
	}
	for i, w := range want {
		if as[i].Name != w.name || as[i].Kind != w.kind || as[i].String() != w.text {
			t.Errorf("attribute %d = %+v (%s), want %v", i, as[i], as[i], w)
		}
	}
	if a, ok := as.Get("level"); !ok || a.Scalar != Units(3) {
		t.Errorf("Get(level) = %v, %v", a, ok)
	}
	for _, in := range []string{"rack", ":x", "rack:", "p:[1-x]", "p:{a"} {
		if _, err := ParseAttributes(in); !errors.Is(err, ErrParse) || !strings.HasPrefix(err.Error(), "attributes: ") {
			t.Errorf("ParseAttributes(%q) error = %v", in, err)
		}
	}
}

func TestQuantities(t *testing.T) {
	q, err := ParseQuantities("mem:32; cpus:0.01;cpus:0.01")
	if err != nil || q.String() != "cpus:0.02;mem:32" {
		t.Fatalf("ParseQuantities = %v, %v", q, err)
	}
	r := MustParse("cpus:0.01;cpus(web):0.01;mem:40;ports:[1-3]")
	if !r.ContainsQuantities(q) {
		t.Errorf("%v should contain %v", r, q)
	}
	if r.ContainsQuantities(Quantities{{"ports", Units(4)}}) || !r.ContainsQuantities(Quantities{{"ports", Units(3)}}) {
		t.Errorf("ports quantity is its element count")
	}
	if r.ContainsQuantities(Quantities{{"gpus", 1}}) {
		t.Errorf("missing name must not be contained")
	}
	for _, in := range []string{"cpus", "cpus:-1", "cpus:x", "cpus:nan"} {
		if _, err := ParseQuantities(in); !errors.Is(err, ErrParse) {
			t.Errorf("ParseQuantities(%q) = %v", in, err)
		}
	}
}

func TestAgentResources(t *testing.T) {
	flag := MustParse("cpus(web):2;mem:100")
	got := AgentResources(flag, Detected{CPUs: 8, MemBytes: 16 << 30, DiskBytes: 100 << 30})
	if want := "cpus(web):2;disk:97280;mem:100;ports:[31000-32000]"; got.String() != want {
		t.Errorf("got %q, want %q", got, want)
	}
	got = AgentResources(nil, Detected{CPUs: 2, MemBytes: 512 << 20, DiskBytes: 8 << 30})
	if want := "cpus:2;disk:8192;mem:512;ports:[31000-32000]"; got.String() != want {
		t.Errorf("got %q, want %q", got, want)
	}
	got = AgentResources(MustParse("ports:[1-2]"), Detected{})
	if want := "cpus:1;disk:10240;mem:1024;ports:[1-2]"; got.String() != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestValidateRole(t *testing.T) {
	for _, r := range []string{"*", "web", "eng/web", "a.b", "a-b"} {
		if err := ValidateRole(r); err != nil {
			t.Errorf("ValidateRole(%q) = %v", r, err)
		}
	}
	for _, r := range []string{"", ".", "..", "-a", "a b", "/a", "a/", "a//b", "a/*", "a/..", "a\\b", "a\tb"} {
		if err := ValidateRole(r); err == nil {
			t.Errorf("ValidateRole(%q) accepted", r)
		}
	}
	if !IsAllocatableTo("eng", "eng/web") || IsAllocatableTo("eng", "engine") || IsAllocatableTo("eng/web", "eng") {
		t.Error("IsAllocatableTo ancestry wrong")
	}
}

// A Sum equals folding Add over the same lists, in place or not, and
// writes none of the lists added nor a total it returned.
func TestSum(t *testing.T) {
	lists := []string{
		"cpus:0.1;mem:32", "cpus:0.1;mem:32", "cpus:2;mem:64;disk:10",
		"cpus(web):1", "ports:[31000-31005]", "cpus:0.1;mem:32", "ports:[31010-31020];zones:{a}",
		"", "cpus:0.5;mem:1", "cpus:0.5;mem:1",
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		var s Sum
		var want Resources
		var added []Resources
		var copies []string
		var got []Resources
		var gotWas []string
		for range rng.IntN(12) {
			r := MustParse(lists[rng.IntN(len(lists))])
			added, copies = append(added, r), append(copies, r.String())
			s.Add(r)
			want = want.Add(r)
			if rng.IntN(4) == 0 {
				got = append(got, s.Resources())
				gotWas = append(gotWas, want.String())
				if g := got[len(got)-1]; !g.Equal(want) {
					t.Fatalf("round %d: sum %v, want %v", round, g, want)
				}
			}
		}
		if g := s.Resources(); !g.Equal(want) {
			t.Fatalf("round %d: sum %v, want %v", round, g, want)
		}
		for i, r := range added {
			if r.String() != copies[i] {
				t.Fatalf("round %d: an added list changed: %v, was %s", round, r, copies[i])
			}
		}
		for i, g := range got {
			if g.String() != gotWas[i] {
				t.Fatalf("round %d: a total returned changed: %v, was %s", round, g, gotWas[i])
			}
		}
	}
	// A total returned is not written by later additions.
	var s Sum
	s.Add(MustParse("cpus:1;mem:2"))
	s.Add(MustParse("cpus:1;mem:2"))
	first := s.Resources()
	s.Add(MustParse("cpus:1;mem:2"))
	if first.String() != MustParse("cpus:2;mem:4").String() || s.Resources().String() != MustParse("cpus:3;mem:6").String() {
		t.Fatalf("first %v, then %v", first, s.Resources())
	}
}
