package master

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/recordio"
	gproto "google.golang.org/protobuf/proto"
)

// flushCounter is a ResponseWriter that counts flushes.
type flushCounter struct {
	*httptest.ResponseRecorder
	flushes int
}

func (f *flushCounter) Flush() { f.flushes++; f.ResponseRecorder.Flush() }

// A burst of queued events goes out with one flush, not one per event
// (issue 12: a flush per record was a quarter of the master's CPU in
// write syscalls under load).
func TestStreamOutFlushesOncePerBatch(t *testing.T) {
	m := &Master{log: slog.New(slog.DiscardHandler), stopping: make(chan struct{})}
	ob := newOutbox()
	const n = 50
	for i := range n {
		ob.push(&mesospb.TaskID{Value: gproto.String(fmt.Sprint("t", i))})
	}
	ob.close()
	w := &flushCounter{ResponseRecorder: httptest.NewRecorder()}
	r := httptest.NewRequest(http.MethodPost, "/api/v1/scheduler", nil)
	m.streamOut(w, r, ob, codec.JSON, 0, nil)
	if w.flushes != 1 {
		t.Fatalf("%d queued events took %d flushes, want 1", n, w.flushes)
	}
	rd := recordio.NewReader(bytes.NewReader(w.Body.Bytes()), 1<<20)
	got := 0
	for {
		if _, err := rd.ReadRecord(); err != nil {
			break
		}
		got++
	}
	if got != n {
		t.Fatalf("the stream holds %d records, want %d", got, n)
	}
}
