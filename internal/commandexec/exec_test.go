package commandexec

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
	"strconv"
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

// The test binary doubles as the executor: with COMMANDEXEC_HELPER=1 it runs
// Run on its Mesos environment, as `meso executor` does, so the tests drive
// a real executor process with a real task process.
func TestMain(m *testing.M) {
	if os.Getenv("COMMANDEXEC_HELPER") == "1" {
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
	abort := make(chan struct{})
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1) // Config.Abort, for TestAbort
	go func() { <-usr1; close(abort) }()
	if err := Run(ctx, Config{Env: env, Logger: log, OpenDocker: openDocker, Abort: abort}); err != nil {
		fmt.Fprintln(os.Stderr, "executor:", err)
		return 1
	}
	return 0
}

// fakeAgent serves the executor API for one executor: it sends SUBSCRIBED
// and the task's LAUNCH, acknowledges every update at once, and forwards
// what the test queues on toExec.
type fakeAgent struct {
	t            *testing.T
	task         *mesospb.TaskInfo // nil: no LAUNCH
	capabilities []mesospb.FrameworkInfo_Capability_Type
	updates      chan *mesospb.TaskStatus
	toExec       chan *executorpb.Event
}

func newFakeAgent(t *testing.T, task *mesospb.TaskInfo) *fakeAgent {
	return &fakeAgent{t: t, task: task, updates: make(chan *mesospb.TaskStatus, 16), toExec: make(chan *executorpb.Event, 16)}
}

func (a *fakeAgent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := codec.ForContentType(r.Header.Get("Content-Type"))
	if err != nil || r.URL.Path != "/api/v1/executor" {
		a.t.Errorf("fake agent: %s with Content-Type %q", r.URL.Path, r.Header.Get("Content-Type"))
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	body, _ := io.ReadAll(r.Body)
	call := &executorpb.Call{}
	if err := c.Unmarshal(body, call); err != nil {
		a.t.Errorf("fake agent: %v", err)
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
		a.toExec <- &executorpb.Event{
			Type:         executorpb.Event_ACKNOWLEDGED.Enum(),
			Acknowledged: &executorpb.Event_Acknowledged{TaskId: st.GetTaskId(), Uuid: st.GetUuid()},
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
	send := func(ev *executorpb.Event) bool { return rw.WriteMessage(c, ev) == nil }
	if !send(&executorpb.Event{Type: executorpb.Event_SUBSCRIBED.Enum(), Subscribed: &executorpb.Event_Subscribed{
		ExecutorInfo:  &mesospb.ExecutorInfo{ExecutorId: &mesospb.ExecutorID{Value: proto.String("ex-1")}},
		FrameworkInfo: fw,
		AgentInfo:     &mesospb.AgentInfo{Hostname: proto.String("localhost"), Id: &mesospb.AgentID{Value: proto.String("agent-1")}},
	}}) {
		return
	}
	if a.task != nil && !send(&executorpb.Event{Type: executorpb.Event_LAUNCH.Enum(), Launch: &executorpb.Event_Launch{Task: a.task}}) {
		return
	}
	for {
		select {
		case ev := <-a.toExec:
			if !send(ev) {
				return
			}
		case <-r.Context().Done():
			return
		}
	}
}

// executorProc is a running executor process.
type executorProc struct {
	cmd     *exec.Cmd
	sandbox string
	done    chan error
}

// startExecutor starts the executor process with the Mesos environment of a
// fresh sandbox, its stdout and stderr going to files there, as the posix
// containerizer does.
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
		"COMMANDEXEC_HELPER=1",
		"MESOS_AGENT_ENDPOINT="+srv.Listener.Addr().String(),
		"MESOS_FRAMEWORK_ID=fw-1",
		"MESOS_EXECUTOR_ID=ex-1",
		"MESOS_DIRECTORY="+sandbox,
		"MESOS_SANDBOX="+sandbox,
		"MESOS_CHECKPOINT=0",
		"MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD=5secs",
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
	})
	return p
}

const waitTimeout = 20 * time.Second

// expectUpdate waits for the next update and checks its state.
func expectUpdate(t *testing.T, a *fakeAgent, p *executorProc, want mesospb.TaskState) *mesospb.TaskStatus {
	t.Helper()
	select {
	case st := <-a.updates:
		if st.GetState() != want {
			t.Fatalf("update %s (%q), want %s; executor stderr:\n%s", st.GetState(), st.GetMessage(), want, p.file(t, "stderr"))
		}
		if st.GetSource() != mesospb.TaskStatus_SOURCE_EXECUTOR || len(st.GetUuid()) != 16 {
			t.Errorf("update %s has source %v, uuid %x", want, st.GetSource(), st.GetUuid())
		}
		return st
	case err := <-p.done:
		p.done <- err
		t.Fatalf("executor exited (%v) before %s; stderr:\n%s", err, want, p.file(t, "stderr"))
	case <-time.After(waitTimeout):
		t.Fatalf("no %s update; executor stderr:\n%s", want, p.file(t, "stderr"))
	}
	return nil
}

