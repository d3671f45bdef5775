package commandexec

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/containerizer"
)

// The agent tells the command executor how to reach Docker through these
// variables, set only for a task whose ContainerInfo is DOCKER and only
// when the agent's --containerizers names docker (Mesos passes the same
// settings to mesos-docker-executor as flags).
const (
	// EnvDockerSocket is the agent's --docker_socket. Its absence means the
	// agent does not run Docker tasks.
	EnvDockerSocket = "MESO_DOCKER_SOCKET"
	// EnvDockerOwner is the agent's owner label (its work_dir), so that the
	// agent measures the task's container and removes it on restart.
	EnvDockerOwner = "MESO_DOCKER_OWNER"
	// EnvDockerSandboxDirectory is the agent's --sandbox_directory.
	EnvDockerSandboxDirectory = "MESO_DOCKER_SANDBOX_DIRECTORY"
	// EnvDockerCFS is "1" with the agent's --cgroups_enable_cfs.
	EnvDockerCFS = "MESO_DOCKER_CGROUPS_ENABLE_CFS"
)

// dockerRemoveTimeout bounds removing the task's container once it ended.
const dockerRemoveTimeout = time.Minute

// isDocker reports whether task runs in a Docker container.
func isDocker(task *mesospb.TaskInfo) bool {
	ci := task.GetContainer()
	return ci != nil && ci.GetType() == mesospb.ContainerInfo_DOCKER
}

// DockerEngine is what a Docker task needs from the Docker containerizer
// (internal/containerizer/docker implements it). The package does not
// import that containerizer itself, so that an executor binary without
// Docker support (meso-executor) does not link the Docker client.
type DockerEngine interface {
	Launch(ctx context.Context, spec containerizer.Spec) error
	Wait(ctx context.Context, id string) (containerizer.Termination, error)
	Kill(id string, sig syscall.Signal) error
	Destroy(ctx context.Context, id string, grace time.Duration) error
	// Reap removes a container that a cut-short launch may have left.
	Reap(ctx context.Context, id string) (bool, error)
	Close() error
}

// DockerSettings are the agent's Docker settings, passed to the executor
// in its environment (EnvDocker*).
type DockerSettings struct {
	Socket           string // --docker_socket
	Owner            string // the agent's owner label
	SandboxDirectory string // --sandbox_directory
	CFSQuota         bool   // --cgroups_enable_cfs
}

// dockerSettingsFromEnv reads the agent's Docker settings, or says why the
// task cannot run in Docker here.
func dockerSettingsFromEnv(lookup func(string) (string, bool)) (DockerSettings, error) {
	socket, ok := lookup(EnvDockerSocket)
	if !ok || socket == "" {
		return DockerSettings{}, errors.New("the agent does not run DOCKER containers (add docker to its --containerizers, e.g. --containerizers=docker,mesos)")
	}
	owner, _ := lookup(EnvDockerOwner)
	mapped, _ := lookup(EnvDockerSandboxDirectory)
	cfs, _ := lookup(EnvDockerCFS)
	return DockerSettings{Socket: socket, Owner: owner, SandboxDirectory: mapped, CFSQuota: cfs == "1"}, nil
}

// DockerOpener connects to the Docker engine with the agent's settings.
type DockerOpener func(ctx context.Context, s DockerSettings, log *slog.Logger) (DockerEngine, error)

// ErrNoDocker is the launch error of a Docker task given to an executor
// built without Docker support.
var ErrNoDocker = errors.New("this executor binary does not run DOCKER containers (the agent starts `meso executor` for them)")

// dockerTask runs one task in a Docker container through the docker
// containerizer, as mesos-docker-executor does: the container is named
// meso.<id>, id being the executor's container id, and carries the agent's
// owner label. Its goroutine (run) launches the container, waits for it,
// and removes it; done is closed after that.
type dockerTask struct {
	log     *slog.Logger
	open    func(context.Context) (DockerEngine, error)
	spec    containerizer.Spec
	running func() // sends TASK_RUNNING; called with mu held, unless killed
	done    chan struct{}
	killc   chan time.Duration // cap 1: the grace period of the kill

	mu           sync.Mutex
	killed       bool               // guarded by mu
	started      bool               // guarded by mu: Launch succeeded
	cancelLaunch context.CancelFunc // guarded by mu

	// Written by run before done is closed; read after.
	launchErr error
	waitErr   error
	term      containerizer.Termination
}

// launchDocker starts task in a Docker container. The executor's loop sees
// its end through r.exited, as for a process.
func (r *runner) launchDocker(task *mesospb.TaskInfo) error {
	if r.cfg.OpenDocker == nil {
		return ErrNoDocker
	}
	settings, err := dockerSettingsFromEnv(os.LookupEnv)
	if err != nil {
		return err
	}
	id := r.client.Subscribed().GetContainerId().GetValue()
	if id == "" {
		id = "executor-" + randomID()
		r.log.Warn("the agent gave no container id; naming the task's container after a random one", "container", id)
	}
	env := []string{"MESOS_TASK_ID=" + task.GetTaskId().GetValue()}
	for _, kv := range []struct{ k, v string }{
		{"MESOS_FRAMEWORK_ID", r.cfg.Env.FrameworkID}, {"MESOS_EXECUTOR_ID", r.cfg.Env.ExecutorID},
		{"MESOS_AGENT_ID", r.cfg.Env.AgentID}, {"MESOS_SLAVE_ID", r.cfg.Env.AgentID},
	} {
		if kv.v != "" {
			env = append(env, kv.k+"="+kv.v)
		}
	}
	sandbox := r.cfg.Env.Directory
	if sandbox == "" {
		sandbox = r.cfg.Env.Sandbox
	}
	d := &dockerTask{
		log: r.log,
		open: func(ctx context.Context) (DockerEngine, error) {
			return r.cfg.OpenDocker(ctx, settings, r.log.With("component", "docker"))
		},
		spec: containerizer.Spec{
			ContainerID: id,
			Sandbox:     sandbox,
			Command:     task.GetCommand(),
			Env:         env,
			Resources:   task.GetResources(),
			Container:   task.GetContainer(),
		},
		running: func() { r.update(task.GetTaskId(), mesospb.TaskState_TASK_RUNNING, "", nil) },
		done:    make(chan struct{}),
		killc:   make(chan time.Duration, 1),
	}
	r.docker, r.exited = d, d.done
	go d.run(r.cctx)
	return nil
}

