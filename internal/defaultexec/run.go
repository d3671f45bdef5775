package defaultexec

import (
	"context"
	"fmt"
	"github.com/mesoproject/meso/internal/execpolicy"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/executorpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/executor"
	"github.com/mesoproject/meso/internal/health"
)

// Defaults for the zero values of Config.
const (
	// DefaultKillGracePeriod is the kill grace period of a task when neither
	// the KILL nor the task gives one (Mesos' default executor: 3s).
	DefaultKillGracePeriod = 3 * time.Second
	// DefaultAckTimeout bounds the wait for acknowledgements before exit.
	DefaultAckTimeout = 5 * time.Second
)

// Config configures Run.
type Config struct {
	Env             executor.Env // the Mesos environment (executor.EnvFromOS)
	TaskEnv         []string     // base environment of tasks (default os.Environ())
	KillGracePeriod time.Duration
	AckTimeout      time.Duration
	// ProbeOutput receives the output of COMMAND health checks and checks
	// (default os.Stderr, the executor's stderr, as in Mesos).
	ProbeOutput io.Writer
	HTTPClient  *http.Client // for the executor API (default http.DefaultTransport)
	Logger      *slog.Logger // default: discard
	// NoSwitchUser runs tasks as the executor's user even when their
	// CommandInfo names another (the agent's --switch_user=false, told as
	// launcher.NoSwitchUserEnv).
	NoSwitchUser bool
}

// runner is the executor's state, owned by the loop in Run.
type runner struct {
	cfg    Config
	log    *slog.Logger
	client *executor.Client
	cctx   context.Context // for calls to the agent and kills; outlives Run's ctx

	tasks        map[string]*task // live tasks (started, not yet ended) by id
	exited       chan *task       // a task's process was reaped
	checks       chan health.Update
	stop         chan struct{} // closed when Run returns
	shuttingDown bool
	launchedAny  bool             // a group was launched (the executor exits when idle after that)
	ackWait      <-chan time.Time // armed while idle with updates unacknowledged
}

// Run runs the default executor until no task is left and every update is
// acknowledged (see the package documentation). ctx done means "shut down".
func Run(ctx context.Context, cfg Config) error {
	if cfg.TaskEnv == nil {
		cfg.TaskEnv = os.Environ()
	}
	if cfg.KillGracePeriod <= 0 {
		cfg.KillGracePeriod = DefaultKillGracePeriod
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = DefaultAckTimeout
	}
	if cfg.ProbeOutput == nil {
		cfg.ProbeOutput = os.Stderr
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ccfg := cfg.Env.Config()
	ccfg.Logger = cfg.Logger
	if cfg.HTTPClient != nil { // else the environment's (TLS when the agent speaks it)
		ccfg.HTTPClient = cfg.HTTPClient
	}
	cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	r := &runner{
		cfg:    cfg,
		log:    cfg.Logger,
		client: executor.New(ccfg),
		cctx:   cctx,
		tasks:  make(map[string]*task),
		exited: make(chan *task),
		checks: make(chan health.Update),
		stop:   make(chan struct{}),
	}
	clientDone := make(chan error, 1)
	go func() { clientDone <- r.client.Run(cctx) }()
	err := r.loop(ctx, clientDone)
	r.reapAll()
	close(r.stop)
	cancel()
	return err
}

// loop handles events, task exits, health updates, shutdown and the ack
// deadline until the executor is done.
func (r *runner) loop(ctx context.Context, clientDone <-chan error) error {
	events := r.client.Events()
	shutdown := ctx.Done()
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return r.lost(<-clientDone)
			}
			r.handle(ev)
		case t := <-r.exited:
			r.ended(t)
		case u := <-r.checks:
			r.checked(u)
		case <-r.ackWait:
			r.log.Warn("updates not acknowledged; exiting", "timeout", r.cfg.AckTimeout)
			return nil
		case <-shutdown:
			shutdown = nil
			r.log.Info("shutting down on signal")
			r.shutdown()
		}
		if r.done() {
			return nil
		}
	}
}

// done reports whether the executor may exit: nothing live, every update
// acknowledged, and either a shutdown asked for or some task was run.
func (r *runner) done() bool {
	if len(r.tasks) > 0 {
		return false
	}
	tasks, updates := r.client.Unacknowledged()
	if len(updates) > 0 || len(tasks) > 0 {
		if r.ackWait == nil && (r.shuttingDown || r.launchedAny) {
			r.ackWait = time.After(r.cfg.AckTimeout)
		}
		return false
	}
	return r.shuttingDown || r.launchedAny
}

// handle acts on one event from the agent.
func (r *runner) handle(ev *executorpb.Event) {
	switch ev.GetType() {
	case executorpb.Event_SUBSCRIBED: // the client logs it
	case executorpb.Event_LAUNCH_GROUP:
		r.launchGroup(ev.GetLaunchGroup().GetTaskGroup().GetTasks())
	case executorpb.Event_LAUNCH:
		t := ev.GetLaunch().GetTask()
		if r.tasks[t.GetTaskId().GetValue()] == nil {
			r.update(&mesospb.TaskStatus{TaskId: t.GetTaskId(), State: mesospb.TaskState_TASK_FAILED.Enum(),
				Message: proto.String("The default executor runs task groups (LAUNCH_GROUP) only")})
		}
	case executorpb.Event_KILL:
		k := ev.GetKill()
		t := r.tasks[k.GetTaskId().GetValue()]
		if t == nil {
			r.log.Warn("kill of a task that is not live ignored", "task_id", k.GetTaskId().GetValue())
			return
		}
		r.kill(t, execpolicy.KillGrace(k.GetKillPolicy(), t.info.GetKillPolicy(), r.cfg.KillGracePeriod))
	case executorpb.Event_SHUTDOWN:
		r.log.Info("shutdown requested by the agent")
		r.shutdown()
	case executorpb.Event_ACKNOWLEDGED, executorpb.Event_MESSAGE: // the client tracks acks
	case executorpb.Event_ERROR:
		r.log.Error("error from agent", "message", ev.GetError().GetMessage())
	}
}

// shutdown kills every live task.
func (r *runner) shutdown() {
	r.shuttingDown = true
	limit := execpolicy.ShutdownGrace(r.cfg.Env.ShutdownGracePeriod)
	for _, t := range r.sortedTasks() {
		r.kill(t, min(limit, execpolicy.KillGrace(nil, t.info.GetKillPolicy(), r.cfg.KillGracePeriod)))
	}
}

// lost handles the end of the client: the agent is gone for good.
func (r *runner) lost(err error) error {
	r.shuttingDown = true
	r.shutdown()
	if err == nil {
		return nil
	}
	return fmt.Errorf("defaultexec: %w", err)
}

// reapAll waits until every live task has been reaped, killing what is left
// at once (Run is ending).
func (r *runner) reapAll() {
	for _, t := range r.tasks {
		if !t.killing {
			r.kill(t, 0)
		}
	}
	for len(r.tasks) > 0 {
		t := <-r.exited
		if r.tasks[t.id()] == t { // not a task of a group that failed to launch
			r.stopMonitor(t)
			delete(r.tasks, t.id())
		}
	}
}

// update sends a status update and returns it as sent. A failure to send
// is logged: the client keeps the update and resends it on resubscription.
func (r *runner) update(st *mesospb.TaskStatus) *mesospb.TaskStatus {
	if err := r.client.Update(r.cctx, st); err != nil {
		r.log.Warn("sending status update", "task_id", st.GetTaskId().GetValue(), "state", st.GetState().String(), "err", err)
	}
	return st
}
