package lifecycle

import (
	"fmt"
	"math"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/executorpb"
	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/mesospb"
)

// ExecutorSubscribe handles an executor's SUBSCRIBE. The effects start with
// the SUBSCRIBED event (or SHUTDOWN for an executor that is going away),
// then LAUNCH / LAUNCH_GROUP for its queued tasks. On a resubscription,
// updates the executor lists as unacknowledged are taken as updates, and
// tasks it does not know about are sent to it again.
func (c *Core) ExecutorSubscribe(frameworkID, executorID string, sub *executorpb.Call_Subscribe, now time.Time) ([]Effect, error) {
	fw, ex, err := c.lookup(frameworkID, executorID)
	if err != nil {
		return nil, err
	}
	if ex.state == ExecutorTerminating || ex.state == ExecutorTerminated {
		return []Effect{c.toExecutor(ex, &executorpb.Event{Type: executorpb.Event_SHUTDOWN.Enum()})}, nil
	}
	ex.state = ExecutorRunning
	ex.connected = true
	ex.reregisterDeadline = time.Time{}
	c.touch(ex)
	agent := proto.CloneOf(c.cfg.Agent)
	agent.Id = &mesospb.AgentID{Value: proto.String(c.agentID)}
	effs := []Effect{c.toExecutor(ex, &executorpb.Event{
		Type: executorpb.Event_SUBSCRIBED.Enum(),
		Subscribed: &executorpb.Event_Subscribed{
			ExecutorInfo:  ex.info,
			FrameworkInfo: fw.info,
			AgentInfo:     agent,
			ContainerId:   &mesospb.ContainerID{Value: proto.String(ex.containerID)},
		},
	})}
	for _, u := range sub.GetUnacknowledgedUpdates() {
		more, _ := c.ExecutorUpdate(frameworkID, executorID, u.GetStatus(), now)
		effs = append(effs, more...)
	}
	known := make(map[string]bool)
	for _, t := range sub.GetUnacknowledgedTasks() {
		known[t.GetTaskId().GetValue()] = true
	}
	for _, rec := range sortedTasks(ex.launched) {
		if !known[rec.task.GetTaskId().GetValue()] && rec.task.GetState() == mesospb.TaskState_TASK_STAGING {
			effs = append(effs, c.toExecutor(ex, &executorpb.Event{
				Type: executorpb.Event_LAUNCH.Enum(), Launch: &executorpb.Event_Launch{Task: rec.info},
			}))
		}
	}
	queued := ex.queued
	ex.queued = nil
	for _, l := range queued {
		effs = append(effs, c.deliver(fw, ex, l)...)
	}
	for _, ev := range ex.parked {
		if ev.GetType() == executorpb.Event_KILL && ex.launched[ev.GetKill().GetTaskId().GetValue()] == nil {
			continue // the task ended meanwhile
		}
		effs = append(effs, c.toExecutor(ex, ev))
	}
	ex.parked = nil
	return effs, nil
}

// sendOrPark sends a KILL or MESSAGE event to a subscribed executor, or
// holds it until the executor subscribes again when its stream is down
// (Mesos logs and drops such events; holding them lets an executor that
// reconnects still see them). It reports false when the event was dropped
// because too many are held already.
func (c *Core) sendOrPark(ex *executor, ev *executorpb.Event) ([]Effect, bool) {
	if ex.connected {
		return []Effect{c.toExecutor(ex, ev)}, true
	}
	if len(ex.parked) >= MaxParkedEvents {
		return nil, false
	}
	ex.parked = append(ex.parked, ev)
	return nil, true
}

func (c *Core) toExecutor(ex *executor, ev *executorpb.Event) SendExecutor {
	return SendExecutor{FrameworkID: ex.frameworkID, ExecutorID: ex.id, Event: ev}
}

// subscribed returns the executor of a call that needs a subscribed
// executor.
func (c *Core) subscribed(frameworkID, executorID string) (*framework, *executor, error) {
	fw, ex, err := c.lookup(frameworkID, executorID)
	if err != nil {
		return nil, nil, err
	}
	if ex.state == ExecutorRegistering {
		return nil, nil, ErrNotSubscribed
	}
	return fw, ex, nil
}

