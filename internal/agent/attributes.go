package agent

import (
	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/resources"
)

// attributesProto renders attributes in the v1 wire form.
func attributesProto(as resources.Attributes) []*mesospb.Attribute {
	out := make([]*mesospb.Attribute, 0, len(as))
	for _, a := range as {
		v := value(a.Kind, a.Scalar, a.Ranges, a.Set, a.Text)
		out = append(out, &mesospb.Attribute{Name: proto.String(a.Name), Type: v.Type,
			Scalar: v.Scalar, Ranges: v.Ranges, Set: v.Set, Text: v.Text})
	}
	return out
}

func value(kind resources.Kind, s resources.Scalar, rs []resources.Range, set []string, text string) *mesospb.Value {
	switch kind {
	case resources.KindScalar:
		return &mesospb.Value{Type: mesospb.Value_SCALAR.Enum(), Scalar: &mesospb.Value_Scalar{Value: proto.Float64(s.Float())}}
	case resources.KindRanges:
		v := &mesospb.Value_Ranges{}
		for _, r := range rs {
			v.Range = append(v.Range, &mesospb.Value_Range{Begin: proto.Uint64(r.Begin), End: proto.Uint64(r.End)})
		}
		return &mesospb.Value{Type: mesospb.Value_RANGES.Enum(), Ranges: v}
	case resources.KindSet:
		return &mesospb.Value{Type: mesospb.Value_SET.Enum(), Set: &mesospb.Value_Set{Item: append([]string(nil), set...)}}
	}
	return &mesospb.Value{Type: mesospb.Value_TEXT.Enum(), Text: &mesospb.Value_Text{Value: proto.String(text)}}
}
