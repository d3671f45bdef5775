package recordio_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/mesoproject/meso/api/recordio"
)

// BenchmarkReader reads a stream of 1000 records of 512 bytes.
func BenchmarkReader(b *testing.B) {
	var buf bytes.Buffer
	w := recordio.NewWriter(&buf)
	rec := bytes.Repeat([]byte("x"), 512)
	for range 1000 {
		_ = w.WriteRecord(rec)
	}
	stream := buf.Bytes()
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		r := recordio.NewReader(bytes.NewReader(stream), 0)
		for {
			if _, err := r.ReadRecord(); err != nil {
				if err != io.EOF {
					b.Fatal(err)
				}
				break
			}
		}
	}
}

// BenchmarkWriter writes 512-byte records.
func BenchmarkWriter(b *testing.B) {
	rec := bytes.Repeat([]byte("x"), 512)
	w := recordio.NewWriter(io.Discard)
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	for b.Loop() {
		_ = w.WriteRecord(rec)
	}
}
