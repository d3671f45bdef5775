package rdd_test

import (
	"context"
	"iter"
	"math"
	"math/big"
	"slices"
	"strings"
	"testing"

	"github.com/mesoproject/meso/rdd"
)

// partitionSizes counts the elements of each partition.
func partitionSizes(t *testing.T, s *rdd.Session, r *rdd.RDD[int]) []int {
	t.Helper()
	return collect(t, s, sizesOf(r))
}

var (
	// sizesOf counts the elements of each partition of r.
	sizesOf = rdd.Func(func(r *rdd.RDD[int]) *rdd.RDD[int] {
		return rdd.MapPartitions(r, func(in iter.Seq[int]) iter.Seq[int] {
			return func(yield func(int) bool) {
				n := 0
				for range in {
					n++
				}
				yield(n)
			}
		})
	})
	// rangeOf is Range built in a Func.
	rangeOf = rdd.Func(func(start, end, parts int) *rdd.RDD[int] { return rdd.Range(start, end, parts) })
	// partitionStarts gives each non-empty partition of r with its first
	// element.
	partitionStarts = rdd.Func(func(r *rdd.RDD[int]) *rdd.RDD[[2]int] {
		return rdd.MapPartitionsWithIndex(r, func(p int, in iter.Seq[int]) iter.Seq[[2]int] {
			return func(yield func([2]int) bool) {
				for v := range in {
					yield([2]int{p, v})
					return
				}
			}
		})
	})
	// sampleOf samples r; mapped adds a Map after the sample.
	sampleOf = rdd.Func(func(r *rdd.RDD[int], with bool, fraction float64, seed uint64, mapped bool) *rdd.RDD[int] {
		out := rdd.Sample(r, with, fraction, seed)
		if mapped {
			return rdd.Map(out, func(v int) int { return v })
		}
		return out
	})
	// reshaped repartitions (or coalesces) [0, n) from in partitions to out.
	reshaped = rdd.Func(func(n, in, out int, coalesce bool) *rdd.RDD[int] {
		if coalesce {
			return rdd.Coalesce(rdd.Range(0, n, in), out)
		}
		return rdd.Repartition(rdd.Range(0, n, in), out)
	})
	// ofNothing is operation op over a dataset of no partitions at all.
	ofNothing = rdd.Func(func(op string) *rdd.RDD[int] {
		empty := rdd.Union[int]() // no partitions at all
		pairs := rdd.KeyBy(empty, func(v int) int { return v })
		switch op {
		case "union":
			return empty
		case "coalesce":
			return rdd.Coalesce(empty, 3)
		case "repartition":
			return rdd.Repartition(empty, 3)
		case "groupByKey":
			return rdd.Keys(rdd.GroupByKey(pairs, 0))
		case "reduceByKey":
			return rdd.Values(rdd.ReduceByKey(pairs, func(a, b int) int { return a + b }, 2))
		case "sortBy":
			return rdd.SortBy(empty, func(v int) int { return v }, true, 0)
		case "join":
			return rdd.Keys(rdd.Join(pairs, pairs, 0))
		case "zipWithIndex":
			return rdd.Keys(rdd.ZipWithIndex(empty))
		case "distinct":
			return rdd.Distinct(empty, 0)
		}
		panic("ofNothing: no operation " + op)
	})
	// selfUnion is [0, n) (3 partitions) twice, then plus n.
	selfUnion = rdd.Func(func(n int) *rdd.RDD[int] {
		self := rdd.Range(0, n, 3)
		return rdd.Union(self, self, rdd.Map(self, func(v int) int { return v + n }))
	})
	// selfJoin joins [0, n) (3 partitions) with itself by parity.
	selfJoin = rdd.Func(func(n int) *rdd.RDD[rdd.Pair[int, rdd.Pair[int, int]]] {
		self := rdd.Range(0, n, 3)
		return rdd.Join(rdd.KeyBy(self, func(v int) int { return v % 2 }), rdd.KeyBy(self, func(v int) int { return v % 2 }), 2)
	})
)

// hotJoin joins [0, n), all on key 0, with two records, one of key 0.
var hotJoin = rdd.Func(func(n int) *rdd.RDD[rdd.Pair[int, rdd.Pair[int, string]]] {
	left := rdd.KeyBy(rdd.Range(0, n, 2), func(int) int { return 0 })
	right := rdd.Parallelize([]rdd.Pair[int, string]{{0, "x"}, {1, "y"}}, 1)
	return rdd.Join(left, right, 2)
})

// Range over spans and partition counts whose products overflow 64 bits:
// partition p starts at start + floor(size*p/parts), computed here with
// big integers.
func TestRangeHugeBounds(t *testing.T) {
	s := startSession(t, rdd.Config{})
	for _, c := range []struct{ start, end, parts int }{
		{0, 1 << 62, 1 << 10},
		{math.MinInt, math.MaxInt, 7},
		{math.MaxInt - 10, math.MaxInt, 3},
		{math.MinInt, math.MinInt + 5, 2},
		{-5, 1 << 61, 9},
	} {
		firsts := collect(t, s, partitionStarts(rangeOf(c.start, c.end, c.parts)))
		size := new(big.Int).Sub(big.NewInt(int64(c.end)), big.NewInt(int64(c.start)))
		var want [][2]int
		for p := range c.parts {
			lo := new(big.Int).Mul(size, big.NewInt(int64(p)))
			lo.Div(lo, big.NewInt(int64(c.parts)))
			hi := new(big.Int).Mul(size, big.NewInt(int64(p+1)))
			hi.Div(hi, big.NewInt(int64(c.parts)))
			if lo.Cmp(hi) < 0 { // a non-empty partition
				want = append(want, [2]int{p, int(lo.Add(lo, big.NewInt(int64(c.start))).Int64())})
			}
		}
		if !slices.Equal(firsts, want) {
			t.Fatalf("range %v: partition starts %v, want %v", c, trunc(firsts), trunc(want))
		}
	}
	all := collect(t, s, rangeOf(math.MaxInt-10, math.MaxInt, 3))
	if len(all) != 10 || all[0] != math.MaxInt-10 || all[9] != math.MaxInt-1 || !slices.IsSorted(all) {
		t.Fatalf("range up to MaxInt: %v", all)
	}
}

