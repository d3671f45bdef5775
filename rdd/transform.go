package rdd

import (
	"fmt"
	"io"
	"iter"
	"math"
	"math/bits"
	"math/rand/v2"

	"github.com/mesoproject/meso/rdd/codec"
	"github.com/mesoproject/meso/rdd/internal/task"
)

// Range returns the integers [start, end) in parts partitions of (nearly)
// equal size, like Spark's sc.parallelize(start until end, parts). parts <= 0
// means the session's default parallelism.
func Range(start, end, parts int) *RDD[int] {
	n := newNode("range")
	n.content = func(h io.Writer) { fmt.Fprint(h, start, end, parts) }
	n.resolve = func(env resolveEnv) resolution { return resolution{parts: positive(parts, env.def.source)} }
	n.sizes = func(parts int) []int64 { return splitSizes(start, end, parts) }
	return newRDD(n, func(tc *TaskContext, p int, yield func(int) bool) {
		lo, hi := split(start, end, p, tc.parts(n))
		for i := lo; i < hi && tc.alive(); i++ {
			if !yield(i) {
				return
			}
		}
	})
}

// split returns partition p's share [lo, hi) of [start, end) over parts.
// The arithmetic is on 128 bits: any range of ints, any partition count.
func split(start, end, p, parts int) (int, int) {
	if end <= start {
		return start, start
	}
	size := uint64(end) - uint64(start) // fits: end > start
	at := func(q int) int {
		hi, lo := bits.Mul64(size, uint64(q))
		off, _ := bits.Div64(hi, lo, uint64(parts)) // q <= parts: no overflow
		return int(uint64(start) + off)
	}
	return at(p), at(p + 1)
}

// splitSizes returns the length of each of parts shares of [start, end)
// (split).
func splitSizes(start, end, parts int) []int64 {
	out := make([]int64, parts)
	for p := range out {
		lo, hi := split(start, end, p, parts)
		out[p] = int64(uint64(hi) - uint64(lo)) // hi >= lo; the difference fits when end-start does
	}
	return out
}

func positive(n, def int) int {
	if n > 0 {
		return n
	}
	return max(def, 1)
}

// Parallelize distributes data over parts partitions (parts <= 0: the
// session's default parallelism). The slice is read when tasks run, so it
// must not be modified afterwards.
func Parallelize[T any](data []T, parts int) *RDD[T] {
	n := newNode("parallelize")
	n.content = func(h io.Writer) { // the data, as the dataset's codec encodes it
		c := codec.For[T]()
		var b []byte
		for _, v := range data {
			b = c.Append(b[:0], v)
			h.Write(b)
		}
		fmt.Fprint(h, len(data), parts)
	}
	n.resolve = func(env resolveEnv) resolution { return resolution{parts: positive(parts, env.def.source)} }
	n.driverPart = func(p, parts int) []byte {
		c := codec.For[T]()
		lo, hi := split(0, len(data), p, parts)
		var b []byte
		for _, v := range data[lo:hi] {
			b = c.Append(b, v)
		}
		return b
	}
	n.sizes = func(parts int) []int64 { return splitSizes(0, len(data), parts) }
	return newRDD(n, func(tc *TaskContext, p int, yield func(T) bool) {
		lo, hi := split(0, len(data), p, tc.parts(n))
		for _, v := range data[lo:hi] {
			if !tc.alive() || !yield(v) {
				return
			}
		}
	})
}

// Map returns f applied to every element.
func Map[T, U any](r *RDD[T], f func(T) U) *RDD[U] {
	return oneToOne(r, "map", func(tc *TaskContext, p int, yield func(U) bool) {
		r.iterate(tc, p, func(v T) bool { return yield(f(v)) })
	})
}

// Filter keeps the elements for which keep returns true.
func (r *RDD[T]) Filter(keep func(T) bool) *RDD[T] {
	return oneToOne(r, "filter", func(tc *TaskContext, p int, yield func(T) bool) {
		r.iterate(tc, p, func(v T) bool { return !keep(v) || yield(v) })
	})
}

// Filter keeps the elements for which keep returns true.
func Filter[T any](r *RDD[T], keep func(T) bool) *RDD[T] { return r.Filter(keep) }

