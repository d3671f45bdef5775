package core

import (
	"fmt"
	"math"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/quotapb"
	"google.golang.org/protobuf/proto"
)

// Defaults of recovery, the Mesos ones.
const (
	// DefaultAgentReregisterTimeout is --agent_reregister_timeout.
	DefaultAgentReregisterTimeout = 10 * time.Minute
	// DefaultRecoveryAgentRemovalLimit is --recovery_agent_removal_limit
	// (a fraction: 1 is 100%).
	DefaultRecoveryAgentRemovalLimit = 1.0
)

// Recovery is what a newly elected master reads from the registry before
// it serves: the agents admitted to the cluster and the frameworks that
// were subscribed or failing over. Tasks and executors are not in it; the
// agents report them when they re-register.
type Recovery struct {
	// Agents are the admitted agents (id set), the ones waited for.
	// Unreachable and gone agents stay in the registry with their times,
	// which the core consults (Registry.AgentState) when one registers:
	// an unreachable agent may re-register, a gone one may not.
	Agents []*mesospb.AgentInfo
	// Frameworks are the frameworks not removed.
	Frameworks []RecoveredFramework
	// Quotas are the roles' non-default quotas.
	Quotas []*quotapb.QuotaConfig
	// Weights are the roles' weights set by UPDATE_WEIGHTS.
	Weights map[string]float64
	// Reservations are the agents' dynamic reservations and persistent
	// volumes, by agent id: the master's view when each re-registers.
	Reservations map[string][]*mesospb.Resource
	// Maintenance is the serialized registrypb.MaintenanceRecord (nil if
	// none): the schedule and the DOWN machines.
	Maintenance []byte
}

// RecoveredFramework is a framework the registry knows.
type RecoveredFramework struct {
	Info *mesospb.FrameworkInfo // id set
	// FailoverDeadline is when a disconnected framework is removed unless
	// it subscribes again; zero for a framework that was subscribed when
	// the previous leader stopped.
	FailoverDeadline time.Time
}

// Recover loads the registry's records into a core that has not served
// yet (call it right after New). Every admitted agent may re-register
// with its id, its tasks rebuilt from its report, until
// --agent_reregister_timeout after now; then the agents that did not come
// back are marked unreachable, unless they are more than
// --recovery_agent_removal_limit of the recovered agents: then none is
// (Mesos aborts the master instead), an error is logged, and they may
// still re-register.
//
// Every framework is known, inactive, until it subscribes again with its
// id. One that was failing over keeps its deadline (beyond Mesos, where
// the failover timeout restarts from nothing on a new master); one whose
// deadline passed while no master led is removed now, its id refused from
// then on. One that was subscribed gets its failover timeout from now, but
// at least --agent_reregister_timeout, so that agents can report its tasks
// before it would be removed.
func (c *Core) Recover(now time.Time, rec Recovery) error {
	if len(c.agents) > 0 || len(c.frameworks) > 0 {
		return fmt.Errorf("%w: Recover on a core that already serves", ErrInvalid)
	}
	for _, info := range rec.Agents {
		id := info.GetId().GetValue()
		if id == "" {
			return fmt.Errorf("%w: recovered agent without an id", ErrInvalid)
		}
		c.recovering[id] = proto.Clone(info).(*mesospb.AgentInfo)
	}
	if len(c.recovering) > 0 {
		c.reregisterDeadline = now.Add(c.cfg.AgentReregisterTimeout)
		c.recoveredAgents = len(c.recovering)
	}
	for _, rf := range rec.Frameworks {
		id := rf.Info.GetId().GetValue()
		if id == "" {
			return fmt.Errorf("%w: recovered framework without an id", ErrInvalid)
		}
		fw := newFramework(id)
		fw.setInfo(proto.Clone(rf.Info).(*mesospb.FrameworkInfo))
		fw.recovered = true
		fw.unregistered = now
		fw.failoverDeadline = rf.FailoverDeadline
		if fw.failoverDeadline.IsZero() {
			fw.failoverDeadline = now.Add(max(failoverTimeout(fw.info), c.cfg.AgentReregisterTimeout))
		}
		c.frameworks[id] = fw
		c.failingOver[id] = fw
	}
	if err := c.recoverQuotas(rec.Quotas); err != nil {
		return err
	}
	if err := c.recoverWeights(rec.Weights); err != nil {
		return err
	}
	if err := c.recoverReservations(rec.Reservations); err != nil {
		return err
	}
	if err := c.recoverMaintenance(rec.Maintenance); err != nil {
		return err
	}
	c.expireFailovers(now)
	return nil
}

// Recovering lists the ids of recovered agents that have not re-registered
// yet (for /state and tests).
func (c *Core) Recovering() []string { return sortedKeys(c.recovering) }

// expireRecovery marks the recovered agents that did not re-register in
// time unreachable, within --recovery_agent_removal_limit.
func (c *Core) expireRecovery(now time.Time) {
	if len(c.recovering) == 0 || c.reregisterDeadline.IsZero() || now.Before(c.reregisterDeadline) {
		return
	}
	limit := int(math.Floor(c.cfg.RecoveryAgentRemovalLimit * float64(c.recoveredAgents)))
	if len(c.recovering) > limit {
		c.log.Error("too many agents did not re-register after recovery; marking none unreachable",
			"missing", len(c.recovering), "recovered", c.recoveredAgents,
			"recovery_agent_removal_limit", c.cfg.RecoveryAgentRemovalLimit)
		c.reregisterDeadline = time.Time{}
		return
	}
	for _, id := range sortedKeys(c.recovering) {
		c.log.Warn("agent did not re-register after recovery; marking it unreachable", "agent", id)
		if err := c.cfg.Registry.MarkUnreachable(id, now); err != nil {
			c.log.Warn("registry refused to mark agent unreachable", "agent", id, "err", err)
		}
		delete(c.recovering, id)
		delete(c.heldAcks, id)
		c.metrics.agentsLost++
	}
}
