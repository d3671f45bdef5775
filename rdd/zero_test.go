package rdd_test

import (
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/mesoproject/meso/rdd"
)

var (
	// countMod7 counts values by v % 7 into m.
	countMod7 = rdd.Register(func(m map[int]int, v int) map[int]int { m[v%7]++; return m })
	// appendInts appends b to a.
	appendInts = rdd.Register(func(a, b []int) []int { return append(a, b...) })
	// singletons is [0, n) in 16 partitions, each value in a slice of its own.
	singletons = rdd.Func(func(n int) *rdd.RDD[[]int] {
		return rdd.Map(rdd.Range(0, n, 16), func(v int) []int { return []int{v} })
	})
	// appendedByKey groups [0, n) by v % 11 with AggregateByKey from zero
	// (fold false) or FoldByKey over singletons (fold true), both appending.
	appendedByKey = rdd.Func(func(n int, zero []int, fold bool) *rdd.RDD[rdd.Pair[int, []int]] {
		pairs := rdd.KeyBy(rdd.Range(0, n, 16), func(v int) int { return v % 11 })
		if fold {
			return rdd.FoldByKey(rdd.MapValues(pairs, func(v int) []int { return []int{v} }), zero,
				func(a, b []int) []int { return append(a, b...) }, 3)
		}
		return rdd.AggregateByKey(pairs, zero,
			func(acc []int, v int) []int { return append(acc, v) },
			func(a, b []int) []int { return append(a, b...) }, 3)
	})
)

// Zero values that hold references (a map, a slice with spare capacity),
// with functions that modify their first argument as Spark allows: every
// partition and every key starts from its own copy, so the results match
// plain Go.
func TestMutableZeroValues(t *testing.T) {
	t.Run("local", func(t *testing.T) { mutableZeroValues(t, startSession(t, rdd.Config{Master: "local[4]"})) })
	t.Run("cluster", func(t *testing.T) { mutableZeroValues(t, rdd.StartInProcessCluster(t, rdd.Config{}, 2)) })
}

func mutableZeroValues(t *testing.T, s *rdd.Session) {
	ctx := context.Background()
	const n = 5000
	want := map[int]int{}
	for v := range n {
		want[v%7]++
	}
	counts, err := rdd.Aggregate(ctx, s, ints(n, 16), map[int]int{}, countMod7,
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
	all, err := rdd.Fold(ctx, s, singletons(n), spare, appendInts)
	slices.Sort(all)
	if err != nil || len(all) != n || all[0] != 0 || all[n-1] != n-1 || len(slices.Compact(all)) != n {
		t.Fatalf("fold into a slice: %d elements, %v", len(all), err)
	}

	byKey := collect(t, s, appendedByKey(n, spare, false))
	folded := collect(t, s, appendedByKey(n, spare, true))
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
