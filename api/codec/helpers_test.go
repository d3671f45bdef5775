package codec_test

import (
	"fmt"

	"github.com/mesoproject/meso/api/codec/internal/testpb"
	"google.golang.org/protobuf/proto"
)

func scalarResource(name string, v float64) *testpb.Resource {
	return &testpb.Resource{Name: proto.String(name), Type: testpb.Value_SCALAR.Enum(),
		Scalar:         &testpb.Value_Scalar{Value: proto.Float64(v)},
		AllocationInfo: &testpb.Resource_AllocationInfo{Role: proto.String("*")}}
}

// offer is shaped like a Mesos offer from an agent: cpus, mem, disk and a
// ports range, and a few attributes.
func offer(i int) *testpb.Offer {
	return &testpb.Offer{
		Id:          id(fmt.Sprintf("5b1e7b3e-3f8c-4a8e-9a43-6f5d2c1b0a9f-O%d", i)),
		FrameworkId: id("5b1e7b3e-3f8c-4a8e-9a43-6f5d2c1b0a9f-0001"),
		AgentId:     id(fmt.Sprintf("5b1e7b3e-3f8c-4a8e-9a43-6f5d2c1b0a9f-S%d", i)),
		Hostname:    proto.String(fmt.Sprintf("agent-%03d.example.internal", i)),
		Resources: []*testpb.Resource{
			scalarResource("cpus", 7.5),
			scalarResource("mem", 30720),
			scalarResource("disk", 409600),
			{Name: proto.String("ports"), Type: testpb.Value_RANGES.Enum(),
				Ranges: &testpb.Value_Ranges{Range: []*testpb.Value_Range{
					{Begin: proto.Uint64(31000), End: proto.Uint64(31999)},
					{Begin: proto.Uint64(32500), End: proto.Uint64(32999)},
				}},
				AllocationInfo: &testpb.Resource_AllocationInfo{Role: proto.String("*")}},
		},
		Attributes: []*testpb.Attribute{
			{Name: proto.String("rack"), Type: testpb.Value_TEXT.Enum(), Text: &testpb.Value_Text{Value: proto.String(fmt.Sprintf("r%d", i%8))}},
			{Name: proto.String("zone"), Type: testpb.Value_TEXT.Enum(), Text: &testpb.Value_Text{Value: proto.String("eu-west-1a")}},
			{Name: proto.String("gen"), Type: testpb.Value_SCALAR.Enum(), Scalar: &testpb.Value_Scalar{Value: proto.Float64(3)}},
		},
		ExecutorIds: []*testpb.ID{id("spark-executor-1")},
	}
}

func offersEvent(n int) *testpb.Event {
	ev := &testpb.Event{Type: testpb.Event_OFFERS.Enum(), Offers: &testpb.Event_Offers{}}
	for i := range n {
		ev.Offers.Offers = append(ev.Offers.Offers, offer(i))
	}
	return ev
}
