package rdd

import (
	"container/list"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
)

type blockKey struct{ node, part int }

// block is one cached partition: in memory (data, a []T) or on disk (path),
// with closures to move it between the two.
type block struct {
	key    blockKey
	level  StorageLevel
	data   any    // []T while in memory
	path   string // encoded file while on disk
	size   int64  // estimated bytes in memory
	encode func(data any) []byte
	elem   *list.Element // position in the LRU while in memory
}

// blockManager keeps cached partitions within a memory budget. Partitions
// evicted from memory go to disk (MemoryAndDisk) or are dropped (MemoryOnly)
// and recomputed by the next job that needs them.
type blockManager struct {
	dir    string
	budget int64

	mu     sync.Mutex
	blocks map[blockKey]*block // guarded by mu
	lru    *list.List          // guarded by mu; in-memory blocks, front = recent
	used   int64               // guarded by mu
}

func newBlockManager(dir string, budget int64) *blockManager {
	return &blockManager{dir: dir, budget: budget, blocks: map[blockKey]*block{}, lru: list.New()}
}

func (bm *blockManager) has(k blockKey) bool {
	bm.mu.Lock()
	defer bm.mu.Unlock()
	_, ok := bm.blocks[k]
	return ok
}

// remove drops every partition of a node.
func (bm *blockManager) removeNode(node int) {
	bm.mu.Lock()
	defer bm.mu.Unlock()
	for k, b := range bm.blocks {
		if k.node == node {
			bm.dropLocked(b)
		}
	}
}

func (bm *blockManager) dropLocked(b *block) {
	if b.elem != nil {
		bm.lru.Remove(b.elem)
		bm.used -= b.size
	}
	if b.path != "" {
		os.Remove(b.path)
	}
	delete(bm.blocks, b.key)
}

// get returns the in-memory data of a block, or its encoded bytes from disk.
// A block replaced or dropped while its file was being read is looked up
// again; only a block that is still current and unreadable is an error.
func (bm *blockManager) get(k blockKey) (data any, encoded []byte, b *block, err error) {
	for {
		bm.mu.Lock()
		b = bm.blocks[k]
		if b == nil {
			bm.mu.Unlock()
			return nil, nil, nil, nil
		}
		if b.elem != nil {
			bm.lru.MoveToFront(b.elem)
			data := b.data // read under mu: eviction clears it
			bm.mu.Unlock()
			return data, nil, b, nil
		}
		path := b.path
		bm.mu.Unlock()
		encoded, err = os.ReadFile(path)
		if err == nil {
			return nil, encoded, b, nil
		}
		bm.mu.Lock()
		current := bm.blocks[k] == b
		bm.mu.Unlock()
		if current {
			return nil, nil, b, fmt.Errorf("rdd: read cached block: %w", err)
		}
	}
}

// removeIf drops block b if it is still the cached block of its key (not
// one stored since by another task).
func (bm *blockManager) removeIf(b *block) {
	bm.mu.Lock()
	defer bm.mu.Unlock()
	if bm.blocks[b.key] == b {
		bm.dropLocked(b)
	}
}

// put stores a computed partition at level.
func (bm *blockManager) put(k blockKey, level StorageLevel, data any, size int64, encode func(any) []byte) error {
	b := &block{key: k, level: level, data: data, size: size, encode: encode}
	if level == DiskOnly {
		if err := bm.writeDisk(b); err != nil {
			return err
		}
		bm.mu.Lock()
		defer bm.mu.Unlock()
		if old := bm.blocks[k]; old != nil {
			bm.dropLocked(old)
		}
		bm.blocks[k] = b
		return nil
	}
	bm.mu.Lock()
	defer bm.mu.Unlock()
	if old := bm.blocks[k]; old != nil {
		bm.dropLocked(old)
	}
	if !bm.makeRoomLocked(k.node, size) {
		// Like Spark, blocks of the same dataset are not evicted for one
		// another (a scan would evict what the next scan needs first).
		if level == MemoryAndDisk {
			if err := bm.writeDisk(b); err != nil {
				return err
			}
			bm.blocks[k] = b
		}
		return nil // no room in memory: not cached
	}
	bm.blocks[k] = b
	b.elem = bm.lru.PushFront(b)
	bm.used += size
	return nil
}

// makeRoomLocked evicts least recently used blocks of other datasets until
// size more bytes fit; it reports whether they do.
func (bm *blockManager) makeRoomLocked(node int, size int64) bool {
	free := bm.budget - bm.used
	var victims []*block
	for e := bm.lru.Back(); e != nil && free < size; e = e.Prev() {
		if b := e.Value.(*block); b.key.node != node {
			victims = append(victims, b)
			free += b.size
		}
	}
	if free < size {
		return false
	}
	for _, b := range victims {
		if err := bm.evictLocked(b); err != nil {
			bm.dropLocked(b) // could not move it to disk: drop it
		}
	}
	return true
}

// evictLocked moves a block out of memory: to disk, or away.
func (bm *blockManager) evictLocked(b *block) error {
	bm.lru.Remove(b.elem)
	b.elem = nil
	bm.used -= b.size
	if b.level == MemoryAndDisk {
		return bm.writeDisk(b)
	}
	delete(bm.blocks, b.key)
	return nil
}

var blockFileSeq atomic.Int64

func (bm *blockManager) writeDisk(b *block) error {
	if err := os.MkdirAll(bm.dir, 0o755); err != nil {
		return fmt.Errorf("rdd: cache to disk: %w", err)
	}
	// A fresh name per write: a reader of an older block of this partition
	// never sees this file half-written.
	path := filepath.Join(bm.dir, "rdd_"+strconv.Itoa(b.key.node)+"_"+strconv.Itoa(b.key.part)+"_"+
		strconv.FormatInt(blockFileSeq.Add(1), 10))
	if err := os.WriteFile(path, b.encode(b.data), 0o644); err != nil {
		os.Remove(path)
		return fmt.Errorf("rdd: cache to disk: %w", err)
	}
	b.path, b.data = path, nil
	return nil
}

// cachedIterate serves partition p of a persisted dataset from the cache,
// computing and storing it on a miss.
func cachedIterate[T any](tc *TaskContext, r *RDD[T], p int, yield func(T) bool) {
	bm := tc.sess.cache
	k := blockKey{tc.node(r.n).ID, p} // the driver's id, also in a rebuilt lineage
	if vals, ok := readCached(tc, r, k); ok {
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
	if err := bm.put(k, StorageLevel(r.n.level.Load()), all, estimateSize(r, all), encode); err != nil {
		tc.fail(err)
		return
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
func readCached[T any](tc *TaskContext, r *RDD[T], k blockKey) ([]T, bool) {
	bm := tc.sess.cache
	data, encoded, b, err := bm.get(k)
	if err != nil {
		tc.sess.log.Warn("cached block lost, recomputing", "rdd", k.node, "partition", k.part, "err", err)
		bm.removeIf(b)
		return nil, false
	}
	if b == nil {
		return nil, false
	}
	if encoded == nil {
		vals, _ := data.([]T)
		return vals, true
	}
	var vals []T
	for len(encoded) > 0 {
		v, n, err := r.codec.Decode(encoded)
		if err != nil {
			tc.sess.log.Warn("cached block corrupt, recomputing", "rdd", k.node, "partition", k.part, "err", err)
			bm.removeIf(b)
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
	s.cache.removeNode(r.n.id)
}
