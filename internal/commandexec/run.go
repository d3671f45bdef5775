package commandexec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/mesoproject/meso/internal/execpolicy"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/executorpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/executor"
	"github.com/mesoproject/meso/internal/launcher"
)

// DefaultAckTimeout bounds the wait for the terminal update's ACKNOWLEDGED.
const DefaultAckTimeout = 5 * time.Second

// Config configures Run.
type Config struct {
	Env        executor.Env // the Mesos environment (executor.EnvFromOS)
	TaskEnv    []string     // environment of the task before its own variables (default os.Environ())
	Stdout     io.Writer    // the task's stdout (default os.Stdout, inherited as is)
	Stderr     io.Writer    // the task's stderr (default os.Stderr)
	AckTimeout time.Duration
	HTTPClient *http.Client // for the executor API (default http.DefaultTransport)
	Logger     *slog.Logger // default: discard
	// NoSwitchUser runs the task as the executor's user even when its
	// CommandInfo names another (the agent's --switch_user=false, told as
	// launcher.NoSwitchUserEnv).
	NoSwitchUser bool
	// OpenDocker connects to Docker for a task whose ContainerInfo is
	// DOCKER (dockerexec.Open); nil fails such tasks with ErrNoDocker.
	OpenDocker DockerOpener
	// Abort, when closed, ends Run at once: the task's process group is
	// killed with SIGKILL and no further update is sent, as when the
	// executor process itself is killed. A command executor host
	// (package cmdhost) uses it for the agent's hard kill of one hosted
	// executor. Nil never fires.
	Abort <-chan struct{}
	// OnStart, when set, is called with the pid of the task's process
	// (the leader of its process group) once it started; a command
	// executor host measures the task's usage by it.
	OnStart func(pid int)
}

// runner is the executor's state, owned by the loop in Run.
type runner struct {
	cfg    Config
	log    *slog.Logger
	client *executor.Client
	out    *sender         // sends the updates, in order
	cctx   context.Context // for calls to the agent; outlives Run's ctx

	task     *mesospb.TaskInfo
	proc     *launcher.Process // the task's process, once started
	docker   *dockerTask       // the task's container when it runs in Docker (docker.go); nil otherwise
	exited   <-chan struct{}   // proc.Done() while the task runs; nil otherwise
	killing  bool              // a kill was started
	terminal []byte            // uuid of the terminal update, once sent
	ackWait  <-chan time.Time  // fires when the wait for the terminal ACK is over
	checks   taskChecks        // the task's health check and check
}

// Run runs the command executor until its task has ended and the terminal
// update is acknowledged (or AckTimeout passed): see the package
// documentation. ctx done means "shut down": the task is killed first.
func Run(ctx context.Context, cfg Config) error {
	if cfg.TaskEnv == nil {
		cfg.TaskEnv = os.Environ()
	}
	if cfg.Stdout == nil {
		cfg.Stdout = os.Stdout
	}
	if cfg.Stderr == nil {
		cfg.Stderr = os.Stderr
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = DefaultAckTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ccfg := cfg.Env.Config()
	ccfg.Logger = cfg.Logger
	if cfg.HTTPClient != nil { // else the environment's (TLS when the agent speaks it)
		ccfg.HTTPClient = cfg.HTTPClient
	}
	cctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	r := &runner{cfg: cfg, log: cfg.Logger, client: executor.New(ccfg), cctx: cctx}
	r.out = newSender(cctx, r.client, r.log)

	clientDone := make(chan error, 1)
	go func() { clientDone <- r.client.Run(cctx) }()
	err := r.loop(ctx, clientDone)
	r.stopChecks()
	r.out.drain(cfg.AckTimeout, cfg.Abort) // the updates made so far go out before the executor ends
	stop()
	if r.exited != nil {
		<-r.exited
	}
	return err
}

// loop handles events, the command's exit, shutdown and the ack deadline.
func (r *runner) loop(ctx context.Context, clientDone <-chan error) error {
	events := r.client.Events()
	shutdown := ctx.Done()
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return r.lost(<-clientDone)
			}
			if done := r.handle(ev); done {
				return nil
			}
			if r.task == nil && ev.GetType() == executorpb.Event_SHUTDOWN {
				return nil // nothing to kill
			}
		case <-r.exited:
			r.exited = nil // reaped; nothing left to kill
			r.finish()
		case u := <-r.checks.updates:
			r.checked(u)
		case <-r.cfg.Abort:
			r.log.Info("aborted: killing the task's processes")
			r.stopChecks()
			if r.exited != nil && r.proc != nil {
				_ = r.proc.Signal(syscall.SIGKILL)
			}
			if r.docker != nil {
				r.docker.kill(0)
			}
			return nil
		case <-r.ackWait:
			r.log.Warn("no acknowledgement of the terminal update; exiting", "timeout", r.cfg.AckTimeout)
			return nil
		case <-shutdown:
			shutdown = nil
			r.log.Info("shutting down")
			if r.task == nil || r.terminal != nil {
				return nil
			}
			r.kill(execpolicy.ShutdownGrace(r.cfg.Env.ShutdownGracePeriod))
		}
	}
}