// expectExit waits for the executor to exit with status 0.
func (p *executorProc) expectExit(t *testing.T) {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Fatalf("executor: %v; stderr:\n%s", err, p.file(t, "stderr"))
		}
	case <-time.After(waitTimeout):
		t.Fatalf("executor did not exit; stderr:\n%s", p.file(t, "stderr"))
	}
}

func (p *executorProc) file(t *testing.T, name string) string {
	data, err := os.ReadFile(filepath.Join(p.sandbox, name))
	if err != nil {
		return fmt.Sprintf("<%v>", err)
	}
	return string(data)
}

// waitFile polls for a file the task creates, with a deadline.
func (p *executorProc) waitFile(t *testing.T, name string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		if _, err := os.Stat(filepath.Join(p.sandbox, name)); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("task never created %s", name)
		}
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("executor exited (%v) before the task created %s", err, name)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func shellTask(command string) *mesospb.TaskInfo {
	return &mesospb.TaskInfo{
		Name:    proto.String("task"),
		TaskId:  &mesospb.TaskID{Value: proto.String("t-1")},
		AgentId: &mesospb.AgentID{Value: proto.String("agent-1")},
		Command: &mesospb.CommandInfo{Value: proto.String(command)},
	}
}

func TestTaskFinishes(t *testing.T) {
	task := shellTask(`echo hello; echo oops >&2; pwd > cwd; echo "$MESOS_SANDBOX|$GREETING" > env`)
	task.Command.Environment = &mesospb.Environment{Variables: []*mesospb.Environment_Variable{
		{Name: proto.String("GREETING"), Type: mesospb.Environment_Variable_VALUE.Enum(), Value: proto.String("hi")},
	}}
	a := newFakeAgent(t, task)
	p := startExecutor(t, a)
	expectUpdate(t, a, p, mesospb.TaskState_TASK_STARTING)
	expectUpdate(t, a, p, mesospb.TaskState_TASK_RUNNING)
	st := expectUpdate(t, a, p, mesospb.TaskState_TASK_FINISHED)
	if st.GetMessage() != "Command exited with status 0" {
		t.Errorf("FINISHED message %q", st.GetMessage())
	}
	p.expectExit(t)
	if out := p.file(t, "stdout"); !strings.Contains(out, "hello\n") {
		t.Errorf("sandbox stdout %q lacks the task's output", out)
	}
	if errOut := p.file(t, "stderr"); !strings.Contains(errOut, "oops\n") {
		t.Errorf("sandbox stderr %q lacks the task's output", errOut)
	}
	if cwd := strings.TrimSpace(p.file(t, "cwd")); cwd != p.sandbox {
		t.Errorf("task ran in %q, want the sandbox %q", cwd, p.sandbox)
	}
	if env := strings.TrimSpace(p.file(t, "env")); env != p.sandbox+"|hi" {
		t.Errorf("task environment gave %q, want %q", env, p.sandbox+"|hi")
	}
}

func TestTaskFailsWithExitStatus(t *testing.T) {
	a := newFakeAgent(t, shellTask("exit 3"))
	p := startExecutor(t, a)
	expectUpdate(t, a, p, mesospb.TaskState_TASK_STARTING)
	expectUpdate(t, a, p, mesospb.TaskState_TASK_RUNNING)
	st := expectUpdate(t, a, p, mesospb.TaskState_TASK_FAILED)
	if st.GetMessage() != "Command exited with status 3" {
		t.Errorf("FAILED message %q, want \"Command exited with status 3\"", st.GetMessage())
	}
	p.expectExit(t)
}

func TestNonShellCommand(t *testing.T) {
	task := shellTask("")
	task.Command = &mesospb.CommandInfo{Shell: proto.Bool(false), Value: proto.String("echo"),
		Arguments: []string{"echo", "two words", "$HOME"}}
	a := newFakeAgent(t, task)
	p := startExecutor(t, a)
	expectUpdate(t, a, p, mesospb.TaskState_TASK_STARTING)
	expectUpdate(t, a, p, mesospb.TaskState_TASK_RUNNING)
	expectUpdate(t, a, p, mesospb.TaskState_TASK_FINISHED)
	p.expectExit(t)
	if out := p.file(t, "stdout"); !strings.Contains(out, "two words $HOME\n") {
		t.Errorf("stdout %q, want the arguments as given, unexpanded", out)
	}
}

func TestLaunchFailure(t *testing.T) {
	task := shellTask("")
	task.Command = &mesospb.CommandInfo{Shell: proto.Bool(false), Value: proto.String("no-such-program-here")}
	a := newFakeAgent(t, task)
	p := startExecutor(t, a)
	expectUpdate(t, a, p, mesospb.TaskState_TASK_STARTING)
	st := expectUpdate(t, a, p, mesospb.TaskState_TASK_FAILED)
	if st.GetReason() != mesospb.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED || !strings.Contains(st.GetMessage(), "no-such-program-here") {
		t.Errorf("launch failure update = %v", st)
	}
	p.expectExit(t)
}

