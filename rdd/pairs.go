package rdd

import (
	"iter"

	"github.com/mesoproject/meso/rdd/codec"
)

// combineByKey is the engine of the key-value operations: a hash shuffle
// with an aggregator, and an optional map-side combine.
func combineByKey[K comparable, V, C any](r *RDD[Pair[K, V]], op string, parts int,
	create func(V) C, mergeValue func(C, V) C, mergeCombiners func(C, C) C, mapSide bool) *RDD[Pair[K, C]] {
	d := newShuffleDep(r.n)
	n := newNode(op, dep{parent: r.n, shuffle: d})
	n.resolve = shuffleResolve(parts, r.n)
	kc, vc, cc := codec.For[K](), codec.For[V](), codec.For[C]()
	pairs := func(tc *TaskContext, m int) func(yield func(K, V) bool) {
		return func(yield func(K, V) bool) {
			r.iterate(tc, m, func(p Pair[K, V]) bool { return yield(p.Key, p.Value) })
		}
	}
	if mapSide {
		d.writeMap = func(tc *TaskContext, m int) ([]int64, error) {
			combined := func(yield func(K, C) bool) { mapCombine(tc, pairs(tc, m), create, mergeValue, yield) }
			return writeShuffle(tc, d, m, hashPartitioner[K](tc.shuffle(d).Reducers), kc, cc, combined)
		}
		agg := aggregator[C, C]{create: func(c C) C { return c }, merge: mergeCombiners, mergeC: mergeCombiners}
		return newRDD(n, func(tc *TaskContext, p int, yield func(Pair[K, C]) bool) {
			in := func(y func(K, C, int) bool) { readShuffle(tc, d, p, kc, cc, y) }
			reduceAggregate(tc, kc, cc, agg, in, func(k K, c C) bool { return yield(Pair[K, C]{k, c}) })
		})
	}
	d.writeMap = func(tc *TaskContext, m int) ([]int64, error) {
		return writeShuffle(tc, d, m, hashPartitioner[K](tc.shuffle(d).Reducers), kc, vc, pairs(tc, m))
	}
	agg := aggregator[V, C]{create: create, merge: mergeValue, mergeC: mergeCombiners}
	return newRDD(n, func(tc *TaskContext, p int, yield func(Pair[K, C]) bool) {
		in := func(y func(K, V, int) bool) { readShuffle(tc, d, p, kc, vc, y) }
		reduceAggregate(tc, kc, cc, agg, in, func(k K, c C) bool { return yield(Pair[K, C]{k, c}) })
	})
}

// mapCombine combines a map task's values per key in memory, flushing the
// combiners downstream whenever they exceed half the task's shuffle memory
// (the reducers merge combiners of one key anyway).
func mapCombine[K comparable, V, C any](tc *TaskContext, in func(yield func(K, V) bool),
	create func(V) C, merge func(C, V) C, out func(K, C) bool) {
	limit := max(tc.sess.cfg.ShuffleMemory/2/64, 1024) // entries, at ~64 bytes each
	m := map[K]C{}
	flush := func() bool {
		for k, c := range m {
			if !out(k, c) {
				return false
			}
		}
		clear(m)
		return true
	}
	stopped := false
	in(func(k K, v V) bool {
		if c, ok := m[k]; ok {
			m[k] = merge(c, v)
		} else {
			m[k] = create(v)
			if int64(len(m)) > limit && !flush() {
				stopped = true
				return false
			}
		}
		return true
	})
	if !stopped && tc.err == nil {
		flush()
	}
}

// CombineByKey turns each key's values into one combiner C: create makes a
// combiner from a key's first value in a partition, mergeValue adds a value,
// mergeCombiners merges combiners of different partitions. Values are
// combined on the map side before the shuffle. parts <= 0: the default.
func CombineByKey[K comparable, V, C any](r *RDD[Pair[K, V]], create func(V) C, mergeValue func(C, V) C,
	mergeCombiners func(C, C) C, parts int) *RDD[Pair[K, C]] {
	return combineByKey(r, "combineByKey", parts, create, mergeValue, mergeCombiners, true)
}

