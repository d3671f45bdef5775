package lifecycle

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/executorpb"
	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/mesospb"
)

// KillTask handles the master's KILL_TASK, as a Mesos agent does: a task
// whose executor is subscribed is killed by the executor (KILL event, with
// the kill policy when the master gave one; held until the executor
// subscribes again while its stream is down); a task whose executor has not
// subscribed yet is TASK_KILLED by the agent, and the executor destroyed
// when that left it without tasks; a task no executor knows is TASK_LOST
// (TASK_DROPPED for partition-aware frameworks).
func (c *Core) KillTask(frameworkID, taskID string, policy *mesospb.KillPolicy, now time.Time) ([]Effect, error) {
	fw := c.fws[frameworkID]
	if fw == nil {
		return nil, fmt.Errorf("%w: kill task %s: framework %s is not running here", ErrIgnored, taskID, frameworkID)
	}
	if fw.terminating {
		return nil, fmt.Errorf("%w: kill task %s: framework %s is terminating", ErrIgnored, taskID, frameworkID)
	}
	tid := &mesospb.TaskID{Value: proto.String(taskID)}
	ex := fw.executorOfTask(taskID)
	if ex == nil {
		for _, done := range fw.executors {
			if done.isCompleted(taskID) {
				return nil, fmt.Errorf("%w: kill task %s: task has completed", ErrIgnored, taskID)
			}
		}
		state := mesospb.TaskState_TASK_LOST
		if partitionAware(fw.info) {
			state = mesospb.TaskState_TASK_DROPPED
		}
		return c.agentUpdate(fw, nil, tid, state, mesospb.TaskStatus_REASON_EXECUTOR_TERMINATED, "Cannot find executor", now), nil
	}
	if ex.terminated[taskID] != nil {
		return nil, fmt.Errorf("%w: kill task %s: task is already terminal", ErrIgnored, taskID)
	}
	switch ex.state {
	case ExecutorTerminating, ExecutorTerminated:
		return nil, fmt.Errorf("%w: kill task %s: executor %s is %s", ErrIgnored, taskID, ex.id, ex.state)
	}
	if i, _, ok := ex.queuedTask(taskID); ok {
		// Mesos (since 1.5) gives REASON_TASK_KILLED_DURING_LAUNCH whether or
		// not the executor has subscribed yet.
		reason, msg := mesospb.TaskStatus_REASON_TASK_KILLED_DURING_LAUNCH, "Killed before delivery to the executor"
		var effs []Effect
		for _, t := range append([]*mesospb.TaskInfo(nil), ex.queued[i].tasks...) {
			effs = append(effs, c.agentUpdate(fw, ex, t.GetTaskId(), mesospb.TaskState_TASK_KILLED, reason, msg, now)...)
		}
		if ex.state == ExecutorRegistering && len(ex.queued) == 0 && len(ex.launched) == 0 {
			ex.state = ExecutorTerminating
			effs = append(effs, destroy(ex))
		}
		return effs, nil
	}
	kill := &executorpb.Event_Kill{TaskId: tid, KillPolicy: policy}
	effs, ok := c.sendOrPark(ex, &executorpb.Event{Type: executorpb.Event_KILL.Enum(), Kill: kill})
	if !ok {
		return nil, fmt.Errorf("%w: kill task %s: %d events already held for disconnected executor %s",
			ErrIgnored, taskID, MaxParkedEvents, ex.id)
	}
	return effs, nil
}

// ShutdownExecutor handles the master's SHUTDOWN_EXECUTOR: a subscribed
// executor gets SHUTDOWN and its container is destroyed when the shutdown
// grace period (the executor's own, else the agent's) is over; an executor
// that never subscribed is destroyed at once.
func (c *Core) ShutdownExecutor(frameworkID, executorID string, now time.Time) ([]Effect, error) {
	fw, ex, err := c.lookup(frameworkID, executorID)
	if err != nil {
		return nil, fmt.Errorf("%w: shutdown executor %s of framework %s: %w", ErrIgnored, executorID, frameworkID, err)
	}
	return c.shutdown(fw, ex, now), nil
}

func (c *Core) shutdown(_ *framework, ex *executor, now time.Time) []Effect {
	switch ex.state {
	case ExecutorRegistering:
		ex.state = ExecutorTerminating
		return []Effect{destroy(ex)}
	case ExecutorRunning:
		ex.state = ExecutorTerminating
		grace := c.cfg.ExecutorShutdownGracePeriod
		if gp := ex.info.GetShutdownGracePeriod(); gp != nil {
			grace = time.Duration(gp.GetNanoseconds())
		}
		ex.shutdownDeadline = now.Add(grace)
		if !ex.connected {
			ex.shutdownDeadline = time.Time{}
			return []Effect{destroy(ex)}
		}
		return []Effect{c.toExecutor(ex, &executorpb.Event{Type: executorpb.Event_SHUTDOWN.Enum()})}
	}
	return nil
}

// ShutdownGracePeriod returns the grace period an executor is given between
// SHUTDOWN and the destruction of its container.
func (c *Core) ShutdownGracePeriod(info *mesospb.ExecutorInfo) time.Duration {
	if gp := info.GetShutdownGracePeriod(); gp != nil {
		return time.Duration(gp.GetNanoseconds())
	}
	return c.cfg.ExecutorShutdownGracePeriod
}

