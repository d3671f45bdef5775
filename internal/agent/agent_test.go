package agent

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/executorpb"
	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/containerizer"
	"github.com/mesoproject/meso/internal/present"
)

// testUser is who tasks run as: a user that exists here.
var testUser = func() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "root"
}()

func frameworkInfo(id string) *mesospb.FrameworkInfo {
	return &mesospb.FrameworkInfo{User: proto.String(testUser), Name: proto.String("fw"), Id: &mesospb.FrameworkID{Value: proto.String(id)}}
}

func commandTask(id, cmd string) *mesospb.TaskInfo {
	return &mesospb.TaskInfo{
		Name:    proto.String("task " + id),
		TaskId:  &mesospb.TaskID{Value: proto.String(id)},
		AgentId: &mesospb.AgentID{Value: proto.String("a1")},
		Command: &mesospb.CommandInfo{Value: proto.String(cmd)},
		Resources: []*mesospb.Resource{{Name: proto.String("cpus"), Type: mesospb.Value_SCALAR.Enum(),
			Scalar: &mesospb.Value_Scalar{Value: proto.Float64(0.5)}}},
	}
}

func runTask(fw string, task *mesospb.TaskInfo) *linkpb.MasterEvent {
	return &linkpb.MasterEvent{Type: linkpb.MasterEvent_RUN_TASK.Enum(),
		RunTask: &linkpb.MasterEvent_RunTask{Framework: frameworkInfo(fw), Task: task}}
}

func ack(fw, task string, uuid []byte) *linkpb.MasterEvent {
	return &linkpb.MasterEvent{Type: linkpb.MasterEvent_ACKNOWLEDGE.Enum(), Acknowledge: &linkpb.MasterEvent_Acknowledge{
		FrameworkId: &mesospb.FrameworkID{Value: proto.String(fw)}, TaskId: &mesospb.TaskID{Value: proto.String(task)}, Uuid: uuid}}
}

func uuidOf(s string) []byte {
	b := make([]byte, 16)
	copy(b, s)
	return b
}