// ReduceByKey merges each key's values with an associative, commutative f.
func ReduceByKey[K comparable, V any](r *RDD[Pair[K, V]], f func(V, V) V, parts int) *RDD[Pair[K, V]] {
	return combineByKey(r, "reduceByKey", parts, func(v V) V { return v }, f, f, true)
}

// FoldByKey merges each key's values with f, starting from zero in every
// partition. Every key gets its own deep copy of zero, so f may modify and
// return its first argument.
func FoldByKey[K comparable, V any](r *RDD[Pair[K, V]], zero V, f func(V, V) V, parts int) *RDD[Pair[K, V]] {
	fresh := freshZero(zero)
	return combineByKey(r, "foldByKey", parts, func(v V) V { return f(fresh(), v) }, f, f, true)
}

// AggregateByKey aggregates each key's values into a U: seq adds a value to
// an accumulator that starts at zero in every partition, comb merges
// accumulators. Every key gets its own deep copy of zero, so seq and comb
// may modify and return their first argument (a map, a slice), as Spark
// allows.
func AggregateByKey[K comparable, V, U any](r *RDD[Pair[K, V]], zero U, seq func(U, V) U, comb func(U, U) U,
	parts int) *RDD[Pair[K, U]] {
	fresh := freshZero(zero)
	return combineByKey(r, "aggregateByKey", parts, func(v V) U { return seq(fresh(), v) }, seq, comb, true)
}

// GroupByKey groups each key's values. The order of values within a group is
// not defined. parts <= 0: the default.
func GroupByKey[K comparable, V any](r *RDD[Pair[K, V]], parts int) *RDD[Pair[K, []V]] {
	d := newShuffleDep(r.n)
	n := newNode("groupByKey", dep{parent: r.n, shuffle: d})
	n.resolve = shuffleResolve(parts, r.n)
	kc, vc, cc := codec.For[K](), codec.For[V](), codec.For[[]V]()
	d.writeMap = func(tc *TaskContext, m int) ([]int64, error) {
		in := func(yield func(K, V) bool) {
			r.iterate(tc, m, func(p Pair[K, V]) bool { return yield(p.Key, p.Value) })
		}
		return writeShuffle(tc, d, m, hashPartitioner[K](tc.shuffle(d).Reducers), kc, vc, in)
	}
	return newRDD(n, func(tc *TaskContext, p int, yield func(Pair[K, []V]) bool) {
		in := func(y func(K, V, int) bool) { readShuffle(tc, d, p, kc, vc, y) }
		reduceGroup(tc, kc, cc, in, func(k K, vs []V) bool { return yield(Pair[K, []V]{k, vs}) })
	})
}

// GroupBy groups elements by the key f computes, in as many partitions as r.
func GroupBy[T any, K comparable](r *RDD[T], f func(T) K) *RDD[Pair[K, []T]] {
	g := GroupByKey(KeyBy(r, f), 0)
	g.n.op, g.n.site = "groupBy", callSite()
	return g
}

// Distinct removes duplicates.
func Distinct[T comparable](r *RDD[T], parts int) *RDD[T] {
	kv := Map(r, func(v T) Pair[T, struct{}] { return Pair[T, struct{}]{v, struct{}{}} })
	red := combineByKey(kv, "distinct", parts, func(struct{}) struct{} { return struct{}{} },
		func(c, _ struct{}) struct{} { return c }, func(c, _ struct{}) struct{} { return c }, true)
	return Keys(red)
}

// Option is a value that may be missing (the right side of an outer join).
type Option[T any] struct {
	Value T
	Valid bool
}

// CoGroup groups the values of both datasets by key.
func CoGroup[K comparable, V, W any](a *RDD[Pair[K, V]], b *RDD[Pair[K, W]], parts int) *RDD[Pair[K, Pair[[]V, []W]]] {
	type both = Pair[[]V, []W]
	left := Map(a, func(p Pair[K, V]) Pair[K, both] { return Pair[K, both]{p.Key, both{Key: []V{p.Value}}} })
	right := Map(b, func(p Pair[K, W]) Pair[K, both] { return Pair[K, both]{p.Key, both{Value: []W{p.Value}}} })
	u := Union(left, right)
	merge := func(x, y both) both { return both{append(x.Key, y.Key...), append(x.Value, y.Value...)} }
	// No map-side combine (as in Spark's cogroup): it would hold every value
	// of a key of the map partition in memory, unbounded by the shuffle
	// memory, and saves nothing but repeated keys. Reducers spill.
	out := combineByKey(u, "cogroup", parts, func(v both) both { return v }, merge, merge, false)
	out.n.resolve = func(env resolveEnv) resolution { return resolution{parts: shuffleParts(parts, env, a.n, b.n)} }
	out.n.site = callSite()
	return out
}

