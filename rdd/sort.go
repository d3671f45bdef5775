package rdd

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/mesoproject/meso/rdd/codec"
	"github.com/mesoproject/meso/rdd/internal/shuffle"
)

// SortByKey sorts a pair dataset by key into parts partitions (parts <= 0:
// as many as r). Like Spark, a range partitioner is built from a sample of
// the keys (one preparatory job), so partition i holds keys before those of
// partition i+1; each reducer sorts its records within the shuffle memory,
// spilling sorted runs when they exceed it.
func SortByKey[K cmp.Ordered, V any](r *RDD[Pair[K, V]], ascending bool, parts int) *RDD[Pair[K, V]] {
	d := newShuffleDep(r.n)
	n := newNode("sortByKey", dep{parent: r.n, shuffle: d})
	n.resolve = shuffleResolve(parts, r.n)
	order := func(a, b K) int { return cmp.Compare(a, b) }
	if !ascending {
		order = func(a, b K) int { return cmp.Compare(b, a) }
	}
	n.prepare = func(j *jobEnv) (any, error) { return sampleBounds(j, r, j.s.partsOf(n), order) }
	kc, vc := codec.For[K](), codec.For[V]()
	pc := codec.For[Pair[K, V]]()
	d.writeMap = func(tc *TaskContext, m int) ([]int64, error) {
		bounds := preparedAs[[]K](tc, n)
		part := func(k K) int {
			i, _ := slices.BinarySearchFunc(bounds, k, order)
			return i
		}
		in := func(yield func(K, V) bool) {
			r.iterate(tc, m, func(p Pair[K, V]) bool { return yield(p.Key, p.Value) })
		}
		return writeShuffle(tc, d, m, part, kc, vc, in)
	}
	return newRDD(n, func(tc *TaskContext, p int, yield func(Pair[K, V]) bool) {
		s := shuffle.NewSorter(tc.sess.store.Dir(), tc.sess.cfg.ShuffleMemory,
			func(a, b Pair[K, V]) int { return order(a.Key, b.Key) },
			pc.Append,
			func(src []byte) (Pair[K, V], error) { v, _, err := pc.Decode(src); return v, err })
		defer s.Close()
		readShuffle(tc, d, p, kc, vc, func(k K, v V, size int) bool {
			if err := s.Add(Pair[K, V]{k, v}, int64(size)+32); err != nil {
				tc.fail(err)
				return false
			}
			return true
		})
		if tc.err != nil {
			return
		}
		_, spilled := s.Spilled()
		tc.metrics.SpillBytes += spilled
		if err := s.Sorted(yield); err != nil {
			tc.fail(err)
		}
	})
}

// SortBy sorts a dataset by the key f computes.
func SortBy[T any, K cmp.Ordered](r *RDD[T], f func(T) K, ascending bool, parts int) *RDD[T] {
	out := Values(SortByKey(KeyBy(r, f), ascending, parts))
	out.n.op, out.n.site = "sortBy", callSite()
	return out
}

// keySample is one partition's sample of keys and its record count.
type keySample[K any] struct {
	keys  []K
	count int64
}

// reservoir samples up to n records of partition p uniformly (the same
// records in every process: the generator is seeded by the partition) and
// counts them all.
func reservoir[T any](tc *TaskContext, r *RDD[T], p, n int) ([]T, int64) {
	rng := rand.New(rand.NewPCG(uint64(p), 0x5eed))
	var recs []T
	var count int64
	r.iterate(tc, p, func(v T) bool {
		count++
		if len(recs) < n {
			recs = append(recs, v)
		} else if i := rng.Int64N(count); i < int64(n) {
			recs[i] = v
		}
		return true
	})
	return recs, count
}

// sampleBounds runs a job sampling the keys of r and returns reducers-1 (or
// fewer, when keys repeat) upper bounds splitting them evenly, weighting each
// partition's sample by the partition's size.
func sampleBounds[K cmp.Ordered, V any](j *jobEnv, r *RDD[Pair[K, V]], reducers int, order func(a, b K) int) ([]K, error) {
	if reducers <= 1 {
		return nil, nil
	}
	parts := j.s.partsOf(r.n)
	perPart := (3*min(20*reducers, 1_000_000) + parts - 1) / max(parts, 1)
	type weighted struct {
		k K
		w float64
	}
	var all []weighted
	kc := codec.For[K]()
	// Like Spark's RangePartitioner sketch, each task sends only its
	// reservoir sample of keys and its record count, never its records.
	act := newAction(resultSample, "", nil, []any{perPart}, func(b []byte) (any, error) {
		var s keySample[K]
		c, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, fmt.Errorf("rdd: a bad key sample of %s from the executor", r.n)
		}
		s.count, b = int64(c), b[n:]
		for len(b) > 0 {
			k, n, err := kc.Decode(b)
			if err != nil {
				return nil, fmt.Errorf("rdd: decoding a key sample of %s from the executor: %w", r.n, err)
			}
			s.keys, b = append(s.keys, k), b[n:]
		}
		return s, nil
	})
	err := j.s.runJob(j.ctx, r.n, allParts(parts), act, func(tc *TaskContext, p int) (any, error) {
		recs, count := reservoir(tc, r, p, perPart)
		s := keySample[K]{count: count}
		for _, kv := range recs {
			s.keys = append(s.keys, kv.Key)
		}
		return s, nil
	}, func(_ int, v any) error {
		s := v.(keySample[K])
		for _, k := range s.keys {
			all = append(all, weighted{k, float64(s.count) / float64(len(s.keys))})
		}
		return nil
	})
	if err != nil || len(all) == 0 {
		return nil, err
	}
	slices.SortFunc(all, func(a, b weighted) int { return order(a.k, b.k) })
	var total float64
	for _, w := range all {
		total += w.w
	}
	step := total / float64(reducers)
	var bounds []K
	var cum float64
	target := step
	for _, w := range all {
		cum += w.w
		if cum >= target && len(bounds) < reducers-1 {
			if len(bounds) == 0 || order(bounds[len(bounds)-1], w.k) < 0 {
				bounds = append(bounds, w.k)
			}
			target += step
		}
	}
	return bounds, nil
}
