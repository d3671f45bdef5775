package master

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/recordio"
	"github.com/mesoproject/meso/internal/acl"
	"github.com/mesoproject/meso/internal/httpbound"
	"github.com/mesoproject/meso/internal/master/core"
	"google.golang.org/protobuf/proto"
)

// httpError writes a plain-text error response.
func httpError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, strings.TrimRight(msg, "\n")+"\n")
}

// statusOf maps the core's errors to HTTP statuses.
func statusOf(err error) int {
	switch {
	case errors.Is(err, core.ErrInvalid), errors.Is(err, core.ErrStream):
		return http.StatusBadRequest
	case errors.Is(err, core.ErrForbidden), errors.Is(err, acl.ErrDenied):
		return http.StatusForbidden
	case errors.Is(err, core.ErrStaleLink), errors.Is(err, core.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, core.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, errStopped), errors.Is(err, errNotLeading), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// request is a POST of the scheduler or link API, its body read.
type request struct {
	body    []byte
	release func()      // returns the body's memory to the HTTP bounds
	in      codec.Codec // from Content-Type
	out     codec.Codec // from Accept
}

// decode unmarshals the body into msg and lets go of the body.
func (req *request) decode(msg proto.Message) error {
	err := req.in.Unmarshal(req.body, msg)
	req.body = nil
	req.release()
	return err
}

// readRequest checks method and media types and reads the body under the
// HTTP bounds, answering the request itself (and returning false) when
// something is wrong: 405 for another method than POST, 400 without
// Content-Type, 415 for an unknown one, 406 when Accept allows neither
// codec, then 413 for a body over limit (at once when its declared length
// is), 408 for a body not received within --http_body_timeout, 503 when
// request bodies hold --http_body_memory. The caller must decode the
// request, which releases the body's memory.
func (m *Master) readRequest(w http.ResponseWriter, r *http.Request, limit int64) (*request, bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		httpError(w, http.StatusMethodNotAllowed, fmt.Sprintf("Expecting 'POST', received '%s'", r.Method))
		return nil, false
	}
	in, err := codec.ForContentType(r.Header.Get("Content-Type"))
	switch {
	case errors.Is(err, codec.ErrMissingContentType):
		httpError(w, http.StatusBadRequest, "Expecting 'Content-Type' to be present")
		return nil, false
	case err != nil:
		httpError(w, http.StatusUnsupportedMediaType, err.Error())
		return nil, false
	}
	out, err := codec.Negotiate(r.Header.Get("Accept"), codec.JSON)
	if err != nil {
		httpError(w, http.StatusNotAcceptable, err.Error())
		return nil, false
	}
	body, release, err := m.bounds.ReadBody(w, r, limit)
	if err != nil {
		httpError(w, httpbound.Status(err), err.Error())
		return nil, false
	}
	return &request{body: body, release: release, in: in, out: out}, true
}

// streamOut writes the messages of ob as a RecordIO stream until the
// outbox closes, the client goes away or the master stops. With a positive
// heartbeat interval it also writes heartbeat() that often, and once right
// after the first messages, as Mesos does.
func (m *Master) streamOut(w http.ResponseWriter, r *http.Request, ob *outbox, c codec.Codec,
	every time.Duration, heartbeat func() proto.Message) {
	m.streamFiltered(w, r, ob, c, every, heartbeat, nil)
}

// streamFiltered is streamOut with a filter that, when set, decides per
// message what is written (the message, a copy, or false to skip it).
func (m *Master) streamFiltered(w http.ResponseWriter, r *http.Request, ob *outbox, c codec.Codec,
	every time.Duration, heartbeat func() proto.Message, filter func(proto.Message) (proto.Message, bool)) {
	rw := recordio.NewWriter(w)
	var scratch []byte // the records' encoding, reused (rw copies it)
	var tick <-chan time.Time
	if every > 0 {
		t := time.NewTicker(every)
		defer t.Stop()
		tick = t.C
	}
	first := true
	for {
		msgs, closed := ob.take()
		for _, msg := range msgs {
			if filter != nil {
				var keep bool
				if msg, keep = filter(msg); !keep {
					continue
				}
			}
			if !m.appendMessageBuf(rw, c, msg, &scratch) {
				return
			}
		}
		// One flush per batch: a burst of queued events costs one write
		// (or as many as its size needs), not one per event.
		if len(msgs) > 0 && rw.Flush() != nil {
			return
		}
		if closed {
			return
		}
		if first && heartbeat != nil && len(msgs) > 0 {
			first = false
			if !m.writeMessage(rw, c, heartbeat()) {
				return
			}
		}
		select {
		case <-ob.wake:
		case <-tick:
			if heartbeat != nil && !m.writeMessage(rw, c, heartbeat()) {
				return
			}
		case <-r.Context().Done():
			return
		case <-m.stopping:
			return
		}
	}
}

// writeMessage encodes and writes one record and flushes it; false means
// the stream is broken.
func (m *Master) writeMessage(rw *recordio.Writer, c codec.Codec, msg proto.Message) bool {
	return m.appendMessage(rw, c, msg) && rw.Flush() == nil
}

// appendMessageBuf is appendMessage encoding into *scratch when the codec
// can append (the same bytes; rw's writer copies them before the next).
func (m *Master) appendMessageBuf(rw *recordio.Writer, c codec.Codec, msg proto.Message, scratch *[]byte) bool {
	ac, ok := c.(interface {
		MarshalAppend([]byte, proto.Message) ([]byte, error)
	})
	if !ok {
		return m.appendMessage(rw, c, msg)
	}
	data, err := ac.MarshalAppend((*scratch)[:0], msg)
	if err != nil {
		m.log.Error("dropping a message that does not encode", "err", err)
		return true
	}
	if cap(data) <= 64<<10 {
		*scratch = data
	}
	return rw.Append(data) == nil
}

// appendMessage encodes and writes one record without flushing. A message
// that does not encode is a bug: it is logged and skipped.
func (m *Master) appendMessage(rw *recordio.Writer, c codec.Codec, msg proto.Message) bool {
	data, err := c.Marshal(msg)
	if err != nil {
		m.log.Error("dropping a message that does not encode", "err", err)
		return true
	}
	return rw.Append(data) == nil
}

// startStream sends the 200 response headers of an event stream at once.
func startStream(w http.ResponseWriter, c codec.Codec, header, id string) {
	h := w.Header()
	h.Set("Content-Type", c.MediaType())
	if header != "" {
		h.Set(header, id)
	}
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}
