package agent

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/executorpb"
	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/containerizer"
)

// runningTask brings a command task to TASK_RUNNING with its update
// acknowledged... or not: it returns the subscribed executor client.
func runningTask(t *testing.T, m *fakeMaster, a *testAgent, s *masterSession, task string) (*execClient, containerizer.Spec) {
	t.Helper()
	s.send(runTask("f1", commandTask(task, "sleep 100")))
	spec := a.cz.launch(t)
	ex := newExecClient(t, a.url, codec.Protobuf, "f1", task)
	ex.subscribe()
	ex.event() // SUBSCRIBED
	ex.event() // LAUNCH
	if code := ex.update(task, mesospb.TaskState_TASK_RUNNING, uuidOf(task+"-run")); code != 202 {
		t.Fatalf("UPDATE answered %d", code)
	}
	ex.event() // ACKNOWLEDGED
	m.call(linkpb.AgentCall_STATUS_UPDATE)
	return ex, spec
}

// TestReregisterAfterStreamDrop: when the master's stream breaks, the agent
// registers again with its id and everything it runs, and resends the
// update still waiting for acknowledgement.
func TestReregisterAfterStreamDrop(t *testing.T) {
	m := newFakeMaster(t)
	a := startAgent(t, m, nil)
	s := m.session()
	runningTask(t, m, a, s, "t1")

	m.dropStream()
	s2 := m.session()
	reg := s2.register
	if reg.GetAgentId().GetValue() != "a1" || reg.GetRegister().GetAgentInfo().GetId().GetValue() != "a1" {
		t.Fatalf("re-registration without the agent id: %v", reg)
	}
	r := reg.GetRegister()
	if len(r.GetFrameworks()) != 1 || r.GetFrameworks()[0].GetId().GetValue() != "f1" ||
		len(r.GetExecutors()) != 0 || // t1 is a command task: its generated executor is not reported
		len(r.GetTasks()) != 1 || r.GetTasks()[0].GetState() != mesospb.TaskState_TASK_RUNNING {
		t.Fatalf("re-registration lists: %v", r)
	}
	resent := m.call(linkpb.AgentCall_STATUS_UPDATE)
	if resent.GetLinkId() != s2.linkID || !bytes.Equal(resent.GetStatusUpdate().GetStatus().GetUuid(), uuidOf("t1-run")) {
		t.Fatalf("after re-registration: %v", resent)
	}
	s2.send(ack("f1", "t1", uuidOf("t1-run")))
	m.noCall(linkpb.AgentCall_STATUS_UPDATE, 100*time.Millisecond)
}

// TestConflictMakesAgentRegisterAgain: a 409 on a call means the master
// does not know the session; the agent opens a new one.
func TestConflictMakesAgentRegisterAgain(t *testing.T) {
	m := newFakeMaster(t)
	a := startAgent(t, m, nil)
	s := m.session()
	m.mu.Lock()
	m.conflict = true
	m.mu.Unlock()
	s.send(&linkpb.MasterEvent{Type: linkpb.MasterEvent_PING.Enum(), Ping: &linkpb.MasterEvent_Ping{Seq: proto.Uint64(7)}})
	s2 := m.session()
	if s2.register.GetAgentId().GetValue() != "a1" {
		t.Fatalf("re-registration: %v", s2.register)
	}
	s2.send(&linkpb.MasterEvent{Type: linkpb.MasterEvent_PING.Enum(), Ping: &linkpb.MasterEvent_Ping{Seq: proto.Uint64(8)}})
	if pong := m.call(linkpb.AgentCall_PONG); pong.GetPong().GetSeq() != 8 || pong.GetLinkId() != s2.linkID {
		t.Fatalf("PONG: %v", pong)
	}
	if !a.Registered() || a.ID() != "a1" {
		t.Fatal("agent not registered after the new session")
	}
}

// TestSilentMasterMakesAgentRegisterAgain: no PING for MasterPingTimeouts
// intervals ends the session.
func TestSilentMasterMakesAgentRegisterAgain(t *testing.T) {
	m := newFakeMaster(t)
	m.ping = 0.05
	startAgent(t, m, func(c *Config) { c.MasterPingTimeouts = 2 })
	first := m.session()
	second := m.session()
	if first.linkID == second.linkID || second.register.GetAgentId().GetValue() != "a1" {
		t.Fatalf("sessions %s then %s (%v)", first.linkID, second.linkID, second.register)
	}
}

