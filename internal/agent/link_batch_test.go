package agent

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/mesospb"
)

// waitQueued waits until the fake master holds held calls (in requests
// waiting for m.hold) and the agent queues queued more.
func waitQueued(t *testing.T, m *fakeMaster, a *testAgent, held, queued int) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		m.mu.Lock()
		h := m.held
		m.mu.Unlock()
		a.mu.Lock()
		q := len(a.outbox)
		a.mu.Unlock()
		if h == held && q == queued || held < 0 && h+q == queued {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d calls held by the master and %d queued, want %d and %d", h, q, held, queued)
		}
		time.Sleep(time.Millisecond) // polling a condition with a deadline
	}
}

// TestBatchKeepsOrder: calls that wait while one request is out go in
// one BATCH to a master of link version 2, one per request to an older
// master; either way they arrive in the order they were made.
func TestBatchKeepsOrder(t *testing.T) {
	for _, version := range []uint32{2, 0} {
		t.Run(fmt.Sprintf("version%d", version), func(t *testing.T) {
			m := newFakeMaster(t)
			m.version = version
			a := startAgent(t, m, nil)
			s := m.session()
			m.sync(s)
			hold := make(chan struct{})
			m.mu.Lock()
			m.hold, m.sizes = hold, nil
			m.mu.Unlock()
			const n = 50
			for i := 1; i <= n; i++ {
				s.send(&linkpb.MasterEvent{Type: linkpb.MasterEvent_PING.Enum(), Ping: &linkpb.MasterEvent_Ping{Seq: proto.Uint64(uint64(i))}})
			}
			waitQueued(t, m, a, -1, n) // held and queued: n in all
			m.mu.Lock()
			m.hold = nil
			m.mu.Unlock()
			close(hold)
			for i := 1; i <= n; i++ {
				if seq := m.call(linkpb.AgentCall_PONG).GetPong().GetSeq(); seq != uint64(i) {
					t.Fatalf("PONG %d arrived as number %d", seq, i)
				}
			}
			m.mu.Lock()
			sizes := m.sizes
			m.mu.Unlock()
			if version >= batchLinkVersion {
				// The held request, then at most one for all the rest.
				sum := 0
				for _, k := range sizes {
					sum += k
				}
				if len(sizes) > 2 || sum != n {
					t.Fatalf("calls per request %v, want at most 2 requests", sizes)
				}
			} else if len(sizes) != n {
				t.Fatalf("calls per request %v to a master without BATCH, want one each", sizes)
			}
		})
	}
}

// TestBatchFailureRetries: a master that fails in the middle of a batch
// of status updates (taking the first, refusing the request) gets every
// update again from the status update manager, none lost, and none after
// its acknowledgement.
func TestBatchFailureRetries(t *testing.T) {
	for _, status := range []int{http.StatusInternalServerError, http.StatusServiceUnavailable} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			m := newFakeMaster(t)
			a := startAgent(t, m, func(c *Config) { c.StatusUpdateRetryIntervalMin = 50 * time.Millisecond })
			s := m.session()
			tasks := []string{"t1", "t2", "t3"}
			var execs []*execClient
			for _, task := range tasks {
				s.send(runTask("f1", commandTask(task, "sleep 100")))
				a.cz.launch(t)
				ex := newExecClient(t, a.url, codec.Protobuf, "f1", task)
				ex.subscribe()
				ex.event() // SUBSCRIBED
				ex.event() // LAUNCH
				execs = append(execs, ex)
			}
			m.sync(s)
			hold := make(chan struct{})
			failed := 0
			m.mu.Lock()
			m.hold = hold
			m.refuse = func(calls []*linkpb.AgentCall) (int, int) {
				if failed == 0 && len(calls) == len(tasks) {
					failed++
					return 1, status
				}
				return 0, 0
			}
			m.mu.Unlock()
			s.send(&linkpb.MasterEvent{Type: linkpb.MasterEvent_PING.Enum(), Ping: &linkpb.MasterEvent_Ping{Seq: proto.Uint64(99)}})
			waitQueued(t, m, a, 1, 0) // the PONG is out, held
			for i, task := range tasks {
				if code := execs[i].update(task, mesospb.TaskState_TASK_RUNNING, uuidOf(task+"-run")); code != 202 {
					t.Fatalf("UPDATE answered %d", code)
				}
			}
			waitQueued(t, m, a, 1, len(tasks))
			m.mu.Lock()
			m.hold = nil
			m.mu.Unlock()
			close(hold)

			seen := map[string]int{}
			for len(seen) < len(tasks) || seen["t1"] < 2 {
				up := m.call(linkpb.AgentCall_STATUS_UPDATE).GetStatusUpdate().GetStatus()
				task := up.GetTaskId().GetValue()
				if !bytes.Equal(up.GetUuid(), uuidOf(task+"-run")) {
					t.Fatalf("update %v", up)
				}
				seen[task]++
			}
			m.mu.Lock()
			if failed != 1 {
				t.Errorf("%d batches failed, want 1", failed)
			}
			m.mu.Unlock()
			for _, task := range tasks {
				s.send(ack("f1", task, uuidOf(task+"-run")))
			}
			m.sync(s)
			m.noCall(linkpb.AgentCall_STATUS_UPDATE, 300*time.Millisecond)
		})
	}
}

// A batch holding a call that cannot be encoded (a status update without
// its required framework id) goes without it, the others in order; a lone
// bad call is an error.
func TestBatchDropsUnencodableCall(t *testing.T) {
	pong := func(seq uint64) *linkpb.AgentCall {
		return &linkpb.AgentCall{Type: linkpb.AgentCall_PONG.Enum(), Pong: &linkpb.AgentCall_Pong{Seq: proto.Uint64(seq)}}
	}
	bad := &linkpb.AgentCall{Type: linkpb.AgentCall_STATUS_UPDATE.Enum(), StatusUpdate: &linkpb.AgentCall_StatusUpdate{}}
	agentID := &mesospb.AgentID{Value: proto.String("a1")}
	body, dropped, err := encodeLinkCall(linkCall([]*linkpb.AgentCall{pong(1), bad, pong(2)}, "l1", agentID))
	if err != nil || len(dropped) != 1 || dropped[0].AgentCall != bad {
		t.Fatalf("err %v, dropped %v", err, dropped)
	}
	var got linkpb.AgentCall
	if err := codec.Protobuf.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	calls := got.GetBatch().GetCalls()
	if got.GetLinkId() != "l1" || len(calls) != 2 || calls[0].GetPong().GetSeq() != 1 || calls[1].GetPong().GetSeq() != 2 {
		t.Fatalf("sent %v", &got)
	}
	if _, _, err := encodeLinkCall(linkCall([]*linkpb.AgentCall{bad}, "l1", agentID)); err == nil {
		t.Fatal("a lone unencodable call encoded")
	}
	if _, dropped, err := encodeLinkCall(linkCall([]*linkpb.AgentCall{bad, proto.CloneOf(bad)}, "l1", agentID)); err == nil || len(dropped) != 2 {
		t.Fatalf("a batch of only bad calls: err %v, dropped %d", err, len(dropped))
	}
}
