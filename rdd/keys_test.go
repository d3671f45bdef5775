package rdd_test

import (
	"cmp"
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mesoproject/meso/rdd"
)

type floatKV = rdd.Pair[float64, int]

// floatKeyed gives n records with special float keys (NaN, -0, +0,
// infinities) and others, the values 0..n-1.
func floatKeyed(n int) []floatKV {
	rng := rand.New(rand.NewPCG(5, 8))
	special := []float64{math.NaN(), math.Copysign(0, -1), 0, 1.5, -2.25, math.Inf(1), math.Inf(-1)}
	var pairs []floatKV
	for i := range n {
		k := special[rng.IntN(len(special))]
		if rng.IntN(4) == 0 {
			k = float64(rng.IntN(300))
		}
		pairs = append(pairs, rdd.KV(k, i))
	}
	return pairs
}

var (
	// floatPairs is floatKeyed(n) in parts partitions. The records are
	// built in the Func, not passed to it: gob would carry the -0 keys as
	// +0 (it drops a struct field equal to zero), and the rebuild would
	// differ.
	floatPairs = rdd.Func(func(n, parts int) *rdd.RDD[floatKV] { return rdd.Parallelize(floatKeyed(n), parts) })
	// floatKeyCounts counts the records of each key with ReduceByKey, or
	// with GroupByKey when grouped.
	floatKeyCounts = rdd.Func(func(r *rdd.RDD[floatKV], grouped bool) *rdd.RDD[floatKV] {
		if grouped {
			return rdd.MapValues(rdd.GroupByKey(r, 5), func(vs []int) int { return len(vs) })
		}
		return rdd.ReduceByKey(rdd.MapValues(r, func(int) int { return 1 }), func(a, b int) int { return a + b }, 5)
	})
	floatSorted = rdd.Func(func(r *rdd.RDD[floatKV], asc bool) *rdd.RDD[floatKV] { return rdd.SortByKey(r, asc, 4) })
)

// Float keys follow Go's ==: -0 and +0 are one key, and every NaN is a key of
// its own (as in a Go map), whether or not the aggregation spills.
func TestFloatKeysFollowGoEquality(t *testing.T) {
	pairs := floatKeyed(4000)
	// Reference: a Go map (each NaN record its own entry).
	want := map[float64]int{}
	nans := 0
	for _, p := range pairs {
		if p.Key != p.Key {
			nans++
			continue
		}
		want[p.Key]++
	}
	check := func(t *testing.T, what string, got []rdd.Pair[float64, int]) {
		t.Helper()
		gotNaN := 0
		seen := map[float64]bool{}
		for _, g := range got {
			if g.Key != g.Key {
				gotNaN++
				if g.Value != 1 {
					t.Fatalf("%s: a NaN group of %d", what, g.Value)
				}
				continue
			}
			if seen[g.Key] || want[g.Key] != g.Value {
				t.Fatalf("%s: key %v: %d (repeated %v), want %d", what, g.Key, g.Value, seen[g.Key], want[g.Key])
			}
			seen[g.Key] = true
		}
		if gotNaN != nans || len(seen) != len(want) {
			t.Fatalf("%s: %d NaN groups (want %d), %d other keys (want %d)", what, gotNaN, nans, len(seen), len(want))
		}
	}
	for name, s := range sessions(t) {
		t.Run(name, func(t *testing.T) {
			r := floatPairs(4000, 6)
			check(t, "reduceByKey", collect(t, s, floatKeyCounts(r, false)))
			check(t, "groupByKey", collect(t, s, floatKeyCounts(r, true)))
			counts, err := rdd.CountByKey(context.Background(), s, r)
			if err != nil || len(counts) != len(want)+nans {
				t.Fatalf("countByKey: %d keys, %v", len(counts), err)
			}
			// Sorting: NaN first (cmp.Compare's order), -0 beside +0.
			for _, asc := range []bool{true, false} {
				sorted := collect(t, s, floatSorted(r, asc))
				if len(sorted) != len(pairs) {
					t.Fatalf("sortByKey: %d records", len(sorted))
				}
				for i := 1; i < len(sorted); i++ {
					c := cmp.Compare(sorted[i-1].Key, sorted[i].Key)
					if (asc && c > 0) || (!asc && c < 0) {
						t.Fatalf("sortByKey asc=%v: %v before %v", asc, sorted[i-1].Key, sorted[i].Key)
					}
				}
			}
		})
	}
}

// floatGroups groups floatPairs' values by key, in memory (no spill).
var floatGroups = rdd.Func(func(r *rdd.RDD[floatKV]) *rdd.RDD[rdd.Pair[float64, []int]] { return rdd.GroupByKey(r, 5) })

// GroupByKey puts every value in its own key's group, NaN keys included
// (each NaN record a group of its own holding its value): the values are
// the records' 0..n-1, so each must appear once, under its key.
func TestGroupByKeyValuesUnderFloatKeys(t *testing.T) {
	pairs := floatKeyed(4000)
	for name, s := range sessions(t) {
		t.Run(name, func(t *testing.T) {
			seen := make([]bool, len(pairs))
			for _, g := range collect(t, s, floatGroups(floatPairs(4000, 6))) {
				if g.Key != g.Key && len(g.Value) != 1 {
					t.Fatalf("a NaN group of %d values", len(g.Value))
				}
				for _, v := range g.Value {
					if v < 0 || v >= len(pairs) {
						t.Fatalf("value %d under key %v: no such record", v, g.Key)
					}
					if k := pairs[v].Key; seen[v] || (k != g.Key && !(k != k && g.Key != g.Key)) {
						t.Fatalf("value %d under key %v: its key is %v (seen before %v)", v, g.Key, k, seen[v])
					}
					seen[v] = true
				}
			}
			for v, ok := range seen {
				if !ok {
					t.Fatalf("value %d (key %v) in no group", v, pairs[v].Key)
				}
			}
		})
	}
}
