package shuffle

import (
	"container/list"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
)

// ErrFetchFailed is wrapped by every error fetching a block whose map output
// is missing or damaged; the map output must be recomputed.
var ErrFetchFailed = errors.New("shuffle: fetch failed")

// ErrDamaged is wrapped by the errors of a map output that exists but
// whose content is bad (footer, index, CRC), as opposed to one that could
// not be opened or mapped.
var ErrDamaged = errors.New("shuffle: damaged map output")

// damaged is an error of a map output's content; it is ErrDamaged.
type damaged string

func (d damaged) Error() string        { return string(d) }
func (d damaged) Is(target error) bool { return target == ErrDamaged }

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// A map output file holds the blocks, then the index (one entry per
// reducer: offset (8 bytes), length (8 bytes), CRC-32C (4 bytes)), then a
// footer: the reducer count (8 bytes) and a magic number (4 bytes).
const (
	indexEntrySize = 20
	footerSize     = 12
	footerMagic    = 0x6d65736f // "meso"
)

// BlockID names one reducer's block of one map task's output.
type BlockID struct {
	Shuffle, Map, Reduce int
}

func (b BlockID) String() string {
	return fmt.Sprintf("shuffle %d map %d reduce %d", b.Shuffle, b.Map, b.Reduce)
}

// FetchError reports a block that could not be fetched. It wraps
// ErrFetchFailed.
type FetchError struct {
	Block BlockID
	Err   error
}

func (e *FetchError) Error() string { return fmt.Sprintf("shuffle: fetch %v: %v", e.Block, e.Err) }

// Unwrap returns ErrFetchFailed and the cause.
func (e *FetchError) Unwrap() []error { return []error{ErrFetchFailed, e.Err} }

// A Service serves map output blocks to reducers.
type Service interface {
	// Fetch returns one block. The bytes stay valid until release is
	// called, which the caller must do exactly once when it has decoded
	// them.
	Fetch(b BlockID) (block []byte, release func(), err error)
}

// Store keeps map outputs as files in one directory and serves them. It keeps
// a bounded cache of memory-mapped data files and their indexes, so that
// reducers neither reopen nor read each map output for every block. Every
// fetched block holds a reference to its mapping; a mapping evicted from the
// cache, or whose file was removed or replaced, is unmapped when its last
// block is released, so the disk space of removed files is given back even
// while jobs keep running.
type Store struct {
	dir string

	mu     sync.Mutex
	open   map[[2]int]*list.Element // guarded by mu; (shuffle, map) -> *openOutput
	lru    *list.List               // guarded by mu; front = most recent
	limit  int
	mapped int // guarded by mu; mappings not yet unmapped
	// replaced counts the outputs replaced or removed (Commit, Remove),
	// after the file changed: an open that raced one (it may have mapped
	// the old file) does not cache its mapping and opens again.
	replaced uint64 // guarded by mu
	// afterMap, when set (tests), runs after an open mapped a file and
	// before its mapping is cached.
	afterMap func()
	closed   bool // guarded by mu; no mapping is kept after Close

	bufPool sync.Pool // [][]byte: writers' per-reducer buffers, reused

	fault atomic.Pointer[func(io.Writer) io.Writer] // see InjectWriteFault

	// peer: the directory belongs to another process (OpenPeer), which may
	// remove or replace its files without telling: a cached mapping is
	// used only while the file at its path is still the one mapped.
	peer bool

	// changes is the directory's change counter (mapChanges), shared
	// with every store over the directory; nil without one. Its page stays
	// mapped until the store is garbage (a fetch racing Close may read it).
	changes *atomic.Uint64
}

// The change counter: a file of the directory, mapped shared by the
// writing store and the peer stores reading it, that the writer increments
// after every map output it replaces or removes. A peer store checks a
// cached mapping against its path (a stat) only when the counter moved
// since the last check, not on every block: a reduce stage reading 500
// map outputs of a peer that writes nothing meanwhile stats each once.
const (
	counterName = "changes"
	counterSize = 8
)

