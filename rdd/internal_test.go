package rdd

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/mesoproject/meso/rdd/internal/task"
)

var twoShuffles = Func(func(n int) *RDD[Pair[int, int]] {
	a := KeyBy(Range(0, n, 3), func(v int) int { return v % 7 })
	b := ReduceByKey(a, func(x, y int) int { return x + y }, 2)
	return Union(b, Map(Range(0, n, 2), func(v int) Pair[int, int] { return KV(v, v) }))
})

// lineageShape lists (local index, operation, partitions of deps) of every
// node reachable from n, in construction order.
func lineageShape(n *node) []string {
	var out []string
	seen := map[*node]bool{}
	var walk func(n *node)
	walk = func(n *node) {
		if seen[n] {
			return
		}
		seen[n] = true
		for _, d := range n.deps {
			walk(d.parent)
		}
		out = append(out, n.op)
		for len(out) <= n.local { // keep positions aligned with local indexes
			out = append(out, "")
		}
		out[n.local] = n.op
	}
	walk(n)
	return out
}

// Two invocations with the same arguments build the same lineage, node by
// node, with the same local indexes: what a remote executor relies on.
func TestInvocationsAreDeterministic(t *testing.T) {
	a, b := twoShuffles(10), twoShuffles(10)
	if a.n.inv == nil || b.n.inv == nil || a.n.inv == b.n.inv {
		t.Fatal("datasets do not record their invocation")
	}
	if a.n.inv.fn != b.n.inv.fn || a.n.inv.args[0] != 10 {
		t.Fatalf("invocation: %+v", a.n.inv)
	}
	if a.n.local != b.n.local || a.n.inv.nodes != b.n.inv.nodes || a.n.inv.nodes < 6 {
		t.Fatalf("local indexes differ: %d/%d, %d/%d nodes", a.n.local, b.n.local, a.n.inv.nodes, b.n.inv.nodes)
	}
	sa, sb := lineageShape(a.n), lineageShape(b.n)
	if len(sa) != len(sb) {
		t.Fatalf("shapes differ: %v vs %v", sa, sb)
	}
	for i := range sa {
		if sa[i] != sb[i] {
			t.Fatalf("node %d: %q vs %q", i, sa[i], sb[i])
		}
	}
	// Built outside a Func: no invocation.
	if r := Range(0, 1, 1); r.n.inv != nil {
		t.Fatal("a dataset built outside a Func claims an invocation")
	}
}

type point struct {
	X, Y int
}

var portable = Func(func(n int, name string, pts []point) *RDD[Pair[int, []int]] {
	xs := FlatMap(Parallelize(pts, 3), func(p point) []int { return []int{p.X * n, p.Y * n} })
	keyed := KeyBy(xs, func(v int) int { return v % len(name) })
	return GroupByKey(keyed, 2)
})

