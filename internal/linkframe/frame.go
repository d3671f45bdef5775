// Package linkframe is the framing of the framed agent link (link version
// 3, see link.proto): after the HTTP/1.1 Upgrade to Protocol, each frame
// is a 4-byte big-endian length and then that many bytes of a protobuf
// message (AgentFrame from the agent, MasterFrame from the master).
//
// The Reader holds no buffer while it waits: a connection that is idle
// (as almost all agent links are, between pings) costs its 4-byte header
// and nothing else; a buffer is borrowed from a pool only while frames
// keep arriving, so that a burst costs one read per buffer, not two per
// frame.
package linkframe

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"google.golang.org/protobuf/proto"
)

// Protocol is the Upgrade token of the framed link.
const Protocol = "meso-link/3"

// Version is the link version that serves the framed link.
const Version = 3

// HeaderSize is the size of a frame's length prefix.
const HeaderSize = 4

// Errors of the framing; the connection cannot be read past them.
var (
	// ErrTooLarge: a frame's length is over the reader's bound.
	ErrTooLarge = errors.New("linkframe: frame too large")
	// ErrDecode: a frame's bytes do not decode into the message.
	ErrDecode = errors.New("linkframe: frame does not decode")
)

// bufSize is the size of the pooled read buffers.
const bufSize = 16 << 10

var bufPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, bufSize) }}

// Reader reads frames from one connection. It is used by one goroutine.
type Reader struct {
	src io.Reader
	max int
	br  *bufio.Reader // borrowed while frames keep coming; nil when idle
	hdr [HeaderSize]byte
	err error // sticky
}

// NewReader reads frames of at most max bytes from src. A bufio.Reader
// that already buffers bytes of src (a hijacked HTTP connection's) may be
// given as src: it is read until empty first.
func NewReader(src io.Reader, max int) *Reader {
	return &Reader{src: src, max: max}
}

// Buffered reports whether a frame's bytes are already read in, so that
// the next ReadFrame will not wait (the caller may gather frames).
func (r *Reader) Buffered() bool { return r.br != nil && r.br.Buffered() > 0 }

// ReadFrame reads the next frame and decodes it into m. It returns io.EOF
// when the peer closed the connection between frames, ErrTooLarge or
// ErrDecode (wrapped) for a bad frame, or the connection's error.
func (r *Reader) ReadFrame(m proto.Message) error {
	if r.err != nil {
		return r.err
	}
	data, err := r.next()
	if err != nil {
		r.err = err
		r.release()
		return err
	}
	err = proto.Unmarshal(data, m)
	if !r.Buffered() {
		r.release() // idle again: hold no buffer while waiting
	}
	if err != nil {
		r.err = fmt.Errorf("%w: %w", ErrDecode, err)
		return r.err
	}
	return nil
}

// next reads one frame's bytes; they are valid until the next call.
func (r *Reader) next() ([]byte, error) {
	if r.br == nil {
		// Wait for the header on the connection itself, holding nothing.
		if _, err := io.ReadFull(r.src, r.hdr[:]); err != nil {
			return nil, err
		}
		r.br = bufPool.Get().(*bufio.Reader)
		r.br.Reset(r.src)
	} else if _, err := io.ReadFull(r.br, r.hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(r.hdr[:])
	if uint64(n) > uint64(r.max) {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, n, r.max)
	}
	if int(n) <= r.br.Size() {
		data, err := r.br.Peek(int(n))
		if err != nil {
			return nil, unexpected(err)
		}
		_, _ = r.br.Discard(int(n))
		return data, nil // valid until the buffer is read again
	}
	data := make([]byte, n)
	if _, err := io.ReadFull(r.br, data); err != nil {
		return nil, unexpected(err)
	}
	return data, nil
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// release returns the borrowed buffer (nothing of it is buffered then).
func (r *Reader) release() {
	if r.br != nil {
		r.br.Reset(nil)
		bufPool.Put(r.br)
		r.br = nil
	}
}

// Append appends m as one frame to buf.
func Append(buf []byte, m proto.Message) ([]byte, error) {
	start := len(buf)
	buf = append(buf, 0, 0, 0, 0)
	buf, err := proto.MarshalOptions{}.MarshalAppend(buf, m)
	if err != nil {
		return buf[:start], err
	}
	n := len(buf) - start - HeaderSize
	if uint64(n) > uint64(^uint32(0)) {
		return buf[:start], fmt.Errorf("%w: %d bytes", ErrTooLarge, n)
	}
	binary.BigEndian.PutUint32(buf[start:], uint32(n))
	return buf, nil
}

// AppendEncoded appends data, a message's encoding, as one frame to buf.
func AppendEncoded(buf, data []byte) []byte {
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(data)))
	return append(buf, data...)
}
