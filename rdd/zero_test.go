package rdd_test

import (
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/mesoproject/meso/rdd"
)

// Zero values that hold references (a map, a slice with spare capacity),
// with functions that modify their first argument as Spark allows: every
// partition and every key starts from its own copy, so the results match
// plain Go.
func TestMutableZeroValues(t *testing.T) {
	s := startLocalOnly(t, rdd.Config{Master: "local[4]"}, "builds its datasets in the test body, not yet in a Func (issue 9)")
	ctx := context.Background()
	const n = 5000
	nums := rdd.Range(0, n, 16)
	want := map[int]int{}
	for v := range n {
		want[v%7]++
	}
	counts, err := rdd.Aggregate(ctx, s, nums, map[int]int{},
		func(m map[int]int, v int) map[int]int { m[v%7]++; return m },
		func(a, b map[int]int) map[int]int {
			for k, c := range b {
				a[k] += c
			}
			return a
		})
	if err != nil || !maps.Equal(counts, want) {
		t.Fatalf("aggregate into a map: %v, %v; want %v", counts, err, want)
	}

	spare := make([]int, 0, 64) // appends write into the shared backing array unless copied
	all, err := rdd.Fold(ctx, s, rdd.Map(nums, func(v int) []int { return []int{v} }), spare,
		func(a, b []int) []int { return append(a, b...) })
	slices.Sort(all)
	if err != nil || len(all) != n || all[0] != 0 || all[n-1] != n-1 || len(slices.Compact(all)) != n {
		t.Fatalf("fold into a slice: %d elements, %v", len(all), err)
	}

	pairs := rdd.KeyBy(nums, func(v int) int { return v % 11 })
	byKey := collect(t, s, rdd.AggregateByKey(pairs, spare,
		func(acc []int, v int) []int { return append(acc, v) },
		func(a, b []int) []int { return append(a, b...) }, 3))
	folded := collect(t, s, rdd.FoldByKey(rdd.MapValues(pairs, func(v int) []int { return []int{v} }), spare,
		func(a, b []int) []int { return append(a, b...) }, 3))
	for name, got := range map[string][]rdd.Pair[int, []int]{"aggregateByKey": byKey, "foldByKey": folded} {
		if len(got) != 11 {
			t.Fatalf("%s: %d keys", name, len(got))
		}
		for _, g := range got {
			vals := slices.Sorted(slices.Values(g.Value))
			var wantVals []int
			for v := g.Key; v < n; v += 11 {
				wantVals = append(wantVals, v)
			}
			if !slices.Equal(vals, wantVals) {
				t.Fatalf("%s key %d: %d values, want %d", name, g.Key, len(vals), len(wantVals))
			}
		}
	}
	if len(spare) != 0 {
		t.Fatal("the caller's zero value was modified")
	}
}
