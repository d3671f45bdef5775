package agent

import (
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/executorpb"
	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/mesospb"
)

// TestNoTaskBeforeContainerCheckpointed is the suspected double run of the
// chaos suite: an agent SIGKILLed after it forked a task's executor but
// before it checkpointed the container's handle (pid and start time)
// cannot find the executor again when it restarts, and reports the task
// failed; had the executor got the task in that window, the task would
// run on while the framework, told it failed, launched it again.
//
// The fake containerizer holds Launch in that window. The executor's
// SUBSCRIBE is refused there with 503 (the executor client retries), so it
// gets no task. The agent is then "killed": a copy of its work dir as it
// is at that instant is what a restarted agent finds. The restarted agent
// reports the task TASK_FAILED (it never ran), and the orphan executor's
// resubscription gets SHUTDOWN, on which the executor exits. Once Launch returns, the first agent checkpoints the handle and
// the same SUBSCRIBE is served with the task.
func TestNoTaskBeforeContainerCheckpointed(t *testing.T) {
	m := newFakeMaster(t)
	dir := t.TempDir()
	cz := newFakeContainerizer()
	cz.hold = make(chan struct{})
	first := startAgent(t, m, func(c *Config) { c.WorkDir = dir; c.Containerizer = cz })
	s := m.session()
	s.send(checkpointingRunTask("f1", commandTask("t1", "sleep 600")))
	spec := cz.launch(t) // forked; Launch has not returned

	ex := newExecClient(t, first.url, codec.Protobuf, "f1", "t1")
	resp := ex.post(ex.newCall(executorpb.Call_SUBSCRIBE), codec.Protobuf.MediaType())
	if resp.StatusCode != http.StatusServiceUnavailable {
		resp.Body.Close() // a 200 is an endless stream
		t.Fatalf("SUBSCRIBE before the container's handle is checkpointed: %s; want 503 (no task yet)", resp.Status)
	}
	if body, _ := io.ReadAll(resp.Body); !strings.Contains(string(body), "still launching") {
		t.Errorf("503 body %q", body)
	}
	resp.Body.Close()
	runDir := filepath.Join(dir, "meta", "frameworks", "f1", "executors", "t1", "runs", spec.ContainerID)
	if _, err := os.Stat(filepath.Join(runDir, "container.json")); err == nil {
		t.Fatal("container.json is written before Launch returned")
	}

	// SIGKILL now: the disk is what it is at this instant.
	killed := t.TempDir()
	if err := os.CopyFS(killed, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}

	// The first agent goes on: the handle is checkpointed, the executor
	// subscribes and gets its task.
	close(cz.hold)
	if err := pollUntil(func() bool { _, err := os.Stat(filepath.Join(runDir, "container.json")); return err == nil }); err != nil {
		t.Fatal("container.json never written after Launch returned")
	}
	ex.subscribe()
	if ev := ex.event(); ev.GetType() != executorpb.Event_SUBSCRIBED {
		t.Fatalf("first event %v", ev)
	}
	if ev := ex.event(); ev.GetType() != executorpb.Event_LAUNCH {
		t.Fatalf("second event %v", ev)
	}
	first.stop()
	m.dropStream()

	// The agent restarted on the work dir as the SIGKILL left it.
	second := startAgent(t, m, func(c *Config) { c.WorkDir = killed })
	s = m.session()
	if s.register.GetAgentId().GetValue() != "a1" {
		t.Fatalf("REGISTER after the restart: %v", s.register)
	}
	m.call(linkpb.AgentCall_EXECUTOR_EXITED)
	st := m.call(linkpb.AgentCall_STATUS_UPDATE).GetStatusUpdate().GetStatus()
	if st.GetState() != mesospb.TaskState_TASK_FAILED {
		t.Fatalf("update for the task whose executor was not found: %v", st)
	}
	orphan := newExecClient(t, second.url, codec.Protobuf, "f1", "t1")
	orphan.subscribe()
	if ev := orphan.event(); ev.GetType() != executorpb.Event_SHUTDOWN {
		t.Fatalf("the orphan executor's resubscription got %v; want SHUTDOWN (it exits)", ev)
	}
}

// pollUntil polls cond every 5 ms until it holds or waitLimit passes.
func pollUntil(cond func() bool) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(waitLimit)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			return errors.New("condition not met in time")
		}
	}
	return nil
}
