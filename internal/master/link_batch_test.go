package master

import (
	"net/http"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/internal/resources"
)

// TestLinkBatch: REGISTERED announces link version 2; a BATCH's calls
// are applied in order, each as if posted alone (a refused one does not
// stop the rest, and the answer names it); malformed batches are refused
// with 400, a stale session with 409.
func TestLinkBatch(t *testing.T) {
	c := codec.Protobuf
	_, base := startMaster(t)
	agent := registerAgent(t, base, c, "host1", "cpus:2;mem:256")
	f := subscribe(t, base, c, fwInfo("web"))
	offer := f.nextOf(schedulerpb.Event_OFFERS).GetOffers().GetOffers()[0]
	var tasks []*mesospb.TaskInfo
	for _, id := range []string{"t1", "t2", "t3"} {
		tasks = append(tasks, &mesospb.TaskInfo{Name: proto.String(id), TaskId: &mesospb.TaskID{Value: proto.String(id)},
			AgentId: offer.GetAgentId(), Resources: resources.MustParse("cpus:0.5;mem:32").ToProto("", false),
			Command: &mesospb.CommandInfo{Value: proto.String("true")}})
	}
	f.mustCall(&schedulerpb.Call{Type: schedulerpb.Call_ACCEPT.Enum(), Accept: &schedulerpb.Call_Accept{
		OfferIds: []*mesospb.OfferID{offer.GetId()},
		Operations: []*mesospb.Offer_Operation{{Type: mesospb.Offer_Operation_LAUNCH.Enum(),
			Launch: &mesospb.Offer_Operation_Launch{TaskInfos: tasks}}},
	}})
	for range tasks {
		agent.nextOf(linkpb.MasterEvent_RUN_TASK)
	}
	update := func(task string) *linkpb.AgentCall {
		return &linkpb.AgentCall{Type: linkpb.AgentCall_STATUS_UPDATE.Enum(),
			StatusUpdate: &linkpb.AgentCall_StatusUpdate{FrameworkId: &mesospb.FrameworkID{Value: proto.String(f.id)},
				Status: &mesospb.TaskStatus{TaskId: &mesospb.TaskID{Value: proto.String(task)}, State: mesospb.TaskState_TASK_RUNNING.Enum(),
					Source: mesospb.TaskStatus_SOURCE_EXECUTOR.Enum(), AgentId: offer.GetAgentId(), Uuid: []byte(task + "-0123456789ab"),
					Timestamp: proto.Float64(1)}}}
	}
	batch := func(calls ...*linkpb.AgentCall) *linkpb.AgentCall {
		return &linkpb.AgentCall{Type: linkpb.AgentCall_BATCH.Enum(), AgentId: &mesospb.AgentID{Value: proto.String(agent.id)},
			Batch: &linkpb.AgentCall_Batch{Calls: calls}}
	}
	pong := &linkpb.AgentCall{Type: linkpb.AgentCall_PONG.Enum(), Pong: &linkpb.AgentCall_Pong{Seq: proto.Uint64(1)}}

	// Malformed batches change nothing.
	for _, tc := range []struct {
		name string
		call *linkpb.AgentCall
		want string
	}{
		{"empty", batch(), "at least one call"},
		{"nested", batch(update("t1"), batch(pong)), "call 1 is a BATCH"},
		{"register", batch(&linkpb.AgentCall{Type: linkpb.AgentCall_REGISTER.Enum()}), "call 0 is a REGISTER"},
	} {
		if status, body := agent.send(tc.call); status != http.StatusBadRequest || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %q, want 400 with %q", tc.name, status, body, tc.want)
		}
	}
	big := batch()
	for range MaxBatchCalls + 1 {
		big.Batch.Calls = append(big.Batch.Calls, proto.CloneOf(pong))
	}
	if status, body := agent.send(big); status != http.StatusBadRequest || !strings.Contains(body, "at most") {
		t.Errorf("%d calls: %d %q", MaxBatchCalls+1, status, body)
	}
	stale := batch(update("t1"))
	stale.LinkId = proto.String("stale")
	if status, _ := agent.send(stale); status != http.StatusConflict {
		t.Errorf("stale batch: %d, want 409", status)
	}

	// t1, a refused call, PONG, t2, t3: the updates reach the framework
	// in order, the refusal is named.
	noPayload := &linkpb.AgentCall{Type: linkpb.AgentCall_STATUS_UPDATE.Enum()}
	status, body := agent.send(batch(update("t1"), noPayload, pong, update("t2"), update("t3")))
	if status != http.StatusBadRequest || !strings.Contains(body, "call 1 of 5 (STATUS_UPDATE)") {
		t.Fatalf("batch with a refused call: %d %q", status, body)
	}
	for _, want := range []string{"t1", "t2", "t3"} {
		if got := f.nextOf(schedulerpb.Event_UPDATE).GetUpdate().GetStatus().GetTaskId().GetValue(); got != want {
			t.Fatalf("UPDATE for %s, want %s (none may be lost or reordered)", got, want)
		}
	}
	if status, body := agent.send(batch(proto.CloneOf(pong), proto.CloneOf(pong))); status != http.StatusAccepted {
		t.Fatalf("batch of pongs: %d %q", status, body)
	}
}

// TestRegisteredLinkVersion: every REGISTERED tells the agent it may
// batch, with or without a secret issued; other events pass unchanged.
func TestRegisteredLinkVersion(t *testing.T) {
	l := &loop{issued: map[string]string{"L1": "s"}, linkVersion: LinkVersion}
	reg := &linkpb.MasterEvent{Type: linkpb.MasterEvent_REGISTERED.Enum(), Registered: &linkpb.MasterEvent_Registered{}}
	for _, link := range []string{"L1", "L2"} {
		ev := l.withIssuedSecret(link, reg)
		if ev.GetRegistered().GetLinkVersion() != LinkVersion || reg.GetRegistered().LinkVersion != nil {
			t.Fatalf("REGISTERED on %s: %v (the core's event: %v)", link, ev, reg)
		}
		if (ev.GetRegistered().GetAgentSecret() == "s") != (link == "L1") {
			t.Fatalf("secret on %s: %v", link, ev)
		}
	}
	ping := &linkpb.MasterEvent{Type: linkpb.MasterEvent_PING.Enum()}
	if l.withIssuedSecret("L1", ping) != ping {
		t.Fatal("PING copied")
	}
}
