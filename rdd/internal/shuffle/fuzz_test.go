package shuffle

import (
	"encoding/binary"
	"os"
	"testing"
)

// FuzzFetch: a damaged or hostile map output file yields fetch errors, never
// a panic or an out-of-range read.
func FuzzFetch(f *testing.F) {
	dir := f.TempDir()
	s, err := NewStore(dir)
	if err != nil {
		f.Fatal(err)
	}
	w := s.NewWriter(1, 0, 3, 1<<20)
	for r := range 3 {
		b := w.Buf(r)
		w.Put(r, append(b, byte(r), 'x'), 2)
	}
	if _, err := w.Commit(); err != nil {
		f.Fatal(err)
	}
	good, _ := os.ReadFile(s.Path(1, 0))
	f.Add(good)
	f.Add([]byte{})
	f.Add(binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint64(nil, 1<<40), footerMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		s.Remove(1, 0)
		if err := os.WriteFile(s.Path(1, 0), data, 0o644); err != nil {
			t.Fatal(err)
		}
		for r := -1; r < 5; r++ {
			b, release, err := s.Fetch(BlockID{1, 0, r})
			if err == nil {
				if len(b) > len(data) {
					t.Fatalf("block of %d bytes from a %d-byte file", len(b), len(data))
				}
				release()
			}
		}
	})
}