func killEvent(grace time.Duration) *executorpb.Event {
	return &executorpb.Event{Type: executorpb.Event_KILL.Enum(), Kill: &executorpb.Event_Kill{
		TaskId:     &mesospb.TaskID{Value: proto.String("t-1")},
		KillPolicy: &mesospb.KillPolicy{GracePeriod: &mesospb.DurationInfo{Nanoseconds: proto.Int64(int64(grace))}},
	}}
}

// TestKillEscalatesToSIGKILL: a task that ignores SIGTERM is SIGKILLed after
// the KILL's grace period; a TASK_KILLING_STATE framework sees TASK_KILLING.
func TestKillEscalatesToSIGKILL(t *testing.T) {
	a := newFakeAgent(t, shellTask(`trap "" TERM; touch ready; exec sleep 60`))
	a.capabilities = []mesospb.FrameworkInfo_Capability_Type{mesospb.FrameworkInfo_Capability_TASK_KILLING_STATE}
	p := startExecutor(t, a)
	expectUpdate(t, a, p, mesospb.TaskState_TASK_STARTING)
	expectUpdate(t, a, p, mesospb.TaskState_TASK_RUNNING)
	p.waitFile(t, "ready")
	a.toExec <- killEvent(200 * time.Millisecond)
	expectUpdate(t, a, p, mesospb.TaskState_TASK_KILLING)
	st := expectUpdate(t, a, p, mesospb.TaskState_TASK_KILLED)
	if st.GetMessage() != "Command terminated with signal Killed" {
		t.Errorf("KILLED message %q, want SIGKILL's", st.GetMessage())
	}
	p.expectExit(t)
}

// TestKillGraceful: a task that honours SIGTERM ends with it.
func TestKillGraceful(t *testing.T) {
	a := newFakeAgent(t, shellTask(`touch ready; exec sleep 60`))
	p := startExecutor(t, a)
	expectUpdate(t, a, p, mesospb.TaskState_TASK_STARTING)
	expectUpdate(t, a, p, mesospb.TaskState_TASK_RUNNING)
	p.waitFile(t, "ready")
	a.toExec <- killEvent(time.Minute)
	st := expectUpdate(t, a, p, mesospb.TaskState_TASK_KILLED) // no KILLING: no capability
	if st.GetMessage() != "Command terminated with signal Terminated" {
		t.Errorf("KILLED message %q, want SIGTERM's", st.GetMessage())
	}
	p.expectExit(t)
}

// TestShutdownKillsTask: SHUTDOWN kills the task and the executor exits.
func TestShutdownKillsTask(t *testing.T) {
	a := newFakeAgent(t, shellTask(`touch ready; exec sleep 60`))
	p := startExecutor(t, a)
	expectUpdate(t, a, p, mesospb.TaskState_TASK_STARTING)
	expectUpdate(t, a, p, mesospb.TaskState_TASK_RUNNING)
	p.waitFile(t, "ready")
	a.toExec <- &executorpb.Event{Type: executorpb.Event_SHUTDOWN.Enum()}
	expectUpdate(t, a, p, mesospb.TaskState_TASK_KILLED)
	p.expectExit(t)
}

// TestSIGTERMKillsTask: the executor's own SIGTERM (the containerizer's
// destroy) kills the task first.
func TestSIGTERMKillsTask(t *testing.T) {
	a := newFakeAgent(t, shellTask(`touch ready; exec sleep 60`))
	p := startExecutor(t, a)
	expectUpdate(t, a, p, mesospb.TaskState_TASK_STARTING)
	expectUpdate(t, a, p, mesospb.TaskState_TASK_RUNNING)
	p.waitFile(t, "ready")
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	expectUpdate(t, a, p, mesospb.TaskState_TASK_KILLED)
	p.expectExit(t)
}

func TestShutdownWithoutTask(t *testing.T) {
	a := newFakeAgent(t, nil)
	p := startExecutor(t, a)
	a.toExec <- &executorpb.Event{Type: executorpb.Event_SHUTDOWN.Enum()}
	p.expectExit(t)
}

// TestAbort: Config.Abort ends the executor at once, its task killed with
// SIGKILL (even one that ignores SIGTERM) and no update sent.
func TestAbort(t *testing.T) {
	a := newFakeAgent(t, shellTask(`trap "" TERM; echo $$ > pid; touch ready; while :; do sleep 0.1; done`))
	p := startExecutor(t, a)
	expectUpdate(t, a, p, mesospb.TaskState_TASK_STARTING)
	expectUpdate(t, a, p, mesospb.TaskState_TASK_RUNNING)
	p.waitFile(t, "ready")
	pid, err := strconv.Atoi(strings.TrimSpace(p.file(t, "pid")))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	p.expectExit(t)
	select {
	case st := <-a.updates:
		t.Errorf("update %s after the abort", st.GetState())
	default:
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("task %d still runs after the abort", pid)
	}
}
