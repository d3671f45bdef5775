package sim

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/mesospb"
)

// TestPostBatchesByLinkVersion: an agent's waiting calls go in one BATCH
// to a master of link version 2, one request per call to a version 1
// master, and every call carries the link and agent ids.
func TestPostBatchesByLinkVersion(t *testing.T) {
	var mu sync.Mutex
	var got []*linkpb.AgentCall
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		call := &linkpb.AgentCall{}
		if err := codec.Protobuf.Unmarshal(body, call); err != nil {
			t.Errorf("request body: %v", err)
		}
		mu.Lock()
		got = append(got, call)
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	r := &runner{epoch: time.Now(), log: slog.New(slog.DiscardHandler), lat: newLatencyBook()}
	p := &agentPool{r: r, client: srv.Client()}
	calls := func(a *simAgent) []outCall {
		var out []outCall
		for _, state := range []mesospb.TaskState{mesospb.TaskState_TASK_STARTING, mesospb.TaskState_TASK_RUNNING} {
			out = append(out, outCall{a: a, first: true, call: &linkpb.AgentCall{
				Type: linkpb.AgentCall_STATUS_UPDATE.Enum(),
				StatusUpdate: &linkpb.AgentCall_StatusUpdate{
					FrameworkId: &mesospb.FrameworkID{Value: proto.String("f1")},
					Status:      newStatus("agent-1", "t1", state, time.Now()),
				},
			}})
		}
		return append(out, outCall{a: a, call: &linkpb.AgentCall{Type: linkpb.AgentCall_PONG.Enum()}})
	}
	for _, tc := range []struct {
		version   uint32
		wantTypes []linkpb.AgentCall_Type
	}{
		{2, []linkpb.AgentCall_Type{linkpb.AgentCall_BATCH}},
		{1, []linkpb.AgentCall_Type{linkpb.AgentCall_STATUS_UPDATE, linkpb.AgentCall_STATUS_UPDATE, linkpb.AgentCall_PONG}},
	} {
		got = nil
		a := &simAgent{p: p, id: "agent-1", link: "link-1", url: srv.URL, linkVersion: tc.version}
		p.post(context.Background(), a, calls(a))
		mu.Lock()
		var types []linkpb.AgentCall_Type
		for _, c := range got {
			types = append(types, c.GetType())
			if c.GetLinkId() != "link-1" || c.GetAgentId().GetValue() != "agent-1" {
				t.Errorf("version %d: %s without the session's ids: %v", tc.version, c.GetType(), c)
			}
		}
		if len(types) != len(tc.wantTypes) {
			t.Fatalf("version %d: requests %v, want %v", tc.version, types, tc.wantTypes)
		}
		for i := range types {
			if types[i] != tc.wantTypes[i] {
				t.Errorf("version %d: requests %v, want %v", tc.version, types, tc.wantTypes)
			}
		}
		if tc.version == 2 {
			inner := got[0].GetBatch().GetCalls()
			if len(inner) != 3 || inner[0].GetStatusUpdate().GetStatus().GetState() != mesospb.TaskState_TASK_STARTING ||
				inner[2].GetType() != linkpb.AgentCall_PONG {
				t.Errorf("BATCH calls %v, want the three in order", inner)
			}
		}
		mu.Unlock()
	}
	if n := r.c.callErrors.Load(); n != 0 {
		t.Errorf("call errors %d", n)
	}
	if n := r.c.agentRequests.Load(); n != 4 {
		t.Errorf("agent requests %d, want 4", n)
	}
}
