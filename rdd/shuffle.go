package rdd

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"reflect"
	"sync/atomic"
	"unsafe"

	"github.com/mesoproject/meso/rdd/codec"
	"github.com/mesoproject/meso/rdd/internal/shuffle"
)

// shuffleDep is a shuffle dependency: map tasks over mapNode's partitions
// write blocks for reducers partitions.
type shuffleDep struct {
	id       int
	mapNode  *node
	reducers int // the child's partition count, set when resolved
	// writeMap runs map task m and returns the size of each reducer's block.
	writeMap func(tc *TaskContext, m int) ([]int64, error)
}

var shuffleSeq atomic.Int64

func newShuffleDep(mapNode *node) *shuffleDep {
	return &shuffleDep{id: int(shuffleSeq.Add(1)), mapNode: mapNode}
}

// shuffleParts chooses a shuffle's partition count: explicit, else the
// default parallelism, else the largest parent.
func shuffleParts(explicit int, def defaults, parents ...*node) int {
	if explicit > 0 {
		return explicit
	}
	if def.shuffle > 0 {
		return def.shuffle
	}
	n := 1
	for _, p := range parents {
		n = max(n, p.parts)
	}
	return n
}

// writeShuffle writes the (key, value) records that input yields for map
// task m of d, partitioned by part.
func writeShuffle[K, W any](tc *TaskContext, d *shuffleDep, m int, part func(K) int,
	kc codec.Codec[K], wc codec.Codec[W], input func(yield func(K, W) bool)) ([]int64, error) {
	s := tc.sess
	w := s.store.NewWriter(d.id, m, d.reducers, s.cfg.ShuffleMemory/2)
	defer w.Abort()
	var recs int64
	input(func(k K, v W) bool {
		r := part(k)
		b := w.Buf(r)
		n := len(b)
		b = wc.Append(kc.Append(b, k), v)
		if err := w.Put(r, b, len(b)-n); err != nil {
			tc.fail(err)
			return false
		}
		recs++
		return tc.alive()
	})
	if tc.err != nil {
		return nil, tc.err
	}
	sizes, err := w.Commit()
	if err != nil {
		return nil, err
	}
	for _, n := range sizes {
		tc.metrics.ShuffleBytesWritten += n
	}
	tc.metrics.ShuffleRecords += recs
	tc.metrics.SpillBytes += w.SpilledBytes()
	return sizes, nil
}

// readShuffle yields reducer r's records of shuffle d with their encoded
// sizes, fetching each map output's block in turn.
func readShuffle[K, W any](tc *TaskContext, d *shuffleDep, r int, kc codec.Codec[K], wc codec.Codec[W],
	yield func(k K, v W, size int) bool) {
	for m := range d.mapNode.parts {
		b, err := tc.sess.fetch.Fetch(shuffle.BlockID{Shuffle: d.id, Map: m, Reduce: r})
		if err != nil {
			tc.fail(err)
			return
		}
		tc.metrics.ShuffleBytesRead += int64(len(b))
		for len(b) > 0 {
			k, n, err := kc.Decode(b)
			if err != nil {
				tc.fail(fmt.Errorf("rdd: shuffle %d map %d reduce %d: %w", d.id, m, r, err))
				return
			}
			v, n2, err := wc.Decode(b[n:])
			if err != nil {
				tc.fail(fmt.Errorf("rdd: shuffle %d map %d reduce %d: %w", d.id, m, r, err))
				return
			}
			b = b[n+n2:]
			if !tc.alive() || !yield(k, v, n+n2) {
				return
			}
		}
	}
}

// hashFunc returns a deterministic hash for K, the same in every process:
// integers hash to themselves (as in Spark, so integer keys spread by
// value), strings by FNV-1a, anything else by FNV-1a of its encoding.
func hashFunc[K any]() func(K) uint64 {
	t := reflect.TypeFor[K]()
	if t != nil {
		switch t.Kind() {
		case reflect.Int, reflect.Int64, reflect.Uint, reflect.Uint64, reflect.Uintptr:
			return func(k K) uint64 { return *(*uint64)(unsafe.Pointer(&k)) }
		case reflect.Int32:
			return func(k K) uint64 { return uint64(*(*int32)(unsafe.Pointer(&k))) }
		case reflect.Uint32:
			return func(k K) uint64 { return uint64(*(*uint32)(unsafe.Pointer(&k))) }
		case reflect.String:
			return func(k K) uint64 { return fnvString(*(*string)(unsafe.Pointer(&k))) }
		}
	}
	kc := codec.For[K]()
	return func(k K) uint64 {
		h := fnv.New64a()
		h.Write(kc.Append(nil, k))
		return h.Sum64()
	}
}

