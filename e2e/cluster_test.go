package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/batch"
	"github.com/mesoproject/meso/internal/resources"
)

const agentRes = "cpus:4;mem:4096;disk:4096;ports:[31000-31100]"

// A framework launches 100 short command tasks on two agents; each one
// finishes, and each update is acknowledged (the agents' status update
// managers end up empty).
func TestHundredTasksOnTwoAgents(t *testing.T) {
	for _, c := range []struct {
		name  string
		codec codec.Codec
	}{{"protobuf", codec.Protobuf}, {"json", codec.JSON}} {
		t.Run(c.name, func(t *testing.T) {
			cl := newCluster(t, 2, agentRes, masterFlags...)
			tasks := make([]batch.Task, 100)
			for i := range tasks {
				tasks[i] = batch.Task{
					ID:        fmt.Sprintf("t%03d", i),
					Command:   "test -w .",
					Resources: resources.MustParse("cpus:0.1;mem:16"),
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			res, err := batch.Run(ctx, batch.Config{Master: cl.master.addr, Codec: c.codec}, tasks)
			if err != nil {
				t.Fatal(err)
			}
			agents := map[string]bool{}
			for _, r := range res {
				if r.State != mesospb.TaskState_TASK_FINISHED {
					t.Errorf("task %s ended %s (%s): %s", r.TaskID, r.State, r.Reason, r.Message)
				}
				if !seen(r.States, mesospb.TaskState_TASK_RUNNING) {
					t.Errorf("task %s never reported TASK_RUNNING: %v", r.TaskID, r.States)
				}
				agents[r.AgentID] = true
			}
			if len(agents) != 2 {
				t.Errorf("tasks ran on %d agents, want both", len(agents))
			}
			// Every update was acknowledged: the agents hold none back.
			for _, a := range cl.agents {
				eventually(t, 30*time.Second, func() error {
					var m map[string]float64
					if err := getJSON(a.url("/metrics/snapshot"), &m); err != nil {
						return err
					}
					if n := m["slave/status_updates_pending"]; n != 0 {
						return fmt.Errorf("%s: %v updates not acknowledged", a.name, n)
					}
					return nil
				})
			}
		})
	}
}

func seen(states []mesospb.TaskState, s mesospb.TaskState) bool {
	for _, x := range states {
		if x == s {
			return true
		}
	}
	return false
}

// KILL of a long task ends it TASK_KILLED; a command that exits non-zero
// ends TASK_FAILED with its exit status in the message.
func TestKillAndFailure(t *testing.T) {
	cl := newCluster(t, 1, agentRes, masterFlags...)
	f := newFramework(t, cl.master.addr, fwOptions{})

	offer := f.launch("sleeper", "sleep 1000", "cpus:0.5;mem:64", "")
	f.waitState("sleeper", mesospb.TaskState_TASK_RUNNING, 30*time.Second)
	if err := f.client.Kill(context.Background(), taskID("sleeper"), offer.GetAgentId()); err != nil {
		t.Fatal(err)
	}
	st := f.waitState("sleeper", mesospb.TaskState_TASK_KILLED, 30*time.Second)
	if st.GetSource() != mesospb.TaskStatus_SOURCE_EXECUTOR {
		t.Errorf("TASK_KILLED source = %s, want SOURCE_EXECUTOR", st.GetSource())
	}

	f.launch("bad", "echo oops >&2; exit 3", "cpus:0.5;mem:64", "")
	st = f.waitState("bad", mesospb.TaskState_TASK_FAILED, 30*time.Second)
	if !strings.Contains(st.GetMessage(), "exited with status 3") {
		t.Errorf("TASK_FAILED message = %q, want the exit status", st.GetMessage())
	}
	if st.GetAgentId().GetValue() != offer.GetAgentId().GetValue() || st.GetExecutorId().GetValue() == "" || st.GetTimestamp() == 0 {
		t.Errorf("update lacks agent_id/executor_id/timestamp: %v", st)
	}
}

// An agent killed with SIGKILL: its tasks become TASK_LOST for an ordinary
// framework and TASK_UNREACHABLE for a partition-aware one, and its
// resources are not offered any more.
func TestAgentLost(t *testing.T) {
	for _, aware := range []bool{false, true} {
		t.Run(fmt.Sprintf("partition_aware=%v", aware), func(t *testing.T) {
			cl := newCluster(t, 2, agentRes, fastLossFlags...)
			f := newFramework(t, cl.master.addr, fwOptions{partitionAware: aware})
			offer := f.launch("victim", "sleep 1000", "cpus:1;mem:64", "")
			f.waitState("victim", mesospb.TaskState_TASK_RUNNING, 30*time.Second)
			lost := offer.GetAgentId().GetValue()

			var victim *proc
			for _, a := range cl.agents {
				var s struct {
					ID string `json:"id"`
				}
				if err := getJSON(a.url("/state"), &s); err == nil && s.ID == lost {
					victim = a
				}
			}
			if victim == nil {
				t.Fatalf("no agent reports id %s", lost)
			}
			// Hand back every offer so the survivor is offered afresh.
			f.declineAll()
			victim.kill()

			want := mesospb.TaskState_TASK_LOST
			if aware {
				want = mesospb.TaskState_TASK_UNREACHABLE
			}
			f.waitState("victim", want, 30*time.Second)
			f.waitFor(30*time.Second, "a FAILURE event for the agent", func() bool {
				for _, ev := range f.events {
					if ev.GetFailure().GetAgentId().GetValue() == lost && ev.GetFailure().ExecutorId == nil {
						return true
					}
				}
				return false
			})
			// The lost agent's resources are gone from the master and from
			// offers (outstanding ones were rescinded); the other agent's
			// still come.
			cl.waitAgents(1)
			f.waitFor(30*time.Second, "an offer from the surviving agent", func() bool {
				for _, o := range f.offers {
					if o.GetAgentId().GetValue() == lost {
						return false
					}
				}
				return len(f.offers) > 0
			})
		})
	}
}

// A framework that disconnects and resubscribes within its failover timeout
// keeps its tasks.
func TestFrameworkFailover(t *testing.T) {
	cl := newCluster(t, 1, agentRes, masterFlags...)
	f := newFramework(t, cl.master.addr, fwOptions{failoverTimeout: 60})
	f.launch("survivor", "sleep 1000", "cpus:0.5;mem:64", "")
	f.waitState("survivor", mesospb.TaskState_TASK_RUNNING, 30*time.Second)
	id := f.client.FrameworkID()
	f.stop()

	g := newFramework(t, cl.master.addr, fwOptions{id: id, failoverTimeout: 60})
	g.waitFor(30*time.Second, "resubscription", func() bool { return g.subs > 0 })
	if got := g.client.FrameworkID().GetValue(); got != id.GetValue() {
		t.Fatalf("resubscribed as %s, want %s", got, id.GetValue())
	}
	if err := g.client.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	g.waitState("survivor", mesospb.TaskState_TASK_RUNNING, 30*time.Second)
	for _, fw := range cl.state().Frameworks {
		if fw.ID == id.GetValue() {
			if len(fw.Tasks) != 1 || fw.Tasks[0].State != "TASK_RUNNING" {
				t.Errorf("master lists tasks %+v, want survivor running", fw.Tasks)
			}
			return
		}
	}
	t.Errorf("master does not list framework %s", id.GetValue())
}

func taskID(s string) *mesospb.TaskID { return &mesospb.TaskID{Value: &s} }
