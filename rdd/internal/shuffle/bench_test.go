package shuffle

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkPeerFetch reads one block of each of 250 map outputs through a
// peer store (as a reducer reads another executor's outputs on its host),
// the mappings cached, so that each block costs the check that its path
// still names the file mapped (a stat), the CRC and the bookkeeping; ns/op
// is per block. The demo's reducers read 250 such blocks each. The
// directory is as deep as an agent's sandbox (executors' own directories
// are under the temporary directory, shallower).
// Run: go test -run '^$' -bench PeerFetch ./rdd/internal/shuffle
func BenchmarkPeerFetch(b *testing.B) {
	const maps, reducers = 250, 50
	dir := b.TempDir()
	for _, d := range []string{"agent1", "slaves", "S0", "frameworks", "F-0000", "executors", "e1", "runs",
		"bb77f855-94ee-476a-a29e-ec8dd82e4176", "rdd-1234", "blocks"} {
		dir = filepath.Join(dir, d)
	}
	s, err := NewStore(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for m := range maps {
		w := s.NewWriter(1, m, reducers, 1<<20)
		for r := range reducers {
			w.Put(r, append(w.Buf(r), fmt.Sprintf("%0400d", m*r)...), 400)
		}
		if _, err := w.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	p, err := OpenPeer(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	i := 0
	for b.Loop() {
		data, release, err := p.Fetch(BlockID{1, i % maps, i / maps % reducers})
		if err != nil || len(data) != 400 {
			b.Fatal(len(data), err)
		}
		release()
		i++
	}
}

// BenchmarkCommit writes map outputs of the demo's shape (500 reducers,
// 960 bytes each: 20,000 records of 24 bytes) and removes each after its
// commit; ns/op is per map output, buffers filled included. The directory
// is MESO_BENCH_DIR when set (e.g. /dev/shm, for the write path's own
// cost without the file system's), else the test's temporary directory.
// Run: go test -run '^$' -bench Commit ./rdd/internal/shuffle
func BenchmarkCommit(b *testing.B) {
	const reducers, block = 500, 960
	dir := b.TempDir()
	if d := os.Getenv("MESO_BENCH_DIR"); d != "" {
		var err error
		if dir, err = os.MkdirTemp(d, "bench-commit-"); err != nil {
			b.Fatal(err)
		}
		defer os.RemoveAll(dir)
	}
	s, err := NewStore(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	rec := make([]byte, block)
	b.SetBytes(reducers * block)
	m := 0
	for b.Loop() {
		w := s.NewWriter(1, m, reducers, 1<<30)
		for r := range reducers {
			w.Put(r, append(w.Buf(r), rec...), block)
		}
		if _, err := w.Commit(); err != nil {
			b.Fatal(err)
		}
		if err := s.Remove(1, m); err != nil {
			b.Fatal(err)
		}
		m++
	}
}
