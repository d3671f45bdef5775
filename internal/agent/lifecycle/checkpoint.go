package lifecycle

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/mesosflag"
)

// Checkpointing. The Core keeps, for frameworks whose FrameworkInfo has
// checkpoint=true, what a restarted agent needs to carry on: the
// framework's info, and per executor run its info, container id, state,
// queued tasks, launched and terminated tasks, and the unacknowledged
// status updates of those tasks. The Core does no I/O: after every input
// the caller takes Checkpoints() (what changed, as effects) and persists
// it BEFORE carrying out the input's other effects, so that nothing is
// acknowledged to an executor, or sent to the master, before it is
// durable. Recover rebuilds a Core from what was persisted.

// ExecutorCheckpoint is everything the Core checkpoints about one executor
// run.
type ExecutorCheckpoint struct {
	FrameworkID string
	ExecutorID  string
	ContainerID string
	Info        *mesospb.ExecutorInfo
	Command     bool // generated command executor
	State       ExecutorState
	LaunchedAt  time.Time
	Queued      []QueuedLaunch
	// Tasks are the launched and terminated (not yet completed) tasks,
	// sorted by id.
	Tasks []TaskCheckpoint
}

// QueuedLaunch is a launch waiting for its executor to subscribe.
type QueuedLaunch struct {
	Tasks []*mesospb.TaskInfo
	Group bool
}

// TaskCheckpoint is one launched or terminated task.
type TaskCheckpoint struct {
	Info *mesospb.TaskInfo
	// Task is the agent's record (state and every accepted status, data
	// stripped).
	Task *mesospb.Task
	// Updates are the task's status updates not yet acknowledged by the
	// framework, head (the one in flight) first.
	Updates []*mesospb.TaskStatus
}

// CheckpointFramework asks for a checkpointing framework's info to be
// persisted (replacing what was there).
type CheckpointFramework struct {
	Info *mesospb.FrameworkInfo
}

// CheckpointExecutor asks for an executor run's record to be persisted
// (replacing what was there).
type CheckpointExecutor struct {
	Executor ExecutorCheckpoint
}

// RemoveCheckpoint asks for the persisted record of one executor run
// (ExecutorID and ContainerID set) or of a whole framework (both empty) to
// be deleted.
type RemoveCheckpoint struct {
	FrameworkID string
	ExecutorID  string
	ContainerID string
}

func (CheckpointFramework) effect() {}
func (CheckpointExecutor) effect()  {}
func (RemoveCheckpoint) effect()    {}

// checkpoints is the Core's record of what changed since the last
// Checkpoints call.
type checkpoints struct {
	frameworks map[*framework]bool
	executors  map[*executor]bool
	removed    []RemoveCheckpoint
}

func (c *Core) checkpointing(frameworkID string) bool {
	fw := c.fws[frameworkID]
	return fw != nil && fw.info.GetCheckpoint()
}

// touch notes that an executor's checkpointed record changed.
func (c *Core) touch(ex *executor) {
	if ex != nil && c.checkpointing(ex.frameworkID) {
		c.dirty.executors[ex] = true
	}
}

// touchFramework notes that a framework's info changed.
func (c *Core) touchFramework(fw *framework) {
	if fw.info.GetCheckpoint() {
		c.dirty.frameworks[fw] = true
	}
}

// untouch notes that an executor run is gone for good.
func (c *Core) untouch(fw *framework, ex *executor) {
	delete(c.dirty.executors, ex)
	if fw.info.GetCheckpoint() {
		c.dirty.removed = append(c.dirty.removed, RemoveCheckpoint{FrameworkID: fw.id, ExecutorID: ex.id, ContainerID: ex.containerID})
	}
}

// untouchFramework notes that a framework is gone for good.
func (c *Core) untouchFramework(fw *framework) {
	delete(c.dirty.frameworks, fw)
	for ex := range c.dirty.executors {
		if ex.frameworkID == fw.id {
			delete(c.dirty.executors, ex)
		}
	}
	if fw.info.GetCheckpoint() {
		c.dirty.removed = append(c.dirty.removed, RemoveCheckpoint{FrameworkID: fw.id})
	}
}

