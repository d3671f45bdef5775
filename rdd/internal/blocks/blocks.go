package blocks

import (
	"container/list"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
)

// Key names a cached partition: the driver's dataset id and the partition.
type Key struct{ Node, Part int }

// Level says where a block is kept (the values of rdd.StorageLevel).
type Level int

const (
	None Level = iota
	MemoryOnly
	MemoryAndDisk
	DiskOnly
)

// Block is one cached partition: in memory (data, a []T) or on disk (path),
// with closures to move it between the two.
type Block struct {
	key    Key
	level  Level
	data   any    // []T while in memory
	path   string // encoded file while on disk
	size   int64  // estimated bytes in memory
	encode func(data any) []byte
	elem   *list.Element // position in the LRU while in memory
}

// Manager keeps cached partitions within a memory budget. Partitions
// evicted from memory go to disk (MemoryAndDisk) or are dropped (MemoryOnly)
// and recomputed by the next job that needs them.
type Manager struct {
	dir    string
	budget int64

	mu     sync.Mutex
	blocks map[Key]*Block // guarded by mu
	lru    *list.List     // guarded by mu; in-memory blocks, front = recent
	used   int64          // guarded by mu

	fileSeq atomic.Int64 // names disk blocks: a fresh name per write
}

// New returns a manager keeping at most budget bytes in memory and its disk
// blocks in dir.
func New(dir string, budget int64) *Manager {
	return &Manager{dir: dir, budget: budget, blocks: map[Key]*Block{}, lru: list.New()}
}

// Has reports whether partition k is cached.
func (bm *Manager) Has(k Key) bool {
	bm.mu.Lock()
	defer bm.mu.Unlock()
	_, ok := bm.blocks[k]
	return ok
}

// RemoveNode drops every partition of a dataset.
func (bm *Manager) RemoveNode(node int) {
	bm.mu.Lock()
	defer bm.mu.Unlock()
	for k, b := range bm.blocks {
		if k.Node == node {
			bm.dropLocked(b)
		}
	}
}

func (bm *Manager) dropLocked(b *Block) {
	if b.elem != nil {
		bm.lru.Remove(b.elem)
		bm.used -= b.size
	}
	if b.path != "" {
		os.Remove(b.path)
	}
	delete(bm.blocks, b.key)
}

// Get returns the in-memory data of a block, or its encoded bytes from disk.
// A block replaced or dropped while its file was being read is looked up
// again; only a block that is still current and unreadable is an error.
func (bm *Manager) Get(k Key) (data any, encoded []byte, b *Block, err error) {
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

// RemoveIf drops block b if it is still the cached block of its key (not
// one stored since by another task).
func (bm *Manager) RemoveIf(b *Block) {
	bm.mu.Lock()
	defer bm.mu.Unlock()
	if bm.blocks[b.key] == b {
		bm.dropLocked(b)
	}
}

// Put stores a computed partition at level; encode turns its data into
// bytes when it goes to disk.
func (bm *Manager) Put(k Key, level Level, data any, size int64, encode func(any) []byte) error {
	b := &Block{key: k, level: level, data: data, size: size, encode: encode}
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
	if !bm.makeRoomLocked(k.Node, size) {
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
func (bm *Manager) makeRoomLocked(node int, size int64) bool {
	free := bm.budget - bm.used
	var victims []*Block
	for e := bm.lru.Back(); e != nil && free < size; e = e.Prev() {
		if b := e.Value.(*Block); b.key.Node != node {
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
func (bm *Manager) evictLocked(b *Block) error {
	bm.lru.Remove(b.elem)
	b.elem = nil
	bm.used -= b.size
	if b.level == MemoryAndDisk {
		return bm.writeDisk(b)
	}
	delete(bm.blocks, b.key)
	return nil
}

func (bm *Manager) writeDisk(b *Block) error {
	if err := os.MkdirAll(bm.dir, 0o755); err != nil {
		return fmt.Errorf("rdd: cache to disk: %w", err)
	}
	// A fresh name per write: a reader of an older block of this partition
	// never sees this file half-written.
	path := filepath.Join(bm.dir, "rdd_"+strconv.Itoa(b.key.Node)+"_"+strconv.Itoa(b.key.Part)+"_"+
		strconv.FormatInt(bm.fileSeq.Add(1), 10))
	if err := os.WriteFile(path, b.encode(b.data), 0o644); err != nil {
		os.Remove(path)
		return fmt.Errorf("rdd: cache to disk: %w", err)
	}
	b.path, b.data = path, nil
	return nil
}

// RemoveDiskFiles deletes the files of every disk block behind the
// manager's back (fault injection) and returns how many.
func (bm *Manager) RemoveDiskFiles() int {
	bm.mu.Lock()
	defer bm.mu.Unlock()
	n := 0
	for _, b := range bm.blocks {
		if b.path != "" && os.Remove(b.path) == nil {
			n++
		}
	}
	return n
}

// Len returns the number of cached blocks.
func (bm *Manager) Len() int {
	bm.mu.Lock()
	defer bm.mu.Unlock()
	return len(bm.blocks)
}

// Encoded returns block k's bytes as its encode function writes them (read
// from disk, or encoded from memory), for another executor; false when k is
// not cached here.
func (bm *Manager) Encoded(k Key) ([]byte, bool, error) {
	data, encoded, b, err := bm.Get(k)
	if err != nil || b == nil {
		return nil, false, err
	}
	if encoded != nil {
		return encoded, true, nil
	}
	return b.encode(data), true, nil
}