// ExecutorUpdate handles an executor's UPDATE. The agent fills in agent_id,
// executor_id, source (SOURCE_EXECUTOR), and a timestamp and uuid when
// missing, hands the update to the status update manager and answers the
// executor with ACKNOWLEDGED. Malformed updates, and updates for a task
// another executor runs, give ErrInvalidCall.
func (c *Core) ExecutorUpdate(frameworkID, executorID string, status *mesospb.TaskStatus, now time.Time) ([]Effect, error) {
	fw, ex, err := c.subscribed(frameworkID, executorID)
	if err != nil {
		return nil, err
	}
	if err := validateUpdate(executorID, status); err != nil {
		c.counters.InvalidStatusUpdates++
		return nil, err
	}
	st := proto.CloneOf(status)
	st.AgentId = &mesospb.AgentID{Value: proto.String(c.agentID)}
	st.ExecutorId = ex.info.GetExecutorId()
	st.Source = mesospb.TaskStatus_SOURCE_EXECUTOR.Enum()
	if st.GetTimestamp() == 0 {
		st.Timestamp = proto.Float64(seconds(now))
	}
	if len(st.GetUuid()) == 0 {
		st.Uuid = c.cfg.NewUUID()
	}
	taskID := st.GetTaskId().GetValue()
	if owner := fw.tasks[taskID]; owner != nil && owner != ex {
		c.counters.InvalidStatusUpdates++
		return nil, fmt.Errorf("%w: task %s belongs to executor %s, not %s", ErrInvalidCall, taskID, owner.id, ex.id)
	}
	var effs []Effect
	if ex.isCompleted(taskID) {
		c.counters.InvalidStatusUpdates++
		err = fmt.Errorf("%w: update %s for task %s, which has completed", ErrIgnored, st.GetState(), taskID)
	} else {
		effs, err = c.update(fw, ex, st, now)
	}
	// The executor may stop resending it: the agent has it (or, after an
	// error, will never take it).
	effs = append(effs, c.toExecutor(ex, &executorpb.Event{
		Type:         executorpb.Event_ACKNOWLEDGED.Enum(),
		Acknowledged: &executorpb.Event_Acknowledged{TaskId: st.GetTaskId(), Uuid: st.GetUuid()},
	}))
	return effs, err
}

func validateUpdate(executorID string, st *mesospb.TaskStatus) error {
	switch {
	case st.GetTaskId().GetValue() == "":
		return fmt.Errorf("%w: expecting 'status.task_id' to be present", ErrInvalidCall)
	case st.State == nil:
		return fmt.Errorf("%w: expecting 'status.state' to be present", ErrInvalidCall)
	case st.GetState() == mesospb.TaskState_TASK_STAGING:
		return fmt.Errorf("%w: received TASK_STAGING from executor %s, which is not allowed", ErrInvalidCall, executorID)
	case st.Uuid != nil && len(st.GetUuid()) != 16:
		return fmt.Errorf("%w: 'status.uuid' must be 16 bytes, got %d", ErrInvalidCall, len(st.GetUuid()))
	case st.ExecutorId != nil && st.GetExecutorId().GetValue() != executorID:
		return fmt.Errorf("%w: executor id in call %q does not match executor id in status %q",
			ErrInvalidCall, executorID, st.GetExecutorId().GetValue())
	case st.Source != nil && st.GetSource() != mesospb.TaskStatus_SOURCE_EXECUTOR:
		return fmt.Errorf("%w: status from executor %s with source %s, expecting SOURCE_EXECUTOR",
			ErrInvalidCall, executorID, st.GetSource())
	case math.IsNaN(st.GetTimestamp()) || math.IsInf(st.GetTimestamp(), 0) || st.GetTimestamp() < 0:
		// A timestamp is a point in time since the epoch: NaN, the
		// infinities and negatives are no such point.
		return fmt.Errorf("%w: 'status.timestamp' must be a finite number of seconds, got %v", ErrInvalidCall, st.GetTimestamp())
	}
	return nil
}

