package httpbound

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// pieces reads data in pieces of the sizes given (cycled), as a network
// connection may deliver it.
type pieces struct {
	data  []byte
	sizes []byte
	i     int
}

func (p *pieces) Read(b []byte) (int, error) {
	if len(p.data) == 0 {
		return 0, io.EOF
	}
	n := 1 + int(p.sizes[p.i%len(p.sizes)])*97
	p.i++
	n = copy(b[:min(len(b), n)], p.data)
	p.data = p.data[n:]
	return n, nil
}

// FuzzReadBody: whatever the size, the limit, declared or chunked and the
// pieces it arrives in, ReadBody returns the body exactly when it is within
// the limit, ErrTooLarge otherwise, and gives back all the memory it took.
func FuzzReadBody(f *testing.F) {
	f.Add(uint32(10), uint32(100), true, []byte{0})
	f.Add(uint32(SmallBody+1), uint32(SmallBody*3), false, []byte{3, 200, 7})
	f.Add(uint32(SmallBody*2), uint32(SmallBody*2), true, []byte{255})
	f.Add(uint32(SmallBody*2+1), uint32(SmallBody*2), false, []byte{1, 2})
	f.Fuzz(func(t *testing.T, size, limit uint32, declared bool, sizes []byte) {
		size, limit = size%(SmallBody*4), limit%(SmallBody*4)
		if len(sizes) == 0 {
			sizes = []byte{0}
		}
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(i * 7)
		}
		b, err := New(Config{BodyMemory: SmallBody * 2})
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest(http.MethodPost, "/", &pieces{data: data, sizes: sizes})
		r.ContentLength = -1
		if declared {
			r.ContentLength = int64(size)
		}
		body, release, err := b.ReadBody(httptest.NewRecorder(), r, int64(limit))
		switch {
		case size > limit:
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("%d bytes over a limit of %d: %v, want ErrTooLarge", size, limit, err)
			}
		case err != nil:
			t.Fatalf("%d bytes within a limit of %d: %v", size, limit, err)
		case !bytes.Equal(body, data):
			t.Fatalf("%d bytes read as %d different ones", size, len(body))
		}
		release()
		release() // idempotent
		if n := b.budget.inUse(); n != 0 {
			t.Fatalf("%d bytes of budget still taken after release", n)
		}
	})
}