// FlatMap returns the concatenation of f over every element.
func FlatMap[T, U any](r *RDD[T], f func(T) []U) *RDD[U] {
	return oneToOne(r, "flatMap", func(tc *TaskContext, p int, yield func(U) bool) {
		r.iterate(tc, p, func(v T) bool {
			for _, u := range f(v) {
				if !yield(u) {
					return false
				}
			}
			return true
		})
	})
}

// seq adapts partition p of r to an iterator for user functions.
func (r *RDD[T]) seq(tc *TaskContext, p int) iter.Seq[T] {
	return func(yield func(T) bool) { r.iterate(tc, p, yield) }
}

// MapPartitions transforms each partition as a whole.
func MapPartitions[T, U any](r *RDD[T], f func(iter.Seq[T]) iter.Seq[U]) *RDD[U] {
	return MapPartitionsWithContext(r, func(tc *TaskContext, in iter.Seq[T]) iter.Seq[U] { return f(in) })
}

// MapPartitionsWithIndex transforms each partition, knowing its index.
func MapPartitionsWithIndex[T, U any](r *RDD[T], f func(part int, in iter.Seq[T]) iter.Seq[U]) *RDD[U] {
	return MapPartitionsWithContext(r, func(tc *TaskContext, in iter.Seq[T]) iter.Seq[U] { return f(tc.partition, in) })
}

// MapPartitionsWithContext transforms each partition with access to the
// running task (for accumulators and cancellation).
func MapPartitionsWithContext[T, U any](r *RDD[T], f func(tc *TaskContext, in iter.Seq[T]) iter.Seq[U]) *RDD[U] {
	return oneToOne(r, "mapPartitions", func(tc *TaskContext, p int, yield func(U) bool) {
		for u := range f(tc, r.seq(tc, p)) {
			if !yield(u) {
				return
			}
		}
	})
}

// KeyBy pairs every element with the key f computes.
func KeyBy[K, T any](r *RDD[T], f func(T) K) *RDD[Pair[K, T]] {
	return oneToOne(r, "keyBy", func(tc *TaskContext, p int, yield func(Pair[K, T]) bool) {
		r.iterate(tc, p, func(v T) bool { return yield(Pair[K, T]{f(v), v}) })
	})
}

// Values keeps the values of a pair dataset.
func Values[K, V any](r *RDD[Pair[K, V]]) *RDD[V] {
	return Map(r, func(p Pair[K, V]) V { return p.Value })
}

// Keys keeps the keys of a pair dataset.
func Keys[K, V any](r *RDD[Pair[K, V]]) *RDD[K] {
	return Map(r, func(p Pair[K, V]) K { return p.Key })
}

// MapValues applies f to the values of a pair dataset.
func MapValues[K, V, W any](r *RDD[Pair[K, V]], f func(V) W) *RDD[Pair[K, W]] {
	return Map(r, func(p Pair[K, V]) Pair[K, W] { return Pair[K, W]{p.Key, f(p.Value)} })
}

// ZipWithIndex pairs every element with its position in the dataset
// (partition by partition). Like Spark, it first runs a job counting the
// elements of each partition when its partitions are first needed, unless
// the driver knows the counts: r straight from Range or Parallelize.
func ZipWithIndex[T any](r *RDD[T]) *RDD[Pair[T, int64]] {
	n := newNode("zipWithIndex", dep{parent: r.n})
	n.prepare = func(j *jobEnv) (any, error) {
		parts := j.s.partsOf(r.n)
		if r.n.sizes != nil { // known on the driver: no counting job
			return offsetsOf(r.n.sizes(parts)), nil
		}
		counts := make([]int64, parts)
		err := j.s.runJob(j.ctx, r.n, allParts(parts), action{kind: task.ResultCount}, func(tc *TaskContext, p int) (any, error) {
			var c int64
			r.iterate(tc, p, func(T) bool { c++; return true })
			return c, nil
		}, func(p int, v any) error { counts[p] = v.(int64); return nil })
		if err != nil {
			return nil, err
		}
		return offsetsOf(counts), nil
	}
	return newRDD(n, func(tc *TaskContext, p int, yield func(Pair[T, int64]) bool) {
		i := preparedAs[[]int64](tc, n)[p]
		r.iterate(tc, p, func(v T) bool {
			ok := yield(Pair[T, int64]{v, i})
			i++
			return ok
		})
	})
}