// TestMasterRestart: the master process goes away and comes back on the
// same address; the agent registers with it again.
func TestMasterRestart(t *testing.T) {
	m := newFakeMaster(t)
	a := startAgent(t, m, nil)
	s := m.session()
	runningTask(t, m, a, s, "t1")
	m.restart()
	s2 := m.session()
	if len(s2.register.GetRegister().GetTasks()) != 1 {
		t.Fatalf("re-registration after restart: %v", s2.register)
	}
}

// TestShutdownAgent: the master forgot the agent; it kills everything and
// registers afresh, without an id.
func TestShutdownAgent(t *testing.T) {
	m := newFakeMaster(t)
	a := startAgent(t, m, nil)
	s := m.session()
	_, spec := runningTask(t, m, a, s, "t1")
	m.mu.Lock()
	m.agentID = "a2"
	m.mu.Unlock()
	s.send(&linkpb.MasterEvent{Type: linkpb.MasterEvent_SHUTDOWN_AGENT.Enum(),
		ShutdownAgent: &linkpb.MasterEvent_ShutdownAgent{Message: proto.String("agent lost")}})
	if id := a.cz.destroyedOne(t); id != spec.ContainerID {
		t.Fatalf("destroyed %s, want %s", id, spec.ContainerID)
	}
	s2 := m.session()
	if s2.register.AgentId != nil || len(s2.register.GetRegister().GetTasks()) != 0 {
		t.Fatalf("registration after SHUTDOWN_AGENT: %v", s2.register)
	}
	m.sync(s2) // REGISTERED has been applied
	if a.ID() != "a2" {
		t.Fatalf("agent id %q, want a2", a.ID())
	}
}

// TestKillBeforeSubscribe: TASK_KILLED from the agent and the container is
// destroyed.
func TestKillBeforeSubscribe(t *testing.T) {
	m := newFakeMaster(t)
	a := startAgent(t, m, nil)
	s := m.session()
	s.send(runTask("f1", commandTask("t1", "sleep 100")))
	spec := a.cz.launch(t)
	s.send(&linkpb.MasterEvent{Type: linkpb.MasterEvent_KILL_TASK.Enum(), KillTask: &linkpb.MasterEvent_KillTask{
		FrameworkId: &mesospb.FrameworkID{Value: proto.String("f1")}, TaskId: &mesospb.TaskID{Value: proto.String("t1")}}})
	st := m.call(linkpb.AgentCall_STATUS_UPDATE).GetStatusUpdate().GetStatus()
	if st.GetState() != mesospb.TaskState_TASK_KILLED || st.GetSource() != mesospb.TaskStatus_SOURCE_AGENT ||
		st.GetReason() != mesospb.TaskStatus_REASON_TASK_KILLED_DURING_LAUNCH || len(st.GetUuid()) != 16 {
		t.Fatalf("update: %v", st)
	}
	if id := a.cz.destroyedOne(t); id != spec.ContainerID {
		t.Fatalf("destroyed %s", id)
	}
	m.call(linkpb.AgentCall_EXECUTOR_EXITED)
}

// TestKillGoesToExecutor: a subscribed executor gets KILL with the policy.
func TestKillGoesToExecutor(t *testing.T) {
	m := newFakeMaster(t)
	a := startAgent(t, m, nil)
	s := m.session()
	ex, _ := runningTask(t, m, a, s, "t1")
	s.send(&linkpb.MasterEvent{Type: linkpb.MasterEvent_KILL_TASK.Enum(), KillTask: &linkpb.MasterEvent_KillTask{
		FrameworkId: &mesospb.FrameworkID{Value: proto.String("f1")}, TaskId: &mesospb.TaskID{Value: proto.String("t1")},
		KillPolicy: &mesospb.KillPolicy{GracePeriod: &mesospb.DurationInfo{Nanoseconds: proto.Int64(int64(time.Second))}}}})
	ev := ex.event()
	if ev.GetType() != executorpb.Event_KILL || ev.GetKill().GetTaskId().GetValue() != "t1" ||
		ev.GetKill().GetKillPolicy().GetGracePeriod().GetNanoseconds() != int64(time.Second) {
		t.Fatalf("event: %v", ev)
	}
}

