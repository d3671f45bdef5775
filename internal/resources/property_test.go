package resources

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// model is a brute-force resources value: every key maps to an amount, a
// set of port numbers or a set of strings, over small domains.
type model map[string]any

func randResources(rng *rand.Rand) Resources {
	var list []Resource
	roles := []string{"*", "web", "eng/web"}
	for range rng.IntN(6) {
		role := roles[rng.IntN(len(roles))]
		switch rng.IntN(3) {
		case 0:
			list = append(list, Resource{Name: []string{"cpus", "mem"}[rng.IntN(2)], Role: role, Kind: KindScalar, Scalar: Scalar(rng.IntN(3000))})
		case 1:
			var rs []Range
			for range rng.IntN(3) {
				b := uint64(rng.IntN(30))
				rs = append(rs, Range{b, b + uint64(rng.IntN(6))})
			}
			list = append(list, Resource{Name: "ports", Role: role, Kind: KindRanges, Ranges: rs})
		default:
			var items []string
			for range rng.IntN(4) {
				items = append(items, string(rune('a'+rng.IntN(5))))
			}
			list = append(list, Resource{Name: "zones", Role: role, Kind: KindSet, Set: items})
		}
	}
	r, err := New(list...)
	if err != nil {
		panic(err)
	}
	return r
}

func toModel(r Resources) model {
	m := model{}
	for _, x := range r {
		key := x.Name + "(" + x.Role + ")"
		switch x.Kind {
		case KindScalar:
			m[key] = int64(x.Scalar)
		case KindRanges:
			var ports []uint64
			for _, rg := range x.Ranges {
				for p := rg.Begin; p <= rg.End; p++ {
					ports = append(ports, p)
				}
			}
			m[key] = ports
		case KindSet:
			m[key] = slices.Clone(x.Set)
		}
	}
	return m
}

func union[T comparable](a, b []T) []T {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

func diff[T comparable](a, b []T) []T {
	var out []T
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func (m model) add(o model) model {
	out := model{}
	for k, v := range m {
		out[k] = v
	}
	for k, v := range o {
		switch v := v.(type) {
		case int64:
			cur, _ := out[k].(int64)
			out[k] = cur + v
		case []uint64:
			cur, _ := out[k].([]uint64)
			out[k] = union(cur, v)
		case []string:
			cur, _ := out[k].([]string)
			out[k] = union(cur, v)
		}
	}
	return out.canon()
}

func (m model) sub(o model) model {
	out := model{}
	for k, v := range m {
		switch v := v.(type) {
		case int64:
			d, _ := o[k].(int64)
			out[k] = max(v-d, 0)
		case []uint64:
			d, _ := o[k].([]uint64)
			out[k] = diff(v, d)
		case []string:
			d, _ := o[k].([]string)
			out[k] = diff(v, d)
		}
	}
	return out.canon()
}

func (m model) contains(o model) bool {
	for k, v := range o {
		switch v := v.(type) {
		case int64:
			have, _ := m[k].(int64)
			if have < v {
				return false
			}
		case []uint64:
			have, _ := m[k].([]uint64)
			if len(diff(v, have)) > 0 {
				return false
			}
		case []string:
			have, _ := m[k].([]string)
			if len(diff(v, have)) > 0 {
				return false
			}
		}
	}
	return true
}

// canon sorts values and drops empty ones so models compare with Sprint.
func (m model) canon() model {
	for k, v := range m {
		switch v := v.(type) {
		case int64:
			if v == 0 {
				delete(m, k)
			}
		case []uint64:
			slices.Sort(v)
			if len(v) == 0 {
				delete(m, k)
			}
		case []string:
			slices.Sort(v)
			if len(v) == 0 {
				delete(m, k)
			}
		}
	}
	return m
}

func same(a, b model) bool { return fmt.Sprint(a.canon()) == fmt.Sprint(b.canon()) }

func TestArithmeticAgainstModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 5000 {
		a, b := randResources(rng), randResources(rng)
		ma, mb := toModel(a), toModel(b)
		if got, want := toModel(a.Add(b)), ma.add(mb); !same(got, want) {
			t.Fatalf("#%d %v + %v = %v, model %v", i, a, b, a.Add(b), want)
		}
		if got, want := toModel(a.Subtract(b)), ma.sub(mb); !same(got, want) {
			t.Fatalf("#%d %v - %v = %v, model %v", i, a, b, a.Subtract(b), want)
		}
		if owned := slices.Clone(a); !owned.SubtractInPlace(b).Equal(a.Subtract(b)) {
			t.Fatalf("#%d %v - %v in place differs from Subtract", i, a, b)
		}
		if got, want := a.Contains(b), ma.contains(mb); got != want {
			t.Fatalf("#%d %v contains %v = %v, model %v", i, a, b, got, want)
		}
		if !a.Subtract(b).Add(a.Intersect(b)).Equal(a) {
			t.Fatalf("#%d (a-b)+(a∩b) != a for %v, %v", i, a, b)
		}
		if !a.Add(b).Contains(a) || !a.Contains(a.Subtract(b)) || !a.Contains(a.Intersect(b)) {
			t.Fatalf("#%d containment laws broken for %v, %v", i, a, b)
		}
		if back, err := Parse(a.String()); err != nil || !back.Equal(a) {
			t.Fatalf("#%d %q does not round-trip: %v, %v", i, a, back, err)
		}
		if a.Equal(b) != (a.String() == b.String()) {
			t.Fatalf("#%d Equal disagrees with String for %v, %v", i, a, b)
		}
	}
}