// Checkpoints returns what must be persisted since the last call, and
// forgets it: removals first, then frameworks, then executor runs, each in
// id order. Carry these out before the effects of the input that caused
// them.
func (c *Core) Checkpoints() []Effect {
	if len(c.dirty.removed)+len(c.dirty.frameworks)+len(c.dirty.executors) == 0 {
		return nil // the common case: nothing checkpoints
	}
	var effs []Effect
	for _, r := range c.dirty.removed {
		effs = append(effs, r)
	}
	var fws []*framework
	for fw := range c.dirty.frameworks {
		fws = append(fws, fw)
	}
	slices.SortFunc(fws, func(a, b *framework) int { return compareStrings(a.id, b.id) })
	for _, fw := range fws {
		effs = append(effs, CheckpointFramework{Info: fw.info})
	}
	var exs []*executor
	for ex := range c.dirty.executors {
		exs = append(exs, ex)
	}
	slices.SortFunc(exs, compareExecutors)
	for _, ex := range exs {
		effs = append(effs, CheckpointExecutor{Executor: c.executorCheckpoint(ex)})
	}
	c.dirty = newCheckpoints()
	return effs
}

func newCheckpoints() checkpoints {
	return checkpoints{frameworks: map[*framework]bool{}, executors: map[*executor]bool{}}
}

func compareExecutors(a, b *executor) int {
	if c := compareStrings(a.frameworkID, b.frameworkID); c != 0 {
		return c
	}
	if c := compareStrings(a.id, b.id); c != 0 {
		return c
	}
	return compareStrings(a.containerID, b.containerID)
}

// CheckpointState returns the full checkpointed state: what a Recover
// needs. (Checkpoints gives the changes; this is for tests and for
// rewriting everything.)
func (c *Core) CheckpointState() Recovered {
	r := Recovered{AgentID: c.agentID}
	for _, fw := range c.sortedFrameworks() {
		if !fw.info.GetCheckpoint() {
			continue
		}
		r.Frameworks = append(r.Frameworks, fw.info)
		for _, ex := range fw.sortedExecutors() {
			r.Executors = append(r.Executors, c.executorCheckpoint(ex))
		}
	}
	return r
}

func (c *Core) executorCheckpoint(ex *executor) ExecutorCheckpoint {
	cp := ExecutorCheckpoint{
		FrameworkID: ex.frameworkID,
		ExecutorID:  ex.id,
		ContainerID: ex.containerID,
		Info:        ex.info,
		Command:     ex.command,
		State:       ex.state,
		LaunchedAt:  ex.launchedAt,
	}
	for _, l := range ex.queued {
		cp.Queued = append(cp.Queued, QueuedLaunch{Tasks: slices.Clone(l.tasks), Group: l.group})
	}
	all := make(map[string]*taskRecord, len(ex.launched)+len(ex.terminated))
	for id, rec := range ex.launched {
		all[id] = rec
	}
	for id, rec := range ex.terminated {
		all[id] = rec
	}
	for _, rec := range sortedTasks(all) {
		cp.Tasks = append(cp.Tasks, TaskCheckpoint{
			Info:    rec.info,
			Task:    proto.CloneOf(rec.task),
			Updates: c.sum.Pending(ex.frameworkID, rec.task.GetTaskId().GetValue()),
		})
	}
	return cp
}

// Recovered is the state a restarted agent read from its checkpoints.
type Recovered struct {
	AgentID    string
	Frameworks []*mesospb.FrameworkInfo
	Executors  []ExecutorCheckpoint
}

// ErrRecover: checkpointed state that cannot be taken back.
var ErrRecover = errors.New("lifecycle: recover")

// Recover rebuilds the Core from checkpointed state; it must be called on
// a new Core, before any other input. The agent keeps its id. Executors
// that had not terminated are taken as alive but disconnected: each must
// subscribe again within recoveryTimeout, else it is destroyed and its
// unfinished tasks become TASK_LOST (TASK_GONE for partition-aware
// frameworks) with REASON_EXECUTOR_REREGISTRATION_TIMEOUT. An executor
// that was being shut down is destroyed at once. The caller reports the
// executors whose container is gone with ExecutorExited. Unacknowledged
// updates wait, in order, until Registered resends them.
func (c *Core) Recover(r Recovered, recoveryTimeout time.Duration, now time.Time) ([]Effect, error) {
	if c.agentID != "" || len(c.fws) > 0 {
		return nil, fmt.Errorf("%w: the core is not new", ErrRecover)
	}
	if r.AgentID == "" {
		return nil, fmt.Errorf("%w: no agent id", ErrRecover)
	}
	c.agentID = r.AgentID
	for _, info := range r.Frameworks {
		id := info.GetId().GetValue()
		if id == "" {
			return nil, fmt.Errorf("%w: framework without id", ErrRecover)
		}
		c.fws[id] = &framework{id: id, info: info, executors: make(map[string]*executor), tasks: make(map[string]*executor)}
	}
	var effs []Effect
	for _, cp := range r.Executors {
		fw := c.fws[cp.FrameworkID]
		if fw == nil {
			return nil, fmt.Errorf("%w: executor %s of unknown framework %s", ErrRecover, cp.ExecutorID, cp.FrameworkID)
		}
		if cp.ExecutorID == "" || cp.ContainerID == "" || fw.executors[cp.ExecutorID] != nil {
			return nil, fmt.Errorf("%w: executor %q of framework %s: missing or duplicate id", ErrRecover, cp.ExecutorID, cp.FrameworkID)
		}
		ex, err := c.recoverExecutor(fw, cp, recoveryTimeout, now)
		if err != nil {
			return nil, err
		}
		if ex.state == ExecutorTerminating {
			effs = append(effs, destroy(ex))
		}
	}
	for _, fw := range c.sortedFrameworks() {
		if len(fw.executors) == 0 {
			delete(c.fws, fw.id) // nothing to recover; its checkpoint goes
			c.untouchFramework(fw)
		}
	}
	return effs, nil
}