// TestRegistrationTimeout: an executor that never subscribes is destroyed
// and its task fails.
func TestRegistrationTimeout(t *testing.T) {
	m := newFakeMaster(t)
	a := startAgent(t, m, func(c *Config) { c.ExecutorRegistrationTimeout = 50 * time.Millisecond })
	s := m.session()
	s.send(runTask("f1", commandTask("t1", "sleep 100")))
	spec := a.cz.launch(t)
	if id := a.cz.destroyedOne(t); id != spec.ContainerID {
		t.Fatalf("destroyed %s", id)
	}
	st := m.call(linkpb.AgentCall_STATUS_UPDATE).GetStatusUpdate().GetStatus()
	if st.GetState() != mesospb.TaskState_TASK_FAILED || st.GetReason() != mesospb.TaskStatus_REASON_EXECUTOR_REGISTRATION_TIMEOUT ||
		st.GetMessage() != "Executor did not register within 50ms" {
		t.Fatalf("update: %v", st)
	}
}

// TestLaunchFailure: a container that cannot start fails its task.
func TestLaunchFailure(t *testing.T) {
	m := newFakeMaster(t)
	a := startAgent(t, m, nil)
	a.cz.mu.Lock()
	a.cz.failNext = errors.Join(containerizer.ErrLaunchFailed, errors.New("no such user"))
	a.cz.mu.Unlock()
	s := m.session()
	s.send(runTask("f1", commandTask("t1", "true")))
	st := m.call(linkpb.AgentCall_STATUS_UPDATE).GetStatusUpdate().GetStatus()
	if st.GetState() != mesospb.TaskState_TASK_FAILED || st.GetReason() != mesospb.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED {
		t.Fatalf("update: %v", st)
	}
	if x := m.call(linkpb.AgentCall_EXECUTOR_EXITED).GetExecutorExited(); x.GetStatus() != -1 {
		t.Fatalf("EXECUTOR_EXITED: %v", x)
	}
}

// TestSandboxFailure: a sandbox that cannot be made (made in the launch
// goroutine, outside the agent's lock) fails its task without launching a
// container, and the agent goes on launching others.
func TestSandboxFailure(t *testing.T) {
	m := newFakeMaster(t)
	a := startAgent(t, m, nil)
	s := m.session()
	// A regular file where the executor's directory belongs.
	var agentID string
	if err := pollUntil(func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		agentID = a.core.AgentID()
		return agentID != ""
	}); err != nil {
		t.Fatal(err)
	}
	dir := a.executorDir(agentID, "f1", "t1")
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s.send(runTask("f1", commandTask("t1", "true")))
	st := m.call(linkpb.AgentCall_STATUS_UPDATE).GetStatusUpdate().GetStatus()
	if st.GetState() != mesospb.TaskState_TASK_FAILED || st.GetReason() != mesospb.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED ||
		!strings.Contains(st.GetMessage(), "cannot create sandbox") {
		t.Fatalf("update: %v", st)
	}
	if x := m.call(linkpb.AgentCall_EXECUTOR_EXITED).GetExecutorExited(); x.GetStatus() != -1 {
		t.Fatalf("EXECUTOR_EXITED: %v", x)
	}
	s.send(runTask("f1", commandTask("t2", "true")))
	if spec := a.cz.launch(t); filepath.Base(filepath.Dir(filepath.Dir(spec.Sandbox))) != "t2" {
		t.Fatalf("second launch: %+v", spec)
	}
	if fi, err := os.Lstat(filepath.Join(a.executorDir(agentID, "f1", "t2"), "runs", "latest")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("latest link: %v, %v", fi, err)
	}
}

// TestMessages: scheduler -> executor and executor -> scheduler.
func TestMessages(t *testing.T) {
	m := newFakeMaster(t)
	a := startAgent(t, m, nil)
	s := m.session()
	ex, _ := runningTask(t, m, a, s, "t1")
	s.send(&linkpb.MasterEvent{Type: linkpb.MasterEvent_FRAMEWORK_MESSAGE.Enum(), FrameworkMessage: &linkpb.MasterEvent_FrameworkMessage{
		FrameworkId: &mesospb.FrameworkID{Value: proto.String("f1")}, ExecutorId: &mesospb.ExecutorID{Value: proto.String("t1")},
		Data: []byte("to executor")}})
	if ev := ex.event(); ev.GetType() != executorpb.Event_MESSAGE || string(ev.GetMessage().GetData()) != "to executor" {
		t.Fatalf("event: %v", ev)
	}
	call := ex.newCall(executorpb.Call_MESSAGE)
	call.Message = &executorpb.Call_Message{Data: []byte("to scheduler")}
	if resp := ex.post(call, ""); resp.StatusCode != 202 {
		t.Fatalf("MESSAGE answered %s", resp.Status)
	}
	msg := m.call(linkpb.AgentCall_FRAMEWORK_MESSAGE).GetFrameworkMessage()
	if string(msg.GetData()) != "to scheduler" || msg.GetExecutorId().GetValue() != "t1" {
		t.Fatalf("FRAMEWORK_MESSAGE: %v", msg)
	}
}

