package defaultexec

import (
	"github.com/mesoproject/meso/internal/execpolicy"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/health"
	"github.com/mesoproject/meso/internal/launcher"
)

const killSignal = syscall.SIGKILL

// task is one task of a group, from its launch until it is reaped.
type task struct {
	info        *mesospb.TaskInfo
	group       *group
	containerID *mesospb.ContainerID
	sandbox     string
	env         []string
	cmd         *exec.Cmd
	stdout      *os.File // open until the process has started
	stderr      *os.File
	proc        *launcher.Process
	healthSpec  *health.HealthSpec
	checkSpec   *health.CheckSpec
	monitor     *health.Monitor     // while checks run
	last        *mesospb.TaskStatus // the last status sent
	killing     bool
	unhealthy   bool // killed for failing its health check
}

// group is the tasks launched together by one LAUNCH_GROUP.
type group struct {
	tasks   []*task
	killing bool // a task ended badly and the others are being killed
}

func (t *task) id() string { return t.info.GetTaskId().GetValue() }

func (t *task) closeOutput() {
	for _, f := range []*os.File{t.stdout, t.stderr} {
		if f != nil {
			f.Close()
		}
	}
	t.stdout, t.stderr = nil, nil
}

// status builds a fresh status of t: its id, container and, when it has a
// check, the empty check status (as Mesos' executors do).
func (r *runner) status(t *task, state mesospb.TaskState) *mesospb.TaskStatus {
	return &mesospb.TaskStatus{
		TaskId:          t.info.GetTaskId(),
		State:           state.Enum(),
		CheckStatus:     health.InitialCheckStatus(t.info.GetCheck()),
		ContainerStatus: &mesospb.ContainerStatus{ContainerId: t.containerID},
	}
}

// startMonitor starts the task's health check and check, if it has any.
func (r *runner) startMonitor(t *task) {
	if t.healthSpec == nil && t.checkSpec == nil {
		return
	}
	t.monitor = health.Start(health.Config{
		TaskID: t.id(),
		Health: t.healthSpec,
		Check:  t.checkSpec,
		Prober: &health.Prober{Env: t.env, Dir: t.sandbox, Output: r.cfg.ProbeOutput},
		Logger: r.log,
	}, r.checks)
}

func (r *runner) stopMonitor(t *task) {
	if t.monitor != nil {
		t.monitor.Stop()
		t.monitor = nil
	}
}

// checked reports a health or check result of a live task that is not
// being killed, and kills a task whose health check asks for it.
func (r *runner) checked(u health.Update) {
	t := r.tasks[u.TaskID]
	if t == nil || t.killing || t.monitor == nil {
		return // a result that was on its way when checking stopped
	}
	t.last = r.update(u.TaskStatus(t.last))
	if h := u.Health; h != nil {
		r.log.Info("task health changed", "task_id", t.id(), "healthy", h.Healthy,
			"consecutive_failures", h.ConsecutiveFailures, "message", h.Message)
		if h.Kill {
			t.unhealthy = true
			r.kill(t, execpolicy.KillGrace(nil, t.info.GetKillPolicy(), r.cfg.KillGracePeriod))
		}
	}
}

// kill starts killing a live task (once): TASK_KILLING for frameworks that
// understand it, SIGTERM to its process group, SIGKILL after grace.
func (r *runner) kill(t *task, grace time.Duration) {
	if t.killing {
		return
	}
	t.killing = true
	r.stopMonitor(t)
	fw := r.client.Subscribed().GetFrameworkInfo()
	if execpolicy.HasCapability(fw, mesospb.FrameworkInfo_Capability_TASK_KILLING_STATE) {
		t.last = r.update(r.status(t, mesospb.TaskState_TASK_KILLING))
	}
	r.log.Info("killing task", "task_id", t.id(), "grace", grace)
	p, ctx := t.proc, r.cctx
	go func() { _ = p.Terminate(ctx, grace) }()
}

// ended sends the terminal update of a reaped task and, when it failed or
// was killed, kills the rest of its group.
func (r *runner) ended(t *task) {
	if r.tasks[t.id()] != t {
		return // a task of a group that failed to launch
	}
	delete(r.tasks, t.id())
	r.stopMonitor(t)
	ps, err := t.proc.Wait(r.cctx)
	if err != nil {
		r.log.Warn("waiting for a task", "task_id", t.id(), "err", err)
	}
	state, msg := execpolicy.TerminalStatus(ps, t.killing)
	st := r.status(t, state)
	st.Message = proto.String(msg)
	if t.unhealthy {
		st.Healthy = proto.Bool(false)
	}
	r.log.Info("task ended", "task_id", t.id(), "state", state.String(), "message", msg)
	r.update(st)
	if state == mesospb.TaskState_TASK_FINISHED || r.shuttingDown || t.group.killing {
		return
	}
	t.group.killing = true
	var others []string
	for _, o := range t.group.tasks {
		if o != t && r.tasks[o.id()] == o {
			others = append(others, o.id())
			r.kill(o, execpolicy.KillGrace(nil, o.info.GetKillPolicy(), r.cfg.KillGracePeriod))
		}
	}
	if len(others) > 0 {
		r.log.Info("killing the rest of the task group", "task_id", t.id(), "state", state.String(), "tasks", strings.Join(others, ","))
	}
}

// sortedTasks returns the live tasks by id.
func (r *runner) sortedTasks() []*task {
	out := make([]*task, 0, len(r.tasks))
	for _, t := range r.tasks {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b *task) int { return strings.Compare(a.id(), b.id()) })
	return out
}
