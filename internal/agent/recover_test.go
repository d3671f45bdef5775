package agent

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/executorpb"
	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/agent/checkpoint"
	"github.com/mesoproject/meso/internal/containerizer"
)

func checkpointingRunTask(fw string, task *mesospb.TaskInfo) *linkpb.MasterEvent {
	ev := runTask(fw, task)
	ev.GetRunTask().Framework.Checkpoint = proto.Bool(true)
	return ev
}

// An agent that dies (its containers left running) and starts again on the
// same work dir keeps its agent id, reports the recovered task when it
// registers, resends the unacknowledged update, takes the executor's
// resubscription, and goes on: a kill reaches the executor.
func TestRecoverInProcess(t *testing.T) {
	m := newFakeMaster(t)
	dir := t.TempDir()
	first := startAgent(t, m, func(c *Config) { c.WorkDir = dir })
	s := m.session()
	s.send(checkpointingRunTask("f1", commandTask("t1", "sleep 600")))
	spec := first.cz.launch(t)
	ex := newExecClient(t, first.url, codec.Protobuf, "f1", "t1")
	ex.subscribe()
	ex.event() // SUBSCRIBED
	ex.event() // LAUNCH
	if code := ex.update("t1", mesospb.TaskState_TASK_RUNNING, uuidOf("u1")); code != 202 {
		t.Fatalf("UPDATE answered %d", code)
	}
	m.call(linkpb.AgentCall_STATUS_UPDATE) // u1, never acknowledged
	for _, f := range []string{"agent.json", "frameworks/f1/framework.pb",
		"frameworks/f1/executors/t1/runs/" + spec.ContainerID + "/executor.json",
		"frameworks/f1/executors/t1/runs/" + spec.ContainerID + "/container.json"} {
		if _, err := os.Stat(filepath.Join(dir, "meta", f)); err != nil {
			t.Fatalf("checkpoint %s: %v", f, err)
		}
	}

	first.cz.crash(true) // the agent dies; the executor lives on
	first.stop()
	m.dropStream()
	first.cz.crash(false)

	second := startAgent(t, m, func(c *Config) { c.WorkDir = dir; c.Containerizer = first.cz })
	s = m.session()
	reg := s.register
	if reg.GetAgentId().GetValue() != "a1" || len(reg.GetRegister().GetTasks()) != 1 ||
		reg.GetRegister().GetTasks()[0].GetState() != mesospb.TaskState_TASK_RUNNING {
		t.Fatalf("REGISTER after the restart: %v", reg)
	}
	if up := m.call(linkpb.AgentCall_STATUS_UPDATE); !bytes.Equal(up.GetStatusUpdate().GetStatus().GetUuid(), uuidOf("u1")) {
		t.Fatalf("resent update %v", up)
	}
	ex = newExecClient(t, second.url, codec.Protobuf, "f1", "t1")
	ex.subscribe()
	if ev := ex.event(); ev.GetType() != executorpb.Event_SUBSCRIBED || ev.GetSubscribed().GetContainerId().GetValue() != spec.ContainerID {
		t.Fatalf("resubscription: %v", ev)
	}
	s.send(ack("f1", "t1", uuidOf("u1")))
	s.send(&linkpb.MasterEvent{Type: linkpb.MasterEvent_KILL_TASK.Enum(), KillTask: &linkpb.MasterEvent_KillTask{
		FrameworkId: &mesospb.FrameworkID{Value: proto.String("f1")}, TaskId: &mesospb.TaskID{Value: proto.String("t1")}}})
	if ev := ex.event(); ev.GetType() != executorpb.Event_KILL {
		t.Fatalf("after KILL_TASK: %v", ev)
	}
}

// A corrupt checkpoint fails the start with --strict (the default), naming
// the file; with --strict=false it is skipped and the agent starts anew.
func TestRecoverCorruptCheckpoint(t *testing.T) {
	m := newFakeMaster(t)
	dir := t.TempDir()
	if err := checkpoint.WriteFile(filepath.Join(dir, "meta", "agent.json"), []byte("{garbage")); err != nil {
		t.Fatal(err)
	}
	_, err := startAgentErr(t, m, func(c *Config) { c.WorkDir = dir })
	if !errors.Is(err, ErrRecover) || !errors.Is(err, checkpoint.ErrCorrupt) {
		t.Fatalf("strict start: %v, want ErrRecover wrapping checkpoint.ErrCorrupt", err)
	}
	startAgent(t, m, func(c *Config) { c.WorkDir = dir; c.NonStrict = true })
	if s := m.session(); s.register.GetAgentId() != nil {
		t.Fatalf("lenient start registered as %v, want a new agent", s.register.GetAgentId())
	}
}

