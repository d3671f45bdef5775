package api_test

import (
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
)

// offersEvent builds an OFFERS event of n offers shaped like the master's:
// cpus, mem, disk and a ports range per offer, MULTI_ROLE allocation info.
func offersEvent(n int) *schedulerpb.Event {
	ev := &schedulerpb.Event{Type: schedulerpb.Event_OFFERS.Enum(), Offers: &schedulerpb.Event_Offers{}}
	for i := range n {
		o := goldenOffer()
		o.Id.Value = str(fmt.Sprintf("5e2c1a0b-4b8e-4c55-9d3b-0f1e2d3c4b5a-O%d", i))
		o.Resources = append(o.Resources, scalarResource("mem", 4096, "web"), scalarResource("disk", 10000, "web"))
		ev.Offers.Offers = append(ev.Offers.Offers, o)
	}
	return ev
}

func BenchmarkMarshalOffersEvent100(b *testing.B) {
	ev := offersEvent(100)
	b.ReportAllocs()
	for b.Loop() {
		out, err := proto.Marshal(ev)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(out)))
	}
}

func BenchmarkUnmarshalOffersEvent100(b *testing.B) {
	in, err := proto.Marshal(offersEvent(100))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		var ev schedulerpb.Event
		if err := proto.Unmarshal(in, &ev); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshalTaskStatus(b *testing.B) {
	st := &mesospb.TaskStatus{
		TaskId:     &mesospb.TaskID{Value: str("t-1")},
		State:      mesospb.TaskState_TASK_RUNNING.Enum(),
		Source:     mesospb.TaskStatus_SOURCE_EXECUTOR.Enum(),
		AgentId:    &mesospb.AgentID{Value: str("a-1")},
		ExecutorId: &mesospb.ExecutorID{Value: str("e-1")},
		Timestamp:  f64(1700000000),
		Uuid:       goldenUUID,
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := proto.Marshal(st); err != nil {
			b.Fatal(err)
		}
	}
}
