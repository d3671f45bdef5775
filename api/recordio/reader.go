package recordio

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"

	"google.golang.org/protobuf/proto"
)

// DefaultMaxRecordSize is the default limit on the length of one record:
// 64 MiB, the largest message protobuf implementations accept by default.
const DefaultMaxRecordSize = 64 << 20

// maxPrefixLen is the longest length prefix accepted, in characters (the
// digits of the largest uint64).
const maxPrefixLen = 20

// Errors callers branch on; the errors returned wrap them with details.
var (
	ErrRecordTooLarge  = errors.New("recordio: record too large")
	ErrMalformedPrefix = errors.New("recordio: malformed length prefix")
)

// Unmarshaler decodes a message; codec.Codec satisfies it.
type Unmarshaler interface {
	Unmarshal(data []byte, m proto.Message) error
}

// chunk is how much of a large record is allocated before its bytes have
// arrived, so that a peer announcing a huge record and sending little cannot
// make the reader allocate the announced size.
const chunk = 1 << 20

// Reader reads records from an underlying io.Reader.
type Reader struct {
	r   *bufio.Reader
	max int
	buf []byte
	err error
}

// NewReader returns a Reader on r that accepts records of up to
// maxRecordSize bytes (DefaultMaxRecordSize when maxRecordSize <= 0). It
// buffers r unless r is already a *bufio.Reader.
func NewReader(r io.Reader, maxRecordSize int) *Reader {
	if maxRecordSize <= 0 {
		maxRecordSize = DefaultMaxRecordSize
	}
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReader(r)
	}
	return &Reader{r: br, max: maxRecordSize}
}

// ReadRecord returns the next record. The returned slice is owned by the
// Reader and is only valid until the next call to ReadRecord or ReadMessage;
// copy it to keep it. At the end of the stream it returns io.EOF.
func (r *Reader) ReadRecord() ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	data, err := r.next()
	if err != nil {
		r.err = err
		return nil, err
	}
	return data, nil
}

// ReadMessage reads the next record and decodes it into m with c. A
// decoding error is returned as it is and does not end the stream. Both
// codecs of package codec copy what they keep, so m does not alias the
// Reader's buffer.
func (r *Reader) ReadMessage(c Unmarshaler, m proto.Message) error {
	data, err := r.ReadRecord()
	if err != nil {
		return err
	}
	return c.Unmarshal(data, m)
}

func (r *Reader) next() ([]byte, error) {
	n, err := r.readPrefix()
	if err != nil {
		return nil, err
	}
	if n > uint64(r.max) {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrRecordTooLarge, n, r.max)
	}
	return r.readData(int(n))
}

// readPrefix reads the decimal length and its line feed.
func (r *Reader) readPrefix() (uint64, error) {
	var n uint64
	digits := 0
	for {
		c, err := r.r.ReadByte()
		if err != nil {
			if err == io.EOF && digits == 0 {
				return 0, io.EOF
			}
			if err == io.EOF {
				return 0, io.ErrUnexpectedEOF
			}
			return 0, err
		}
		switch {
		case c == '\n' && digits > 0:
			return n, nil
		case c == '\n':
			return 0, fmt.Errorf("%w: empty", ErrMalformedPrefix)
		case c < '0' || c > '9':
			return 0, fmt.Errorf("%w: unexpected byte %q", ErrMalformedPrefix, c)
		case digits == maxPrefixLen:
			return 0, fmt.Errorf("%w: more than %d digits", ErrMalformedPrefix, maxPrefixLen)
		}
		d := uint64(c - '0')
		if n > (1<<64-1-d)/10 {
			return 0, fmt.Errorf("%w: length overflows", ErrMalformedPrefix)
		}
		n = n*10 + d
		digits++
	}
}

// readData reads an n-byte record into the reused buffer. Records above
// chunk bytes are read in steps, growing the buffer as bytes arrive.
func (r *Reader) readData(n int) ([]byte, error) {
	if n <= cap(r.buf) && (cap(r.buf) <= 4*chunk || n >= cap(r.buf)/4) {
		r.buf = r.buf[:n]
	} else {
		r.buf = make([]byte, min(n, chunk))
	}
	got := 0
	for {
		m, err := io.ReadFull(r.r, r.buf[got:])
		got += m
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if got == n {
			return r.buf, nil
		}
		k := min(n-got, len(r.buf))
		r.buf = slices.Grow(r.buf, k)[:len(r.buf)+k]
	}
}
