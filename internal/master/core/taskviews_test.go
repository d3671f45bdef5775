package core

import (
	"testing"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/resources"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// TestTaskViewFields checks that newTaskView copies every field of Task
// (it names them one by one): a record with every field set has a view
// equal to a deep copy of it.
func TestTaskViewFields(t *testing.T) {
	rec := &mesospb.Task{}
	m := rec.ProtoReflect()
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		switch {
		case fd.IsMap():
			mv := m.Mutable(fd).Map()
			mv.Set(protoreflect.ValueOfString("k").MapKey(), protoreflect.ValueOfMessage((&mesospb.Value_Scalar{Value: proto.Float64(1)}).ProtoReflect()))
		case fd.IsList():
			l := m.Mutable(fd).List()
			l.Append(l.NewElement())
		case fd.Message() != nil:
			m.Set(fd, protoreflect.ValueOfMessage(m.NewField(fd).Message()))
		case fd.Kind() == protoreflect.StringKind:
			m.Set(fd, protoreflect.ValueOfString("x"))
		case fd.Kind() == protoreflect.BytesKind:
			m.Set(fd, protoreflect.ValueOfBytes([]byte("x")))
		case fd.Kind() == protoreflect.EnumKind:
			m.Set(fd, protoreflect.ValueOfEnum(1))
		default:
			t.Fatalf("field %s: kind %v not covered by the test", fd.Name(), fd.Kind())
		}
	}
	m.SetUnknown(protoreflect.RawFields{0xf8, 0x7f, 0x01}) // field 2047, varint 1
	tk := &task{proto: rec}
	if got := newTaskView(tk); !proto.Equal(got, rec) {
		t.Errorf("the view misses fields:\n%v\nrecord:\n%v", got, rec)
	}
	// With a role, the resources carry it; the record keeps its own.
	tk = &task{proto: proto.Clone(rec).(*mesospb.Task), role: "web"}
	tk.proto.Resources = resources.MustParse("cpus:1").ToProto("", false)
	v := newTaskView(tk)
	if allocationRoleOf(v.GetResources()) != "web" || allocationRoleOf(tk.proto.GetResources()) != "" {
		t.Errorf("view resources %v, record %v", v.GetResources(), tk.proto.GetResources())
	}
}
