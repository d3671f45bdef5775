package shuffle

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// writeOutput writes records (reducer, payload) through a Writer with the
// given budget and returns what each reducer should read.
func writeOutput(t *testing.T, s *Store, shuffle, mapID, reducers int, budget int64, recs [][2]int) [][]byte {
	t.Helper()
	w := s.NewWriter(shuffle, mapID, reducers, budget)
	want := make([][]byte, reducers)
	for _, r := range recs {
		b := w.Buf(r[0])
		n := len(b)
		b = binary.AppendUvarint(b, uint64(r[1]))
		want[r[0]] = binary.AppendUvarint(want[r[0]], uint64(r[1]))
		if err := w.Put(r[0], b, len(b)-n); err != nil {
			t.Fatal(err)
		}
	}
	sizes, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	for r := range reducers {
		if sizes[r] != int64(len(want[r])) {
			t.Fatalf("reducer %d: size %d, want %d", r, sizes[r], len(want[r]))
		}
	}
	return want
}

func TestWriterRoundTripWithSpills(t *testing.T) {
	s, err := NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	const reducers = 7
	for _, budget := range []int64{0, 4096, 1 << 30} {
		var recs [][2]int
		for range 20000 {
			recs = append(recs, [2]int{rng.IntN(reducers), rng.IntN(1 << 20)})
		}
		mapID := int(budget % 1000)
		want := writeOutput(t, s, 1, mapID, reducers, budget, recs)
		for r := range reducers {
			got, release, err := s.Fetch(BlockID{1, mapID, r})
			if err != nil {
				t.Fatal(err)
			}
			defer release()
			if !bytes.Equal(got, want[r]) {
				t.Fatalf("budget %d reducer %d: block differs", budget, r)
			}
		}
	}
}

func TestFetchFailures(t *testing.T) {
	s, err := NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	writeOutput(t, s, 3, 0, 2, 1<<20, [][2]int{{0, 1}, {1, 2}, {1, 3}})
	if _, release, err := s.Fetch(BlockID{3, 0, 1}); err != nil {
		t.Fatal(err)
	} else {
		release()
	}
	// Corrupt the data file: the checksum catches it.
	data := s.Path(3, 0)
	b, _ := os.ReadFile(data)
	b[2] ^= 0xff // inside reducer 1's block
	os.Remove(data)
	os.WriteFile(data, b, 0o644)
	s.forget([2]int{3, 0})
	var fe *FetchError
	if _, _, err := s.Fetch(BlockID{3, 0, 1}); !errors.Is(err, ErrFetchFailed) || !errors.As(err, &fe) || fe.Block != (BlockID{3, 0, 1}) {
		t.Fatalf("corrupt block: got %v", err)
	}
	if err := s.Remove(3, 0); err != nil {
		t.Fatal(err)
	}
	if s.Has(3, 0) {
		t.Fatal("removed output still present")
	}
	if _, _, err := s.Fetch(BlockID{3, 0, 0}); !errors.Is(err, ErrFetchFailed) {
		t.Fatalf("missing output: got %v", err)
	}
	if _, _, err := s.Fetch(BlockID{9, 9, 9}); !errors.Is(err, ErrFetchFailed) {
		t.Fatalf("unknown output: got %v", err)
	}
}

