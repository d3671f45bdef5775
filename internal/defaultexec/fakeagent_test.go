package defaultexec

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/executorpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/recordio"
	"github.com/mesoproject/meso/executor"
)

// The test binary doubles as the executor: with DEFAULTEXEC_HELPER=1 it
// runs Run on its Mesos environment, as `meso default-executor` does, so
// the tests drive a real executor process with real task processes.
func TestMain(m *testing.M) {
	if os.Getenv("DEFAULTEXEC_HELPER") == "1" {
		os.Exit(helperMain())
	}
	os.Exit(m.Run())
}

func helperMain() int {
	env, err := executor.EnvFromOS()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ackTimeout, _ := time.ParseDuration(os.Getenv("DEFAULTEXEC_ACK_TIMEOUT"))
	if err := Run(ctx, Config{Env: env, Logger: log, AckTimeout: ackTimeout}); err != nil {
		fmt.Fprintln(os.Stderr, "executor:", err)
		return 1
	}
	return 0
}

// fakeAgent serves the executor API for one executor: SUBSCRIBED, then the
// events the test queues on toExec; it acknowledges every update at once
// (or never, when noAcks).
type fakeAgent struct {
	t            *testing.T
	capabilities []mesospb.FrameworkInfo_Capability_Type
	noAcks       bool
	ackTimeout   time.Duration // the executor's AckTimeout (0: its default)
	updates      chan *mesospb.TaskStatus
	toExec       chan *executorpb.Event
}

func newFakeAgent(t *testing.T) *fakeAgent {
	return &fakeAgent{t: t, updates: make(chan *mesospb.TaskStatus, 64), toExec: make(chan *executorpb.Event, 16)}
}

func (a *fakeAgent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := codec.ForContentType(r.Header.Get("Content-Type"))
	if err != nil || r.URL.Path != "/api/v1/executor" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	body, _ := io.ReadAll(r.Body)
	call := &executorpb.Call{}
	if err := c.Unmarshal(body, call); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	switch call.GetType() {
	case executorpb.Call_SUBSCRIBE:
		a.stream(w, r, c)
	case executorpb.Call_UPDATE:
		st := call.GetUpdate().GetStatus()
		a.updates <- st
		w.WriteHeader(http.StatusAccepted)
		if !a.noAcks {
			a.toExec <- &executorpb.Event{
				Type:         executorpb.Event_ACKNOWLEDGED.Enum(),
				Acknowledged: &executorpb.Event_Acknowledged{TaskId: st.GetTaskId(), Uuid: st.GetUuid()},
			}
		}
	default:
		w.WriteHeader(http.StatusAccepted)
	}
}

func (a *fakeAgent) stream(w http.ResponseWriter, r *http.Request, c codec.Codec) {
	w.Header().Set("Content-Type", c.MediaType())
	w.WriteHeader(http.StatusOK)
	rw := recordio.NewWriter(w)
	fw := &mesospb.FrameworkInfo{User: proto.String("u"), Name: proto.String("f")}
	for _, cp := range a.capabilities {
		fw.Capabilities = append(fw.Capabilities, &mesospb.FrameworkInfo_Capability{Type: cp.Enum()})
	}
	if rw.WriteMessage(c, &executorpb.Event{Type: executorpb.Event_SUBSCRIBED.Enum(), Subscribed: &executorpb.Event_Subscribed{
		ExecutorInfo:  &mesospb.ExecutorInfo{ExecutorId: &mesospb.ExecutorID{Value: proto.String("default")}},
		FrameworkInfo: fw,
		AgentInfo:     &mesospb.AgentInfo{Hostname: proto.String("localhost"), Id: &mesospb.AgentID{Value: proto.String("agent-1")}},
		ContainerId:   &mesospb.ContainerID{Value: proto.String("executor-container")},
	}}) != nil {
		return
	}
	for {
		select {
		case ev := <-a.toExec:
			if rw.WriteMessage(c, ev) != nil {
				return
			}
		case <-r.Context().Done():
			return
		}
	}
}

// launchGroup queues a LAUNCH_GROUP.
func (a *fakeAgent) launchGroup(tasks ...*mesospb.TaskInfo) {
	a.toExec <- &executorpb.Event{Type: executorpb.Event_LAUNCH_GROUP.Enum(),
		LaunchGroup: &executorpb.Event_LaunchGroup{TaskGroup: &mesospb.TaskGroupInfo{Tasks: tasks}}}
}

func (a *fakeAgent) kill(id string, grace time.Duration) {
	k := &executorpb.Event_Kill{TaskId: &mesospb.TaskID{Value: proto.String(id)}}
	if grace >= 0 {
		k.KillPolicy = &mesospb.KillPolicy{GracePeriod: &mesospb.DurationInfo{Nanoseconds: proto.Int64(int64(grace))}}
	}
	a.toExec <- &executorpb.Event{Type: executorpb.Event_KILL.Enum(), Kill: k}
}

