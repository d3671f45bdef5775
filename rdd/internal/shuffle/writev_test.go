package shuffle

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// randomBufs returns n buffers of random sizes (some empty) and their
// concatenation.
func randomBufs(rng *rand.Rand, n, maxLen int) ([][]byte, []byte) {
	var all []byte
	bufs := make([][]byte, n)
	for i := range bufs {
		b := make([]byte, rng.IntN(maxLen+1))
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		bufs[i] = b
		all = append(all, b...)
	}
	return bufs, all
}

func TestAdvanceDropsWrittenBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		bufs, all := randomBufs(rng, rng.IntN(6), 5)
		n := rng.IntN(len(all) + 1)
		left := advance(append([][]byte(nil), bufs...), n)
		if got := bytes.Join(left, nil); !bytes.Equal(got, all[n:]) {
			t.Fatalf("advance(%q, %d) = %q, want %q", bufs, n, got, all[n:])
		}
		if len(left) > 0 && len(left[0]) == 0 {
			t.Fatalf("advance(%q, %d) starts with an empty buffer", bufs, n)
		}
	}
}

// More buffers than one writev takes, empty ones among them.
func TestWriteFileGathersManyBuffers(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	bufs, all := randomBufs(rng, 3*maxIovecs+17, 700)
	name := filepath.Join(t.TempDir(), "out")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeAll(f, bufs); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, all) {
		t.Fatalf("file of %d bytes, want %d bytes as written", len(got), len(all))
	}
}

// A map output written from the buffers (no spills) is byte for byte the
// one the merging path writes from the same buffers.
func TestWriteBuffersMatchesMergedForm(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	s, err := NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, reducers := range []int{1, 5, 500, 2*maxIovecs + 3} {
		bufs, _ := randomBufs(rng, reducers, 300)
		var outs [2]bytes.Buffer
		var sizes [2][]int64
		for i := range outs {
			w := s.NewWriter(1, reducers, reducers, 1<<30)
			for r, b := range bufs {
				w.bufs[r] = append(w.bufs[r], b...)
			}
			if i == 0 {
				sizes[i], err = w.writeBuffers(&outs[i])
			} else {
				sizes[i], err = w.writeMerged(&outs[i])
			}
			if err != nil {
				t.Fatal(err)
			}
			w.Abort()
		}
		if !bytes.Equal(outs[0].Bytes(), outs[1].Bytes()) {
			t.Fatalf("%d reducers: the two forms differ (%d and %d bytes)", reducers, outs[0].Len(), outs[1].Len())
		}
		for r := range reducers {
			if sizes[0][r] != int64(len(bufs[r])) || sizes[1][r] != sizes[0][r] {
				t.Fatalf("%d reducers: reducer %d sizes %d, %d, want %d", reducers, r, sizes[0][r], sizes[1][r], len(bufs[r]))
			}
		}
	}
}
