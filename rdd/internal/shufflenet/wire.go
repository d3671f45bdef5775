package shufflenet

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// The request body and the response frames; see the package doc.
const (
	requestMagic = "MSF1"

	frameBlock   = 'B'
	frameMissing = 'M'
	frameError   = 'E'
	frameEnd     = 'Z'

	// maxMessage bounds the reason a server gives for a block it cannot
	// serve.
	maxMessage = 1024
)

// ErrBadRequest is wrapped by every error decoding a fetch request.
var ErrBadRequest = errors.New("shufflenet: bad request")

// ErrProtocol is wrapped by every error decoding a server's response.
var ErrProtocol = errors.New("shufflenet: protocol error")

// span asks for the blocks [Reduce, Reduce+Count) of one map output.
type span struct {
	Map, Reduce, Count int
}

// request is one batch: blocks of one shuffle, in the order they are served.
type request struct {
	Shuffle int
	Spans   []span
}

// blocks counts the blocks the request asks for.
func (r request) blocks() int {
	n := 0
	for _, s := range r.Spans {
		n += s.Count
	}
	return n
}

// appendRequest encodes r.
func appendRequest(b []byte, r request) []byte {
	b = append(b, requestMagic...)
	b = binary.AppendUvarint(b, uint64(r.Shuffle))
	b = binary.AppendUvarint(b, uint64(len(r.Spans)))
	for _, s := range r.Spans {
		b = binary.AppendUvarint(b, uint64(s.Map))
		b = binary.AppendUvarint(b, uint64(s.Reduce))
		b = binary.AppendUvarint(b, uint64(s.Count))
	}
	return b
}

// decodeRequest decodes a request asking for at most maxBlocks blocks. It
// allocates in proportion to the input's length, never to the counts it
// declares.
func decodeRequest(b []byte, maxBlocks int) (request, error) {
	var r request
	if len(b) < len(requestMagic) || string(b[:len(requestMagic)]) != requestMagic {
		return r, fmt.Errorf("%w: magic: not %q", ErrBadRequest, requestMagic)
	}
	d := uvarints{b: b[len(requestMagic):]}
	shuffleID := d.int("shuffle")
	n := d.int("spans")
	if d.err != nil {
		return r, d.err
	}
	// Each span takes at least 3 bytes.
	if n > len(d.b)/3 {
		return r, fmt.Errorf("%w: spans: %d spans in %d bytes", ErrBadRequest, n, len(d.b))
	}
	r.Shuffle = shuffleID
	r.Spans = make([]span, 0, n)
	total := 0
	for i := range n {
		s := span{Map: d.int("map"), Reduce: d.int("reduce"), Count: d.int("count")}
		if d.err != nil {
			return request{}, fmt.Errorf("%w (span %d)", d.err, i)
		}
		if s.Count == 0 {
			return request{}, fmt.Errorf("%w: span %d: count: 0", ErrBadRequest, i)
		}
		if s.Reduce > math.MaxInt32-s.Count {
			return request{}, fmt.Errorf("%w: span %d: reduce: %d+%d overflows", ErrBadRequest, i, s.Reduce, s.Count)
		}
		if total += s.Count; total > maxBlocks {
			return request{}, fmt.Errorf("%w: span %d: count: more than %d blocks", ErrBadRequest, i, maxBlocks)
		}
		r.Spans = append(r.Spans, s)
	}
	if len(d.b) != 0 {
		return request{}, fmt.Errorf("%w: %d trailing bytes", ErrBadRequest, len(d.b))
	}
	return r, nil
}

// uvarints reads non-negative int32-sized uvarints, keeping the first error.
type uvarints struct {
	b   []byte
	err error
}

func (d *uvarints) int(field string) int {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = fmt.Errorf("%w: %s: truncated or overlong varint", ErrBadRequest, field)
		return 0
	}
	if v > math.MaxInt32 {
		d.err = fmt.Errorf("%w: %s: %d out of range", ErrBadRequest, field, v)
		return 0
	}
	d.b = d.b[n:]
	return int(v)
}

// frame is one response frame's header.
type frame struct {
	Kind        byte
	Map, Reduce int
	Len         int64  // frameBlock: the block's length
	CRC         uint32 // frameBlock: its CRC-32C
	Msg         string // frameMissing, frameError: why
	Count       int    // frameEnd: frames before it
}

// appendFrameHeader encodes f's header (for a block, the bytes follow it).
func appendFrameHeader(b []byte, f frame) []byte {
	b = append(b, f.Kind)
	if f.Kind == frameEnd {
		return binary.AppendUvarint(b, uint64(f.Count))
	}
	b = binary.AppendUvarint(b, uint64(f.Map))
	b = binary.AppendUvarint(b, uint64(f.Reduce))
	if f.Kind == frameBlock {
		b = binary.AppendUvarint(b, uint64(f.Len))
		return binary.LittleEndian.AppendUint32(b, f.CRC)
	}
	msg := f.Msg
	if len(msg) > maxMessage {
		msg = msg[:maxMessage]
	}
	b = binary.AppendUvarint(b, uint64(len(msg)))
	return append(b, msg...)
}

// readFrameHeader reads one frame's header; for a block, the caller reads
// its Len bytes next.
func readFrameHeader(r *bufio.Reader) (frame, error) {
	var f frame
	k, err := r.ReadByte()
	if err != nil {
		return f, err
	}
	f.Kind = k
	num := func(field string, limit uint64) (uint64, error) {
		v, err := binary.ReadUvarint(r)
		if err != nil {
			return 0, fmt.Errorf("%w: frame %s: %w", ErrProtocol, field, err)
		}
		if v > limit {
			return 0, fmt.Errorf("%w: frame %s: %d out of range", ErrProtocol, field, v)
		}
		return v, nil
	}
	switch k {
	case frameEnd:
		v, err := num("count", math.MaxInt32)
		f.Count = int(v)
		return f, err
	case frameBlock, frameMissing, frameError:
	default:
		return f, fmt.Errorf("%w: frame kind %q", ErrProtocol, k)
	}
	m, err := num("map", math.MaxInt32)
	if err != nil {
		return f, err
	}
	red, err := num("reduce", math.MaxInt32)
	if err != nil {
		return f, err
	}
	f.Map, f.Reduce = int(m), int(red)
	if k == frameBlock {
		n, err := num("length", math.MaxInt64)
		if err != nil {
			return f, err
		}
		var sum [4]byte
		if _, err := io.ReadFull(r, sum[:]); err != nil {
			return f, fmt.Errorf("%w: frame crc: %w", ErrProtocol, err)
		}
		f.Len, f.CRC = int64(n), binary.LittleEndian.Uint32(sum[:])
		return f, nil
	}
	n, err := num("message length", maxMessage)
	if err != nil {
		return f, err
	}
	msg := make([]byte, n)
	if _, err := io.ReadFull(r, msg); err != nil {
		return f, fmt.Errorf("%w: frame message: %w", ErrProtocol, err)
	}
	f.Msg = string(msg)
	return f, nil
}