// executorProc is a running executor process.
type executorProc struct {
	cmd     *exec.Cmd
	sandbox string
	stderr  string
	done    chan error
}

// startExecutor starts the executor process with the Mesos environment of a
// fresh sandbox, its output going to files there, as the containerizer
// does.
func startExecutor(t *testing.T, a *fakeAgent) *executorProc {
	t.Helper()
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	sandbox := t.TempDir()
	stdout, err := os.Create(filepath.Join(sandbox, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := os.Create(filepath.Join(sandbox, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(),
		"DEFAULTEXEC_HELPER=1",
		"DEFAULTEXEC_ACK_TIMEOUT="+a.ackTimeout.String(),
		"GORACE=atexit_sleep_ms=0", // a race-enabled helper would sleep 1s on exit
		"MESOS_AGENT_ENDPOINT="+srv.Listener.Addr().String(),
		"MESOS_FRAMEWORK_ID=fw-1",
		"MESOS_EXECUTOR_ID=default",
		"MESOS_DIRECTORY="+sandbox,
		"MESOS_SANDBOX="+sandbox,
		"MESOS_CHECKPOINT=0",
		"MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD=4secs",
	)
	cmd.Dir = sandbox
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stdout.Close()
	stderr.Close()
	p := &executorProc{cmd: cmd, sandbox: sandbox, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("executor stderr:\n%s", p.file(t, "stderr"))
		}
	})
	return p
}

const waitTimeout = 20 * time.Second

func (p *executorProc) file(t *testing.T, name string) string {
	data, err := os.ReadFile(filepath.Join(p.sandbox, name))
	if err != nil {
		return fmt.Sprintf("<%v>", err)
	}
	return string(data)
}

// taskFile is a file in a task's sandbox, reached through tasks/<id>.
func (p *executorProc) taskFile(t *testing.T, task, name string) string {
	return p.file(t, filepath.Join("tasks", task, name))
}

// expectExit waits for the executor to exit with status 0.
func (p *executorProc) expectExit(t *testing.T) {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Fatalf("executor: %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("executor did not exit")
	}
}

// waitTaskFile polls, with a deadline, for a file a task creates.
func (p *executorProc) waitTaskFile(t *testing.T, task, name string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		if _, err := os.Stat(filepath.Join(p.sandbox, "tasks", task, name)); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s never created %s", task, name)
		}
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("executor exited (%v) before task %s created %s", err, task, name)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// updates collects the updates of each task in order.
type updates struct {
	t      *testing.T
	a      *fakeAgent
	p      *executorProc
	byTask map[string][]*mesospb.TaskStatus
}

func newUpdates(t *testing.T, a *fakeAgent, p *executorProc) *updates {
	return &updates{t: t, a: a, p: p, byTask: map[string][]*mesospb.TaskStatus{}}
}

// next returns the next update of any task.
func (u *updates) next() *mesospb.TaskStatus {
	u.t.Helper()
	select {
	case st := <-u.a.updates:
		if st.GetSource() != mesospb.TaskStatus_SOURCE_EXECUTOR || len(st.GetUuid()) != 16 {
			u.t.Errorf("update %v: want source SOURCE_EXECUTOR and a uuid", st)
		}
		id := st.GetTaskId().GetValue()
		u.byTask[id] = append(u.byTask[id], st)
		return st
	case <-time.After(waitTimeout):
		u.t.Fatalf("no update; so far %s", u)
	}
	return nil
}

// until reads updates until task reaches state, and returns that update.
func (u *updates) until(task string, state mesospb.TaskState) *mesospb.TaskStatus {
	u.t.Helper()
	for _, st := range u.byTask[task] {
		if st.GetState() == state {
			return st
		}
	}
	for {
		st := u.next()
		if st.GetTaskId().GetValue() == task && st.GetState() == state {
			return st
		}
	}
}

// states lists the states a task went through.
func (u *updates) states(task string) string {
	var out []string
	for _, st := range u.byTask[task] {
		s := strings.TrimPrefix(st.GetState().String(), "TASK_")
		if st.Reason != nil {
			s += "(" + strings.TrimPrefix(st.GetReason().String(), "REASON_") + ")"
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

func (u *updates) String() string {
	var out []string
	for id := range u.byTask {
		out = append(out, id+": "+u.states(id))
	}
	return strings.Join(out, "; ")
}

func shellTask(id, command string) *mesospb.TaskInfo {
	return &mesospb.TaskInfo{
		Name:    proto.String(id),
		TaskId:  &mesospb.TaskID{Value: proto.String(id)},
		AgentId: &mesospb.AgentID{Value: proto.String("agent-1")},
		Command: &mesospb.CommandInfo{Value: proto.String(command)},
	}
}
