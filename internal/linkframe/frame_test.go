package linkframe

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/mesospb"
)

func frameOf(t *testing.T, ch uint32, seq uint64) []byte {
	t.Helper()
	b, err := Append(nil, &linkpb.AgentFrame{Channel: proto.Uint32(ch), Call: &linkpb.AgentCall{
		Type: linkpb.AgentCall_PONG.Enum(), Pong: &linkpb.AgentCall_Pong{Seq: proto.Uint64(seq)}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Frames round-trip in order, large ones (over the pooled buffer) too;
// the reader holds no buffer once nothing is buffered; a clean end
// between frames is io.EOF.
func TestRoundTrip(t *testing.T) {
	var stream []byte
	for i := range 100 {
		stream = append(stream, frameOf(t, uint32(i), uint64(i))...)
	}
	big := &linkpb.AgentFrame{Call: &linkpb.AgentCall{Type: linkpb.AgentCall_FRAMEWORK_MESSAGE.Enum(),
		FrameworkMessage: &linkpb.AgentCall_FrameworkMessage{Data: bytes.Repeat([]byte("x"), 3*bufSize),
			FrameworkId: &mesospb.FrameworkID{Value: proto.String("f")}, ExecutorId: &mesospb.ExecutorID{Value: proto.String("e")}}}}
	stream, err := Append(stream, big)
	if err != nil {
		t.Fatal(err)
	}
	r := NewReader(bytes.NewReader(stream), 1<<20)
	for i := range 100 {
		f := &linkpb.AgentFrame{}
		if err := r.ReadFrame(f); err != nil {
			t.Fatal(err)
		}
		if f.GetChannel() != uint32(i) || f.GetCall().GetPong().GetSeq() != uint64(i) {
			t.Fatalf("frame %d: %v", i, f)
		}
	}
	f := &linkpb.AgentFrame{}
	if err := r.ReadFrame(f); err != nil || len(f.GetCall().GetFrameworkMessage().GetData()) != 3*bufSize {
		t.Fatalf("large frame: %v (%d bytes)", err, len(f.GetCall().GetFrameworkMessage().GetData()))
	}
	if r.br != nil {
		t.Fatal("the reader holds its buffer with nothing buffered")
	}
	if err := r.ReadFrame(f); err != io.EOF {
		t.Fatalf("end: %v, want io.EOF", err)
	}
}

// A length over the bound fails before anything is read for it; a frame
// cut short is io.ErrUnexpectedEOF; bytes that are not the message are
// ErrDecode; errors are sticky.
func TestBadFrames(t *testing.T) {
	over := binary.BigEndian.AppendUint32(nil, 101)
	cases := map[string]struct {
		stream []byte
		want   error
	}{
		"too large":  {over, ErrTooLarge},
		"cut short":  {frameOf(t, 1, 1)[:7], io.ErrUnexpectedEOF},
		"cut header": {[]byte{0, 0}, io.ErrUnexpectedEOF},
		"not proto":  {AppendEncoded(nil, []byte{0xff, 0xff}), ErrDecode},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := NewReader(bytes.NewReader(tc.stream), 100)
			for range 2 {
				if err := r.ReadFrame(&linkpb.AgentFrame{}); !errors.Is(err, tc.want) {
					t.Fatalf("got %v, want %v", err, tc.want)
				}
			}
		})
	}
}

// FuzzReader: any bytes give frames or an error, never a panic or a
// frame over the bound.
func FuzzReader(f *testing.F) {
	f.Add([]byte{0, 0, 0, 2, 8, 1})
	f.Add(binary.BigEndian.AppendUint32(nil, 1<<31))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data), 1<<12)
		for range 64 {
			if err := r.ReadFrame(&linkpb.AgentFrame{}); err != nil {
				return
			}
		}
	})
}