// Sample with replacement for large fractions keeps its mean; a bad
// fraction fails the job with a clear error.
func TestSampleFractions(t *testing.T) {
	s := startSession(t, rdd.Config{})
	ctx := context.Background()
	r := ints(20, 2)
	n, err := rdd.Count(ctx, s, sampleOf(r, true, 1000, 1, false))
	if err != nil || n < 19_000 || n > 21_000 { // mean 20,000, sd ~141
		t.Fatalf("sample with replacement, fraction 1000: %d elements, %v", n, err)
	}
	for _, c := range []struct {
		with bool
		f    float64
	}{{false, -0.1}, {true, -1}, {false, 1.5}, {true, math.NaN()}} {
		bad := sampleOf(r, c.with, c.f, 1, true)
		for range 2 {
			if _, err := rdd.Count(ctx, s, bad); err == nil || !strings.Contains(err.Error(), "fraction") {
				t.Fatalf("sample(%v, %v): %v", c.with, c.f, err)
			}
		}
	}
}

// Coalesce and Repartition spread elements evenly; zero-partition datasets
// and a dataset unioned with itself go through every kind of operation.
func TestBalanceAndDegenerateShapes(t *testing.T) {
	s := startSession(t, rdd.Config{})
	ctx := context.Background()
	for _, c := range []struct{ n, in, out int }{{1000, 1, 7}, {1000, 13, 4}, {10, 3, 8}, {7, 7, 7}} {
		sizes := partitionSizes(t, s, reshaped(c.n, c.in, c.out, false))
		if len(sizes) != c.out || slices.Max(sizes)-slices.Min(sizes) > c.in {
			t.Fatalf("repartition %v: sizes %v", c, sizes)
		}
		co := partitionSizes(t, s, reshaped(c.n, c.in, c.out, true))
		if len(co) != min(c.in, c.out) {
			t.Fatalf("coalesce %v: %d partitions", c, len(co))
		}
	}
	for _, name := range []string{"union", "coalesce", "repartition", "groupByKey", "reduceByKey", "sortBy", "join", "zipWithIndex", "distinct"} {
		r := ofNothing(name)
		if got := collect(t, s, r); len(got) != 0 {
			t.Fatalf("%s of nothing: %v", name, got)
		}
		if _, err := rdd.First(ctx, s, r); err != rdd.ErrEmpty {
			t.Fatalf("first of %s: %v", name, err)
		}
	}
	twice := collect(t, s, selfUnion(10))
	if want := append(append(seq(0, 10), seq(0, 10)...), seq(10, 20)...); !slices.Equal(twice, want) {
		t.Fatalf("union with itself: %v", twice)
	}
	j := collect(t, s, selfJoin(10))
	if len(j) != 50 { // 5 odd and 5 even values: 25 pairs per key
		t.Fatalf("self-join: %d pairs", len(j))
	}
}

func seq(lo, hi int) []int {
	var out []int
	for v := lo; v < hi; v++ {
		out = append(out, v)
	}
	return out
}

// SortByKey with every key equal, and with one key holding most records:
// every record comes out once, in order, even when the reducer spills.
func TestSortSkewedKeys(t *testing.T) {
	for name, s := range sessions(t) {
		for _, skew := range []int{100, 90} { // percent of records on key 7
			var pairs []rdd.Pair[int, int]
			for i := range 6000 {
				k := 7
				if i%100 >= skew {
					k = i % 50
				}
				pairs = append(pairs, rdd.KV(k, i))
			}
			for _, asc := range []bool{true, false} {
				got := collect(t, s, sortedByKey(pairsOf(pairs, 5), asc, 4))
				if len(got) != len(pairs) {
					t.Fatalf("%s skew %d: %d records", name, skew, len(got))
				}
				seen := make([]bool, len(pairs))
				for i, p := range got {
					if seen[p.Value] || pairs[p.Value] != p {
						t.Fatalf("%s skew %d: record %v repeated or changed", name, skew, p)
					}
					seen[p.Value] = true
					if i > 0 && ((asc && got[i-1].Key > p.Key) || (!asc && got[i-1].Key < p.Key)) {
						t.Fatalf("%s skew %d asc=%v: out of order at %d", name, skew, asc, i)
					}
				}
			}
		}
	}
}

// A join whose key is all of a partition: the cogroup shuffles records one
// by one (no map-side combine holding the key's values in memory) and the
// reducer, spilling, pairs them all.
func TestJoinOneHotKey(t *testing.T) {
	s := startSession(t, rdd.Config{ShuffleMemory: 4096})
	got := collect(t, s, hotJoin(20_000))
	if len(got) != 20_000 {
		t.Fatalf("%d pairs", len(got))
	}
	if st := s.Stats(); st.ShuffleRecords != 20_002 || st.SpillBytes == 0 {
		t.Fatalf("stats %+v", st)
	}
}
