package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mesoproject/meso/api/agentpb"
	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/masterpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/recordio"
)

// The mwatch flow against the real binaries: an operator SUBSCRIBE client
// stays connected while tasks run and sees TASK_ADDED and TASK_UPDATED
// (through TASK_FINISHED) for each; the agent's operator API then shows the
// finished tasks and reads one's output.
func TestOperatorWatchSeesEveryTask(t *testing.T) {
	for _, c := range []codec.Codec{codec.JSON, codec.Protobuf} {
		t.Run(c.MediaType(), func(t *testing.T) { testOperatorWatch(t, c) })
	}
}

func testOperatorWatch(t *testing.T, c codec.Codec) {
	cl := newCluster(t, 1, "cpus:2;mem:512", masterFlags...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	body, err := c.Marshal(&masterpb.Call{Type: masterpb.Call_SUBSCRIBE.Enum()})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cl.master.url("/api/v1"), strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", c.MediaType())
	req.Header.Set("Accept", c.MediaType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != c.MediaType() {
		t.Fatalf("SUBSCRIBE: %s %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	events := make(chan *masterpb.Event, 256)
	go func() {
		defer close(events)
		r := recordio.NewReader(resp.Body, recordio.DefaultMaxRecordSize)
		for {
			ev := &masterpb.Event{}
			if err := r.ReadMessage(c, ev); err != nil {
				return
			}
			events <- ev
		}
	}()
	next := func() *masterpb.Event {
		t.Helper()
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("the operator stream ended")
			}
			return ev
		case <-ctx.Done():
			t.Fatal("no operator event in time")
		}
		return nil
	}
	first := next()
	if first.GetType() != masterpb.Event_SUBSCRIBED || len(first.GetSubscribed().GetGetState().GetGetAgents().GetAgents()) != 1 {
		t.Fatalf("first event: %v", first)
	}

	const n = 3
	for i := range n {
		out, code := runMeso(t, ctx, "execute", "--master", cl.master.addr, "--name", fmt.Sprintf("watched-%d", i),
			"--command", fmt.Sprintf("echo out-%d", i), "--resources", "cpus:0.1;mem:16")
		if code != 0 {
			t.Fatalf("meso execute exited %d:\n%s", code, out)
		}
	}
	added := map[string]bool{}
	finished := map[string]bool{}
	frameworks := 0
	for len(finished) < n {
		ev := next()
		switch ev.GetType() {
		case masterpb.Event_TASK_ADDED:
			added[ev.GetTaskAdded().GetTask().GetTaskId().GetValue()] = true
		case masterpb.Event_TASK_UPDATED:
			id := ev.GetTaskUpdated().GetStatus().GetTaskId().GetValue()
			if !added[id] {
				t.Fatalf("TASK_UPDATED before TASK_ADDED for %s", id)
			}
			if ev.GetTaskUpdated().GetState() == mesospb.TaskState_TASK_FINISHED {
				finished[id] = true
			}
		case masterpb.Event_FRAMEWORK_ADDED:
			frameworks++
		}
	}
	if len(added) != n || frameworks != n {
		t.Errorf("saw %d tasks added, %d frameworks added; want %d each", len(added), frameworks, n)
	}

	// The agent's operator API agrees, and reads a task's output.
	st := agentQuery(t, cl.agents[0].url("/api/v1"), c, &agentpb.Call{Type: agentpb.Call_GET_TASKS.Enum()}).GetGetTasks()
	done := append(st.GetCompletedTasks(), st.GetTerminatedTasks()...)
	if len(done) != n {
		t.Fatalf("agent GET_TASKS: %v", st)
	}
	var sandbox string
	var state struct {
		CompletedFrameworks []struct {
			CompletedExecutors []struct {
				Directory string `json:"directory"`
			} `json:"completed_executors"`
			Executors []struct {
				Directory string `json:"directory"`
			} `json:"executors"`
		} `json:"completed_frameworks"`
	}
	eventually(t, 30*time.Second, func() error {
		if err := getJSON(cl.agents[0].url("/state"), &state); err != nil {
			return err
		}
		for _, fw := range state.CompletedFrameworks {
			for _, e := range append(fw.CompletedExecutors, fw.Executors...) {
				sandbox = e.Directory
				return nil
			}
		}
		return fmt.Errorf("no completed framework with an executor yet")
	})
	rf := agentQuery(t, cl.agents[0].url("/api/v1"), c, &agentpb.Call{Type: agentpb.Call_READ_FILE.Enum(),
		ReadFile: &agentpb.Call_ReadFile{Path: &[]string{sandbox + "/stdout"}[0], Offset: new(uint64)}}).GetReadFile()
	if !strings.Contains(string(rf.GetData()), "out-") {
		t.Errorf("READ_FILE of %s/stdout: %q", sandbox, rf.GetData())
	}
}

func agentQuery(t *testing.T, url string, c codec.Codec, call *agentpb.Call) *agentpb.Response {
	t.Helper()
	body, err := c.Marshal(call)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", c.MediaType())
	req.Header.Set("Accept", c.MediaType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %s %s", call.GetType(), resp.Status, b)
	}
	out := &agentpb.Response{}
	if err := c.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
	return out
}
