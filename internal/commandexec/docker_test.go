package commandexec

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/executorpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/containerizer"
	"github.com/mesoproject/meso/internal/containerizer/docker"
	"github.com/mesoproject/meso/internal/containerizer/docker/dockertest"
)

// openDocker is dockerexec.Open, which this package's tests cannot import
// (it imports this package).
func openDocker(ctx context.Context, s DockerSettings, log *slog.Logger) (DockerEngine, error) {
	return docker.New(ctx, docker.Config{Socket: s.Socket, Owner: s.Owner, SandboxDirectory: s.SandboxDirectory, CFSQuota: s.CFSQuota, Logger: log})
}

func dockerTaskInfo(image, command string) *mesospb.TaskInfo {
	task := shellTask(command)
	task.Container = &mesospb.ContainerInfo{
		Type:   mesospb.ContainerInfo_DOCKER.Enum(),
		Docker: &mesospb.ContainerInfo_DockerInfo{Image: proto.String(image)},
	}
	return task
}

// Without the agent's Docker settings a DOCKER task fails at once, saying
// what the agent needs.
func TestDockerTaskWithoutDocker(t *testing.T) {
	t.Setenv(EnvDockerSocket, "")
	a := newFakeAgent(t, dockerTaskInfo("busybox", "echo never"))
	p := startExecutor(t, a)
	expectUpdate(t, a, p, mesospb.TaskState_TASK_STARTING)
	st := expectUpdate(t, a, p, mesospb.TaskState_TASK_FAILED)
	if st.GetReason() != mesospb.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED || !strings.Contains(st.GetMessage(), "--containerizers") {
		t.Errorf("update = %v %q, want REASON_CONTAINER_LAUNCH_FAILED naming --containerizers", st.GetReason(), st.GetMessage())
	}
	p.expectExit(t)
}

// dockerSetUp builds the busybox image and points the executor at the
// daemon with an owner of the test's own; at the end no container of that
// owner may be left.
func dockerSetUp(t *testing.T) (image string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cli, reason := dockertest.Connect(ctx)
	if cli == nil {
		t.Skip("docker tests skipped: " + reason)
	}
	stamp := fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano())
	image = "meso-commandexec-test:" + stamp
	owner := "meso-commandexec-test-" + stamp
	if err := dockertest.BuildBusybox(ctx, cli, image); err != nil {
		cli.Close()
		t.Fatalf("building the test image: %v", err)
	}
	t.Setenv(EnvDockerSocket, dockertest.Socket)
	t.Setenv(EnvDockerOwner, owner)
	t.Setenv(EnvDockerSandboxDirectory, "/sandbox")
	t.Setenv(EnvDockerCFS, "1")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		list, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true,
			Filters: make(client.Filters).Add("label", docker.LabelOwner+"="+owner)})
		if err != nil {
			t.Error(err)
		}
		for _, c := range list.Items {
			t.Errorf("container %v (%s) left behind", c.Names, c.State)
			_, _ = cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true})
		}
		_ = dockertest.RemoveImage(ctx, cli, image)
		cli.Close()
	})
	return image
}

// A DOCKER task runs in its image with the sandbox mounted, its output in
// the sandbox files, and its container removed after it ended.
func TestDockerTaskFinishes(t *testing.T) {
	image := dockerSetUp(t)
	a := newFakeAgent(t, dockerTaskInfo(image, `echo "hello in $MESOS_SANDBOX, task $MESOS_TASK_ID"; pwd > here`))
	p := startExecutor(t, a)
	expectUpdate(t, a, p, mesospb.TaskState_TASK_STARTING)
	expectUpdate(t, a, p, mesospb.TaskState_TASK_RUNNING)
	st := expectUpdate(t, a, p, mesospb.TaskState_TASK_FINISHED)
	if st.GetMessage() != "Command exited with status 0" {
		t.Errorf("message = %q", st.GetMessage())
	}
	p.expectExit(t)
	if out := p.file(t, "stdout"); !strings.Contains(out, "hello in /sandbox, task t-1") {
		t.Errorf("stdout = %q", out)
	}
	// (The task's stderr is appended to the sandbox's too, but this
	// harness opens the executor's stderr without O_APPEND, so the
	// executor's log may overwrite it; the e2e tests check it.)
	if here := p.file(t, "here"); here != "/sandbox\n" {
		t.Errorf("working directory = %q, want the mapped sandbox", here)
	}
}