func fnvString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// hashPartitioner spreads keys over n partitions by hash. Signed integer
// keys use Spark's non-negative modulo.
func hashPartitioner[K any](n int) func(K) int {
	h := hashFunc[K]()
	switch reflect.TypeFor[K]().Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32:
		return func(k K) int {
			m := int64(h(k)) % int64(n)
			if m < 0 {
				m += int64(n)
			}
			return int(m)
		}
	}
	return func(k K) int { return int(h(k) % uint64(n)) }
}

// aggregator combines values V into combiners C per key, through records of
// type W arriving at the reducer (W is V, or C after a map-side combine).
type aggregator[W, C any] struct {
	create func(W) C
	merge  func(C, W) C
	// mergeC merges two combiners of one key (spilled runs).
	mergeC func(C, C) C
}

// aggEntry is a spilled combiner, ordered by its key's encoding.
type aggEntry[K, C any] struct {
	kb []byte
	k  K
	c  C
}

// reduceAggregate combines the records in into one combiner per key, within
// the task's shuffle memory: beyond it the combiners are spilled as sorted
// runs (by encoded key) and merged at the end.
func reduceAggregate[K comparable, W, C any](tc *TaskContext, kc codec.Codec[K], cc codec.Codec[C], agg aggregator[W, C],
	in func(yield func(K, W, int) bool), out func(K, C) bool) {
	budget := tc.sess.cfg.ShuffleMemory
	m := map[K]C{}
	var size int64
	var sorter *shuffle.Sorter[aggEntry[K, C]]
	spill := func() {
		if sorter == nil {
			sorter = newAggSorter(tc, kc, cc)
		}
		for k, c := range m {
			sorter.Add(aggEntry[K, C]{kb: kc.Append(nil, k), k: k, c: c}, 0)
		}
		if err := sorter.Spill(); err != nil {
			tc.fail(err)
		}
		clear(m)
		size = 0
	}
	in(func(k K, w W, n int) bool {
		if c, ok := m[k]; ok {
			m[k] = agg.merge(c, w)
			size += int64(n)
		} else {
			m[k] = agg.create(w)
			size += int64(n) + 48
		}
		if size > budget {
			spill()
		}
		return tc.err == nil
	})
	if tc.err != nil {
		return
	}
	if sorter == nil {
		for k, c := range m {
			if !out(k, c) {
				return
			}
		}
		return
	}
	_, spilled := sorter.Spilled()
	tc.metrics.SpillBytes += spilled
	for k, c := range m {
		sorter.Add(aggEntry[K, C]{kb: kc.Append(nil, k), k: k, c: c}, 0)
	}
	clear(m)
	var cur *aggEntry[K, C]
	err := sorter.Sorted(func(e aggEntry[K, C]) bool {
		if cur != nil && bytes.Equal(cur.kb, e.kb) {
			cur.c = agg.mergeC(cur.c, e.c)
			return true
		}
		if cur != nil && !out(cur.k, cur.c) {
			cur = nil
			return false
		}
		cur = &e
		return true
	})
	if err != nil {
		tc.fail(err)
		return
	}
	if cur != nil {
		out(cur.k, cur.c)
	}
}

func newAggSorter[K, C any](tc *TaskContext, kc codec.Codec[K], cc codec.Codec[C]) *shuffle.Sorter[aggEntry[K, C]] {
	return shuffle.NewSorter(tc.sess.store.Dir(), 1<<62,
		func(a, b aggEntry[K, C]) int { return bytes.Compare(a.kb, b.kb) },
		func(dst []byte, e aggEntry[K, C]) []byte {
			dst = binary.AppendUvarint(dst, uint64(len(e.kb)))
			return cc.Append(append(dst, e.kb...), e.c)
		},
		func(src []byte) (aggEntry[K, C], error) {
			l, n := binary.Uvarint(src)
			if n <= 0 || l > uint64(len(src)-n) {
				return aggEntry[K, C]{}, fmt.Errorf("rdd: bad spill record")
			}
			kb := append([]byte(nil), src[n:n+int(l)]...)
			k, _, err := kc.Decode(kb)
			if err != nil {
				return aggEntry[K, C]{}, err
			}
			c, _, err := cc.Decode(src[n+int(l):])
			return aggEntry[K, C]{kb: kb, k: k, c: c}, err
		})
}
