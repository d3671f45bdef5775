package master

import (
	"net/http"
	"testing"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/masterpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/internal/present"
	"google.golang.org/protobuf/proto"
)

// TestTeardownRecordsKilledTasks: a framework torn down (by itself or by
// an operator) has its stream closed with no ERROR event (Mesos closes the
// connection: ERROR "Framework has been removed" answers only a later
// SUBSCRIBE of the id), and its live task ends TASK_KILLED, with a
// master-sourced TASK_KILLED status (REASON_FRAMEWORK_REMOVED) in its
// statuses, in /master/state and in GET_STATE, as Mesos records it.
func TestTeardownRecordsKilledTasks(t *testing.T) {
	for _, by := range []string{"framework", "operator"} {
		t.Run(by, func(t *testing.T) {
			c := codec.JSON
			cl := startCluster(t, c)
			cl.launch(t, "t1")
			if by == "framework" {
				cl.fw.mustCall(&schedulerpb.Call{Type: schedulerpb.Call_TEARDOWN.Enum()})
			} else {
				status, _, body := operatorCall(t, cl.base, c, &masterpb.Call{Type: masterpb.Call_TEARDOWN.Enum(),
					Teardown: &masterpb.Call_Teardown{FrameworkId: &mesospb.FrameworkID{Value: proto.String(cl.fw.id)}}})
				if status != http.StatusOK {
					t.Fatalf("TEARDOWN: %d %s", status, body)
				}
			}
			for {
				ev, ok := <-cl.fw.events.events
				if !ok {
					break
				}
				if ev.GetType() == schedulerpb.Event_ERROR {
					t.Errorf("ERROR event on teardown (Mesos sends none): %v", ev)
				}
			}

			checkKilled := func(where string, task *mesospb.Task) {
				t.Helper()
				sts := task.GetStatuses()
				if task.GetState() != mesospb.TaskState_TASK_KILLED || len(sts) == 0 {
					t.Fatalf("%s: task = %v", where, task)
				}
				last := sts[len(sts)-1]
				if last.GetState() != mesospb.TaskState_TASK_KILLED || last.GetSource() != mesospb.TaskStatus_SOURCE_MASTER ||
					last.GetReason() != mesospb.TaskStatus_REASON_FRAMEWORK_REMOVED || last.GetMessage() != "Framework "+cl.fw.id+" removed" {
					t.Errorf("%s: last status = %v", where, last)
				}
			}
			gs := query(t, cl.base, c, masterpb.Call_GET_STATE).GetGetState()
			done := gs.GetGetTasks().GetCompletedTasks()
			if len(done) != 1 || len(gs.GetGetTasks().GetTasks()) != 0 {
				t.Fatalf("GET_STATE tasks = %v", gs.GetGetTasks())
			}
			checkKilled("GET_STATE", done[0])

			var st present.MasterState
			getJSON(t, cl.base+"/master/state", &st)
			if len(st.CompletedFrameworks) != 1 || len(st.CompletedFrameworks[0].CompletedTasks) != 1 {
				t.Fatalf("/master/state completed_frameworks = %+v", st.CompletedFrameworks)
			}
			task := st.CompletedFrameworks[0].CompletedTasks[0]
			if task.State != "TASK_KILLED" || len(task.Statuses) == 0 || task.Statuses[len(task.Statuses)-1].State != "TASK_KILLED" ||
				task.Statuses[len(task.Statuses)-1].Reason != "REASON_FRAMEWORK_REMOVED" {
				t.Errorf("/master/state task = %+v", task)
			}
		})
	}
}
