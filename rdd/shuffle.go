package rdd

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/mesoproject/meso/rdd/codec"
	"github.com/mesoproject/meso/rdd/internal/shuffle"
	"github.com/mesoproject/meso/rdd/internal/shufflenet"
)

// shuffleDep is a shuffle dependency: map tasks over mapNode's partitions
// write blocks for the partitions of reduceNode (the child). How many of
// each a session resolved travels in the task descriptor (tc.shuffle).
type shuffleDep struct {
	id         int
	mapNode    *node
	reduceNode *node // set by newNode
	// writeMap runs map task m and returns the size of each reducer's block.
	writeMap func(tc *TaskContext, m int) ([]int64, error)
}

var shuffleSeq atomic.Int64

func newShuffleDep(mapNode *node) *shuffleDep {
	return &shuffleDep{id: int(shuffleSeq.Add(1)), mapNode: mapNode}
}

// shuffleParts chooses a shuffle's partition count: explicit, else the
// default parallelism, else the largest parent.
func shuffleParts(explicit int, env resolveEnv, parents ...*node) int {
	if explicit > 0 {
		return explicit
	}
	if env.def.shuffle > 0 {
		return env.def.shuffle
	}
	n := 1
	for _, p := range parents {
		n = max(n, env.parts(p))
	}
	return n
}

// shuffleResolve resolves the reduce side of a shuffle from one parent.
func shuffleResolve(explicit int, parent *node) func(resolveEnv) resolution {
	return func(env resolveEnv) resolution { return resolution{parts: shuffleParts(explicit, env, parent)} }
}

// writeShuffle writes the (key, value) records that input yields for map
// task m of d, partitioned by part.
func writeShuffle[K, W any](tc *TaskContext, d *shuffleDep, m int, part func(K) int,
	kc codec.Codec[K], wc codec.Codec[W], input func(yield func(K, W) bool)) ([]int64, error) {
	s := tc.sess
	sh := tc.shuffle(d) // the driver's id and counts, also in a rebuilt lineage
	w := s.store.NewWriter(sh.ID, m, sh.Reducers, s.cfg.ShuffleMemory/2)
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
	if nf, ok := tc.fetch.(*netFetcher); ok {
		if wants, ok := nf.wants(tc.shuffle(d).ID, r); ok {
			readShuffleBatched(tc, nf, d, r, wants, kc, wc, yield)
			return
		}
	}
	for m := range tc.shuffle(d).Maps {
		if !readBlock(tc, d, m, r, kc, wc, yield) {
			return
		}
	}
}

// errStopFetch stops a batched fetch whose consumer wants no more records.
var errStopFetch = errors.New("rdd: consumer stopped")

// readShuffleBatched yields reducer r's records fetched in batches from the
// executors holding them (blocks in arrival order, not map order).
func readShuffleBatched[K, W any](tc *TaskContext, nf *netFetcher, d *shuffleDep, r int, wants []shufflenet.Want,
	kc codec.Codec[K], wc codec.Codec[W], yield func(k K, v W, size int) bool) {
	id := tc.shuffle(d).ID
	began := time.Now()
	var decoding time.Duration
	defer func() { tc.metrics.ShuffleFetchWait += time.Since(began) - decoding }()
	err := nf.e.batch.Fetch(tc.ctx, id, wants, func(b shufflenet.Block) error {
		t0 := time.Now()
		defer func() { decoding += time.Since(t0) }()
		defer b.Release()
		tc.metrics.ShuffleBytesRead += int64(len(b.Data))
		switch b.From {
		case shufflenet.Local:
			tc.metrics.ShuffleLocalBlocks++
		case shufflenet.HostLocal:
			tc.metrics.ShuffleHostLocalBlocks++
		default:
			tc.metrics.ShuffleRemoteBlocks++
		}
		if !decodeBlock(tc, id, b.Map, r, b.Data, kc, wc, yield) {
			return errStopFetch
		}
		return nil
	})
	var ffe *shufflenet.FetchFailedError
	switch {
	case err == nil, errors.Is(err, errStopFetch):
	case errors.As(err, &ffe):
		maps := ffe.Maps()
		tc.fail(&lostOutputs{first: &shuffle.FetchError{Block: shuffle.BlockID{Shuffle: id, Map: maps[0], Reduce: r}, Err: err},
			shuffle: id, maps: maps})
	default:
		tc.fail(fmt.Errorf("rdd: shuffle %d reduce %d: %w", id, r, err))
	}
}

