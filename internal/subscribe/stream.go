package subscribe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/recordio"
)

// ErrEnded: the peer closed the stream at a record boundary.
var ErrEnded = errors.New("event stream ended")

// Stream is the answer to a subscription: a RecordIO stream of events. It
// is read by one goroutine.
type Stream struct {
	Header http.Header // the answer's headers
	URL    *url.URL    // where it was opened

	codec  codec.Codec
	body   io.ReadCloser
	rd     *recordio.Reader
	ctx    context.Context
	cancel context.CancelCauseFunc

	limit  time.Duration // silence allowed; 0: no watchdog
	silent func() error  // the cause when the limit is reached
	dog    *time.Timer   // armed while Next waits
}

// Watch arms the silence watchdog: when Next waits longer than limit for a
// record, the stream is cut and Next returns cause(). A limit of 0 or less
// disarms it. Watch may be called again (a SUBSCRIBED announcing the
// heartbeat interval); the new limit applies from the next Next.
func (s *Stream) Watch(limit time.Duration, cause func() error) {
	if s.dog != nil {
		s.dog.Stop()
		s.dog = nil
	}
	s.limit, s.silent = limit, cause
}

// Cancel cuts the stream; Next returns cause.
func (s *Stream) Cancel(cause error) { s.cancel(cause) }

// Close releases the stream.
func (s *Stream) Close() {
	s.cancel(nil)
	if s.dog != nil {
		s.dog.Stop()
	}
	s.body.Close()
}

// Next reads the next record into m. It returns ErrEnded at a clean end;
// the watchdog's cause, or the cause of the context (Cancel, or the
// context given to Open) when either cut the stream; and an error that
// wraps neither when the stream is broken or a record does not decode.
func (s *Stream) Next(m proto.Message) error {
	if s.limit > 0 {
		if s.dog == nil {
			silent := s.silent
			s.dog = time.AfterFunc(s.limit, func() { s.cancel(silent()) })
		} else {
			s.dog.Reset(s.limit)
		}
	}
	data, err := s.rd.ReadRecord()
	if s.dog != nil {
		s.dog.Stop()
	}
	if err != nil {
		// A record that was read is kept even when the stream is being
		// cut: the cut shows on the next read.
		if cause := context.Cause(s.ctx); cause != nil {
			return cause
		}
		if errors.Is(err, io.EOF) {
			return ErrEnded
		}
		return fmt.Errorf("reading event stream: %w", err)
	}
	if err := s.codec.Unmarshal(data, m); err != nil {
		return fmt.Errorf("decoding event: %w", err)
	}
	return nil
}