func envMap(env []string) map[string]string {
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// TestCommandTaskLifecycle runs a command task end to end against a fake
// master and a fake containerizer, with both codecs on the executor API:
// REGISTER, RUN_TASK, launch with the Mesos environment, SUBSCRIBE,
// LAUNCH, UPDATE with ACKNOWLEDGED, STATUS_UPDATE retried until
// ACKNOWLEDGE, and the executor's exit.
func TestCommandTaskLifecycle(t *testing.T) {
	for _, c := range []codec.Codec{codec.JSON, codec.Protobuf} {
		t.Run(c.MediaType(), func(t *testing.T) { testCommandTask(t, c) })
	}
}

func testCommandTask(t *testing.T, c codec.Codec) {
	m := newFakeMaster(t)
	a := startAgent(t, m, func(cfg *Config) {
		cfg.StatusUpdateRetryIntervalMin = 20 * time.Millisecond
		cfg.ShuffleService = "agent-host:7337"
	})
	s := m.session()

	reg := s.register.GetRegister()
	if reg.GetAgentInfo().GetHostname() != "agent-host" || reg.GetAgentInfo().Id != nil || reg.GetVersion() == "" {
		t.Fatalf("first REGISTER: %v", s.register)
	}
	if got := present.Resources(reg.GetAgentInfo().GetResources()); got["cpus"] != 2.0 ||
		got["mem"] != 1024.0 || got["ports"] != "[31000-32000]" || got["disk"] != float64(100<<10-5<<10) {
		t.Fatalf("registered resources %v", got)
	}
	if at := reg.GetAgentInfo().GetAttributes(); len(at) != 1 || at[0].GetText().GetValue() != "r1" {
		t.Fatalf("registered attributes %v", at)
	}

	s.send(runTask("f1", commandTask("t1", "echo hello")))
	spec := a.cz.launch(t)
	if spec.Command.GetValue() != "/usr/local/bin/meso" || !slices.Equal(spec.Command.GetArguments(), []string{"/usr/local/bin/meso", "executor"}) ||
		spec.Command.GetShell() {
		t.Fatalf("command executor's command: %v", spec.Command)
	}
	wantSandbox := filepath.Join(a.cfg.WorkDir, "slaves", "a1", "frameworks", "f1", "executors", "t1", "runs", spec.ContainerID)
	if spec.Sandbox != wantSandbox {
		t.Fatalf("sandbox %q, want %q", spec.Sandbox, wantSandbox)
	}
	if fi, err := os.Stat(spec.Sandbox); err != nil || !fi.IsDir() {
		t.Fatalf("sandbox not created: %v", err)
	}
	if target, err := os.Readlink(filepath.Join(filepath.Dir(spec.Sandbox), "latest")); err != nil || target != spec.ContainerID {
		t.Fatalf("latest symlink: %q, %v", target, err)
	}
	env := envMap(spec.Env)
	for k, want := range map[string]string{
		"MESOS_FRAMEWORK_ID": "f1", "MESOS_EXECUTOR_ID": "t1", "MESOS_AGENT_ENDPOINT": strings.TrimPrefix(a.url, "http://"),
		"MESOS_DIRECTORY": spec.Sandbox, "MESOS_SANDBOX": spec.Sandbox, "MESOS_CHECKPOINT": "0",
		"MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": "5secs", "MESOS_SLAVE_ID": "a1", "MESOS_AGENT_ID": "a1",
		"MESO_SHUFFLE_SERVICE_ADDR": "agent-host:7337",
	} {
		if env[k] != want {
			t.Errorf("%s=%q, want %q", k, env[k], want)
		}
	}
	if spec.User != testUser {
		t.Errorf("user %q, want the framework's", spec.User)
	}

	ex := newExecClient(t, a.url, c, "f1", "t1")
	ex.subscribe()
	ev := ex.event()
	sub := ev.GetSubscribed()
	if ev.GetType() != executorpb.Event_SUBSCRIBED || sub.GetAgentInfo().GetId().GetValue() != "a1" ||
		sub.GetExecutorInfo().GetExecutorId().GetValue() != "t1" || sub.GetFrameworkInfo().GetId().GetValue() != "f1" ||
		sub.GetContainerId().GetValue() != spec.ContainerID {
		t.Fatalf("first event: %v", ev)
	}
	if ev := ex.event(); ev.GetType() != executorpb.Event_LAUNCH || ev.GetLaunch().GetTask().GetCommand().GetValue() != "echo hello" {
		t.Fatalf("second event: %v", ev)
	}

	if code := ex.update("t1", mesospb.TaskState_TASK_RUNNING, uuidOf("u1")); code != http.StatusAccepted {
		t.Fatalf("UPDATE answered %d", code)
	}
	if ev := ex.event(); ev.GetType() != executorpb.Event_ACKNOWLEDGED || !bytes.Equal(ev.GetAcknowledged().GetUuid(), uuidOf("u1")) {
		t.Fatalf("expected ACKNOWLEDGED u1, got %v", ev)
	}
	first := m.call(linkpb.AgentCall_STATUS_UPDATE)
	st := first.GetStatusUpdate().GetStatus()
	if first.GetLinkId() != s.linkID || first.GetAgentId().GetValue() != "a1" || st.GetAgentId().GetValue() != "a1" ||
		st.GetExecutorId().GetValue() != "t1" || st.GetSource() != mesospb.TaskStatus_SOURCE_EXECUTOR ||
		st.GetTimestamp() == 0 || !bytes.Equal(st.GetUuid(), uuidOf("u1")) {
		t.Fatalf("forwarded update: %v", first)
	}
	// Not acknowledged: sent again, with backoff.
	again := m.call(linkpb.AgentCall_STATUS_UPDATE)
	if !bytes.Equal(again.GetStatusUpdate().GetStatus().GetUuid(), uuidOf("u1")) {
		t.Fatalf("retry: %v", again)
	}
	if code := ex.update("t1", mesospb.TaskState_TASK_FINISHED, uuidOf("u2")); code != http.StatusAccepted {
		t.Fatalf("UPDATE answered %d", code)
	}
	ex.event() // ACKNOWLEDGED u2
	s.send(ack("f1", "t1", uuidOf("u1")))
	for {
		c := m.call(linkpb.AgentCall_STATUS_UPDATE)
		if u := c.GetStatusUpdate().GetStatus().GetUuid(); bytes.Equal(u, uuidOf("u2")) {
			break
		}
	}
	s.send(ack("f1", "t1", uuidOf("u2")))
	m.sync(s)

	a.cz.exit(spec.ContainerID, containerizer.Termination{Status: 0, Message: "Command exited with status 0"})
	exited := m.call(linkpb.AgentCall_EXECUTOR_EXITED).GetExecutorExited()
	if exited.GetExecutorId().GetValue() != "t1" || exited.GetStatus() != 0 {
		t.Fatalf("EXECUTOR_EXITED: %v", exited)
	}
	// The stream ends when the executor is gone.
	if err := ex.events.ReadMessage(c, &executorpb.Event{}); err == nil {
		t.Fatal("executor stream still open after the executor exited")
	}
	state := getState(t, a.url)
	if len(state.Frameworks) != 0 || len(state.CompletedFrameworks) != 1 ||
		state.CompletedFrameworks[0].CompletedExecutors[0].CompletedTasks[0].State != "TASK_FINISHED" {
		t.Fatalf("state after the task: %+v", state)
	}
}

func getState(t *testing.T, url string) present.AgentState {
	t.Helper()
	resp, err := http.Get(url + "/slave(1)/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s present.AgentState
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}
