package e2e

import (
	"maps"
	"net/http"
	"slices"
	"testing"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
)

// reconciled sends the reconciliation fixture, then an explicit
// reconciliation of a task nobody launched (sentinel, without agent), and
// collects the master's reconciliation updates up to the sentinel's, which
// it leaves out: every answer to the first call comes before it, as the
// master handles calls in order. Each answer is checked to be the master's
// (SOURCE_MASTER, REASON_RECONCILIATION, no uuid).
func (s *schedWire) reconciled(fixtureName, sentinel string, more ...string) map[string]mesospb.TaskState {
	s.t.Helper()
	s.accepted(fixtureName, more...)
	s.accepted("reconcile_no_agent.json", "TASK_ID", sentinel)
	got := map[string]mesospb.TaskState{}
	for {
		ev, js := s.event(schedulerpb.Event_UPDATE, func(ev *schedulerpb.Event) bool {
			return ev.GetUpdate().GetStatus().GetReason() == mesospb.TaskStatus_REASON_RECONCILIATION
		})
		st := ev.GetUpdate().GetStatus()
		if st.GetSource() != mesospb.TaskStatus_SOURCE_MASTER || len(st.GetUuid()) != 0 {
			s.t.Errorf("reconciliation of %s: source %s, uuid %x; want SOURCE_MASTER and no uuid",
				st.GetTaskId().GetValue(), st.GetSource(), st.GetUuid())
		}
		if js != nil {
			jabsent(s.t, js, "update.status.uuid")
			jnum(s.t, js, "update.status.timestamp")
		}
		if st.GetTaskId().GetValue() == sentinel {
			return got
		}
		if _, dup := got[st.GetTaskId().GetValue()]; dup {
			s.t.Errorf("task %s reconciled twice", st.GetTaskId().GetValue())
		}
		got[st.GetTaskId().GetValue()] = st.GetState()
	}
}

func wantStates(t *testing.T, what string, got, want map[string]mesospb.TaskState) {
	t.Helper()
	if !maps.Equal(got, want) {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

// TestConformanceReconciliation checks the "Reconciliation" document's
// semantics: implicit reconciliation (no tasks) answers with the latest
// state of every task the master knows, which includes a terminal task
// until its update is acknowledged; explicit reconciliation answers for
// each task listed, TASK_LOST for tasks Mesos does not know. For a
// PARTITION_AWARE framework unknown tasks are TASK_GONE when their agent is
// registered and TASK_UNKNOWN otherwise ("Task State Reasons": these
// updates carry REASON_RECONCILIATION).
func TestConformanceReconciliation(t *testing.T) {
	cl := newCluster(t, 1, agentRes, conformanceMasterFlags...)
	s := subscribeWire(t, cl.master, mtJSON, "subscribe.json", schedVars(t))

	o, _ := s.offer()
	agentID := o.GetAgentId().GetValue()
	s.vars["AGENT_ID"] = agentID
	s.launch("accept_launch.json", o, "long", "sleep 60", "REFUSE", "0")
	s.ackedUpdate("long", mesospb.TaskState_TASK_RUNNING)
	o, _ = s.offer()
	s.launch("accept_launch.json", o, "short", "true", "REFUSE", "0")
	s.ackedUpdate("short", mesospb.TaskState_TASK_RUNNING)
	finished, _ := s.update("short", mesospb.TaskState_TASK_FINISHED)

	// Implicit, before TASK_FINISHED is acknowledged: both tasks.
	wantStates(t, "implicit reconciliation", s.reconciled("reconcile_all.json", "sentinel-1"),
		map[string]mesospb.TaskState{"long": mesospb.TaskState_TASK_RUNNING, "short": mesospb.TaskState_TASK_FINISHED})

	// Once acknowledged, the finished task is no longer known.
	s.ack(finished)
	wantStates(t, "implicit reconciliation after the acknowledgement", s.reconciled("reconcile_all.json", "sentinel-2"),
		map[string]mesospb.TaskState{"long": mesospb.TaskState_TASK_RUNNING})

	// Explicit: the running task's latest state, TASK_LOST for the
	// forgotten one, for a task never launched, and for an unknown agent.
	explicit := []struct {
		task, agent string
		want        mesospb.TaskState
	}{
		{"long", agentID, mesospb.TaskState_TASK_RUNNING},
		{"short", agentID, mesospb.TaskState_TASK_LOST},
		{"never-launched", agentID, mesospb.TaskState_TASK_LOST},
		{"never-launched-2", agentID + "-unknown", mesospb.TaskState_TASK_LOST},
	}
	for i, c := range explicit {
		got := s.reconciled("reconcile.json", "sentinel-e"+string(rune('a'+i)), "TASK_ID", c.task, "AGENT_ID", c.agent)
		wantStates(t, "explicit reconciliation of "+c.task, got, map[string]mesospb.TaskState{c.task: c.want})
	}
	// KILL: without the TASK_KILLING_STATE capability the framework sees
	// no TASK_KILLING, only TASK_KILLED.
	s.accepted("kill.json", "TASK_ID", "long")
	if st, states := s.history("long"); st.GetState() != mesospb.TaskState_TASK_KILLED || slices.Contains(states, mesospb.TaskState_TASK_KILLING) {
		t.Errorf("killed task went through %v, want TASK_KILLED without TASK_KILLING", states)
	}
	s.accepted("teardown.json")
	s.stream.waitEnd()

	pa := subscribeWire(t, cl.master, mtProtobuf, "subscribe_partition_aware.json", schedVars(t))
	pa.vars["AGENT_ID"] = agentID
	for i, c := range []struct {
		fixture, task, agent string
		want                 mesospb.TaskState
	}{
		{"reconcile.json", "pa-unknown-1", agentID, mesospb.TaskState_TASK_GONE},
		{"reconcile.json", "pa-unknown-2", agentID + "-unknown", mesospb.TaskState_TASK_UNKNOWN},
		{"reconcile_no_agent.json", "pa-unknown-3", "", mesospb.TaskState_TASK_UNKNOWN},
	} {
		got := pa.reconciled(c.fixture, "pa-sentinel-"+string(rune('a'+i)), "TASK_ID", c.task, "AGENT_ID", c.agent)
		wantStates(t, "partition-aware reconciliation of "+c.task, got, map[string]mesospb.TaskState{c.task: c.want})
	}
	pa.call("teardown.json").wantStatus(t, "TEARDOWN", http.StatusAccepted)
}
