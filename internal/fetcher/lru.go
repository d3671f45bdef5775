package fetcher

import (
	"container/list"
	"strconv"
)

// lruTable is the cache's bookkeeping, with no files and no locks: which
// keys have entries, how many fetches use each, how many bytes are claimed,
// and the order of last use. The cache shell owns one, under its mutex, and
// does the I/O its answers call for.
type lruTable struct {
	capacity int64
	used     int64 // bytes claimed by reserved entries
	entries  map[string]*cacheEntry
	order    *list.List // of *cacheEntry; front = least recently used
	serial   uint64     // numbers cache file names
}

// cacheEntry is one (user, URI) in the cache. Its file is complete once
// ready is true; until then the fetch that created it is downloading.
type cacheEntry struct {
	key    string
	file   string // cache file name, unique per entry
	size   int64  // bytes claimed; 0 until reserved
	refs   int    // fetches using the entry (the downloader counts)
	ready  bool
	failed error         // set when the download failed
	done   chan struct{} // closed once ready or failed
	elem   *list.Element
}

func newLRUTable(capacity int64) *lruTable {
	return &lruTable{capacity: capacity, entries: map[string]*cacheEntry{}, order: list.New()}
}

// acquire returns the entry for key and takes a reference on it. created
// says the entry is new: the caller must download it and then call
// complete or fail.
func (t *lruTable) acquire(key, base string) (e *cacheEntry, created bool) {
	if e = t.entries[key]; e != nil {
		e.refs++
		t.order.MoveToBack(e.elem)
		return e, false
	}
	t.serial++
	e = &cacheEntry{key: key, file: cacheFileName(t.serial, base), refs: 1, done: make(chan struct{})}
	e.elem = t.order.PushBack(e)
	t.entries[key] = e
	return e, true
}

// reserve claims size bytes for a new entry, evicting least recently used
// entries that are complete and unused. It returns the evicted entries
// (whose files the caller deletes) and false when the entry cannot be
// cached: larger than the whole cache, or the space is held by entries in
// use. Nothing is evicted then.
func (t *lruTable) reserve(e *cacheEntry, size int64) (victims []*cacheEntry, ok bool) {
	if size < 0 || size > t.capacity {
		return nil, false
	}
	need := t.used + size - t.capacity
	var freed int64
	for el := t.order.Front(); el != nil && freed < need; el = el.Next() {
		v := el.Value.(*cacheEntry)
		if v == e || v.refs > 0 || !v.ready {
			continue
		}
		victims = append(victims, v)
		freed += v.size
	}
	if freed < need {
		return nil, false
	}
	for _, v := range victims {
		t.remove(v)
	}
	t.used += size
	e.size = size
	return victims, true
}

// complete marks a downloaded entry usable.
func (t *lruTable) complete(e *cacheEntry) { e.ready = true }

// fail drops an entry whose download failed (or that cannot be cached),
// releasing its space; later acquires of its key start afresh.
func (t *lruTable) fail(e *cacheEntry, err error) {
	e.failed = err
	if t.entries[e.key] == e {
		t.remove(e)
	}
}

// release drops a reference taken by acquire.
func (t *lruTable) release(e *cacheEntry) {
	if e.refs > 0 {
		e.refs--
	}
}

func (t *lruTable) remove(e *cacheEntry) {
	delete(t.entries, e.key)
	t.order.Remove(e.elem)
	t.used -= e.size
	e.size = 0
}

// cacheFileName keeps the URI's base name (shortened) so that a cache file
// is recognisable, and its extension so that archives stay recognisable.
func cacheFileName(serial uint64, base string) string {
	if len(base) > 40 {
		base = base[:15] + "_" + base[len(base)-24:]
	}
	return "c" + strconv.FormatUint(serial, 10) + "-" + base
}
