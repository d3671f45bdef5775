package core

import (
	"fmt"
	"time"

	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/mesospb"
	"google.golang.org/protobuf/proto"
)

// DrainAgent applies an operator's DRAIN_AGENT, as Mesos: the agent is
// deactivated (no offers, its outstanding ones rescinded) and each of its
// live tasks is killed, with its own kill policy's grace period capped at
// maxGrace when that is set. The agent is DRAINING until it holds no task
// (every terminal update acknowledged), then DRAINED; with markGone it is
// then marked gone (MarkAgentGone). The drain is kept in the registry with
// the maintenance books: an agent that re-registers, also with a new
// leader, is still deactivated and its tasks are killed again, until
// REACTIVATE_AGENT. Draining a draining agent replaces its config. As in
// Mesos, an unreachable agent (the registry still knows it) may be
// drained: the drain is recorded, and when the agent comes back it is
// deactivated and its tasks are killed (MARK_AGENT_GONE in between forgets
// the drain). An agent neither registered nor unreachable is ErrNotFound.
func (c *Core) DrainAgent(now time.Time, agentID string, maxGrace *mesospb.DurationInfo, markGone bool) error {
	if maxGrace.GetNanoseconds() < 0 {
		return fmt.Errorf("%w: max_grace_period must not be negative", ErrInvalid)
	}
	ag := c.agents[agentID]
	if ag == nil && c.cfg.Registry.AgentState(agentID) != AgentUnreachable {
		return fmt.Errorf("%w: no agent %q is registered or unreachable", ErrNotFound, agentID)
	}
	cfg := &mesospb.DrainConfig{MarkGone: proto.Bool(markGone)}
	if maxGrace != nil {
		cfg.MaxGracePeriod = proto.Clone(maxGrace).(*mesospb.DurationInfo)
	}
	if err := c.setDrain(agentID, &mesospb.DrainInfo{State: mesospb.DrainState_DRAINING.Enum(), Config: cfg}); err != nil {
		return err
	}
	if ag == nil {
		c.log.Info("draining an unreachable agent: its tasks are killed when it returns", "agent", agentID, "max_grace_period", time.Duration(maxGrace.GetNanoseconds()), "mark_gone", markGone)
		return nil
	}
	c.log.Info("draining agent", "agent", agentID, "hostname", ag.hostname(), "max_grace_period", time.Duration(maxGrace.GetNanoseconds()), "mark_gone", markGone)
	if err := c.DeactivateAgent(now, agentID); err != nil {
		return err
	}
	c.killForDrain(ag)
	return c.checkDrained(now, ag)
}

// AgentDrain returns an agent's drain (nil: not draining).
func (c *Core) AgentDrain(agentID string) *mesospb.DrainInfo { return c.maint.drains[agentID] }

// setDrain records an agent's drain (nil clears it) in the registry and
// the books.
func (c *Core) setDrain(agentID string, d *mesospb.DrainInfo) error {
	next := c.maint.clone()
	if d == nil {
		if next.drains[agentID] == nil {
			return nil
		}
		delete(next.drains, agentID)
	} else {
		next.drains[agentID] = d
	}
	return c.commitMaintenance(next)
}

// killForDrain sends KILL_TASK for each live task of a draining agent.
func (c *Core) killForDrain(ag *agent) {
	d := c.maint.drains[ag.id]
	if d.GetState() != mesospb.DrainState_DRAINING || ag.link == "" {
		return
	}
	for _, k := range sortedTaskKeys(ag.tasks) {
		t := ag.tasks[k]
		if mesospb.IsTerminal(t.state()) {
			continue
		}
		policy := t.proto.GetKillPolicy()
		if max := d.GetConfig().GetMaxGracePeriod(); max != nil {
			grace := max
			if own := policy.GetGracePeriod(); own != nil && own.GetNanoseconds() < max.GetNanoseconds() {
				grace = own
			}
			policy = &mesospb.KillPolicy{GracePeriod: proto.Clone(grace).(*mesospb.DurationInfo)}
		}
		c.sendAgent(ag, killTask(t.fw, t.id, policy))
	}
}

// killTask is the KILL_TASK message of a task (policy nil: the agent
// applies the task's own).
func killTask(fwID, taskID string, policy *mesospb.KillPolicy) *linkpb.MasterEvent {
	return &linkpb.MasterEvent{
		Type: linkpb.MasterEvent_KILL_TASK.Enum(),
		KillTask: &linkpb.MasterEvent_KillTask{
			FrameworkId: &mesospb.FrameworkID{Value: proto.String(fwID)},
			TaskId:      &mesospb.TaskID{Value: proto.String(taskID)},
			KillPolicy:  policy,
		},
	}
}

// checkDrained moves a DRAINING agent that holds no task to DRAINED and,
// if its drain says so, marks it gone.
func (c *Core) checkDrained(now time.Time, ag *agent) error {
	d := c.maint.drains[ag.id]
	if d.GetState() != mesospb.DrainState_DRAINING || len(ag.tasks) > 0 {
		return nil
	}
	drained := proto.Clone(d).(*mesospb.DrainInfo)
	drained.State = mesospb.DrainState_DRAINED.Enum()
	if err := c.setDrain(ag.id, drained); err != nil {
		return err
	}
	c.log.Info("agent drained", "agent", ag.id, "hostname", ag.hostname())
	if d.GetConfig().GetMarkGone() {
		return c.MarkAgentGone(now, ag.id)
	}
	return nil
}

// finishDrains runs checkDrained on the draining agents (from Tick, after
// a task of one was removed).
func (c *Core) finishDrains(now time.Time) {
	for _, id := range sortedKeys(c.maint.drains) {
		if ag := c.agents[id]; ag != nil {
			if err := c.checkDrained(now, ag); err != nil {
				c.log.Warn("cannot finish the drain of an agent", "agent", id, "err", err)
			}
		}
	}
}

// drainReregistered applies a drain to an agent that registered again:
// still deactivated, its tasks killed again while DRAINING.
func (c *Core) drainReregistered(now time.Time, ag *agent) {
	if c.maint.drains[ag.id] == nil {
		return
	}
	if err := c.DeactivateAgent(now, ag.id); err != nil {
		c.log.Warn("cannot deactivate a draining agent", "agent", ag.id, "err", err)
	}
	c.killForDrain(ag)
	c.drainCheck = true
}