// readBlock yields the records of map m's block for reducer r, and reports
// whether to go on. The block's bytes are released when it returns (also
// when a user function panics): records are decoded into copies.
func readBlock[K, W any](tc *TaskContext, d *shuffleDep, m, r int, kc codec.Codec[K], wc codec.Codec[W],
	yield func(k K, v W, size int) bool) bool {
	id := tc.shuffle(d).ID
	b, release, err := tc.fetcher().Fetch(shuffle.BlockID{Shuffle: id, Map: m, Reduce: r})
	if err != nil {
		tc.fail(lostFrom(tc, d, r, m, err))
		return false
	}
	defer release()
	tc.metrics.ShuffleBytesRead += int64(len(b))
	return decodeBlock(tc, id, m, r, b, kc, wc, yield)
}

// decodeBlock yields the records of one block and reports whether to go on.
func decodeBlock[K, W any](tc *TaskContext, id, m, r int, b []byte, kc codec.Codec[K], wc codec.Codec[W],
	yield func(k K, v W, size int) bool) bool {
	for len(b) > 0 {
		k, n, err := kc.Decode(b)
		if err != nil {
			tc.fail(fmt.Errorf("rdd: shuffle %d map %d reduce %d: %w", id, m, r, err))
			return false
		}
		v, n2, err := wc.Decode(b[n:])
		if err != nil {
			tc.fail(fmt.Errorf("rdd: shuffle %d map %d reduce %d: %w", id, m, r, err))
			return false
		}
		b = b[n+n2:]
		if !tc.alive() || !yield(k, v, n+n2) {
			return false
		}
	}
	return true
}

// lostOutputs reports every map output of a shuffle that a reducer could
// not fetch, so that the scheduler recomputes them all in one stage attempt.
type lostOutputs struct {
	first   error // the first fetch error (wraps *shuffle.FetchError)
	shuffle int
	maps    []int
}

func (e *lostOutputs) Error() string {
	if len(e.maps) == 1 {
		return e.first.Error()
	}
	return fmt.Sprintf("%v (%d map outputs of shuffle %d lost: %v)", e.first, len(e.maps), e.shuffle, e.maps)
}

func (e *lostOutputs) Unwrap() error { return e.first }

// lostFrom builds a lostOutputs after fetching map m failed with err,
// probing the reducer's blocks of the later map outputs too.
func lostFrom(tc *TaskContext, d *shuffleDep, r, m int, err error) error {
	if !errors.Is(err, shuffle.ErrFetchFailed) {
		return err
	}
	sh := tc.shuffle(d)
	lost := &lostOutputs{first: err, shuffle: sh.ID, maps: []int{m}}
	for m2 := m + 1; m2 < sh.Maps; m2++ {
		_, release, err := tc.fetcher().Fetch(shuffle.BlockID{Shuffle: sh.ID, Map: m2, Reduce: r})
		if errors.Is(err, shuffle.ErrFetchFailed) {
			lost.maps = append(lost.maps, m2)
		} else if err == nil {
			release()
		}
	}
	return lost
}

// hashFunc returns a deterministic hash for K, the same in every process
// and consistent with ==: integers hash to themselves (as in Spark, so
// integer keys spread by value), strings by FNV-1a, floats by FNV-1a of
// their bits with -0 taken as +0 (they are ==), anything else by FNV-1a of
// its encoding.
func hashFunc[K any]() func(K) uint64 {
	t := reflect.TypeFor[K]()
	if t != nil {
		switch t.Kind() {
		case reflect.Int, reflect.Int64, reflect.Int32, reflect.Int16, reflect.Int8:
			return func(k K) uint64 { return uint64(loadSigned(unsafe.Pointer(&k), t.Size())) }
		case reflect.Uint, reflect.Uint64, reflect.Uint32, reflect.Uint16, reflect.Uint8, reflect.Uintptr:
			return func(k K) uint64 { return loadUnsigned(unsafe.Pointer(&k), t.Size()) }
		case reflect.String:
			return func(k K) uint64 { return fnvString(*(*string)(unsafe.Pointer(&k))) }
		case reflect.Float64:
			return func(k K) uint64 { return fnvUint64(math.Float64bits(canonicalFloat(*(*float64)(unsafe.Pointer(&k))))) }
		case reflect.Float32:
			return func(k K) uint64 {
				return fnvUint64(uint64(math.Float32bits(float32(canonicalFloat(float64(*(*float32)(unsafe.Pointer(&k))))))))
			}
		}
	}
	kc := codec.For[K]()
	return func(k K) uint64 {
		h := fnv.New64a()
		h.Write(kc.Append(nil, k))
		return h.Sum64()
	}
}

// canonicalFloat maps -0 to +0 and every NaN to one NaN, so that keys equal
// under == (and NaNs, which are never equal) hash alike in every process.
func canonicalFloat(f float64) float64 {
	switch {
	case f == 0:
		return 0
	case f != f:
		return math.NaN()
	}
	return f
}

