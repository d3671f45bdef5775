package codec_test

import (
	"testing"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/schedulerpb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// The benchmarks encode and decode an OFFERS event with 50 offers, each
// with cpus, mem, disk and ports resources and three attributes. protojson
// (which writes 64-bit integers as strings, so is not Mesos JSON) is the
// baseline for the JSON codec.

func BenchmarkMarshal(b *testing.B) {
	ev := mesosOffersEvent(50)
	run := func(b *testing.B, marshal func(proto.Message) ([]byte, error)) {
		out, err := marshal(ev)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(out)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := marshal(ev); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("codec.JSON", func(b *testing.B) { run(b, codec.JSON.Marshal) })
	b.Run("protojson", func(b *testing.B) { run(b, protojson.MarshalOptions{UseProtoNames: true}.Marshal) })
	b.Run("codec.Protobuf", func(b *testing.B) { run(b, codec.Protobuf.Marshal) })
}

func BenchmarkUnmarshal(b *testing.B) {
	ev := mesosOffersEvent(50)
	run := func(b *testing.B, data []byte, unmarshal func([]byte, proto.Message) error) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		var m schedulerpb.Event
		for b.Loop() {
			if err := unmarshal(data, &m); err != nil {
				b.Fatal(err)
			}
		}
	}
	js, _ := codec.JSON.Marshal(ev)
	pj, _ := protojson.MarshalOptions{UseProtoNames: true}.Marshal(ev)
	pb, _ := codec.Protobuf.Marshal(ev)
	b.Run("codec.JSON", func(b *testing.B) { run(b, js, codec.JSON.Unmarshal) })
	b.Run("protojson", func(b *testing.B) { run(b, pj, protojson.Unmarshal) })
	b.Run("codec.Protobuf", func(b *testing.B) { run(b, pb, codec.Protobuf.Unmarshal) })
}
