package rdd

import (
	"github.com/mesoproject/meso/rdd/codec"
	"reflect"

	"github.com/mesoproject/meso/rdd/internal/blocks"
	"github.com/mesoproject/meso/rdd/internal/task"
)

// cachedIterate serves partition p of a persisted dataset from the cache,
// computing and storing it on a miss.
func cachedIterate[T any](tc *TaskContext, r *RDD[T], p int, yield func(T) bool) {
	bm := tc.sess.cache
	k := blocks.Key{Node: tc.node(r.n).ID, Part: p} // the driver's id, also in a rebuilt lineage
	vals, ok := readCached(tc, r, k)
	if !ok && tc.remoteBlock != nil {
		if b, found := tc.remoteBlock(k); found {
			vals, ok = decodeCached(tc, r, k, b)
		}
	}
	if ok {
		tc.metrics.CacheHits++
		for _, v := range vals {
			if !yield(v) {
				return
			}
		}
		return
	}
	var all []T
	r.compute(tc, p, func(v T) bool { all = append(all, v); return true })
	if tc.err != nil {
		return
	}
	tc.metrics.CacheMisses++
	c := r.codec // not r: a cached block must not keep its dataset reachable
	encode := func(d any) []byte {
		var buf []byte
		for _, v := range d.([]T) {
			buf = c.Append(buf, v)
		}
		return buf
	}
	if err := bm.Put(k, blocks.Level(r.n.level.Load()), all, estimateSize(r, all), encode); err != nil {
		tc.fail(err)
		return
	}
	if bm.Has(k) {
		tc.cached = append(tc.cached, task.CachedBlock{Node: k.Node, Part: k.Part})
	}
	for _, v := range all {
		if !yield(v) {
			return
		}
	}
}

// readCached returns a cached partition. A disk block that cannot be read
// or decoded is dropped and reported missing: the partition is recomputed
// from its lineage, as Spark does for a lost block.
func readCached[T any](tc *TaskContext, r *RDD[T], k blocks.Key) ([]T, bool) {
	bm := tc.sess.cache
	data, encoded, b, err := bm.Get(k)
	if err != nil {
		tc.sess.log.Warn("cached block lost, recomputing", "rdd", k.Node, "partition", k.Part, "err", err)
		bm.RemoveIf(b)
		return nil, false
	}
	if b == nil {
		return nil, false
	}
	if encoded == nil {
		vals, _ := data.([]T)
		return vals, true
	}
	vals, ok := decodeCached(tc, r, k, encoded)
	if !ok {
		bm.RemoveIf(b)
	}
	return vals, ok
}

// decodeCached decodes an encoded cached partition; false when it is
// corrupt (the caller recomputes it).
func decodeCached[T any](tc *TaskContext, r *RDD[T], k blocks.Key, encoded []byte) ([]T, bool) {
	vals := []T{}
	var a codec.Arena
	for len(encoded) > 0 {
		v, n, err := codec.DecodeIn(r.codec, encoded, &a)
		if err != nil {
			tc.sess.log.Warn("cached block corrupt, recomputing", "rdd", k.Node, "partition", k.Part, "err", err)
			return nil, false
		}
		vals = append(vals, v)
		encoded = encoded[n:]
	}
	return vals, true
}

// estimateSize guesses the memory held by a partition: the fixed size of T
// per element, plus the encoded size of a sample for what T points to.
func estimateSize[T any](r *RDD[T], all []T) int64 {
	if len(all) == 0 {
		return 64
	}
	fixed := int64(reflect.TypeFor[T]().Size())
	step := max(len(all)/16, 1)
	var buf []byte
	var enc, n int64
	for i := 0; i < len(all); i += step {
		buf = r.codec.Append(buf[:0], all[i])
		enc += int64(len(buf))
		n++
	}
	return int64(len(all)) * (fixed + enc/n)
}

// Unpersist removes a dataset's cached partitions from a session and stops
// caching it.
func Unpersist[T any](s *Session, r *RDD[T]) {
	r.n.level.Store(int32(None))
	s.cache.RemoveNode(r.n.id)
	if s.cluster != nil {
		s.cluster.cached.forget(r.n.id)
	}
}
