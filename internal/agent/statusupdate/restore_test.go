package statusupdate

import (
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
)

func status(task string, state mesospb.TaskState, uuid string) *mesospb.TaskStatus {
	return &mesospb.TaskStatus{TaskId: &mesospb.TaskID{Value: proto.String(task)}, State: state.Enum(), Uuid: []byte(uuid)}
}

// A restored stream forwards nothing while paused, resends its pending
// updates in order on Resume, and takes the uuids it had received
// (acknowledged ones too) as duplicates.
func TestRestore(t *testing.T) {
	now := time.Unix(100, 0)
	m := New(0, 0)
	pending := []*mesospb.TaskStatus{status("t1", mesospb.TaskState_TASK_RUNNING, "u2"), status("t1", mesospb.TaskState_TASK_FINISHED, "u3")}
	if err := m.Restore("f1", "t1", pending, [][]byte{[]byte("u1")}, false); err != nil {
		t.Fatal(err)
	}
	if err := m.Restore("f1", "t1", nil, nil, false); !errors.Is(err, ErrInvalidUpdate) {
		t.Fatalf("second Restore of a stream: %v, want ErrInvalidUpdate", err)
	}
	if err := m.Restore("f1", "t2", []*mesospb.TaskStatus{status("t9", mesospb.TaskState_TASK_RUNNING, "x")}, nil, false); !errors.Is(err, ErrInvalidUpdate) {
		t.Fatalf("Restore with another task's update: %v, want ErrInvalidUpdate", err)
	}
	if fwd := m.Tick(now.Add(time.Hour)); len(fwd) != 0 || m.Len() != 2 {
		t.Fatalf("paused: forwarded %v, pending %d", fwd, m.Len())
	}
	for _, u := range []string{"u1", "u2", "u3"} {
		if _, err := m.Update("f1", status("t1", mesospb.TaskState_TASK_RUNNING, u), now); !errors.Is(err, ErrDuplicate) {
			t.Fatalf("update %s after Restore: %v, want ErrDuplicate", u, err)
		}
	}
	if _, err := m.Update("f1", status("t1", mesospb.TaskState_TASK_RUNNING, "u4"), now); !errors.Is(err, ErrStreamTerminated) {
		t.Fatalf("update after a restored terminal one: %v, want ErrStreamTerminated", err)
	}
	fwd := m.Resume(now)
	if len(fwd) != 1 || string(fwd[0].Status.GetUuid()) != "u2" || fwd[0].LatestState != mesospb.TaskState_TASK_FINISHED {
		t.Fatalf("Resume forwarded %v, want u2 (latest TASK_FINISHED)", fwd)
	}
	fwd, _, _, err := m.Acknowledge("f1", "t1", []byte("u2"), now)
	if err != nil || len(fwd) != 1 || string(fwd[0].Status.GetUuid()) != "u3" {
		t.Fatalf("after the ack of u2: %v, %v; want u3", fwd, err)
	}
	if _, _, closed, err := m.Acknowledge("f1", "t1", []byte("u3"), now); err != nil || !closed {
		t.Fatalf("ack of the terminal update: closed=%v, %v", closed, err)
	}
}