// ShutdownFramework handles the master's SHUTDOWN_FRAMEWORK: every executor
// of the framework is shut down; no status updates are sent for it any more.
func (c *Core) ShutdownFramework(frameworkID string, now time.Time) ([]Effect, error) {
	fw := c.fws[frameworkID]
	if fw == nil {
		return nil, fmt.Errorf("%w: shutdown of unknown framework %s", ErrIgnored, frameworkID)
	}
	if fw.terminating {
		return nil, nil
	}
	fw.terminating = true
	c.sum.RemoveFramework(frameworkID)
	var effs []Effect
	for _, ex := range fw.sortedExecutors() {
		if ex.state == ExecutorTerminated {
			fw.untrackAll(ex)
			ex.terminated = map[string]*taskRecord{}
			c.removeExecutorIfDone(fw, ex)
			continue
		}
		effs = append(effs, c.shutdown(fw, ex, now)...)
	}
	return effs, nil
}

// Termination is how an executor's container ended.
type Termination struct {
	// Status is the wait status (as waitpid returns it), -1 when unknown.
	Status int32
	// Message describes the end ("Command exited with status 1"); it goes
	// to the master in EXECUTOR_EXITED.
	Message string
	// Limited is set when the containerizer ended the container for
	// exceeding a resource limit: the unfinished tasks then fail with
	// Reason and Message (e.g. REASON_CONTAINER_LIMITATION_MEMORY).
	Limited bool
	Reason  mesospb.TaskStatus_Reason
}

// ExecutorExited handles the end of an executor's container: its tasks
// that did not finish fail (or get what the agent decided when it killed
// the executor), and the master hears EXECUTOR_EXITED. An exit for a
// container that is not the executor's current one is ignored.
func (c *Core) ExecutorExited(frameworkID, executorID, containerID string, term Termination, now time.Time) ([]Effect, error) {
	fw, ex, err := c.lookup(frameworkID, executorID)
	if err == nil && ex.containerID != containerID {
		err = fmt.Errorf("container %s is not the current one (%s)", containerID, ex.containerID)
	}
	if err == nil && ex.state == ExecutorTerminated {
		err = fmt.Errorf("executor has terminated already")
	}
	if err != nil {
		return nil, fmt.Errorf("%w: exit of executor %s of framework %s: %w", ErrIgnored, executorID, frameworkID, err)
	}
	ex.state = ExecutorTerminated
	ex.connected = false
	ex.parked = nil
	ex.exitStatus = term.Status
	c.counters.ExecutorsTerminated++
	var effs []Effect
	if !fw.terminating {
		state, reason, msg := mesospb.TaskState_TASK_FAILED, mesospb.TaskStatus_REASON_EXECUTOR_TERMINATED, "Executor terminated"
		if p := ex.pending; p != nil {
			state, reason, msg = p.state, p.reason, p.message
		} else if term.Limited {
			reason, msg = term.Reason, term.Message
		}
		for _, id := range ex.unfinished() {
			effs = append(effs, c.agentUpdate(fw, ex, id, state, reason, msg, now)...)
		}
	} else {
		fw.untrackAll(ex)
		ex.queued = nil
		ex.launched = map[string]*taskRecord{}
		ex.terminated = map[string]*taskRecord{}
	}
	exited := &linkpb.AgentCall_ExecutorExited{
		FrameworkId: &mesospb.FrameworkID{Value: proto.String(frameworkID)},
		ExecutorId:  ex.info.GetExecutorId(),
		Status:      proto.Int32(term.Status),
	}
	if term.Message != "" {
		exited.Message = proto.String(term.Message)
	}
	effs = append(effs, SendMaster{Call: &linkpb.AgentCall{Type: linkpb.AgentCall_EXECUTOR_EXITED.Enum(), ExecutorExited: exited}})
	c.removeExecutorIfDone(fw, ex)
	return effs, nil
}

// unfinished lists the executor's tasks that have no terminal update yet:
// launched ones sorted by id, then queued ones in order.
func (ex *executor) unfinished() []*mesospb.TaskID {
	var ids []*mesospb.TaskID
	for _, rec := range sortedTasks(ex.launched) {
		if !mesospb.IsTerminal(rec.task.GetState()) {
			ids = append(ids, rec.task.GetTaskId())
		}
	}
	for _, l := range ex.queued {
		for _, t := range l.tasks {
			ids = append(ids, t.GetTaskId())
		}
	}
	return ids
}

// ContainerLaunchFailed handles a container that could not be started: its
// tasks fail with REASON_CONTAINER_LAUNCH_FAILED, as after an exit.
func (c *Core) ContainerLaunchFailed(frameworkID, executorID, containerID, message string, now time.Time) ([]Effect, error) {
	_, ex, err := c.lookup(frameworkID, executorID)
	if err == nil && ex.containerID == containerID {
		c.counters.ContainerLaunchErrors++
	}
	if err == nil && ex.containerID == containerID && ex.pending == nil {
		ex.pending = &termination{
			state:   mesospb.TaskState_TASK_FAILED,
			reason:  mesospb.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED,
			message: "Failed to launch container: " + message,
		}
	}
	return c.ExecutorExited(frameworkID, executorID, containerID, Termination{Status: -1, Message: message}, now)
}