// ExecutorMessage handles an executor's MESSAGE: it goes to the master as
// FRAMEWORK_MESSAGE.
func (c *Core) ExecutorMessage(frameworkID, executorID string, data []byte) ([]Effect, error) {
	_, ex, err := c.subscribed(frameworkID, executorID)
	if err != nil {
		return nil, err
	}
	return []Effect{SendMaster{Call: &linkpb.AgentCall{
		Type: linkpb.AgentCall_FRAMEWORK_MESSAGE.Enum(),
		FrameworkMessage: &linkpb.AgentCall_FrameworkMessage{
			FrameworkId: &mesospb.FrameworkID{Value: proto.String(frameworkID)},
			ExecutorId:  ex.info.GetExecutorId(),
			Data:        data,
		},
	}}}, nil
}

// ExecutorDisconnected records that an executor's event stream closed.
// Launches, kills and framework messages wait for it to subscribe again;
// acknowledgements are not kept (a resubscribing executor lists the
// updates it still waits for, and gets them acknowledged again).
//
// unsent are events the caller took for the stream but could not write:
// its KILL and MESSAGE events are held like later ones, ahead of them.
func (c *Core) ExecutorDisconnected(frameworkID, executorID string, unsent ...*executorpb.Event) {
	_, ex, err := c.lookup(frameworkID, executorID)
	if err != nil {
		return
	}
	ex.connected = false
	if ex.state != ExecutorRunning {
		return
	}
	var keep []*executorpb.Event
	for _, ev := range unsent {
		switch ev.GetType() {
		case executorpb.Event_KILL, executorpb.Event_MESSAGE:
			keep = append(keep, ev)
		}
	}
	if len(keep) > 0 {
		ex.parked = append(keep, ex.parked...)
		if len(ex.parked) > MaxParkedEvents {
			ex.parked = ex.parked[:MaxParkedEvents]
		}
	}
}

// FrameworkMessage handles the master's FRAMEWORK_MESSAGE: a MESSAGE event
// to a running executor (held while its stream is down), dropped when the
// executor is not running (as Mesos does).
func (c *Core) FrameworkMessage(frameworkID, executorID string, data []byte) ([]Effect, error) {
	fw, ex, err := c.lookup(frameworkID, executorID)
	if err == nil && (fw.terminating || ex.state != ExecutorRunning) {
		err = fmt.Errorf("executor %s is %s", executorID, ex.state)
	}
	if err != nil {
		c.counters.InvalidFrameworkMessages++
		return nil, fmt.Errorf("%w: message for executor %s of framework %s: %w", ErrIgnored, executorID, frameworkID, err)
	}
	effs, ok := c.sendOrPark(ex, &executorpb.Event{
		Type:    executorpb.Event_MESSAGE.Enum(),
		Message: &executorpb.Event_Message{Data: data},
	})
	if !ok {
		c.counters.InvalidFrameworkMessages++
		return nil, fmt.Errorf("%w: message for executor %s of framework %s: %d events already held while it is disconnected",
			ErrIgnored, executorID, frameworkID, MaxParkedEvents)
	}
	c.counters.ValidFrameworkMessages++
	return effs, nil
}

// UpdateFramework handles the master's UPDATE_FRAMEWORK: the framework's
// info is replaced and pending status updates are resent at once.
func (c *Core) UpdateFramework(info *mesospb.FrameworkInfo, now time.Time) ([]Effect, error) {
	fw := c.fws[info.GetId().GetValue()]
	if fw == nil {
		return nil, fmt.Errorf("%w: update of unknown framework %s", ErrIgnored, info.GetId().GetValue())
	}
	fw.info = info
	c.touchFramework(fw)
	if c.sum.Paused() {
		return nil, nil
	}
	return c.forward(c.sum.Resume(now)), nil
}