func TestSorterSpillsAndMerges(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, budget := range []int64{0, 1 << 12, 1 << 30} {
		s := NewSorter(t.TempDir(), budget, func(a, b int64) int { return int(a>>1) - int(b>>1) },
			func(dst []byte, r int64) []byte { return binary.AppendVarint(dst, r) },
			func(src []byte) (int64, error) {
				v, n := binary.Varint(src)
				if n <= 0 {
					return 0, errors.New("bad")
				}
				return v, nil
			})
		var want []int64
		for range 10000 {
			v := rng.Int64N(1 << 20)
			want = append(want, v)
			if err := s.Add(v, 8); err != nil {
				t.Fatal(err)
			}
		}
		spilled, _ := s.Spilled()
		if spilled != (budget < 1<<20) {
			t.Fatalf("budget %d: spilled=%v", budget, spilled)
		}
		var got []int64
		if err := s.Sorted(func(v int64) bool { got = append(got, v); return true }); err != nil {
			t.Fatal(err)
		}
		// The comparison ignores the low bit: check order by it, and content as a multiset.
		for i := 1; i < len(got); i++ {
			if got[i-1]>>1 > got[i]>>1 {
				t.Fatalf("budget %d: out of order at %d", budget, i)
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("budget %d: records differ", budget)
		}
	}
}

// A mapping lives while the cache holds it or a fetched block is in use: a
// removed or evicted output is unmapped when its last block is released.
func TestMappingsFollowTheirBlocks(t *testing.T) {
	s, err := NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.limit = 2
	for m := range 4 {
		writeOutput(t, s, 5, m, 2, 1<<20, [][2]int{{0, m}, {1, m + 1}})
	}
	b, release, err := s.Fetch(BlockID{5, 0, 1})
	if err != nil || s.MappedOutputs() != 1 {
		t.Fatalf("fetch: %v, %d mapped", err, s.MappedOutputs())
	}
	if err := s.Remove(5, 0); err != nil {
		t.Fatal(err)
	}
	if s.MappedOutputs() != 1 || b[0] != 1 { // still readable: a block of it is in use
		t.Fatalf("%d mapped after removal while in use", s.MappedOutputs())
	}
	release()
	release() // a second release is harmless
	if s.MappedOutputs() != 0 {
		t.Fatalf("%d mapped after the last release", s.MappedOutputs())
	}
	for m := 1; m < 4; m++ { // three outputs through a cache of two: one evicted
		_, release, err := s.Fetch(BlockID{5, m, 0})
		if err != nil {
			t.Fatal(err)
		}
		release()
	}
	if s.MappedOutputs() != 2 {
		t.Fatalf("%d mapped with a cache of 2", s.MappedOutputs())
	}
}

// A peer store (another process's directory) never serves a cached
// mapping of a file that was replaced or removed since: a retried map task
// rewrites the output, the executor removes a shuffle, without telling.
func TestPeerStoreSeesReplacedAndRemovedOutputs(t *testing.T) {
	dir := t.TempDir()
	s, err := NewStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, err := OpenPeer(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	read := func() []byte { return fetchCopy(t, p, BlockID{3, 0, 1}) }
	first := writeOutput(t, s, 3, 0, 2, 1<<20, [][2]int{{1, 5}, {1, 6}})
	held, release, err := p.Fetch(BlockID{3, 0, 1}) // keeps the first mapping referenced
	if err != nil || !bytes.Equal(held, first[1]) {
		t.Fatalf("first read: %v %v", held, err)
	}
	second := writeOutput(t, s, 3, 0, 2, 1<<20, [][2]int{{1, 7}, {1, 8}, {1, 9}})
	if got := read(); !bytes.Equal(got, second[1]) {
		t.Errorf("after the output was replaced: %v, want %v", got, second[1])
	}
	if !bytes.Equal(held, first[1]) {
		t.Errorf("a block held across the replacement changed: %v", held)
	}
	release()
	if err := s.Remove(3, 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.Fetch(BlockID{3, 0, 1}); !errors.Is(err, os.ErrNotExist) || !errors.Is(err, ErrFetchFailed) {
		t.Errorf("after removal: err = %v, want not exist", err)
	}
	if n := p.MappedOutputs(); n != 0 {
		t.Errorf("%d outputs still mapped after removal", n)
	}
	if _, err := OpenPeer(dir + "/none"); err == nil {
		t.Error("OpenPeer of a missing directory succeeded")
	}
	// Damaged content is ErrDamaged; a missing file is not.
	os.WriteFile(s.Path(4, 0), []byte("not a map output"), 0o644)
	if _, _, err := p.Fetch(BlockID{4, 0, 0}); !errors.Is(err, ErrDamaged) {
		t.Errorf("bad footer: err = %v, want ErrDamaged", err)
	}
	if _, _, err := p.Fetch(BlockID{5, 0, 0}); err == nil || errors.Is(err, ErrDamaged) {
		t.Errorf("missing output: err = %v, want an error that is not ErrDamaged", err)
	}
}

// With the directory's change counter a peer store checks a cached
// mapping against its path only after the writer replaced or removed an
// output: a file swapped in behind the writer's back goes unseen (no stat
// per block), the writer's next commit or removal is seen. Without the
// counter (a directory whose writer has none) every fetch checks.
func TestPeerStoreChecksOnlyAfterChanges(t *testing.T) {
	for _, counter := range []bool{true, false} {
		t.Run(map[bool]string{true: "counter", false: "none"}[counter], func(t *testing.T) {
			dir := t.TempDir()
			s, err := NewStore(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if !counter {
				os.Remove(filepath.Join(dir, counterName))
			}
			p, err := OpenPeer(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			read := func() []byte { return fetchCopy(t, p, BlockID{3, 0, 1}) }
			first := writeOutput(t, s, 3, 0, 2, 1<<20, [][2]int{{1, 5}})
			if got := read(); !bytes.Equal(got, first[1]) {
				t.Fatalf("first read %v, want %v", got, first[1])
			}
			// Another output renamed over the path without the writer knowing.
			other, err := NewStore(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			swapped := writeOutput(t, other, 3, 0, 2, 1<<20, [][2]int{{1, 6}, {1, 7}})
			if err := os.Rename(other.Path(3, 0), s.Path(3, 0)); err != nil {
				t.Fatal(err)
			}
			want := swapped[1]
			if counter {
				want = first[1] // not checked: nothing told the peer
			}
			if got := read(); !bytes.Equal(got, want) {
				t.Fatalf("after a silent swap: %v, want %v", got, want)
			}
			third := writeOutput(t, s, 3, 0, 2, 1<<20, [][2]int{{1, 8}, {1, 9}, {1, 10}})
			if got := read(); !bytes.Equal(got, third[1]) {
				t.Fatalf("after the writer's commit: %v, want %v", got, third[1])
			}
			if err := s.Remove(3, 0); err != nil {
				t.Fatal(err)
			}
			if _, _, err := p.Fetch(BlockID{3, 0, 1}); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("after the writer's removal: err = %v, want not exist", err)
			}
		})
	}
}

// fetchCopy fetches b from p and returns a copy of its bytes.
func fetchCopy(t *testing.T, p *Store, b BlockID) []byte {
	t.Helper()
	buf, release, err := p.Fetch(b)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	return append([]byte(nil), buf...)
}

// An output replaced while a reducer was opening the old file: the
// reducer's mapping of the old file is not cached, so that reducers read
// the new output from then on (a recomputed map output was served as the
// corrupt one it replaced: TestLostAndCorruptMapOutputs, rdd).
func TestOpenRacingCommitReadsTheNewOutput(t *testing.T) {
	s, err := NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	writeOutput(t, s, 1, 0, 1, 1<<20, [][2]int{{0, 1}})
	var want []byte
	s.afterMap = func() {
		s.afterMap = nil // the open that follows maps the new file
		want = writeOutput(t, s, 1, 0, 1, 1<<20, [][2]int{{0, 2}, {0, 3}})[0]
	}
	for i := range 2 {
		got, release, err := s.Fetch(BlockID{1, 0, 0})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("fetch %d after the replacing commit: %x, want %x", i, got, want)
		}
		release()
	}
}