// mapChanges maps the directory's change counter, creating it when create is
// set. Without one (not available, or not created by the writer) a peer
// store checks every fetch's file.
func (s *Store) mapChanges(create bool) {
	flag := os.O_RDWR
	if create {
		flag |= os.O_CREATE
	}
	name := filepath.Join(s.dir, counterName)
	f, err := os.OpenFile(name, flag, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || (st.Size() < counterSize && (!create || f.Truncate(counterSize) != nil)) {
		return
	}
	c, unmap, err := mapCounter(f)
	if err != nil {
		if create { // peers must not trust a counter no one increments
			os.Remove(name)
		}
		return
	}
	s.changes = c
	runtime.AddCleanup(s, func(unmap func() error) { unmap() }, unmap)
}

// changed tells the store's peers that a map output was replaced or
// removed.
func (s *Store) changed() {
	if s.changes != nil {
		s.changes.Add(1)
	}
}

// InjectWriteFault makes the spill and map output files written from now on
// go through wrap (nil removes it), so tests can make writes fail as on a
// full disk.
func (s *Store) InjectWriteFault(wrap func(io.Writer) io.Writer) {
	if wrap == nil {
		s.fault.Store(nil)
		return
	}
	s.fault.Store(&wrap)
}

// sink returns what the store writes f's bytes through.
func (s *Store) sink(f *os.File) io.Writer {
	if wrap := s.fault.Load(); wrap != nil {
		return (*wrap)(f)
	}
	return f
}

type openOutput struct {
	key   [2]int
	data  []byte // the data file, memory-mapped
	unmap func() error
	index []byte
	file  os.FileInfo // of the file mapped, for a peer store's checks
	// checked is the change counter's value when file was last found to
	// be the file at the path (a peer store with a counter).
	checked uint64
	refs    int  // guarded by Store.mu; blocks fetched and not released
	gone    bool // guarded by Store.mu; out of the cache: unmap at refs == 0
}

// NewStore returns a store over dir, creating it.
func NewStore(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("shuffle: %w", err)
	}
	s := &Store{dir: dir, open: map[[2]int]*list.Element{}, lru: list.New(), limit: 2048}
	s.mapChanges(true)
	return s, nil
}

// OpenPeer returns a read-only store over dir, a directory that another
// process (an executor on the same host) writes map outputs into. It
// creates nothing. Its cache is checked against the directory on every
// fetch: a cached mapping whose path no longer names the same file (removed,
// or replaced by a retried map task) is dropped and the path opened again.
// With the directory's change counter (its writer's NewStore made one) the
// path is checked only after the writer replaced or removed an output.
// Writers must not be made from it.
func OpenPeer(dir string) (*Store, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("shuffle: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("shuffle: %s is not a directory", dir)
	}
	s := &Store{dir: dir, open: map[[2]int]*list.Element{}, lru: list.New(), limit: 2048, peer: true}
	s.mapChanges(false)
	return s, nil
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

func (s *Store) base(shuffle, mapID int) string {
	return filepath.Join(s.dir, "shuffle_"+strconv.Itoa(shuffle)+"_"+strconv.Itoa(mapID))
}

// Path names a map output's file.
func (s *Store) Path(shuffle, mapID int) string { return s.base(shuffle, mapID) + ".data" }

// Fetch returns one block, checking its CRC. The bytes are read-only and
// valid until release is called (see Service).
func (s *Store) Fetch(b BlockID) ([]byte, func(), error) {
	buf, sum, release, err := s.FetchRaw(b)
	if err != nil {
		return nil, nil, err
	}
	if crc32.Checksum(buf, castagnoli) != sum {
		release()
		s.forget([2]int{b.Shuffle, b.Map})
		return nil, nil, &FetchError{b, damaged("checksum mismatch")}
	}
	return buf, release, nil
}

// FetchRaw returns one block and the CRC-32C its index records, without
// checking it, so that a server can send both and let the reader check them
// after the transfer. A missing map output is an error wrapping
// fs.ErrNotExist (and ErrFetchFailed). Otherwise as Fetch.
func (s *Store) FetchRaw(b BlockID) ([]byte, uint32, func(), error) {
	o, err := s.output(b.Shuffle, b.Map)
	if err != nil {
		return nil, 0, nil, &FetchError{b, err}
	}
	release := func() { s.release(o) }
	if b.Reduce < 0 || (b.Reduce+1)*indexEntrySize > len(o.index) {
		release()
		return nil, 0, nil, &FetchError{b, damaged("reducer out of range of the index")}
	}
	e := o.index[b.Reduce*indexEntrySize:]
	off, n := binary.LittleEndian.Uint64(e), binary.LittleEndian.Uint64(e[8:])
	sum := binary.LittleEndian.Uint32(e[16:])
	if off > uint64(len(o.data)) || n > uint64(len(o.data))-off {
		release()
		s.forget(o.key)
		return nil, 0, nil, &FetchError{b, damaged("index points past the data file")}
	}
	return o.data[off : off+n : off+n], sum, sync.OnceFunc(release), nil
}

// release drops one reference to o, unmapping it when it is out of the
// cache and no block of it is in use.
func (s *Store) release(o *openOutput) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o.refs--
	if o.gone && o.refs == 0 {
		o.unmap()
	}
}

