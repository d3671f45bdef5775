package recordio

import (
	"io"
	"net/http"
	"strconv"

	"google.golang.org/protobuf/proto"
)

// Marshaler encodes a message; codec.Codec satisfies it.
type Marshaler interface {
	Marshal(m proto.Message) ([]byte, error)
}

// Writer writes records to an underlying io.Writer.
type Writer struct {
	w     io.Writer
	flush func() error
	hdr   [24]byte
}

// NewWriter returns a Writer on w. When w can flush (an http.ResponseWriter
// implementing http.Flusher, or a writer with a Flush() error method such as
// a *bufio.Writer), WriteRecord flushes after its record, so that each event
// reaches the client at once; Append leaves the flush to the caller, so that
// a batch of records goes out in as few writes as its size allows.
func NewWriter(w io.Writer) *Writer {
	wr := &Writer{w: w}
	switch f := w.(type) {
	case interface{ Flush() error }:
		wr.flush = f.Flush
	case http.Flusher:
		wr.flush = func() error { f.Flush(); return nil }
	}
	return wr
}

// WriteRecord writes one record (length prefix and data), then flushes.
func (w *Writer) WriteRecord(data []byte) error {
	if err := w.Append(data); err != nil {
		return err
	}
	return w.Flush()
}

// Append writes one record without flushing: call Flush after the last
// record of a batch.
func (w *Writer) Append(data []byte) error {
	hdr := strconv.AppendInt(w.hdr[:0], int64(len(data)), 10)
	hdr = append(hdr, '\n')
	if _, err := w.w.Write(hdr); err != nil {
		return err
	}
	if len(data) > 0 {
		if _, err := w.w.Write(data); err != nil {
			return err
		}
	}
	return nil
}

// Flush flushes the underlying writer, when it can flush.
func (w *Writer) Flush() error {
	if w.flush != nil {
		return w.flush()
	}
	return nil
}

// WriteMessage encodes m with c and writes it as one record. Nothing is
// written when encoding fails.
func (w *Writer) WriteMessage(c Marshaler, m proto.Message) error {
	data, err := c.Marshal(m)
	if err != nil {
		return err
	}
	return w.WriteRecord(data)
}

// Encode returns data framed as one record, for callers that assemble their
// own writes.
func Encode(data []byte) []byte {
	out := strconv.AppendInt(make([]byte, 0, len(data)+21), int64(len(data)), 10)
	out = append(out, '\n')
	return append(out, data...)
}
