package defaultexec

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/health"
	"github.com/mesoproject/meso/internal/launcher"
)

// launchGroup starts every task of a group, or none (see the package
// documentation).
func (r *runner) launchGroup(infos []*mesospb.TaskInfo) {
	if len(infos) == 0 {
		return
	}
	if r.shuttingDown {
		for _, info := range infos {
			r.update(&mesospb.TaskStatus{TaskId: info.GetTaskId(), State: mesospb.TaskState_TASK_KILLED.Enum(),
				Reason: mesospb.TaskStatus_REASON_TASK_KILLED_DURING_LAUNCH.Enum(), Message: proto.String("The executor is shutting down")})
		}
		return
	}
	r.launchedAny, r.ackWait = true, nil
	g := &group{}
	parent := r.client.Subscribed().GetContainerId()
	for _, info := range infos {
		g.tasks = append(g.tasks, &task{info: info, group: g, containerID: &mesospb.ContainerID{Value: proto.String(newID()), Parent: parent}})
	}
	for _, t := range g.tasks {
		t.last = r.update(r.status(t, mesospb.TaskState_TASK_STARTING))
	}
	err := r.prepareGroup(g)
	if err == nil {
		err = r.startGroup(g)
	}
	for _, t := range g.tasks {
		t.closeOutput()
	}
	if err != nil {
		r.log.Error("task group failed to launch", "err", err)
		for _, t := range g.tasks {
			st := r.status(t, mesospb.TaskState_TASK_FAILED)
			st.Reason = mesospb.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED.Enum()
			st.Message = proto.String("Failed to launch task group: " + err.Error())
			r.update(st)
		}
		return
	}
	for _, t := range g.tasks {
		r.tasks[t.id()] = t
		r.log.Info("task started", "task_id", t.id(), "pid", t.proc.Pid(), "sandbox", t.sandbox)
		t.last = r.update(r.status(t, mesospb.TaskState_TASK_RUNNING))
		r.startMonitor(t)
	}
}

// prepareGroup builds every task's process and checks.
func (r *runner) prepareGroup(g *group) error {
	seen := map[string]bool{}
	for _, t := range g.tasks {
		id := t.id()
		if seen[id] || r.tasks[id] != nil {
			return fmt.Errorf("task %s: a task with this id is already running", id)
		}
		seen[id] = true
		if err := r.prepare(t); err != nil {
			return fmt.Errorf("task %s: %w", id, err)
		}
	}
	return nil
}

// prepare creates a task's sandbox and builds its process and checks.
func (r *runner) prepare(t *task) error {
	if err := validPathElement(t.id()); err != nil {
		return err
	}
	var err error
	if t.info.GetHealthCheck() != nil {
		spec, err := health.ParseHealthCheck(t.info.GetHealthCheck())
		if err != nil {
			return fmt.Errorf("health check: %w", err)
		}
		t.healthSpec = &spec
	}
	if t.info.GetCheck() != nil {
		spec, err := health.ParseCheck(t.info.GetCheck())
		if err != nil {
			return fmt.Errorf("check: %w", err)
		}
		t.checkSpec = &spec
	}
	if t.info.GetCommand() == nil {
		return errors.New("a task of a group needs a command")
	}
	if t.sandbox, err = r.createSandbox(t); err != nil {
		return err
	}
	t.env = launcher.MergeEnv(r.cfg.TaskEnv, []string{"MESOS_SANDBOX=" + t.sandbox, "MESOS_DIRECTORY=" + t.sandbox})
	if t.cmd, err = launcher.Command(t.info.GetCommand(), t.sandbox, t.env); err != nil {
		return err
	}
	if u := t.info.GetCommand().GetUser(); u != "" && !r.cfg.NoSwitchUser {
		if err := launcher.SetUser(t.cmd, u); errors.Is(err, launcher.ErrNotRoot) {
			r.log.Warn("running task as the executor's user", "task_id", t.id(), "user", u, "err", err)
		} else if err != nil {
			return err
		}
	}
	if t.stdout, err = openOutput(filepath.Join(t.sandbox, "stdout")); err != nil {
		return err
	}
	if t.stderr, err = openOutput(filepath.Join(t.sandbox, "stderr")); err != nil {
		return err
	}
	t.cmd.Stdout, t.cmd.Stderr = t.stdout, t.stderr
	dieWithParent(t.cmd)
	return nil
}

// createSandbox makes <sandbox>/containers/<container id> and the link
// <sandbox>/tasks/<task id> to it, as Mesos lays out nested containers.
func (r *runner) createSandbox(t *task) (string, error) {
	base := r.cfg.Env.Sandbox
	if base == "" {
		base = "."
	}
	base, err := filepath.Abs(base)
	if err != nil {
		return "", err
	}
	cid := t.containerID.GetValue()
	dir := filepath.Join(base, "containers", cid)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("cannot create the task's sandbox: %w", err)
	}
	tasks := filepath.Join(base, "tasks")
	if err := os.MkdirAll(tasks, 0o755); err != nil {
		return "", fmt.Errorf("cannot create the tasks directory: %w", err)
	}
	link := filepath.Join(tasks, t.id())
	_ = os.Remove(link) // a task id used again by a later group
	if err := os.Symlink(filepath.Join("..", "containers", cid), link); err != nil {
		return "", fmt.Errorf("cannot link the task's sandbox: %w", err)
	}
	return dir, nil
}

func openOutput(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
}

// validPathElement refuses task ids that cannot name a directory.
func validPathElement(id string) error {
	if id == "" || id == "." || id == ".." || filepath.Base(id) != id || id != filepath.Clean(id) {
		return fmt.Errorf("the task id %q cannot name a sandbox directory", id)
	}
	return nil
}

// startGroup starts every prepared task; if one fails, those started are
// SIGKILLed and reaped before it returns the error.
func (r *runner) startGroup(g *group) error {
	for i, t := range g.tasks {
		if err := r.start(t); err != nil {
			for _, s := range g.tasks[:i] {
				_ = s.proc.Signal(killSignal)
				<-s.proc.Done()
			}
			return fmt.Errorf("task %s: %w", t.id(), err)
		}
	}
	return nil
}

// start starts a task's process from a goroutine locked to its OS thread,
// which lives until the task is reaped (the parent-death signal follows
// the thread that forked), then reports the exit on r.exited.
func (r *runner) start(t *task) error {
	type result struct {
		p   *launcher.Process
		err error
	}
	started := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the task
		p, err := launcher.Start(t.cmd)
		started <- result{p, err}
		if err != nil {
			return
		}
		<-p.Done()
		select {
		case r.exited <- t:
		case <-r.stop:
		}
	}()
	res := <-started
	if res.err != nil {
		return res.err
	}
	t.proc = res.p
	return nil
}

// newID returns a random container id in the UUID text form.
func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