// Join returns every (k, (v, w)) with (k, v) in a and (k, w) in b.
func Join[K comparable, V, W any](a *RDD[Pair[K, V]], b *RDD[Pair[K, W]], parts int) *RDD[Pair[K, Pair[V, W]]] {
	return flatten(CoGroup(a, b, parts), "join", func(k K, vs []V, ws []W, yield func(Pair[K, Pair[V, W]]) bool) bool {
		for _, v := range vs {
			for _, w := range ws {
				if !yield(Pair[K, Pair[V, W]]{k, Pair[V, W]{v, w}}) {
					return false
				}
			}
		}
		return true
	})
}

// LeftOuterJoin is Join keeping every element of a, with an invalid Option
// when b has no value for its key.
func LeftOuterJoin[K comparable, V, W any](a *RDD[Pair[K, V]], b *RDD[Pair[K, W]], parts int) *RDD[Pair[K, Pair[V, Option[W]]]] {
	type out = Pair[K, Pair[V, Option[W]]]
	return flatten(CoGroup(a, b, parts), "leftOuterJoin", func(k K, vs []V, ws []W, yield func(out) bool) bool {
		for _, v := range vs {
			if len(ws) == 0 && !yield(out{k, Pair[V, Option[W]]{v, Option[W]{}}}) {
				return false
			}
			for _, w := range ws {
				if !yield(out{k, Pair[V, Option[W]]{v, Option[W]{w, true}}}) {
					return false
				}
			}
		}
		return true
	})
}

func flatten[K comparable, V, W, O any](g *RDD[Pair[K, Pair[[]V, []W]]], op string,
	f func(k K, vs []V, ws []W, yield func(O) bool) bool) *RDD[O] {
	out := MapPartitions(g, func(in iter.Seq[Pair[K, Pair[[]V, []W]]]) iter.Seq[O] {
		return func(yield func(O) bool) {
			for p := range in {
				if !f(p.Key, p.Value.Key, p.Value.Value, yield) {
					return
				}
			}
		}
	})
	out.n.op, out.n.site = op, callSite()
	return out
}

// PartitionBy redistributes a pair dataset by key hash into parts
// partitions, without combining.
func PartitionBy[K comparable, V any](r *RDD[Pair[K, V]], parts int) *RDD[Pair[K, V]] {
	return plainShuffle(r, "partitionBy", parts, func(n int) func(K) int { return hashPartitioner[K](n) })
}

// plainShuffle moves records to the partition part chooses, unchanged.
func plainShuffle[K, V any](r *RDD[Pair[K, V]], op string, parts int, part func(n int) func(K) int) *RDD[Pair[K, V]] {
	d := newShuffleDep(r.n)
	n := newNode(op, dep{parent: r.n, shuffle: d})
	n.resolve = shuffleResolve(parts, r.n)
	kc, vc := codec.For[K](), codec.For[V]()
	d.writeMap = func(tc *TaskContext, m int) ([]int64, error) {
		in := func(yield func(K, V) bool) {
			r.iterate(tc, m, func(p Pair[K, V]) bool { return yield(p.Key, p.Value) })
		}
		return writeShuffle(tc, d, m, part(tc.shuffle(d).Reducers), kc, vc, in)
	}
	return newRDD(n, func(tc *TaskContext, p int, yield func(Pair[K, V]) bool) {
		readShuffle(tc, d, p, kc, vc, func(k K, v V, _ int) bool { return yield(Pair[K, V]{k, v}) })
	})
}

