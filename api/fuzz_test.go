package api_test

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/executorpb"
	"github.com/mesoproject/meso/api/schedulerpb"
)

// The generated decoders take bytes straight from the network (scheduler
// and executor calls). Whatever arrives must yield a value or an error,
// never a panic, and anything that decodes must encode again.
func fuzzDecode(f *testing.F, newMsg func() proto.Message, seeds [][]byte) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		m := newMsg()
		if err := proto.Unmarshal(data, m); err != nil {
			return
		}
		out, err := proto.Marshal(m)
		if err != nil {
			t.Fatalf("decoded message does not re-encode: %v", err)
		}
		again := newMsg()
		if err := proto.Unmarshal(out, again); err != nil {
			t.Fatalf("re-encoded message does not decode: %v", err)
		}
		if !proto.Equal(m, again) {
			t.Fatalf("round trip changed the message:\n%v\n%v", m, again)
		}
	})
}

func goldenWires(cases []golden) [][]byte {
	var out [][]byte
	for _, c := range cases {
		out = append(out, c.wire)
	}
	return out
}

func FuzzSchedulerCall(f *testing.F) {
	fuzzDecode(f, func() proto.Message { return &schedulerpb.Call{} }, goldenWires(schedulerCallGoldens()))
}

func FuzzSchedulerEvent(f *testing.F) {
	fuzzDecode(f, func() proto.Message { return &schedulerpb.Event{} }, goldenWires(schedulerEventGoldens()))
}

func FuzzExecutorCall(f *testing.F) {
	var seeds [][]byte
	for _, c := range executorGoldens() {
		if _, ok := c.msg.(*executorpb.Call); ok {
			seeds = append(seeds, c.wire)
		}
	}
	fuzzDecode(f, func() proto.Message { return &executorpb.Call{} }, seeds)
}
