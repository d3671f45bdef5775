package rdd

import "testing"

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
