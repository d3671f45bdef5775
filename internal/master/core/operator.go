package core

import (
	"fmt"
	"time"

	"github.com/mesoproject/meso/api/masterpb"
	"github.com/mesoproject/meso/api/mesospb"
	"google.golang.org/protobuf/proto"
)

// The operator API's event stream (SUBSCRIBE on POST /api/v1). The core
// makes the events itself, at the moment its books change, and hands them
// out through Ready.Operator in order with its other outputs; a
// subscriber's SUBSCRIBED snapshot is taken in the same step as its
// registration, so snapshot plus the broadcast events that follow it are
// exactly the core's later states (consistent with GET_STATE by
// construction). Events are built only while someone subscribes.

// OperatorEvent is an event for the operator SUBSCRIBE streams. To names
// the subscriber of a SUBSCRIBED event; broadcast events (To == "") go to
// every subscriber whose SUBSCRIBED came earlier in Ready.Operator or in
// an earlier Ready.
type OperatorEvent struct {
	To    string
	Event *masterpb.Event
}

// OperatorSubscribe registers an operator subscriber under id (chosen by
// the shell, unique) and queues its SUBSCRIBED event: the whole state and
// the heartbeat interval.
func (c *Core) OperatorSubscribe(id string) error {
	if id == "" || c.operators[id] {
		return fmt.Errorf("%w: operator subscriber id %q is empty or in use", ErrInvalid, id)
	}
	c.operators[id] = true
	c.out.Operator = append(c.out.Operator, OperatorEvent{To: id, Event: &masterpb.Event{
		Type: masterpb.Event_SUBSCRIBED.Enum(),
		Subscribed: &masterpb.Event_Subscribed{
			GetState:                 c.GetState(),
			HeartbeatIntervalSeconds: proto.Float64(c.cfg.HeartbeatInterval.Seconds()),
		},
	}})
	return nil
}

// OperatorUnsubscribe forgets an operator subscriber (its stream ended).
func (c *Core) OperatorUnsubscribe(id string) { delete(c.operators, id) }

// OperatorSubscribers is the number of operator subscribers.
func (c *Core) OperatorSubscribers() int { return len(c.operators) }

// broadcast queues an operator event built by make, if anyone listens.
func (c *Core) broadcast(make func() *masterpb.Event) {
	if len(c.operators) == 0 {
		return
	}
	c.out.Operator = append(c.out.Operator, OperatorEvent{Event: make()})
}

func (c *Core) taskAdded(t *task) {
	c.broadcast(func() *masterpb.Event {
		return &masterpb.Event{Type: masterpb.Event_TASK_ADDED.Enum(),
			TaskAdded: &masterpb.Event_TaskAdded{Task: shareRecord(t)}}
	})
}

// taskUpdated reports a task's new status and latest state; with s nil
// (a change no status update carried, such as a framework's removal) the
// master makes the status.
func (c *Core) taskUpdated(now time.Time, t *task, s *mesospb.TaskStatus) {
	c.broadcast(func() *masterpb.Event {
		if s == nil {
			s = masterStatus(now, t.proto.GetTaskId(), t.proto.GetAgentId(), t.state(), 0, "")
			s.Reason, s.Message = nil, nil
		}
		st := proto.Clone(s).(*mesospb.TaskStatus)
		st.Data = nil
		return &masterpb.Event{Type: masterpb.Event_TASK_UPDATED.Enum(), TaskUpdated: &masterpb.Event_TaskUpdated{
			FrameworkId: &mesospb.FrameworkID{Value: proto.String(t.fw)},
			Status:      st,
			State:       t.state().Enum(),
		}}
	})
}

func (c *Core) frameworkAdded(fw *framework) {
	c.broadcast(func() *masterpb.Event {
		return &masterpb.Event{Type: masterpb.Event_FRAMEWORK_ADDED.Enum(),
			FrameworkAdded: &masterpb.Event_FrameworkAdded{Framework: c.frameworkEntry(fw)}}
	})
}

