package core

import (
	"testing"

	"github.com/mesoproject/meso/api/mesospb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// TestCopyRecordFields checks that copyRecord copies every field of Task
// (it names them one by one): a record with every field set has a copy
// equal to it, with a status list of its own.
func TestCopyRecordFields(t *testing.T) {
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
	cp := copyRecord(rec)
	if !proto.Equal(cp, rec) {
		t.Errorf("the copy misses fields:\n%v\nrecord:\n%v", cp, rec)
	}
	if &cp.Statuses[0] == &rec.Statuses[0] {
		t.Error("the copy shares the record's status list")
	}
}

// TestEditTaskCopiesShared checks editTask: a record nothing took is
// modified in place; once a state query or an event took it, the task
// gets a copy and what was taken stays as it was.
func TestEditTaskCopiesShared(t *testing.T) {
	c := &Core{recGen: 1}
	fw := &framework{}
	tk := &task{id: "t", proto: &mesospb.Task{State: mesospb.TaskState_TASK_STAGING.Enum()}, recGen: c.recGen}
	fw.views.put(tk)
	rec := tk.proto
	if c.editTask(tk) != rec {
		t.Fatal("an unshared record was copied")
	}
	snap := fw.views.snapshot()
	c.recGen++ // as taskLists does
	r := c.editTask(tk)
	r.State = mesospb.TaskState_TASK_RUNNING.Enum()
	r.Statuses = append(r.Statuses, &mesospb.TaskStatus{})
	tk.changed()
	if r == rec || rec.GetState() != mesospb.TaskState_TASK_STAGING || len(rec.Statuses) != 0 {
		t.Fatalf("the shared record was modified: %v", rec)
	}
	live, _ := snap.split(nil, nil)
	if len(live) != 1 || live[0] != rec {
		t.Fatalf("the snapshot lists %v, want the record it took", live)
	}
	if live, _ := fw.views.snapshot().split(nil, nil); len(live) != 1 || live[0] != r {
		t.Fatalf("a new snapshot lists %v, want the new record", live)
	}
	c.recGen++
	if ev := shareRecord(tk); ev != r || c.editTask(tk) == r {
		t.Fatal("a record handed to an event was not copied on the next edit")
	}
}