// Repartition redistributes the elements evenly over parts partitions
// through a shuffle.
func Repartition[T any](r *RDD[T], parts int) *RDD[T] {
	keyed := MapPartitionsWithIndex(r, func(p int, in iter.Seq[T]) iter.Seq[Pair[int, T]] {
		return func(yield func(Pair[int, T]) bool) {
			i := p * 7919 // spread partitions' starting points
			for v := range in {
				if !yield(Pair[int, T]{i, v}) {
					return
				}
				i++
			}
		}
	})
	s := plainShuffle(keyed, "repartition", parts, func(n int) func(int) int {
		return func(k int) int { return k % n }
	})
	return Values(s)
}

// RightOuterJoin is Join keeping every element of b, with an invalid Option
// when a has no value for its key.
func RightOuterJoin[K comparable, V, W any](a *RDD[Pair[K, V]], b *RDD[Pair[K, W]], parts int) *RDD[Pair[K, Pair[Option[V], W]]] {
	type out = Pair[K, Pair[Option[V], W]]
	return flatten(CoGroup(a, b, parts), "rightOuterJoin", func(k K, vs []V, ws []W, yield func(out) bool) bool {
		for _, w := range ws {
			if len(vs) == 0 && !yield(out{k, Pair[Option[V], W]{Option[V]{}, w}}) {
				return false
			}
			for _, v := range vs {
				if !yield(out{k, Pair[Option[V], W]{Option[V]{v, true}, w}}) {
					return false
				}
			}
		}
		return true
	})
}

// FullOuterJoin keeps every element of both sides, pairing values of equal
// keys and using an invalid Option where one side has none.
func FullOuterJoin[K comparable, V, W any](a *RDD[Pair[K, V]], b *RDD[Pair[K, W]], parts int) *RDD[Pair[K, Pair[Option[V], Option[W]]]] {
	type both = Pair[Option[V], Option[W]]
	type out = Pair[K, both]
	return flatten(CoGroup(a, b, parts), "fullOuterJoin", func(k K, vs []V, ws []W, yield func(out) bool) bool {
		switch {
		case len(ws) == 0:
			for _, v := range vs {
				if !yield(out{k, both{Option[V]{v, true}, Option[W]{}}}) {
					return false
				}
			}
		case len(vs) == 0:
			for _, w := range ws {
				if !yield(out{k, both{Option[V]{}, Option[W]{w, true}}}) {
					return false
				}
			}
		default:
			for _, v := range vs {
				for _, w := range ws {
					if !yield(out{k, both{Option[V]{v, true}, Option[W]{w, true}}}) {
						return false
					}
				}
			}
		}
		return true
	})
}

// SubtractByKey keeps the elements of a whose key does not appear in b.
func SubtractByKey[K comparable, V, W any](a *RDD[Pair[K, V]], b *RDD[Pair[K, W]], parts int) *RDD[Pair[K, V]] {
	return flatten(CoGroup(a, b, parts), "subtractByKey", func(k K, vs []V, ws []W, yield func(Pair[K, V]) bool) bool {
		if len(ws) > 0 {
			return true
		}
		for _, v := range vs {
			if !yield(Pair[K, V]{k, v}) {
				return false
			}
		}
		return true
	})
}

// Subtract keeps the elements of a that do not appear in b (duplicates in a
// are kept).
func Subtract[T comparable](a, b *RDD[T], parts int) *RDD[T] {
	ka := Map(a, func(v T) Pair[T, struct{}] { return Pair[T, struct{}]{v, struct{}{}} })
	kb := Map(b, func(v T) Pair[T, struct{}] { return Pair[T, struct{}]{v, struct{}{}} })
	out := Keys(SubtractByKey(ka, kb, parts))
	out.n.op, out.n.site = "subtract", callSite()
	return out
}

// Intersection returns the distinct elements present in both datasets.
func Intersection[T comparable](a, b *RDD[T], parts int) *RDD[T] {
	ka := Map(a, func(v T) Pair[T, struct{}] { return Pair[T, struct{}]{v, struct{}{}} })
	kb := Map(b, func(v T) Pair[T, struct{}] { return Pair[T, struct{}]{v, struct{}{}} })
	return flatten(CoGroup(ka, kb, parts), "intersection", func(k T, vs, ws []struct{}, yield func(T) bool) bool {
		return len(vs) == 0 || len(ws) == 0 || yield(k)
	})
}
