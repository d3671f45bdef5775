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
	"strconv"
	"sync"
)

// ErrFetchFailed is wrapped by every error fetching a block whose map output
// is missing or damaged; the map output must be recomputed.
var ErrFetchFailed = errors.New("shuffle: fetch failed")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// indexEntrySize is the size of one reducer's entry in an index file:
// offset (8 bytes), length (8 bytes), CRC-32C (4 bytes).
const indexEntrySize = 20

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
	Fetch(b BlockID) ([]byte, error)
}

// Store keeps map outputs as files in one directory and serves them. It keeps
// a bounded cache of open data files and their indexes, so that reducers do
// not reopen each map output for every block.
type Store struct {
	dir string

	mu    sync.Mutex
	open  map[[2]int]*list.Element // guarded by mu; (shuffle, map) -> *openOutput
	lru   *list.List               // guarded by mu; front = most recent
	limit int
}

type openOutput struct {
	key   [2]int
	f     *os.File
	index []byte
}

// NewStore returns a store over dir, creating it.
func NewStore(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("shuffle: %w", err)
	}
	return &Store{dir: dir, open: map[[2]int]*list.Element{}, lru: list.New(), limit: 2048}, nil
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

func (s *Store) base(shuffle, mapID int) string {
	return filepath.Join(s.dir, "shuffle_"+strconv.Itoa(shuffle)+"_"+strconv.Itoa(mapID))
}

// DataPath and IndexPath name a map output's files.
func (s *Store) DataPath(shuffle, mapID int) string  { return s.base(shuffle, mapID) + ".data" }
func (s *Store) IndexPath(shuffle, mapID int) string { return s.base(shuffle, mapID) + ".index" }

// Fetch returns one block, checking its CRC.
func (s *Store) Fetch(b BlockID) ([]byte, error) {
	o, err := s.output(b.Shuffle, b.Map)
	if err != nil {
		return nil, &FetchError{b, err}
	}
	if b.Reduce < 0 || (b.Reduce+1)*indexEntrySize > len(o.index) {
		return nil, &FetchError{b, errors.New("reducer out of range of the index")}
	}
	e := o.index[b.Reduce*indexEntrySize:]
	off, n := binary.LittleEndian.Uint64(e), binary.LittleEndian.Uint64(e[8:])
	sum := binary.LittleEndian.Uint32(e[16:])
	buf := make([]byte, n)
	if _, err := o.f.ReadAt(buf, int64(off)); err != nil {
		s.forget(o.key)
		return nil, &FetchError{b, err}
	}
	if crc32.Checksum(buf, castagnoli) != sum {
		s.forget(o.key)
		return nil, &FetchError{b, errors.New("checksum mismatch")}
	}
	return buf, nil
}

func (s *Store) output(shuffle, mapID int) (*openOutput, error) {
	key := [2]int{shuffle, mapID}
	s.mu.Lock()
	if e, ok := s.open[key]; ok {
		s.lru.MoveToFront(e)
		s.mu.Unlock()
		return e.Value.(*openOutput), nil
	}
	s.mu.Unlock()
	index, err := os.ReadFile(s.IndexPath(shuffle, mapID))
	if err != nil {
		return nil, err
	}
	f, err := os.Open(s.DataPath(shuffle, mapID))
	if err != nil {
		return nil, err
	}
	o := &openOutput{key: key, f: f, index: index}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.open[key]; ok { // another reducer opened it meanwhile
		f.Close()
		s.lru.MoveToFront(e)
		return e.Value.(*openOutput), nil
	}
	s.open[key] = s.lru.PushFront(o)
	for s.lru.Len() > s.limit {
		s.dropLocked(s.lru.Back().Value.(*openOutput).key)
	}
	return o, nil
}

// forget closes a cached output (after an error, or before removal).
func (s *Store) forget(key [2]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropLocked(key)
}

func (s *Store) dropLocked(key [2]int) {
	if e, ok := s.open[key]; ok {
		// Readers holding the file get an error from ReadAt and retry the
		// fetch as a fetch failure; that is acceptable for a rare eviction.
		// To keep that rare, the cache limit is large.
		e.Value.(*openOutput).f.Close()
		s.lru.Remove(e)
		delete(s.open, key)
	}
}

// Has reports whether a committed map output exists on disk.
func (s *Store) Has(shuffle, mapID int) bool {
	_, err := os.Stat(s.IndexPath(shuffle, mapID))
	return err == nil
}

// Remove deletes one map output (a lost executor, or a test's fault).
func (s *Store) Remove(shuffle, mapID int) error {
	s.forget([2]int{shuffle, mapID})
	err1 := os.Remove(s.IndexPath(shuffle, mapID))
	err2 := os.Remove(s.DataPath(shuffle, mapID))
	if err1 != nil && !os.IsNotExist(err1) {
		return err1
	}
	if err2 != nil && !os.IsNotExist(err2) {
		return err2
	}
	return nil
}

// RemoveShuffle deletes every output of a shuffle with maps map outputs.
func (s *Store) RemoveShuffle(shuffle, maps int) {
	for m := range maps {
		s.Remove(shuffle, m)
	}
}

// Close closes the cached files.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for key := range s.open {
		s.dropLocked(key)
	}
	return nil
}

// copySegment copies n bytes at off in f to w, feeding the CRC.
func copySegment(w io.Writer, f *os.File, off, n int64) error {
	_, err := io.Copy(w, io.NewSectionReader(f, off, n))
	return err
}