func loadSigned(p unsafe.Pointer, size uintptr) int64 {
	switch size {
	case 1:
		return int64(*(*int8)(p))
	case 2:
		return int64(*(*int16)(p))
	case 4:
		return int64(*(*int32)(p))
	}
	return *(*int64)(p)
}

func loadUnsigned(p unsafe.Pointer, size uintptr) uint64 {
	switch size {
	case 1:
		return uint64(*(*uint8)(p))
	case 2:
		return uint64(*(*uint16)(p))
	case 4:
		return uint64(*(*uint32)(p))
	}
	return *(*uint64)(p)
}

func fnvUint64(x uint64) uint64 {
	h := uint64(14695981039346656037)
	for range 8 {
		h ^= x & 0xff
		h *= 1099511628211
		x >>= 8
	}
	return h
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
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Int16, reflect.Int8:
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

// externalAgg combines records into one combiner per key, within the task's
// shuffle memory: beyond it the combiners are spilled as sorted runs (by
// encoded key) and merged by finish.
type externalAgg[K comparable, W, C any] struct {
	tc     *TaskContext
	kc     codec.Codec[K]
	cc     codec.Codec[C]
	agg    aggregator[W, C]
	budget int64
	m      map[K]C
	size   int64
	sorter *shuffle.Sorter[aggEntry[K, C]]
	canon  func(K) K // canonicalKey, or nil
}

func newExternalAgg[K comparable, W, C any](tc *TaskContext, kc codec.Codec[K], cc codec.Codec[C], agg aggregator[W, C]) *externalAgg[K, W, C] {
	return &externalAgg[K, W, C]{tc: tc, kc: kc, cc: cc, agg: agg, budget: tc.sess.cfg.ShuffleMemory, m: map[K]C{},
		canon: canonicalKey[K]()}
}

// add adds one record whose encoding took n bytes.
func (a *externalAgg[K, W, C]) add(k K, w W, n int) {
	if c, ok := a.m[k]; ok {
		a.m[k] = a.agg.merge(c, w)
		a.size += int64(n)
	} else {
		a.m[k] = a.agg.create(w)
		a.size += int64(n) + 48
	}
	if a.size > a.budget {
		a.spill()
	}
}

// keyBytes encodes k for the spilled runs' order. Float keys are
// canonicalised first, so -0 and +0 (equal keys) sort and merge together.
func (a *externalAgg[K, W, C]) keyBytes(k K) []byte {
	if a.canon != nil {
		k = a.canon(k)
	}
	return a.kc.Append(nil, k)
}

// canonicalKey returns a function mapping float keys to canonicalFloat, or
// nil for other key types.
func canonicalKey[K any]() func(K) K {
	t := reflect.TypeFor[K]()
	if t == nil {
		return nil
	}
	switch t.Kind() {
	case reflect.Float64:
		return func(k K) K {
			p := (*float64)(unsafe.Pointer(&k))
			*p = canonicalFloat(*p)
			return k
		}
	case reflect.Float32:
		return func(k K) K {
			p := (*float32)(unsafe.Pointer(&k))
			*p = float32(canonicalFloat(float64(*p)))
			return k
		}
	}
	return nil
}

func (a *externalAgg[K, W, C]) spill() {
	if a.sorter == nil {
		a.sorter = newAggSorter(a.tc, a.kc, a.cc)
	}
	for k, c := range a.m {
		a.sorter.Add(aggEntry[K, C]{kb: a.keyBytes(k), k: k, c: c}, 0)
	}
	if err := a.sorter.Spill(); err != nil {
		a.tc.fail(err)
	}
	clear(a.m)
	a.size = 0
}

// close releases the spilled runs (after finish, or when the task failed or
// panicked before it).
func (a *externalAgg[K, W, C]) close() {
	if a.sorter != nil {
		a.sorter.Close()
	}
}

// finish passes every key's combiner to out.
func (a *externalAgg[K, W, C]) finish(out func(K, C) bool) {
	tc := a.tc
	if tc.err != nil {
		return
	}
	if a.sorter == nil {
		for k, c := range a.m {
			if !out(k, c) {
				return
			}
		}
		return
	}
	_, spilled := a.sorter.Spilled()
	tc.metrics.SpillBytes += spilled
	for k, c := range a.m {
		a.sorter.Add(aggEntry[K, C]{kb: a.keyBytes(k), k: k, c: c}, 0)
	}
	clear(a.m)
	var cur *aggEntry[K, C]
	err := a.sorter.Sorted(func(e aggEntry[K, C]) bool {
		// Equal keys have equal bytes; NaNs have equal bytes but are never
		// equal (as in a Go map, each NaN record is a key of its own).
		if cur != nil && bytes.Equal(cur.kb, e.kb) && cur.k == e.k {
			cur.c = a.agg.mergeC(cur.c, e.c)
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

// reduceAggregate runs the records of in through an externalAgg.
func reduceAggregate[K comparable, W, C any](tc *TaskContext, kc codec.Codec[K], cc codec.Codec[C], agg aggregator[W, C],
	in func(yield func(K, W, int) bool), out func(K, C) bool) {
	a := newExternalAgg(tc, kc, cc, agg)
	defer a.close()
	in(func(k K, w W, n int) bool {
		a.add(k, w, n)
		return tc.err == nil
	})
	a.finish(out)
}

// reduceGroup groups values by key. While the records fit in the shuffle
// memory it buffers them, then sizes each group exactly (one allocation for
// all groups, keys in order of first appearance); beyond the budget it falls
// back to the spilling aggregator.
func reduceGroup[K comparable, V any](tc *TaskContext, kc codec.Codec[K], cc codec.Codec[[]V],
	in func(yield func(K, V, int) bool), out func(K, []V) bool) {
	budget := tc.sess.cfg.ShuffleMemory
	pool := poolFor[Pair[K, V]]()
	bufp := pool.Get().(*[]Pair[K, V])
	recs := (*bufp)[:0]
	defer func() {
		clear(recs)
		*bufp = recs[:0]
		pool.Put(bufp)
	}()
	var size int64
	var ext *externalAgg[K, V, []V]
	defer func() {
		if ext != nil {
			ext.close() // its spilled runs, also when the task fails or panics
		}
	}()
	in(func(k K, v V, n int) bool {
		if ext != nil {
			ext.add(k, v, n)
			return tc.err == nil
		}
		recs = append(recs, Pair[K, V]{k, v})
		size += int64(n) + 16
		if size > budget {
			ext = newExternalAgg(tc, kc, cc, groupAggregator[V]())
			for _, r := range recs {
				ext.add(r.Key, r.Value, 16)
			}
			recs = recs[:0]
		}
		return tc.err == nil
	})
	if ext != nil {
		ext.finish(out)
		return
	}
	if tc.err != nil {
		return
	}
	// Count per key, carve one backing array into capped groups, fill them.
	// Each record's group is noted in the counting pass, so the filling
	// pass needs no lookup, and a key unequal to itself (a NaN, never
	// found in a map: a group per record) fills its own group. Records of
	// one key tend to arrive together (a block holds a map task's records
	// in their input order): the last key's group is tried before the map.
	gpool := poolFor[int]()
	gbuf := gpool.Get().(*[]int)
	group := slices.Grow((*gbuf)[:0], len(recs))[:len(recs)]
	defer func() {
		*gbuf = group[:0]
		gpool.Put(gbuf)
	}()
	index := map[K]int{}
	var keys []K
	var counts []int
	last, lastI := *new(K), -1
	for j, r := range recs {
		i := lastI
		if i < 0 || r.Key != last {
			var ok bool
			if i, ok = index[r.Key]; !ok {
				i = len(keys)
				index[r.Key] = i
				keys = append(keys, r.Key)
				counts = append(counts, 0)
			}
			last, lastI = r.Key, i
		}
		group[j] = i
		counts[i]++
	}
	backing := make([]V, len(recs))
	starts := make([]int, len(keys)+1)
	for i, c := range counts {
		starts[i+1] = starts[i] + c
	}
	next := counts[:0] // reuse: next free slot of each group
	next = append(next, starts[:len(keys)]...)
	for j, r := range recs {
		i := group[j]
		backing[next[i]] = r.Value
		next[i]++
	}
	for i, k := range keys {
		if !out(k, backing[starts[i]:starts[i+1]:starts[i+1]]) {
			return
		}
	}
}

var recordPools sync.Map // reflect.Type of a record -> *sync.Pool of *[]record

// poolFor returns a pool of reusable record buffers of type T, so that
// reducers do not regrow a buffer for every task.
func poolFor[T any]() *sync.Pool {
	t := reflect.TypeFor[T]()
	if p, ok := recordPools.Load(t); ok {
		return p.(*sync.Pool)
	}
	p, _ := recordPools.LoadOrStore(t, &sync.Pool{New: func() any { return new([]T) }})
	return p.(*sync.Pool)
}

func groupAggregator[V any]() aggregator[V, []V] {
	return aggregator[V, []V]{
		create: func(v V) []V { return []V{v} },
		merge:  func(c []V, v V) []V { return append(c, v) },
		mergeC: func(a, b []V) []V { return append(a, b...) },
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
