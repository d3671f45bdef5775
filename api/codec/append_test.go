package codec_test

import (
	"bytes"
	"testing"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"google.golang.org/protobuf/proto"
)

// TestMarshalAppend checks that the protobuf codec's MarshalAppend
// appends Marshal's bytes, and refuses what Marshal refuses.
func TestMarshalAppend(t *testing.T) {
	ac := codec.Protobuf.(interface {
		MarshalAppend([]byte, proto.Message) ([]byte, error)
	})
	for _, m := range []proto.Message{mesosOffersEvent(3), &schedulerpb.Event{Type: schedulerpb.Event_HEARTBEAT.Enum()}} {
		want, err := codec.Protobuf.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ac.MarshalAppend([]byte("prefix"), m)
		if err != nil || !bytes.Equal(got, append([]byte("prefix"), want...)) {
			t.Fatalf("MarshalAppend = %x, %v; want prefix + %x", got, err, want)
		}
	}
	bad := &mesospb.TaskID{} // value is required
	if _, err := codec.Protobuf.Marshal(bad); err == nil {
		t.Fatal("Marshal took a message without its required field")
	}
	if out, err := ac.MarshalAppend([]byte("p"), bad); err == nil || string(out) != "p" {
		t.Fatalf("MarshalAppend = %q, %v; want the prefix and an error", out, err)
	}
}
