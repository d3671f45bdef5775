package defaultexec

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/executorpb"
	"github.com/mesoproject/meso/api/mesospb"
)

// Every task of a group runs as its own process in its own sandbox, and
// the executor exits once all have finished and been acknowledged.
func TestGroupFinishes(t *testing.T) {
	a := newFakeAgent(t)
	p := startExecutor(t, a)
	t1 := shellTask("t1", `echo one; echo err1 >&2; pwd > cwd; echo "$MESOS_SANDBOX" > sandbox`)
	t2 := shellTask("t2", `echo two; echo "$GREETING" > env`)
	t2.Command.Environment = &mesospb.Environment{Variables: []*mesospb.Environment_Variable{
		{Name: proto.String("GREETING"), Value: proto.String("hi")}}}
	a.launchGroup(t1, t2)
	u := newUpdates(t, a, p)
	f1 := u.until("t1", mesospb.TaskState_TASK_FINISHED)
	u.until("t2", mesospb.TaskState_TASK_FINISHED)
	p.expectExit(t)
	for _, id := range []string{"t1", "t2"} {
		if got := u.states(id); got != "STARTING RUNNING FINISHED" {
			t.Errorf("%s went %s", id, got)
		}
	}
	if f1.GetMessage() != "Command exited with status 0" || f1.Reason != nil {
		t.Errorf("FINISHED update %v", f1)
	}
	cs := f1.GetContainerStatus().GetContainerId()
	if cs.GetValue() == "" || cs.GetParent().GetValue() != "executor-container" {
		t.Errorf("container status %v: want the task's container under the executor's", cs)
	}
	dir := filepath.Join(p.sandbox, "containers", cs.GetValue())
	if got := strings.TrimSpace(p.taskFile(t, "t1", "cwd")); got != dir {
		t.Errorf("t1 ran in %q, want its own sandbox %q", got, dir)
	}
	if got := strings.TrimSpace(p.taskFile(t, "t1", "sandbox")); got != dir {
		t.Errorf("t1 MESOS_SANDBOX=%q, want %q", got, dir)
	}
	if got := p.taskFile(t, "t1", "stdout"); got != "one\n" {
		t.Errorf("t1 stdout %q", got)
	}
	if got := p.taskFile(t, "t1", "stderr"); got != "err1\n" {
		t.Errorf("t1 stderr %q", got)
	}
	if got := p.taskFile(t, "t2", "stdout"); got != "two\n" {
		t.Errorf("t2 stdout %q (each task has its own)", got)
	}
	if got := strings.TrimSpace(p.taskFile(t, "t2", "env")); got != "hi" {
		t.Errorf("t2 environment gave %q", got)
	}
	if link, err := os.Readlink(filepath.Join(p.sandbox, "tasks", "t1")); err != nil || link != filepath.Join("..", "containers", cs.GetValue()) {
		t.Errorf("tasks/t1 -> %q (%v)", link, err)
	}
}

// One task failing kills the others of its group: they end TASK_KILLED
// (after TASK_KILLING for a framework that understands it).
func TestFailureKillsGroup(t *testing.T) {
	a := newFakeAgent(t)
	a.capabilities = []mesospb.FrameworkInfo_Capability_Type{mesospb.FrameworkInfo_Capability_TASK_KILLING_STATE}
	p := startExecutor(t, a)
	// t3 ignores SIGTERM: its kill policy makes the escalation quick.
	t3 := shellTask("t3", `trap "" TERM; touch ready; sleep 60 & wait; sleep 60`)
	t3.KillPolicy = &mesospb.KillPolicy{GracePeriod: &mesospb.DurationInfo{Nanoseconds: proto.Int64(int64(100 * time.Millisecond))}}
	a.launchGroup(
		shellTask("t1", `while [ ! -f ../../tasks/t2/ready ] || [ ! -f ../../tasks/t3/ready ]; do sleep 0.01; done; exit 2`),
		shellTask("t2", `touch ready; exec sleep 60`),
		t3,
	)
	u := newUpdates(t, a, p)
	failed := u.until("t1", mesospb.TaskState_TASK_FAILED)
	k2 := u.until("t2", mesospb.TaskState_TASK_KILLED)
	k3 := u.until("t3", mesospb.TaskState_TASK_KILLED)
	p.expectExit(t)
	if failed.GetMessage() != "Command exited with status 2" {
		t.Errorf("t1 FAILED message %q", failed.GetMessage())
	}
	if got := u.states("t2"); got != "STARTING RUNNING KILLING KILLED" {
		t.Errorf("t2 went %s", got)
	}
	if k2.GetMessage() != "Command terminated with signal Terminated" || k2.Reason != nil {
		t.Errorf("t2 KILLED %v", k2)
	}
	if k3.GetMessage() != "Command terminated with signal Killed" {
		t.Errorf("t3 (ignoring SIGTERM) KILLED %q, want SIGKILL after the grace period", k3.GetMessage())
	}
}

