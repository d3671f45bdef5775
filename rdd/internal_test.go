package rdd

import (
	"errors"
	"fmt"
	"testing"
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
	if a.n.local != b.n.local || a.n.inv.nodes.Load() != b.n.inv.nodes.Load() || a.n.inv.nodes.Load() < 6 {
		t.Fatalf("local indexes differ: %d/%d, %d/%d nodes", a.n.local, b.n.local, a.n.inv.nodes.Load(), b.n.inv.nodes.Load())
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
	ds, err := rebuild(sp)
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
	for l := range int(orig.n.inv.nodes.Load()) {
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
	s.resolve(orig.n)
	s.resolve(rebuilt)
	if twin.parts != flat.parts {
		t.Fatalf("partitions: %d vs %d", twin.parts, flat.parts)
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
	if _, err := rebuild(InvocationSpec{Func: 1 << 20}); !errors.Is(err, ErrNotPortable) {
		t.Fatalf("unknown func: %v", err)
	}
	if _, err := rebuild(InvocationSpec{Func: sp.Func, Args: [][]byte{{1, 2}}}); !errors.Is(err, ErrNotPortable) {
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
	if r.n.inv == nil || r.n.inv.fn != outer(1).n.inv.fn || r.n.inv.nodes.Load() != 4 {
		t.Fatalf("invocation %+v", r.n.inv)
	}
	for _, d := range r.n.deps {
		if d.parent.inv != r.n.inv {
			t.Fatalf("%v belongs to another invocation", d.parent)
		}
	}
}