// TestShutdownFramework: SHUTDOWN to the executor, destroy after the grace
// period.
func TestShutdownFramework(t *testing.T) {
	m := newFakeMaster(t)
	a := startAgent(t, m, func(c *Config) { c.ExecutorShutdownGracePeriod = 30 * time.Millisecond })
	s := m.session()
	ex, spec := runningTask(t, m, a, s, "t1")
	s.send(&linkpb.MasterEvent{Type: linkpb.MasterEvent_SHUTDOWN_FRAMEWORK.Enum(),
		ShutdownFramework: &linkpb.MasterEvent_ShutdownFramework{FrameworkId: &mesospb.FrameworkID{Value: proto.String("f1")}}})
	if ev := ex.event(); ev.GetType() != executorpb.Event_SHUTDOWN {
		t.Fatalf("event: %v", ev)
	}
	if id := a.cz.destroyedOne(t); id != spec.ContainerID {
		t.Fatalf("destroyed %s", id)
	}
	m.call(linkpb.AgentCall_EXECUTOR_EXITED)
}

// TestFetchAndFiles: a command task's URIs are fetched into the sandbox
// before the executor starts, and the sandbox is readable through /files.
func TestFetchAndFiles(t *testing.T) {
	m := newFakeMaster(t)
	a := startAgent(t, m, nil)
	s := m.session()
	src := filepath.Join(t.TempDir(), "payload.txt")
	if err := os.WriteFile(src, []byte("fetched!"), 0o644); err != nil {
		t.Fatal(err)
	}
	task := commandTask("t1", "cat payload.txt")
	task.Command.Uris = []*mesospb.CommandInfo_URI{{Value: proto.String("file://" + src)}}
	s.send(runTask("f1", task))
	spec := a.cz.launch(t)
	if got, err := os.ReadFile(filepath.Join(spec.Sandbox, "payload.txt")); err != nil || string(got) != "fetched!" {
		t.Fatalf("fetched file: %q, %v", got, err)
	}
	for _, path := range []string{
		spec.Sandbox + "/payload.txt",
		"/frameworks/f1/executors/t1/runs/latest/payload.txt",
	} {
		resp, err := http.Get(a.url + "/files/read?offset=0&path=" + url.QueryEscape(path))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"fetched!"`) {
			t.Fatalf("/files/read %s: %s %s", path, resp.Status, body)
		}
	}

	bad := commandTask("t2", "true")
	bad.Command.Uris = []*mesospb.CommandInfo_URI{{Value: proto.String("relative/path")}}
	s.send(runTask("f1", bad))
	st := m.call(linkpb.AgentCall_STATUS_UPDATE).GetStatusUpdate().GetStatus()
	if st.GetTaskId().GetValue() != "t2" || st.GetState() != mesospb.TaskState_TASK_FAILED ||
		st.GetReason() != mesospb.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED || !strings.Contains(st.GetMessage(), "relative/path") {
		t.Fatalf("update for an unfetchable URI: %v", st)
	}
}

// TestNewAgentIDKillsEverything: a master that answers a re-registration
// with another id does not know this agent's tasks; the agent kills them.
func TestNewAgentIDKillsEverything(t *testing.T) {
	m := newFakeMaster(t)
	a := startAgent(t, m, nil)
	s := m.session()
	ex, spec := runningTask(t, m, a, s, "t1")
	m.mu.Lock()
	m.agentID = "a2"
	m.mu.Unlock()
	m.dropStream()
	s2 := m.session()
	if s2.register.GetAgentId().GetValue() != "a1" {
		t.Fatalf("re-registration: %v", s2.register)
	}
	if id := a.cz.destroyedOne(t); id != spec.ContainerID {
		t.Fatalf("destroyed %s", id)
	}
	if err := ex.events.ReadMessage(codec.Protobuf, &executorpb.Event{}); err == nil {
		t.Fatal("executor stream still open")
	}
	m.sync(s2)
	if a.ID() != "a2" || len(getState(t, a.url).Frameworks) != 0 {
		t.Fatalf("after the new id: id %q, state %+v", a.ID(), getState(t, a.url))
	}
}