// KILL stops the container: SIGTERM (ignored by a shell as PID 1), then
// SIGKILL after the kill policy's grace period.
func TestDockerTaskKilled(t *testing.T) {
	image := dockerSetUp(t)
	a := newFakeAgent(t, dockerTaskInfo(image, "sleep 1000"))
	p := startExecutor(t, a)
	expectUpdate(t, a, p, mesospb.TaskState_TASK_STARTING)
	expectUpdate(t, a, p, mesospb.TaskState_TASK_RUNNING)
	a.toExec <- &executorpb.Event{Type: executorpb.Event_KILL.Enum(), Kill: &executorpb.Event_Kill{
		TaskId:     &mesospb.TaskID{Value: proto.String("t-1")},
		KillPolicy: &mesospb.KillPolicy{GracePeriod: &mesospb.DurationInfo{Nanoseconds: proto.Int64(int64(200 * time.Millisecond))}},
	}}
	st := expectUpdate(t, a, p, mesospb.TaskState_TASK_KILLED)
	if st.GetMessage() != "Command terminated with signal Killed" {
		t.Errorf("message = %q", st.GetMessage())
	}
	p.expectExit(t)
}

func TestDockerOutcome(t *testing.T) {
	exited := func(code int) int { return code << 8 }
	for _, tc := range []struct {
		name   string
		d      *dockerTask
		state  mesospb.TaskState
		msg    string
		reason mesospb.TaskStatus_Reason
	}{
		{"finished", &dockerTask{term: containerizer.Termination{Status: exited(0), Message: "Command exited with status 0"}},
			mesospb.TaskState_TASK_FINISHED, "Command exited with status 0", 0},
		{"failed", &dockerTask{term: containerizer.Termination{Status: exited(2), Message: "Command exited with status 2"}},
			mesospb.TaskState_TASK_FAILED, "Command exited with status 2", 0},
		{"unknown status", &dockerTask{term: containerizer.Termination{Status: -1, Message: "Container disappeared from Docker"}},
			mesospb.TaskState_TASK_FAILED, "Container disappeared from Docker", 0},
		{"killed", &dockerTask{killed: true, started: true, term: containerizer.Termination{Status: int(syscall.SIGKILL), Message: "Command terminated with signal Killed"}},
			mesospb.TaskState_TASK_KILLED, "Command terminated with signal Killed", 0},
		{"killed exiting 0", &dockerTask{killed: true, started: true, term: containerizer.Termination{Status: exited(0), Message: "Command exited with status 0"}},
			mesospb.TaskState_TASK_KILLED, "Command exited with status 0", 0},
		{"memory", &dockerTask{term: containerizer.Termination{Status: int(syscall.SIGKILL), Limited: true,
			Reason: mesospb.TaskStatus_REASON_CONTAINER_LIMITATION_MEMORY, Message: "Memory limit exceeded: Requested: 32MB"}},
			mesospb.TaskState_TASK_FAILED, "Memory limit exceeded: Requested: 32MB", mesospb.TaskStatus_REASON_CONTAINER_LIMITATION_MEMORY},
		{"launch failed", &dockerTask{launchErr: fmt.Errorf("%w: failed to pull image \"x:1\": no such host", containerizer.ErrLaunchFailed)},
			mesospb.TaskState_TASK_FAILED, `Failed to launch container: failed to pull image "x:1": no such host`, mesospb.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED},
		{"killed while launching", &dockerTask{killed: true, launchErr: context.Canceled},
			mesospb.TaskState_TASK_KILLED, "Task killed before its container started", 0},
		{"wait failed", &dockerTask{started: true, waitErr: errors.New("gone")},
			mesospb.TaskState_TASK_FAILED, "Failed to wait for the container: gone", 0},
	} {
		state, msg, reason := tc.d.outcome()
		if state != tc.state || msg != tc.msg || (reason == nil) != (tc.reason == 0) || (reason != nil && *reason != tc.reason) {
			t.Errorf("%s: outcome = %v %q %v, want %v %q %v", tc.name, state, msg, reason, tc.state, tc.msg, tc.reason)
		}
	}
}