// The path a cluster executor will take: encode the invocation, rebuild the
// lineage from it in "another process" (a fresh call), find the same
// dataset by its local index, and compute a partition: same records.
func TestRebuildFromSpec(t *testing.T) {
	s, err := Start(Config{Master: "local[2]", LocalDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	orig := portable(3, "abcd", []point{{1, 2}, {3, 4}, {5, 6}, {7, 8}})
	sp, err := spec(orig.n)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := rebuild(sp, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	typed, ok := ds.(*RDD[Pair[int, []int]])
	if !ok {
		t.Fatalf("rebuilt a %T", ds)
	}
	rebuilt := typed.n
	if rebuilt == orig.n || rebuilt.local != orig.n.local || rebuilt.op != orig.n.op {
		t.Fatalf("rebuilt %v (local %d), original %v (local %d)", rebuilt, rebuilt.local, orig.n, orig.n.local)
	}
	// The flatMap node, found by local index in both lineages, computes the
	// same partition.
	var flat *node
	for l := range int(orig.n.inv.nodes) {
		if n := byLocal(orig.n, l); n != nil && n.op == "flatMap" {
			flat = n
		}
	}
	if flat == nil {
		t.Fatal("flatMap node not found")
	}
	twin := byLocal(rebuilt, flat.local)
	if twin == nil || twin.op != "flatMap" {
		t.Fatalf("twin of %v: %v", flat, twin)
	}
	if _, err := s.resolve(orig.n); err != nil {
		t.Fatal(err)
	}
	if _, err := s.resolve(rebuilt); err != nil {
		t.Fatal(err)
	}
	if a, b := s.partsOf(twin), s.partsOf(flat); a != b {
		t.Fatalf("partitions: %d vs %d", a, b)
	}
	// Compare the final groups computed from each lineage.
	a, err := Collect(t.Context(), s, orig)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Collect(t.Context(), s, typed)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != len(b) || len(a) == 0 || orig.n.deps[0].shuffle.id == rebuilt.deps[0].shuffle.id {
		t.Fatalf("original %v, rebuilt %v", a, b)
	}
	count := func(gs []Pair[int, []int]) map[int]int {
		m := map[int]int{}
		for _, g := range gs {
			for _, v := range g.Value {
				m[g.Key] += v
			}
		}
		return m
	}
	if fmt.Sprint(count(a)) != fmt.Sprint(count(b)) {
		t.Fatalf("groups differ: %v vs %v", count(a), count(b))
	}
	// Errors: not built in a Func; bad spec.
	if _, err := spec(Range(0, 1, 1).n); !errors.Is(err, ErrNotPortable) {
		t.Fatalf("spec of a free dataset: %v", err)
	}
	if _, err := rebuild(task.Invocation{Func: 1 << 20}, nil, nil, nil); !errors.Is(err, ErrNotPortable) {
		t.Fatalf("unknown func: %v", err)
	}
	if _, err := rebuild(task.Invocation{Func: sp.Func, Args: [][]byte{{1, 2}}}, nil, nil, nil); !errors.Is(err, ErrNotPortable) {
		t.Fatalf("bad args: %v", err)
	}
}

var outer = Func(func(n int) *RDD[int] {
	return Union(Range(0, n, 2), inner(n))
})

var inner = Func(func(n int) *RDD[int] { return Map(Range(0, n, 1), func(v int) int { return -v }) })

// A Func calling a Func: no deadlock, one invocation owns every dataset.
func TestNestedFuncs(t *testing.T) {
	r := outer(4)
	if r.n.inv == nil || r.n.inv.fn != outer(1).n.inv.fn || r.n.inv.nodes != 4 {
		t.Fatalf("invocation %+v", r.n.inv)
	}
	for _, d := range r.n.deps {
		if d.parent.inv != r.n.inv {
			t.Fatalf("%v belongs to another invocation", d.parent)
		}
	}
}

// A body that builds its sources on other goroutines, and calls a Func from
// one of them.
var fanOut = Func(func(n int) *RDD[int] {
	parts := make([]*RDD[int], 4)
	var wg sync.WaitGroup
	for i := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i == 3 {
				parts[i] = inner(n) // a Func called from another goroutine: no deadlock
				return
			}
			parts[i] = Map(Range(0, n*(i+1), i+1), func(v int) int { return v + i })
		}()
	}
	wg.Wait()
	return Union(parts...)
})

var base = Range(0, 10, 2) // package level: built before any Func call

var usesBase = Func(func(k int) *RDD[int] { return Map(base, func(v int) int { return v * k }) })

var returnsBase = Func(func(int) *RDD[int] { return base })

// The contract of Func (see invocation): datasets built on any goroutine
// during the call and reachable from its result belong to it, with indexes
// that depend only on the lineage's shape; datasets derived afterwards, or
// built before, make what depends on them not portable, with an error that
// says why.
func TestInvocationContract(t *testing.T) {
	shapes := map[string]bool{}
	for range 5 {
		r := fanOut(3)
		if r.n.inv == nil || r.n.inv.nodes != 9 || r.n.inv.foreign != nil {
			t.Fatalf("fan-out call: %+v", r.n.inv)
		}
		if _, err := spec(r.n); err != nil {
			t.Fatal(err)
		}
		shapes[fmt.Sprint(lineageShape(r.n))] = true
	}
	if len(shapes) != 1 {
		t.Fatalf("local indexes depend on goroutine scheduling: %v", shapes)
	}

	// Concurrent calls do not wait for each other and do not mix.
	var wg sync.WaitGroup
	results := make([]*RDD[Pair[int, int]], 8)
	for i := range results {
		wg.Add(1)
		go func() { defer wg.Done(); results[i] = twoShuffles(10 + i) }()
	}
	wg.Wait()
	for i, r := range results {
		if r.n.inv == nil || r.n.inv.args[0] != 10+i || r.n.inv.nodes != results[0].n.inv.nodes {
			t.Fatalf("call %d: %+v", i, r.n.inv)
		}
	}

	// Derived after the call: belongs to no call, and does not change it.
	r := twoShuffles(5)
	nodes := r.n.inv.nodes
	derived := Map(r, func(p Pair[int, int]) int { return p.Key })
	if derived.n.inv != nil || r.n.inv.nodes != nodes {
		t.Fatalf("a dataset derived after the call joined it: %+v", derived.n.inv)
	}
	if _, err := spec(derived.n); !errors.Is(err, ErrNotPortable) || !strings.Contains(err.Error(), "not built inside an rdd.Func") {
		t.Fatalf("spec of a derived dataset: %v", err)
	}

	// Built before the call: the call is not portable, and says why.
	if _, err := spec(usesBase(2).n); !errors.Is(err, ErrNotPortable) ||
		!strings.Contains(err.Error(), "built before the Func was called") || !strings.Contains(err.Error(), "uses range at") {
		t.Fatalf("spec of a call using a package-level dataset: %v", err)
	}
	if _, err := spec(returnsBase(1).n); !errors.Is(err, ErrNotPortable) || !strings.Contains(err.Error(), "range at") {
		t.Fatalf("spec of a call returning a package-level dataset: %v", err)
	}
}

// contentDigest is what a source puts in its invocation's fingerprint.
func contentDigest(n *node) string {
	h := sha256.New()
	n.content(h)
	return hex.EncodeToString(h.Sum(nil))
}

// Sources whose arguments differ have different fingerprint contents, even
// when the arguments printed side by side read the same (a TextFile's path
// is followed by its partition count).
func TestSourceContentsTellArgumentsApart(t *testing.T) {
	for _, c := range [][2]*node{
		{TextFile("in-1", 23).n, TextFile("in-12", 3).n},
		{TextFile("a 1", 2).n, TextFile("a", 12).n},
		{Range(1, 23, 4).n, Range(12, 3, 4).n},
		{Parallelize([]string{"a1"}, 2).n, Parallelize([]string{"a"}, 12).n},
	} {
		if contentDigest(c[0]) == contentDigest(c[1]) {
			t.Errorf("%s and %s have the same content digest", c[0], c[1])
		}
	}
}

// sameBits, which names an argument gob changed: floats by representation,
// unexported fields included, nil and empty alike.
func TestSameBits(t *testing.T) {
	type hidden struct {
		Shown  int
		hidden string
	}
	nan := math.NaN()
	for _, c := range []struct {
		a, b any
		want bool
	}{
		{[]float64{nan, 1}, []float64{nan, 1}, true},
		{[]float64{math.Copysign(0, -1)}, []float64{0}, false},
		{Pair[float64, int]{0, 1}, Pair[float64, int]{0, 1}, true},
		{hidden{1, "x"}, hidden{1, ""}, false},
		{[]int(nil), []int{}, true},
		{map[string][]int{"a": {1}}, map[string][]int{"a": {1}}, true},
		{map[string][]int{"a": {1}}, map[string][]int{"a": {2}}, false},
		{map[float64]int{nan: 1}, map[float64]int{nan: 1}, true},
		{[]any{1, "s"}, []any{1, "s"}, true},
		{[]any{1}, []any{int64(1)}, false},
		{&hidden{2, "y"}, &hidden{2, "y"}, true},
	} {
		if got := sameBits(reflect.ValueOf(c.a), reflect.ValueOf(c.b), 0); got != c.want {
			t.Errorf("sameBits(%#v, %#v) = %v", c.a, c.b, got)
		}
	}
}