// After a reboot (another boot id) the agent starts as a new one and
// forgets the old checkpoints.
func TestRecoverAfterReboot(t *testing.T) {
	if _, err := checkpoint.BootID(); err != nil {
		t.Skip("this machine has no boot id:", err)
	}
	m := newFakeMaster(t)
	dir := t.TempDir()
	store, err := checkpoint.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.WriteAgent(checkpoint.Agent{AgentID: "old", BootID: "another-boot"}); err != nil {
		t.Fatal(err)
	}
	if err := store.WriteFramework(&mesospb.FrameworkInfo{User: proto.String("u"), Name: proto.String("n"),
		Id: &mesospb.FrameworkID{Value: proto.String("f1")}, Checkpoint: proto.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	startAgent(t, m, func(c *Config) { c.WorkDir = dir })
	if s := m.session(); s.register.GetAgentId() != nil {
		t.Fatalf("registered as %v after a reboot, want a new agent", s.register.GetAgentId())
	}
	if _, err := os.Stat(filepath.Join(dir, "meta", "frameworks", "f1")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("old checkpoints kept: %v", err)
	}
}

// --recover=cleanup destroys the containers of the last run and starts a
// new agent.
func TestRecoverCleanup(t *testing.T) {
	m := newFakeMaster(t)
	dir := t.TempDir()
	first := startAgent(t, m, func(c *Config) { c.WorkDir = dir })
	s := m.session()
	s.send(checkpointingRunTask("f1", commandTask("t1", "sleep 600")))
	spec := first.cz.launch(t)
	m.sync(s)
	first.cz.crash(true)
	first.stop()
	m.dropStream()
	first.cz.crash(false)
	startAgent(t, m, func(c *Config) { c.WorkDir = dir; c.Containerizer = first.cz; c.Recover = RecoverCleanup })
	if id := first.cz.destroyedOne(t); id != spec.ContainerID {
		t.Fatalf("destroyed %s, want %s", id, spec.ContainerID)
	}
	if s := m.session(); s.register.GetAgentId() != nil {
		t.Fatalf("registered as %v after --recover=cleanup, want a new agent", s.register.GetAgentId())
	}
}

// An executor that died while the agent was down is reported: its task
// fails (REASON_EXECUTOR_TERMINATED) once the agent has registered again.
func TestRecoverGoneExecutor(t *testing.T) {
	m := newFakeMaster(t)
	dir := t.TempDir()
	first := startAgent(t, m, func(c *Config) { c.WorkDir = dir })
	s := m.session()
	s.send(checkpointingRunTask("f1", commandTask("t1", "sleep 600")))
	spec := first.cz.launch(t)
	ex := newExecClient(t, first.url, codec.Protobuf, "f1", "t1")
	ex.subscribe()
	ex.event() // SUBSCRIBED
	ex.event() // LAUNCH
	ex.update("t1", mesospb.TaskState_TASK_RUNNING, uuidOf("u1"))
	m.call(linkpb.AgentCall_STATUS_UPDATE)
	s.send(ack("f1", "t1", uuidOf("u1")))
	m.sync(s)
	first.cz.crash(true)
	first.stop()
	m.dropStream()
	first.cz.crash(false)
	first.cz.exit(spec.ContainerID, containerizer.Termination{Status: 9})

	startAgent(t, m, func(c *Config) { c.WorkDir = dir; c.Containerizer = first.cz })
	s = m.session()
	if s.register.GetAgentId().GetValue() != "a1" {
		t.Fatalf("REGISTER after the restart: %v", s.register)
	}
	// EXECUTOR_EXITED was queued at recovery; the update waited for the
	// registration.
	m.call(linkpb.AgentCall_EXECUTOR_EXITED)
	st := m.call(linkpb.AgentCall_STATUS_UPDATE).GetStatusUpdate().GetStatus()
	if st.GetState() != mesospb.TaskState_TASK_FAILED || st.GetReason() != mesospb.TaskStatus_REASON_EXECUTOR_TERMINATED {
		t.Fatalf("update for the task of the gone executor: %v", st)
	}
}

// With LeaveExecutorsOnStop, stopping the agent destroys the containers of
// frameworks that do not checkpoint and leaves the others running.
func TestLeaveExecutorsOnStop(t *testing.T) {
	m := newFakeMaster(t)
	a := startAgent(t, m, func(c *Config) { c.LeaveExecutorsOnStop = true })
	s := m.session()
	s.send(checkpointingRunTask("f1", commandTask("t1", "sleep 600")))
	kept := a.cz.launch(t)
	s.send(runTask("f2", commandTask("t2", "sleep 600")))
	gone := a.cz.launch(t)
	m.sync(s)
	a.stop()
	if id := a.cz.destroyedOne(t); id != gone.ContainerID {
		t.Fatalf("destroyed %s, want %s (of the framework that does not checkpoint)", id, gone.ContainerID)
	}
	if got := a.cz.Containers(); len(got) != 1 || got[0] != kept.ContainerID {
		t.Fatalf("containers left: %v, want %s", got, kept.ContainerID)
	}
}