// MappedOutputs reports how many map outputs are memory-mapped (cached or
// still referenced), for tests and metrics.
func (s *Store) MappedOutputs() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mapped
}

func (s *Store) output(shuffle, mapID int) (*openOutput, error) {
	key := [2]int{shuffle, mapID}
	var gen uint64 // read before any check: a change after it is seen next time
	if s.changes != nil {
		gen = s.changes.Load()
	}
	o, start := s.cached(key, gen, nil)
	if o != nil {
		return o, nil
	}
	if s.peer { // is the cached mapping still the file at the path?
		now, err := os.Stat(s.Path(shuffle, mapID))
		if err != nil {
			s.forget(key)
			return nil, err
		}
		if o, start = s.cached(key, gen, now); o != nil {
			return o, nil
		}
	}
	f, err := os.Open(s.Path(shuffle, mapID))
	if err != nil {
		return nil, err
	}
	var file os.FileInfo
	if s.peer {
		if file, err = f.Stat(); err != nil {
			f.Close()
			return nil, err
		}
	}
	data, unmap, err := mapFile(f)
	f.Close()
	if err != nil {
		return nil, err
	}
	index, err := splitIndex(data)
	if err != nil {
		unmap()
		return nil, err
	}
	if s.afterMap != nil {
		s.afterMap()
	}
	o = &openOutput{key: key, data: data[:len(data)-len(index)-footerSize], unmap: unmap, index: index, file: file, checked: gen}
	s.mu.Lock()
	if s.replaced != start && !s.closed {
		// An output was replaced or removed since the check: what was
		// mapped may be the old file of this one.
		s.mu.Unlock()
		unmap()
		return s.output(shuffle, mapID)
	}
	defer s.mu.Unlock()
	if s.closed {
		unmap()
		return nil, errors.New("store closed")
	}
	if e, ok := s.open[key]; ok { // another reducer opened it meanwhile
		if o2 := e.Value.(*openOutput); !s.peer || sameFile(o2.file, file) {
			unmap()
			s.lru.MoveToFront(e)
			o2.refs++
			return o2, nil
		}
		s.dropLocked(key)
	}
	o.refs = 1
	s.mapped++
	o.unmap = func() error { s.mapped--; return unmap() } // called with mu held
	s.open[key] = s.lru.PushFront(o)
	for s.lru.Len() > s.limit {
		s.dropLocked(s.lru.Back().Value.(*openOutput).key)
	}
	return o, nil
}

