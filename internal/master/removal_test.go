package master

import (
	"net/http"
	"testing"
	"time"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"google.golang.org/protobuf/proto"
)

// TestTerminalUpdateSurvivesAgentLoss is issue 8's case over HTTP: the
// framework has not acknowledged TASK_STARTING, the agent reports
// TASK_FINISHED as the latest state, then goes silent and is lost. The
// framework must get TASK_FINISHED, reconciliation must answer it until the
// framework acknowledges it, and the acknowledgement (no agent to pass it
// to) is accepted.
func TestTerminalUpdateSurvivesAgentLoss(t *testing.T) {
	_, base := startMaster(t, func(cfg *Config) {
		cfg.AgentPingTimeout = 100 * time.Millisecond
		cfg.MaxAgentPingTimeouts = 3
	})
	agent := registerAgent(t, base, codec.JSON, "host1", "cpus:2;mem:256")
	f := subscribe(t, base, codec.JSON, fwInfo("web"))
	offer := f.nextOf(schedulerpb.Event_OFFERS).GetOffers().GetOffers()[0]
	taskID := &mesospb.TaskID{Value: proto.String("t")}
	f.mustCall(&schedulerpb.Call{Type: schedulerpb.Call_ACCEPT.Enum(), Accept: &schedulerpb.Call_Accept{
		OfferIds: []*mesospb.OfferID{offer.GetId()},
		Operations: []*mesospb.Offer_Operation{{Type: mesospb.Offer_Operation_LAUNCH.Enum(),
			Launch: &mesospb.Offer_Operation_Launch{TaskInfos: []*mesospb.TaskInfo{{
				Name: proto.String("t"), TaskId: taskID, AgentId: offer.GetAgentId(),
				Resources: offer.GetResources(), Command: &mesospb.CommandInfo{Value: proto.String("true")}}}}}},
	}})
	agent.nextOf(linkpb.MasterEvent_RUN_TASK)
	starting := func(latest mesospb.TaskState) {
		t.Helper()
		status, body := agent.send(&linkpb.AgentCall{Type: linkpb.AgentCall_STATUS_UPDATE.Enum(),
			StatusUpdate: &linkpb.AgentCall_StatusUpdate{FrameworkId: &mesospb.FrameworkID{Value: proto.String(f.id)},
				LatestState: latest.Enum(),
				Status: &mesospb.TaskStatus{TaskId: taskID, State: mesospb.TaskState_TASK_STARTING.Enum(),
					Source: mesospb.TaskStatus_SOURCE_EXECUTOR.Enum(), AgentId: offer.GetAgentId(),
					Uuid: []byte("0123456789abcdef"), Timestamp: proto.Float64(1)}}})
		if status != http.StatusAccepted {
			t.Fatalf("status update: %d %s", status, body)
		}
		f.nextOf(schedulerpb.Event_UPDATE)
	}
	starting(mesospb.TaskState_TASK_STARTING)
	// Not acknowledged: the agent sends it again, knowing the task finished.
	starting(mesospb.TaskState_TASK_FINISHED)
	agent.pong.Store(false)

	up := f.nextOf(schedulerpb.Event_UPDATE).GetUpdate().GetStatus()
	if up.GetState() != mesospb.TaskState_TASK_FINISHED || up.GetSource() != mesospb.TaskStatus_SOURCE_MASTER ||
		len(up.GetUuid()) != 16 || up.GetAgentId().GetValue() != agent.id {
		t.Fatalf("update after agent loss = %v", up)
	}
	f.nextOf(schedulerpb.Event_FAILURE)
	reconcile := &schedulerpb.Call{Type: schedulerpb.Call_RECONCILE.Enum(), Reconcile: &schedulerpb.Call_Reconcile{
		Tasks: []*schedulerpb.Call_Reconcile_Task{{TaskId: taskID, AgentId: offer.GetAgentId()}}}}
	f.mustCall(reconcile)
	if rec := f.nextOf(schedulerpb.Event_UPDATE).GetUpdate().GetStatus(); rec.GetState() != mesospb.TaskState_TASK_FINISHED {
		t.Fatalf("reconciliation before the acknowledgement = %v", rec)
	}
	f.mustCall(&schedulerpb.Call{Type: schedulerpb.Call_ACKNOWLEDGE.Enum(), Acknowledge: &schedulerpb.Call_Acknowledge{
		AgentId: up.GetAgentId(), TaskId: taskID, Uuid: up.GetUuid()}})
	f.mustCall(reconcile)
	if rec := f.nextOf(schedulerpb.Event_UPDATE).GetUpdate().GetStatus(); rec.GetState() != mesospb.TaskState_TASK_LOST {
		t.Fatalf("reconciliation after the acknowledgement = %v", rec)
	}
}

// TestRemovedFrameworkIDRefused: a torn-down framework's id gets 200, an
// ERROR event "Framework has been removed" and the end of the stream, as
// Mesos answers; a made-up id subscribes (Mesos takes it for a failover to
// a new master).
func TestRemovedFrameworkIDRefused(t *testing.T) {
	_, base := startMaster(t)
	f := subscribe(t, base, codec.JSON, fwInfo("web"))
	f.mustCall(&schedulerpb.Call{Type: schedulerpb.Call_TEARDOWN.Enum()})
	if err := f.events.ended(); !isEOF(err) {
		t.Fatalf("torn-down stream ended with %v", err)
	}
	info := fwInfo("web")
	info.Id = &mesospb.FrameworkID{Value: proto.String(f.id)}
	resp := subscribeReq(t, base, codec.JSON, info)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("resubscribe of a removed id: %s", resp.Status)
	}
	events := newEventStream(t, resp, codec.JSON, func() *schedulerpb.Event { return &schedulerpb.Event{} }, nil)
	if ev := events.next(); ev.GetType() != schedulerpb.Event_ERROR || ev.GetError().GetMessage() != "Framework has been removed" {
		t.Fatalf("first event = %v", ev)
	}
	if err := events.ended(); !isEOF(err) {
		t.Fatalf("refused stream ended with %v", err)
	}
	info.Id = &mesospb.FrameworkID{Value: proto.String("made-up")}
	if g := subscribe(t, base, codec.JSON, info); g.id != "made-up" {
		t.Fatalf("made-up id subscribed as %s", g.id)
	}
}
