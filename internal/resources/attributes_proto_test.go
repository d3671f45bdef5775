package resources

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
)

func TestAttributesFromProto(t *testing.T) {
	in := []*mesospb.Attribute{
		{Name: proto.String("rack"), Type: mesospb.Value_TEXT.Enum(), Text: &mesospb.Value_Text{Value: proto.String("r1")}},
		{Name: proto.String("level"), Type: mesospb.Value_SCALAR.Enum(), Scalar: &mesospb.Value_Scalar{Value: proto.Float64(3.5)}},
		{Name: proto.String("ports"), Type: mesospb.Value_RANGES.Enum(), Ranges: &mesospb.Value_Ranges{Range: []*mesospb.Value_Range{
			{Begin: proto.Uint64(10), End: proto.Uint64(20)}, {Begin: proto.Uint64(1), End: proto.Uint64(5)}, {Begin: proto.Uint64(9), End: proto.Uint64(3)},
		}}},
		{Name: proto.String("zones"), Type: mesospb.Value_SET.Enum(), Set: &mesospb.Value_Set{Item: []string{"b", "a", "b"}}},
		{Name: proto.String("bad"), Type: mesospb.Value_SCALAR.Enum()},
	}
	got := AttributesFromProto(in).String()
	want := "rack:r1;level:3.5;ports:[1-5,10-20];zones:{a,b};bad:0"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