// cached returns the cached mapping of key, referenced, when it can be
// used: always in the writer's own store; in a peer store when now (the
// file at its path) is the file mapped, or, without now, when the change
// counter has not moved (gen) since it was last found so. A peer's mapping
// that now shows stale is dropped.
func (s *Store) cached(key [2]int, gen uint64, now os.FileInfo) (*openOutput, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.open[key]
	if !ok {
		return nil, s.replaced
	}
	o := e.Value.(*openOutput)
	switch {
	case !s.peer:
	case now != nil && sameFile(o.file, now):
		o.checked = gen
	case now == nil && s.changes != nil && o.checked == gen:
	case now == nil:
		return nil, s.replaced // check the path first
	default:
		s.dropLocked(key)
		return nil, s.replaced
	}
	s.lru.MoveToFront(e)
	o.refs++
	return o, s.replaced
}

// sameFile reports whether a and b describe the same unchanged file.
func sameFile(a, b os.FileInfo) bool {
	return a != nil && b != nil && os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// splitIndex checks a map output's footer and returns its index.
func splitIndex(data []byte) ([]byte, error) {
	if len(data) < footerSize || binary.LittleEndian.Uint32(data[len(data)-4:]) != footerMagic {
		return nil, damaged("bad map output footer")
	}
	r := binary.LittleEndian.Uint64(data[len(data)-footerSize:])
	if r > uint64(len(data)-footerSize)/indexEntrySize {
		return nil, damaged("bad map output index size")
	}
	end := len(data) - footerSize
	return data[end-int(r)*indexEntrySize : end], nil
}

// replace records that key's file was replaced or removed: its cached
// mapping is dropped, an open racing the change opens again, and the
// store's peers are told.
func (s *Store) replace(key [2]int) {
	s.mu.Lock()
	s.dropLocked(key)
	s.replaced++
	s.mu.Unlock()
	s.changed()
}

// forget closes a cached output (after an error, or before removal).
func (s *Store) forget(key [2]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropLocked(key)
}

func (s *Store) dropLocked(key [2]int) {
	if e, ok := s.open[key]; ok {
		o := e.Value.(*openOutput)
		s.lru.Remove(e)
		delete(s.open, key)
		o.gone = true
		if o.refs == 0 {
			o.unmap()
		}
	}
}

// Has reports whether a committed map output exists on disk.
func (s *Store) Has(shuffle, mapID int) bool {
	_, err := os.Stat(s.Path(shuffle, mapID))
	return err == nil
}

// HasShuffle reports whether any committed map output of a shuffle exists
// on disk (it reads the directory).
func (s *Store) HasShuffle(shuffle int) bool {
	m, _ := filepath.Glob(filepath.Join(s.dir, "shuffle_"+strconv.Itoa(shuffle)+"_*.data"))
	return len(m) > 0
}

// Remove deletes one map output (a lost executor, or a test's fault).
func (s *Store) Remove(shuffle, mapID int) error {
	s.forget([2]int{shuffle, mapID})
	err := os.Remove(s.Path(shuffle, mapID))
	s.replace([2]int{shuffle, mapID})
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

// RemoveShuffle deletes every output of a shuffle with maps map outputs.
func (s *Store) RemoveShuffle(shuffle, maps int) {
	for m := range maps {
		s.Remove(shuffle, m)
	}
}

// Close unmaps the data files. No fetched block may be used afterwards.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	var err error
	for key, e := range s.open {
		o := e.Value.(*openOutput)
		s.lru.Remove(e)
		delete(s.open, key)
		if o.gone = true; o.refs == 0 {
			if uerr := o.unmap(); err == nil {
				err = uerr
			}
		}
	}
	return err
}

// copySegment copies n bytes at off in f to w, feeding the CRC.
func copySegment(w io.Writer, f *os.File, off, n int64) error {
	_, err := io.Copy(w, io.NewSectionReader(f, off, n))
	return err
}