// offsetsOf returns the index of each partition's first element, given
// the partitions' element counts.
func offsetsOf(counts []int64) []int64 {
	offsets := make([]int64, len(counts))
	for i := 1; i < len(counts); i++ {
		offsets[i] = offsets[i-1] + counts[i-1]
	}
	return offsets
}

func allParts(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// Union concatenates datasets: the partitions of the first, then of the
// second, and so on.
func Union[T any](rs ...*RDD[T]) *RDD[T] {
	deps := make([]dep, len(rs))
	for i, r := range rs {
		deps[i] = dep{parent: r.n}
	}
	n := newNode("union", deps...)
	n.resolve = func(env resolveEnv) resolution {
		res := resolution{narrow: make([]func(int) []int, len(rs))}
		for i, r := range rs {
			lo, hi := res.parts, res.parts+env.parts(r.n)
			res.narrow[i] = func(p int) []int {
				if p >= lo && p < hi {
					return []int{p - lo}
				}
				return nil
			}
			res.parts = hi
		}
		return res
	}
	return newRDD(n, func(tc *TaskContext, p int, yield func(T) bool) {
		for _, r := range rs {
			if k := tc.parts(r.n); p >= k {
				p -= k
				continue
			}
			r.iterate(tc, p, yield)
			return
		}
	})
}

// Coalesce reduces the number of partitions to at most parts without a
// shuffle, by concatenating neighbouring partitions.
func Coalesce[T any](r *RDD[T], parts int) *RDD[T] {
	n := newNode("coalesce", dep{parent: r.n})
	n.resolve = func(env resolveEnv) resolution {
		total := env.parts(r.n)
		out := min(max(parts, 1), max(total, 1))
		if total == 0 {
			out = 0
		}
		return resolution{parts: out, narrow: []func(int) []int{func(p int) []int { return coalesced(total, out, p) }}}
	}
	return newRDD(n, func(tc *TaskContext, p int, yield func(T) bool) {
		for _, q := range coalesced(tc.parts(r.n), tc.parts(n), p) {
			stop := false
			r.iterate(tc, q, func(v T) bool {
				if !yield(v) {
					stop = true
					return false
				}
				return true
			})
			if stop || tc.err != nil {
				return
			}
		}
	})
}

// coalesced lists the parent partitions of partition p when total
// partitions are coalesced into out.
func coalesced(total, out, p int) []int {
	lo, hi := split(0, total, p, out)
	ps := make([]int, 0, hi-lo)
	for i := lo; i < hi; i++ {
		ps = append(ps, i)
	}
	return ps
}

// Sample returns a random sample: each element is kept with probability
// fraction (without replacement), or appears a Poisson(fraction) number of
// times (with replacement). The same seed gives the same sample.
func Sample[T any](r *RDD[T], withReplacement bool, fraction float64, seed uint64) *RDD[T] {
	out := oneToOne(r, "sample", func(tc *TaskContext, p int, yield func(T) bool) {
		rng := rand.New(rand.NewPCG(seed, uint64(p)))
		r.iterate(tc, p, func(v T) bool {
			k := 0
			if withReplacement {
				k = poisson(rng, fraction)
			} else if rng.Float64() < fraction {
				k = 1
			}
			for range k {
				if !yield(v) {
					return false
				}
			}
			return true
		})
	})
	// A bad fraction fails every job that needs the sample, as Spark does.
	if !(fraction >= 0) || (!withReplacement && fraction > 1) {
		out.n.bad = fmt.Errorf("rdd: sample at %s: fraction %v: want 0 <= fraction%s", out.n.site, fraction,
			map[bool]string{false: " <= 1 without replacement", true: " with replacement"}[withReplacement])
	}
	return out
}

// poisson draws from a Poisson distribution with mean lambda: Knuth's
// method, on chunks of the mean small enough for exp(-chunk) not to
// underflow (a sum of Poisson draws is a Poisson draw of the summed mean).
func poisson(rng *rand.Rand, lambda float64) int {
	k := 0
	for ; lambda > 64; lambda -= 64 {
		k += knuthPoisson(rng, 64)
	}
	return k + knuthPoisson(rng, lambda)
}

func knuthPoisson(rng *rand.Rand, lambda float64) int {
	if lambda <= 0 {
		return 0
	}
	l, k, p := math.Exp(-lambda), 0, 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}