// lost handles the end of the client: the agent is gone for good.
func (r *runner) lost(err error) error {
	r.stopChecks()
	if r.exited != nil {
		r.kill(execpolicy.ShutdownGrace(r.cfg.Env.ShutdownGracePeriod))
		<-r.exited
		r.exited = nil
	}
	if err == nil {
		return nil
	}
	return fmt.Errorf("commandexec: %w", err)
}

// handle acts on one event; it reports whether the executor is done.
func (r *runner) handle(ev *executorpb.Event) bool {
	switch ev.GetType() {
	case executorpb.Event_SUBSCRIBED: // the client logs it
	case executorpb.Event_LAUNCH:
		r.launch(ev.GetLaunch().GetTask())
	case executorpb.Event_LAUNCH_GROUP:
		for _, t := range ev.GetLaunchGroup().GetTaskGroup().GetTasks() {
			r.update(t.GetTaskId(), mesospb.TaskState_TASK_FAILED,
				"Task groups are run by the default executor, not the command executor", nil)
		}
	case executorpb.Event_KILL:
		k := ev.GetKill()
		if r.task == nil || k.GetTaskId().GetValue() != r.task.GetTaskId().GetValue() {
			r.log.Warn("kill of an unknown task ignored", "task_id", k.GetTaskId().GetValue())
			return false
		}
		r.kill(execpolicy.KillGrace(k.GetKillPolicy(), r.task.GetKillPolicy(), DefaultKillGracePeriod))
	case executorpb.Event_SHUTDOWN:
		if r.task != nil {
			r.kill(execpolicy.ShutdownGrace(r.cfg.Env.ShutdownGracePeriod))
		}
	case executorpb.Event_ACKNOWLEDGED:
		return r.terminal != nil && bytes.Equal(ev.GetAcknowledged().GetUuid(), r.terminal)
	case executorpb.Event_ERROR:
		r.log.Error("error from agent", "message", ev.GetError().GetMessage())
	}
	return false
}

// launch starts the task's command.
func (r *runner) launch(task *mesospb.TaskInfo) {
	if r.task != nil {
		r.update(task.GetTaskId(), mesospb.TaskState_TASK_FAILED,
			"Attempted to run multiple tasks using a \"command\" executor", nil)
		return
	}
	r.task = task
	r.log.Info("starting task", "task_id", task.GetTaskId().GetValue())
	r.update(task.GetTaskId(), mesospb.TaskState_TASK_STARTING, "", nil)
	err := r.checks.parse(task)
	if err == nil && isDocker(task) {
		if r.checks.healthSpec != nil || r.checks.checkSpec != nil {
			r.log.Warn("health checks and checks of Docker tasks are not run")
		}
		r.startDocker(task)
		return
	}
	var cmd *exec.Cmd
	if err == nil {
		cmd, err = r.command(task)
	}
	if err == nil {
		err = r.start(cmd)
	}
	if err != nil {
		r.log.Error("task failed to start", "err", err)
		r.terminal = r.update(task.GetTaskId(), mesospb.TaskState_TASK_FAILED, "Failed to launch task: "+err.Error(),
			mesospb.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED.Enum())
		r.armAckTimeout()
		return
	}
	r.log.Info("forked command", "pid", r.proc.Pid())
	if r.cfg.OnStart != nil {
		r.cfg.OnStart(r.proc.Pid())
	}
	r.update(task.GetTaskId(), mesospb.TaskState_TASK_RUNNING, "", nil)
	r.startChecks()
}