func (c *Core) recoverExecutor(fw *framework, cp ExecutorCheckpoint, timeout time.Duration, now time.Time) (*executor, error) {
	ex := &executor{
		id:          cp.ExecutorID,
		frameworkID: fw.id,
		info:        cp.Info,
		containerID: cp.ContainerID,
		command:     cp.Command,
		state:       cp.State,
		launchedAt:  cp.LaunchedAt,
		launched:    make(map[string]*taskRecord),
		terminated:  make(map[string]*taskRecord),
	}
	if ex.info == nil {
		return nil, fmt.Errorf("%w: executor %s of framework %s has no info", ErrRecover, ex.id, fw.id)
	}
	switch ex.state {
	case ExecutorRegistering, ExecutorRunning:
		ex.reregisterDeadline = now.Add(timeout)
		ex.reregisterTimeout = timeout
	case ExecutorTerminating:
		ex.pending = &termination{state: mesospb.TaskState_TASK_FAILED, reason: mesospb.TaskStatus_REASON_EXECUTOR_TERMINATED,
			message: "Executor was being shut down when the agent restarted"}
	}
	fw.executors[ex.id] = ex
	for _, q := range cp.Queued {
		l := launch{tasks: q.Tasks, group: q.Group}
		ex.queued = append(ex.queued, l)
		fw.track(ex, l)
	}
	for _, t := range cp.Tasks {
		id := t.Task.GetTaskId().GetValue()
		if id == "" || t.Info == nil {
			return nil, fmt.Errorf("%w: task without id or info in executor %s of framework %s", ErrRecover, ex.id, fw.id)
		}
		rec := &taskRecord{info: t.Info, task: t.Task}
		if mesospb.IsTerminal(t.Task.GetState()) {
			ex.terminated[id] = rec
		} else {
			ex.launched[id] = rec
		}
		fw.tasks[id] = ex
		var received [][]byte
		for _, st := range t.Task.GetStatuses() {
			received = append(received, st.GetUuid())
		}
		if err := c.sum.Restore(fw.id, id, t.Updates, received, mesospb.IsTerminal(t.Task.GetState())); err != nil {
			return nil, fmt.Errorf("%w: task %s of framework %s: %w", ErrRecover, id, fw.id, err)
		}
	}
	return ex, nil
}

// reregistrationDue reports whether a recovered executor has not
// subscribed again in time.
func (ex *executor) reregistrationDue(now time.Time) bool {
	return !ex.reregisterDeadline.IsZero() && !now.Before(ex.reregisterDeadline) &&
		(ex.state == ExecutorRegistering || ex.state == ExecutorRunning)
}

// reregistrationTimedOut destroys a recovered executor that did not
// subscribe again within the recovery timeout.
func (c *Core) reregistrationTimedOut(fw *framework, ex *executor) {
	state := mesospb.TaskState_TASK_LOST
	if partitionAware(fw.info) {
		state = mesospb.TaskState_TASK_GONE
	}
	ex.state = ExecutorTerminating
	ex.reregisterDeadline = time.Time{}
	ex.pending = &termination{
		state:   state,
		reason:  mesospb.TaskStatus_REASON_EXECUTOR_REREGISTRATION_TIMEOUT,
		message: "Executor did not reregister within " + mesosflag.FormatDuration(ex.reregisterTimeout),
	}
	c.touch(ex)
}