// A KILL of one task kills its group, not another group; the executor
// serves both groups and exits when both are over.
func TestKillOneTaskKillsItsGroupOnly(t *testing.T) {
	a := newFakeAgent(t)
	p := startExecutor(t, a)
	a.launchGroup(shellTask("a1", `touch ready; exec sleep 60`), shellTask("a2", `touch ready; exec sleep 60`))
	a.launchGroup(shellTask("b1", `touch ready; while [ ! -f go ]; do sleep 0.01; done`))
	p.waitTaskFile(t, "a1", "ready")
	p.waitTaskFile(t, "a2", "ready")
	p.waitTaskFile(t, "b1", "ready")
	a.kill("a2", -1)
	u := newUpdates(t, a, p)
	u.until("a2", mesospb.TaskState_TASK_KILLED)
	u.until("a1", mesospb.TaskState_TASK_KILLED)
	if err := os.WriteFile(filepath.Join(p.sandbox, "tasks", "b1", "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	u.until("b1", mesospb.TaskState_TASK_FINISHED)
	p.expectExit(t)
	if got := u.states("a2"); got != "STARTING RUNNING KILLED" {
		t.Errorf("a2 went %s (no TASK_KILLING without the capability)", got)
	}
}

// The KILL's grace period wins over the task's; SIGKILL follows it.
func TestKillPolicy(t *testing.T) {
	a := newFakeAgent(t)
	p := startExecutor(t, a)
	task := shellTask("t1", `trap "" TERM; touch ready; sleep 60 & wait; sleep 60`)
	task.KillPolicy = &mesospb.KillPolicy{GracePeriod: &mesospb.DurationInfo{Nanoseconds: proto.Int64(int64(time.Hour))}}
	a.launchGroup(task)
	p.waitTaskFile(t, "t1", "ready")
	a.kill("t1", 100*time.Millisecond)
	u := newUpdates(t, a, p)
	st := u.until("t1", mesospb.TaskState_TASK_KILLED)
	if st.GetMessage() != "Command terminated with signal Killed" {
		t.Errorf("KILLED message %q", st.GetMessage())
	}
	p.expectExit(t)
}

// A group whose task cannot start runs none of its tasks: all fail with
// REASON_CONTAINER_LAUNCH_FAILED.
func TestLaunchFailureFailsWholeGroup(t *testing.T) {
	a := newFakeAgent(t)
	p := startExecutor(t, a)
	bad := shellTask("bad", "")
	bad.Command = &mesospb.CommandInfo{Shell: proto.Bool(false), Value: proto.String("no-such-program-here")}
	a.launchGroup(shellTask("good", "touch ran"), bad)
	u := newUpdates(t, a, p)
	for _, id := range []string{"good", "bad"} {
		st := u.until(id, mesospb.TaskState_TASK_FAILED)
		if st.GetReason() != mesospb.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED || !strings.Contains(st.GetMessage(), "task bad:") ||
			!strings.Contains(st.GetMessage(), "no-such-program-here") {
			t.Errorf("%s: %v", id, st)
		}
		if got := u.states(id); got != "STARTING FAILED(CONTAINER_LAUNCH_FAILED)" {
			t.Errorf("%s went %s", id, got)
		}
	}
	p.expectExit(t)
	if _, err := os.Stat(filepath.Join(p.sandbox, "tasks", "good", "ran")); err == nil {
		t.Error("a task of a group that failed to launch ran")
	}
}

func TestInvalidHealthCheckFailsGroup(t *testing.T) {
	a := newFakeAgent(t)
	p := startExecutor(t, a)
	task := shellTask("t1", "true")
	task.HealthCheck = &mesospb.HealthCheck{Type: mesospb.HealthCheck_TCP.Enum()}
	a.launchGroup(task)
	u := newUpdates(t, a, p)
	st := u.until("t1", mesospb.TaskState_TASK_FAILED)
	if !strings.Contains(st.GetMessage(), "health check") {
		t.Errorf("message %q", st.GetMessage())
	}
	p.expectExit(t)
}

// A task failing its health check is reported unhealthy at each failure,
// killed after consecutive_failures, and its group goes with it.
func TestHealthCheckKillsTask(t *testing.T) {
	a := newFakeAgent(t)
	p := startExecutor(t, a)
	task := shellTask("web", `touch healthy; exec sleep 60`)
	task.HealthCheck = &mesospb.HealthCheck{
		Type:                mesospb.HealthCheck_COMMAND.Enum(),
		Command:             &mesospb.CommandInfo{Value: proto.String("test -f healthy")},
		DelaySeconds:        proto.Float64(0),
		IntervalSeconds:     proto.Float64(0.05),
		GracePeriodSeconds:  proto.Float64(60), // failures before the file exists are ignored
		ConsecutiveFailures: proto.Uint32(2),
	}
	a.launchGroup(task, shellTask("sidecar", `touch ready; exec sleep 60`))
	u := newUpdates(t, a, p)
	var healthy *mesospb.TaskStatus
	for healthy == nil {
		if st := u.next(); st.GetTaskId().GetValue() == "web" && st.Healthy != nil {
			healthy = st
		}
	}
	if !healthy.GetHealthy() || healthy.GetState() != mesospb.TaskState_TASK_RUNNING ||
		healthy.GetReason() != mesospb.TaskStatus_REASON_TASK_HEALTH_CHECK_STATUS_UPDATED {
		t.Fatalf("first health update %v", healthy)
	}
	if err := os.Remove(filepath.Join(p.sandbox, "tasks", "web", "healthy")); err != nil {
		t.Fatal(err)
	}
	killed := u.until("web", mesospb.TaskState_TASK_KILLED)
	u.until("sidecar", mesospb.TaskState_TASK_KILLED)
	p.expectExit(t)
	if killed.Healthy == nil || killed.GetHealthy() {
		t.Errorf("terminal update %v: want healthy=false", killed)
	}
	want := "STARTING RUNNING RUNNING(TASK_HEALTH_CHECK_STATUS_UPDATED) RUNNING(TASK_HEALTH_CHECK_STATUS_UPDATED) RUNNING(TASK_HEALTH_CHECK_STATUS_UPDATED) KILLED"
	if got := u.states("web"); got != want {
		t.Errorf("web went %s\nwant %s", got, want)
	}
	var unhealthy int
	for _, st := range u.byTask["web"] {
		if st.Healthy != nil && !st.GetHealthy() && st.GetState() == mesospb.TaskState_TASK_RUNNING {
			unhealthy++
		}
	}
	if unhealthy != 2 {
		t.Errorf("%d unhealthy updates, want one per failure (2)", unhealthy)
	}
	if side := u.byTask["sidecar"]; side[len(side)-1].Healthy != nil {
		t.Errorf("sidecar's terminal update says healthy=%v; only the checked task is unhealthy", side[len(side)-1].GetHealthy())
	}
}

// A check reports its result in check_status without killing; every
// status of the task carries check_status.
func TestCheckReportsStatus(t *testing.T) {
	a := newFakeAgent(t)
	p := startExecutor(t, a)
	task := shellTask("t1", `while [ ! -f done ]; do sleep 0.01; done`)
	task.Check = &mesospb.CheckInfo{
		Type:            mesospb.CheckInfo_COMMAND.Enum(),
		Command:         &mesospb.CheckInfo_Command{Command: &mesospb.CommandInfo{Value: proto.String("test -f flag && exit 0; exit 3")}},
		DelaySeconds:    proto.Float64(0),
		IntervalSeconds: proto.Float64(0.05),
	}
	a.launchGroup(task)
	u := newUpdates(t, a, p)
	code := func() (int32, bool) {
		st := u.next()
		if st.GetReason() != mesospb.TaskStatus_REASON_TASK_CHECK_STATUS_UPDATED {
			return 0, false
		}
		return st.GetCheckStatus().GetCommand().GetExitCode(), true
	}
	for {
		if c, ok := code(); ok {
			if c != 3 {
				t.Fatalf("first check result %d, want 3", c)
			}
			break
		}
	}
	if err := os.WriteFile(filepath.Join(p.sandbox, "tasks", "t1", "flag"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if c, ok := code(); !ok || c != 0 {
		t.Fatalf("check result after the change: %d (%v), want 0", c, ok)
	}
	if err := os.WriteFile(filepath.Join(p.sandbox, "tasks", "t1", "done"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	u.until("t1", mesospb.TaskState_TASK_FINISHED)
	p.expectExit(t)
	for _, st := range u.byTask["t1"] {
		if st.GetCheckStatus().GetType() != mesospb.CheckInfo_COMMAND || st.GetCheckStatus().GetCommand() == nil {
			t.Errorf("%s update without check_status: %v", st.GetState(), st)
		}
	}
}

// SHUTDOWN kills every task of every group; the executor then exits.
func TestShutdownKillsEverything(t *testing.T) {
	a := newFakeAgent(t)
	p := startExecutor(t, a)
	a.launchGroup(shellTask("a", `touch ready; exec sleep 60`))
	a.launchGroup(shellTask("b", `touch ready; exec sleep 60`))
	p.waitTaskFile(t, "a", "ready")
	p.waitTaskFile(t, "b", "ready")
	a.toExec <- &executorpb.Event{Type: executorpb.Event_SHUTDOWN.Enum()}
	u := newUpdates(t, a, p)
	u.until("a", mesospb.TaskState_TASK_KILLED)
	u.until("b", mesospb.TaskState_TASK_KILLED)
	p.expectExit(t)
}

// SIGTERM to the executor (the containerizer's destroy) kills the tasks
// first.
func TestSIGTERMKillsTasks(t *testing.T) {
	a := newFakeAgent(t)
	p := startExecutor(t, a)
	a.launchGroup(shellTask("a", `touch ready; exec sleep 60`))
	p.waitTaskFile(t, "a", "ready")
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	u := newUpdates(t, a, p)
	u.until("a", mesospb.TaskState_TASK_KILLED)
	p.expectExit(t)
}

// Without acknowledgements, the executor still exits after AckTimeout.
func TestExitsWithoutAcks(t *testing.T) {
	a := newFakeAgent(t)
	a.noAcks = true
	a.ackTimeout = 200 * time.Millisecond
	p := startExecutor(t, a)
	a.launchGroup(shellTask("t", "true"))
	u := newUpdates(t, a, p)
	u.until("t", mesospb.TaskState_TASK_FINISHED)
	p.expectExit(t)
}

func TestLaunchRefused(t *testing.T) {
	a := newFakeAgent(t)
	p := startExecutor(t, a)
	a.toExec <- &executorpb.Event{Type: executorpb.Event_LAUNCH.Enum(), Launch: &executorpb.Event_Launch{Task: shellTask("single", "true")}}
	u := newUpdates(t, a, p)
	st := u.until("single", mesospb.TaskState_TASK_FAILED)
	if !strings.Contains(st.GetMessage(), "LAUNCH_GROUP") {
		t.Errorf("message %q", st.GetMessage())
	}
	a.toExec <- &executorpb.Event{Type: executorpb.Event_SHUTDOWN.Enum()}
	p.expectExit(t)
}