// run launches the container, waits for its end (signalling it on kill)
// and removes it.
func (d *dockerTask) run(ctx context.Context) {
	defer close(d.done)
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d.mu.Lock()
	if d.killed {
		d.mu.Unlock()
		d.launchErr = context.Canceled
		return
	}
	d.cancelLaunch = cancel
	d.mu.Unlock()

	z, err := d.open(lctx)
	if err != nil {
		d.launchErr = err
		return
	}
	defer z.Close()
	if err := z.Launch(lctx, d.spec); err != nil {
		d.launchErr = err
		// A launch cut short may leave a created container behind.
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), dockerRemoveTimeout)
		defer rcancel()
		if _, err := z.Reap(rctx, d.spec.ContainerID); err != nil {
			d.log.Warn("removing the container of a failed launch", "err", err)
		}
		return
	}
	d.mu.Lock()
	d.started = true
	if !d.killed {
		d.running()
	}
	d.mu.Unlock()
	d.log.Info("task container started", "container", d.spec.ContainerID,
		"image", d.spec.Container.GetDocker().GetImage())

	d.term, d.waitErr = d.await(ctx, z)
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), dockerRemoveTimeout)
	defer rcancel()
	if err := z.Destroy(rctx, d.spec.ContainerID, 0); err != nil && !errors.Is(err, containerizer.ErrUnknownContainer) {
		d.log.Warn("removing the task's container", "err", err)
	}
}

// await waits for the container to stop. A kill sends SIGTERM, then
// SIGKILL after the grace period.
func (d *dockerTask) await(ctx context.Context, z DockerEngine) (containerizer.Termination, error) {
	type result struct {
		term containerizer.Termination
		err  error
	}
	waited := make(chan result, 1)
	go func() {
		t, err := z.Wait(ctx, d.spec.ContainerID)
		waited <- result{t, err}
	}()
	var escalate <-chan time.Time
	signal := func(sig syscall.Signal) {
		if err := z.Kill(d.spec.ContainerID, sig); err != nil && !errors.Is(err, containerizer.ErrNotRunning) {
			d.log.Warn("signalling the task's container", "signal", sig.String(), "err", err)
		}
	}
	for {
		select {
		case res := <-waited:
			return res.term, res.err
		case grace := <-d.killc:
			signal(syscall.SIGTERM)
			t := time.NewTimer(grace)
			defer t.Stop()
			escalate = t.C
		case <-escalate:
			escalate = nil
			signal(syscall.SIGKILL)
		}
	}
}

// kill asks for the container to be stopped (or its launch abandoned).
// Once kill has returned, TASK_RUNNING is no longer sent.
func (d *dockerTask) kill(grace time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.killed {
		return
	}
	d.killed = true
	if !d.started && d.cancelLaunch != nil {
		d.cancelLaunch()
	}
	d.killc <- grace
}

// outcome is the terminal state of the task once done is closed.
func (d *dockerTask) outcome() (mesospb.TaskState, string, *mesospb.TaskStatus_Reason) {
	d.mu.Lock()
	killed := d.killed
	d.mu.Unlock()
	t := d.term
	switch {
	case d.launchErr != nil && killed:
		return mesospb.TaskState_TASK_KILLED, "Task killed before its container started", nil
	case d.launchErr != nil:
		msg := strings.TrimPrefix(d.launchErr.Error(), containerizer.ErrLaunchFailed.Error()+": ")
		return mesospb.TaskState_TASK_FAILED, "Failed to launch container: " + msg,
			mesospb.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED.Enum()
	case d.waitErr != nil:
		return mesospb.TaskState_TASK_FAILED, "Failed to wait for the container: " + d.waitErr.Error(), nil
	case t.Limited:
		return mesospb.TaskState_TASK_FAILED, t.Message, t.Reason.Enum()
	case killed:
		return mesospb.TaskState_TASK_KILLED, t.Message, nil
	case t.Status >= 0 && syscall.WaitStatus(t.Status).Exited() && syscall.WaitStatus(t.Status).ExitStatus() == 0:
		return mesospb.TaskState_TASK_FINISHED, t.Message, nil
	default:
		return mesospb.TaskState_TASK_FAILED, t.Message, nil
	}
}

// randomID returns 16 random hex digits.
func randomID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}

// startDocker launches task in Docker, or fails it.
func (r *runner) startDocker(task *mesospb.TaskInfo) {
	if err := r.launchDocker(task); err != nil {
		r.log.Error("task failed to start", "err", err)
		r.terminal = r.update(task.GetTaskId(), mesospb.TaskState_TASK_FAILED, "Failed to launch container: "+err.Error(),
			mesospb.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED.Enum())
		r.armAckTimeout()
	}
}
