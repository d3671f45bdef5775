package commandexec

import (
	"fmt"
	"github.com/mesoproject/meso/internal/execpolicy"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/health"
)

// DefaultKillGracePeriod is the grace period of a KILL when neither the
// event nor the task gives one (Mesos' command executor: 3s).
const DefaultKillGracePeriod = 3 * time.Second

// taskChecks is the health check and check of the task, run by package
// health while the task runs.
type taskChecks struct {
	healthSpec *health.HealthSpec
	checkSpec  *health.CheckSpec
	monitor    *health.Monitor
	updates    chan health.Update // nil until the monitor starts: never ready in the loop
	last       *mesospb.TaskStatus
	unhealthy  bool // the task was killed for failing its health check
}

// parseChecks validates the task's health check and check before it is
// started: an invalid one fails the launch.
func (c *taskChecks) parse(task *mesospb.TaskInfo) error {
	if hc := task.GetHealthCheck(); hc != nil {
		spec, err := health.ParseHealthCheck(hc)
		if err != nil {
			return fmt.Errorf("health check: %w", err)
		}
		c.healthSpec = &spec
	}
	if ci := task.GetCheck(); ci != nil {
		spec, err := health.ParseCheck(ci)
		if err != nil {
			return fmt.Errorf("check: %w", err)
		}
		c.checkSpec = &spec
	}
	return nil
}

// startChecks starts probing the running task, in its sandbox and
// environment, with probe output on the executor's stderr.
func (r *runner) startChecks() {
	c := &r.checks
	if c.healthSpec == nil && c.checkSpec == nil {
		return
	}
	c.updates = make(chan health.Update)
	c.monitor = health.Start(health.Config{
		TaskID: r.task.GetTaskId().GetValue(),
		Health: c.healthSpec,
		Check:  c.checkSpec,
		Prober: &health.Prober{Env: r.cfg.TaskEnv, Dir: r.cfg.Env.Sandbox, Output: r.cfg.Stderr},
		Logger: r.log,
	}, c.updates)
}

// stopChecks stops probing (when the task is being killed or has ended).
func (r *runner) stopChecks() {
	if c := &r.checks; c.monitor != nil {
		c.monitor.Stop()
		c.monitor, c.updates = nil, nil
	}
}

// checked reports a health or check result as Mesos' command executor
// does, and kills the task when its health check asks for it.
func (r *runner) checked(u health.Update) {
	if r.killing || r.checks.last == nil {
		return
	}
	st := u.TaskStatus(r.checks.last)
	r.send(st)
	if h := u.Health; h != nil {
		r.log.Info("task health changed", "healthy", h.Healthy, "consecutive_failures", h.ConsecutiveFailures, "message", h.Message)
		if h.Kill {
			r.checks.unhealthy = true
			r.kill(execpolicy.KillGrace(nil, r.task.GetKillPolicy(), DefaultKillGracePeriod))
		}
	}
}

// decorate adds what every status of the task carries: check_status for a
// task with a check (empty until the first result), healthy=false on the
// terminal update of a task killed for failing its health check.
func (r *runner) decorate(st *mesospb.TaskStatus) {
	if r.task == nil || st.GetTaskId().GetValue() != r.task.GetTaskId().GetValue() {
		return
	}
	if st.CheckStatus == nil {
		st.CheckStatus = health.InitialCheckStatus(r.task.GetCheck())
	}
	if r.checks.unhealthy && mesospb.IsTerminal(st.GetState()) {
		st.Healthy = proto.Bool(false)
	}
}