// command builds the task's process.
func (r *runner) command(task *mesospb.TaskInfo) (*exec.Cmd, error) {
	dir := r.cfg.Env.Sandbox
	if dir == "" {
		dir = "."
	}
	cmd, err := launcher.Command(task.GetCommand(), dir, r.cfg.TaskEnv)
	if err != nil {
		return nil, err
	}
	if u := task.GetCommand().GetUser(); u != "" && !r.cfg.NoSwitchUser {
		if err := launcher.SetUser(cmd, u); errors.Is(err, launcher.ErrNotRoot) {
			r.log.Warn("running task as the executor's user", "user", u, "err", err)
		} else if err != nil {
			return nil, err
		}
	}
	cmd.Stdout, cmd.Stderr = r.cfg.Stdout, r.cfg.Stderr
	dieWithParent(cmd)
	return cmd, nil
}

// start starts cmd from a goroutine locked to its OS thread, which stays
// until the task has been reaped: the parent-death signal follows the thread
// that forked, not the process.
func (r *runner) start(cmd *exec.Cmd) error {
	type result struct {
		p   *launcher.Process
		err error
	}
	started := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the task
		p, err := launcher.Start(cmd)
		started <- result{p, err}
		if err == nil {
			<-p.Done()
		}
	}()
	res := <-started
	if res.err != nil {
		return res.err
	}
	r.proc, r.exited = res.p, res.p.Done()
	return nil
}

// kill starts killing the task (once).
func (r *runner) kill(grace time.Duration) {
	if r.killing || r.exited == nil {
		return
	}
	r.killing = true
	r.stopChecks()
	if r.docker != nil {
		r.docker.kill(grace) // first: no TASK_RUNNING after TASK_KILLING
	}
	if execpolicy.HasCapability(r.client.Subscribed().GetFrameworkInfo(), mesospb.FrameworkInfo_Capability_TASK_KILLING_STATE) {
		r.update(r.task.GetTaskId(), mesospb.TaskState_TASK_KILLING, "", nil)
	}
	r.log.Info("killing task", "task_id", r.task.GetTaskId().GetValue(), "grace", grace)
	if r.proc != nil {
		go func() { _ = r.proc.Terminate(r.cctx, grace) }()
	}
}

// finish sends the terminal update for the reaped command.
func (r *runner) finish() {
	r.stopChecks()
	var (
		state  mesospb.TaskState
		msg    string
		reason *mesospb.TaskStatus_Reason
	)
	if r.docker != nil {
		state, msg, reason = r.docker.outcome()
	} else {
		ps, err := r.proc.Wait(r.cctx)
		if err != nil {
			r.log.Warn("waiting for the task", "err", err)
		}
		state, msg = execpolicy.TerminalStatus(ps, r.killing)
	}
	r.log.Info("task ended", "task_id", r.task.GetTaskId().GetValue(), "state", state.String(), "message", msg)
	r.terminal = r.update(r.task.GetTaskId(), state, msg, reason)
	r.armAckTimeout()
}

// armAckTimeout starts the bounded wait for the terminal update's ACK.
func (r *runner) armAckTimeout() { r.ackWait = time.After(r.cfg.AckTimeout) }

// update sends a status update and returns its uuid. It is queued (the
// sender sends the updates in order); a failure to send is logged: the
// update stays with the client and is re-sent on resubscribe.
func (r *runner) update(id *mesospb.TaskID, state mesospb.TaskState, msg string, reason *mesospb.TaskStatus_Reason) []byte {
	st := &mesospb.TaskStatus{TaskId: id, State: state.Enum(), Reason: reason}
	if msg != "" {
		st.Message = proto.String(msg)
	}
	return r.send(st)
}

// send sends a status update of the task (decorated with its check status
// and health) and returns its uuid.
func (r *runner) send(st *mesospb.TaskStatus) []byte {
	r.decorate(st)
	if len(st.Uuid) == 0 {
		st.Uuid = mesospb.NewUUID()
	}
	r.out.send(proto.CloneOf(st)) // the client fills in the copy it sends; st is the task's last status
	if r.task != nil && st.GetTaskId().GetValue() == r.task.GetTaskId().GetValue() {
		r.checks.last = st
	}
	return st.GetUuid()
}
