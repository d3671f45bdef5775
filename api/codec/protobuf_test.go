package codec_test

import (
	"errors"
	"testing"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/codec/internal/testpb"
	"google.golang.org/protobuf/proto"
)

func TestProtobufRoundTrip(t *testing.T) {
	c := codec.Protobuf
	if c.MediaType() != "application/x-protobuf" {
		t.Fatal(c.MediaType())
	}
	for _, m := range []proto.Message{offersEvent(3), &testpb.Defaults{}, &testpb.Tree{Name: proto.String("x"), Labels: map[string]*testpb.ID{"a": id("1")}}} {
		b, err := c.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		got := m.ProtoReflect().New().Interface()
		if err := c.Unmarshal(b, got); err != nil {
			t.Fatal(err)
		}
		if diff := cmpDiff(m, got); diff != "" {
			t.Fatal(diff)
		}
	}
}

func TestProtobufRequired(t *testing.T) {
	tests := []struct {
		name string
		msg  proto.Message
		want string
	}{
		{"top", &testpb.Required{Id: id("x")}, `codec: protobuf: missing required field "color"`},
		{"nested", &testpb.Required{Id: &testpb.ID{}, Color: testpb.Color_RED.Enum()}, `codec: protobuf: field "id": missing required field "value"`},
		{"in list", &testpb.Event{Offers: &testpb.Event_Offers{Offers: []*testpb.Offer{offer(1), {Id: id("x"), FrameworkId: id("f"), AgentId: &testpb.ID{}, Hostname: proto.String("h")}}}},
			`codec: protobuf: field "offers.offers[1].agent_id": missing required field "value"`},
		{"in map", &testpb.Tree{Name: proto.String("t"), Labels: map[string]*testpb.ID{"k": {}}}, `codec: protobuf: field "labels[\"k\"]": missing required field "value"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := codec.Protobuf.Marshal(tt.msg)
			if err == nil || err.Error() != tt.want || !errors.Is(err, codec.ErrMissingRequired) {
				t.Fatalf("Marshal error %v\nwant %s", err, tt.want)
			}
			// The same message, encoded without the check, is refused on
			// the way in with the same message.
			b, err := proto.MarshalOptions{AllowPartial: true}.Marshal(tt.msg)
			if err != nil {
				t.Fatal(err)
			}
			err = codec.Protobuf.Unmarshal(b, tt.msg.ProtoReflect().New().Interface())
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Unmarshal error %v\nwant %s", err, tt.want)
			}
		})
	}
}

func TestProtobufMalformed(t *testing.T) {
	var m testpb.Scalars
	err := codec.Protobuf.Unmarshal([]byte{0x0a, 0xff}, &m)
	if err == nil {
		t.Fatal("malformed input accepted")
	}
	if got := err.Error(); got[:16] != "codec: protobuf:" {
		t.Fatalf("error %q lacks the package prefix", got)
	}
	if _, err := codec.Protobuf.Marshal(nil); err == nil {
		t.Fatal("nil message encoded")
	}
}