func (c *Core) frameworkUpdated(fw *framework) {
	c.broadcast(func() *masterpb.Event {
		return &masterpb.Event{Type: masterpb.Event_FRAMEWORK_UPDATED.Enum(),
			FrameworkUpdated: &masterpb.Event_FrameworkUpdated{Framework: c.frameworkEntry(fw)}}
	})
}

func (c *Core) frameworkRemoved(fw *framework) {
	c.broadcast(func() *masterpb.Event {
		return &masterpb.Event{Type: masterpb.Event_FRAMEWORK_REMOVED.Enum(),
			FrameworkRemoved: &masterpb.Event_FrameworkRemoved{FrameworkInfo: proto.Clone(fw.info).(*mesospb.FrameworkInfo)}}
	})
}

func (c *Core) agentAdded(ag *agent) {
	c.agentOrder = nil
	c.broadcast(func() *masterpb.Event {
		e := c.agentEntry(ag)
		e.Active = proto.Bool(true) // its link is attached in the same step
		return &masterpb.Event{Type: masterpb.Event_AGENT_ADDED.Enum(),
			AgentAdded: &masterpb.Event_AgentAdded{Agent: e}}
	})
}

func (c *Core) agentRemoved(id string) {
	c.agentOrder = nil
	c.broadcast(func() *masterpb.Event {
		return &masterpb.Event{Type: masterpb.Event_AGENT_REMOVED.Enum(),
			AgentRemoved: &masterpb.Event_AgentRemoved{AgentId: &mesospb.AgentID{Value: proto.String(id)}}}
	})
}

// DeactivateAgent applies an operator's DEACTIVATE_AGENT: the agent's
// outstanding offers are rescinded and it gets no new ones (its tasks run
// on) until ReactivateAgent, even if it re-registers meanwhile. An unknown
// agent is ErrNotFound; deactivating twice is harmless.
func (c *Core) DeactivateAgent(now time.Time, agentID string) error {
	ag := c.agents[agentID]
	if ag == nil {
		return fmt.Errorf("%w: no agent %q is registered", ErrNotFound, agentID)
	}
	if ag.deactivated {
		return nil
	}
	ag.deactivated = true
	if err := c.alloc.DeactivateAgent(ag.id); err != nil {
		c.log.Warn("allocator refused agent deactivation", "agent", ag.id, "err", err)
	}
	for _, id := range sortedKeys(ag.offers) {
		c.rescind(now, ag.offers[id], true)
	}
	return nil
}

// ReactivateAgent applies an operator's REACTIVATE_AGENT: a deactivated
// agent is offered again (once connected). An unknown agent is
// ErrNotFound; reactivating an active agent is harmless.
func (c *Core) ReactivateAgent(agentID string) error {
	ag := c.agents[agentID]
	if ag == nil {
		return fmt.Errorf("%w: no agent %q is registered", ErrNotFound, agentID)
	}
	if err := c.setDrain(agentID, nil); err != nil { // a drain ends, as in Mesos
		return err
	}
	if !ag.deactivated {
		return nil
	}
	ag.deactivated = false
	if ag.link != "" {
		if err := c.alloc.ActivateAgent(ag.id); err != nil {
			c.log.Warn("allocator refused agent activation", "agent", ag.id, "err", err)
		}
		c.allocateSoon = true
	}
	return nil
}

// Teardown removes a framework on an operator's TEARDOWN: its tasks are
// killed and its id can never subscribe again.
func (c *Core) Teardown(now time.Time, frameworkID string) error {
	fw := c.frameworks[frameworkID]
	if fw == nil {
		return fmt.Errorf("%w: no framework found with id %q", ErrInvalid, frameworkID)
	}
	c.removeFramework(now, fw, "operator asked for teardown")
	return nil
}

// lastStatus is the last status in a task's record, or nil.
func lastStatus(t *task) *mesospb.TaskStatus {
	if n := len(t.proto.GetStatuses()); n > 0 {
		return t.proto.Statuses[n-1]
	}
	return nil
}
