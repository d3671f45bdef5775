package agent

import (
	"bytes"
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
	"github.com/mesoproject/meso/api/recordio"
)

// TestNoTaskBeforeContainerCheckpointed is the suspected double run of the
// chaos suite: an agent SIGKILLed after it forked a task's executor but
// before it checkpointed the container's handle (pid and start time)
// cannot find the executor again when it restarts, and reports the task
// failed; had the executor got the task in that window, the task would
// run on while the framework, told it failed, launched it again.
//
// The fake containerizer holds Launch in that window. The executor's
// SUBSCRIBE waits there, and past launchWait is refused with 503 (the
// executor client retries), so it gets no task. The agent is then "killed": a copy of its work dir as it
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
	defer func(d time.Duration) { launchWait = d }(launchWait)
	launchWait = 20 * time.Millisecond
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

// TestSubscribeWaitsForTheLaunch: a SUBSCRIBE that arrives while its
// container's launch is being checkpointed is held until that is done and
// then served (SUBSCRIBED, then the task), not refused: a refused executor
// retries only after its backoff (100 ms at least), which every command
// task paid whenever its executor was quicker than the agent's fsyncs.
func TestSubscribeWaitsForTheLaunch(t *testing.T) {
	m := newFakeMaster(t)
	cz := newFakeContainerizer()
	cz.hold = make(chan struct{})
	a := startAgent(t, m, func(c *Config) { c.Containerizer = cz })
	waiting := make(chan struct{}, 1)
	testHookLaunchWait = func() { waiting <- struct{}{} }
	defer func() { testHookLaunchWait = nil }()
	s := m.session()
	s.send(checkpointingRunTask("f1", commandTask("t1", "sleep 600")))
	cz.launch(t) // forked; Launch has not returned

	ex := newExecClient(t, a.url, codec.Protobuf, "f1", "t1")
	body, err := codec.Protobuf.Marshal(ex.newCall(executorpb.Call_SUBSCRIBE))
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		resp *http.Response
		err  error
	}
	done := make(chan result, 1)
	go func() {
		req, err := http.NewRequest(http.MethodPost, ex.url, bytes.NewReader(body))
		if err != nil {
			done <- result{nil, err}
			return
		}
		req.Header.Set("Content-Type", codec.Protobuf.MediaType())
		req.Header.Set("Accept", codec.Protobuf.MediaType())
		resp, err := http.DefaultClient.Do(req)
		done <- result{resp, err}
	}()
	select {
	case <-waiting:
	case r := <-done:
		t.Fatalf("SUBSCRIBE answered while the launch is held: %v %v", r.resp, r.err)
	case <-time.After(waitLimit):
		t.Fatal("SUBSCRIBE never started waiting for the launch")
	}
	close(cz.hold)
	var r result
	select {
	case r = <-done:
	case <-time.After(waitLimit):
		t.Fatal("SUBSCRIBE not answered after the launch")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.resp.Body.Close()
	if r.resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(r.resp.Body)
		t.Fatalf("SUBSCRIBE after waiting: %s: %s", r.resp.Status, msg)
	}
	ex.events = recordio.NewReader(r.resp.Body, recordio.DefaultMaxRecordSize)
	if ev := ex.event(); ev.GetType() != executorpb.Event_SUBSCRIBED {
		t.Fatalf("first event %v", ev)
	}
	if ev := ex.event(); ev.GetType() != executorpb.Event_LAUNCH {
		t.Fatalf("second event %v", ev)
	}
}
