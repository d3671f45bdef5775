// Package coreregistry lets the master core keep its books in the
// replicated registry: Registry implements core.Registry (the interface
// the core defines) on a *registry.Registry, plus the framework records
// the core will need for failover.
//
// Registry's writes block until raft commits each (a few milliseconds with
// fsync, see docs/ARCHITECTURE.md "registry") or Timeout passes: each write
// stalls the core's loop for one commit. Batch, which the master uses,
// applies writes to a shadow state at once and commits a loop step's
// writes as one entry (Flush), before the step's outputs go out. Reads
// answer from the local (or shadow) state.
//
// The replicated registry is stricter than core.MemRegistry: a gone agent
// cannot be admitted again (registry.ErrAgentGone), and only an admitted
// agent can be marked unreachable (registry.ErrAgentUnknown otherwise).
package coreregistry

import (
	"context"
	"fmt"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/quotapb"
	"github.com/mesoproject/meso/internal/master/core"
	"github.com/mesoproject/meso/internal/registry"
	"google.golang.org/protobuf/proto"
)

var (
	_ core.Registry            = (*Registry)(nil)
	_ core.ReservationRegistry = (*Registry)(nil)
	_ core.ReservationRegistry = (*Batch)(nil)
	_ core.MaintenanceRegistry = (*Registry)(nil)
	_ core.MaintenanceRegistry = (*Batch)(nil)
)

// Registry implements core.Registry on a replicated registry.
type Registry struct {
	r *registry.Registry
	// timeout bounds each write.
	timeout time.Duration
	// now stamps writes whose caller gives no time (RemoveAgent): the
	// proposer chooses times, never the state machine.
	now func() time.Time
}

// New returns the core's view of r. Each write waits at most timeout; now
// (time.Now if nil) stamps the writes that carry no time of their own.
func New(r *registry.Registry, timeout time.Duration, now func() time.Time) *Registry {
	if now == nil {
		now = time.Now
	}
	return &Registry{r: r, timeout: timeout, now: now}
}

func (a *Registry) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), a.timeout)
}

// AdmitAgent implements core.Registry.
func (a *Registry) AdmitAgent(info *mesospb.AgentInfo) error {
	ctx, cancel := a.ctx()
	defer cancel()
	return a.r.AdmitAgent(ctx, info)
}

// MarkUnreachable implements core.Registry.
func (a *Registry) MarkUnreachable(agentID string, at time.Time) error {
	ctx, cancel := a.ctx()
	defer cancel()
	return a.r.MarkAgentUnreachable(ctx, agentID, at)
}

// RemoveAgent implements core.Registry: the agent is marked gone now.
func (a *Registry) RemoveAgent(agentID string) error {
	ctx, cancel := a.ctx()
	defer cancel()
	return a.r.MarkAgentGone(ctx, agentID, a.now())
}

// AgentState implements core.Registry from the local state.
func (a *Registry) AgentState(agentID string) core.AgentState {
	var s registry.AgentStatus
	a.r.Read(func(st *registry.State) { s = st.Agent(agentID).Status })
	return agentState(s)
}

// SetAgentSecret implements core.Registry.
func (a *Registry) SetAgentSecret(agentID string, digest []byte) error {
	ctx, cancel := a.ctx()
	defer cancel()
	return a.r.Propose(ctx, registry.SetAgentSecretCommand(agentID, digest))
}

// AgentSecret implements core.Registry from the local state.
func (a *Registry) AgentSecret(agentID string) []byte {
	var d []byte
	a.r.Read(func(st *registry.State) { d = st.Agent(agentID).SecretDigest })
	return d
}

func agentState(s registry.AgentStatus) core.AgentState {
	switch s {
	case registry.AgentAdmitted:
		return core.AgentAdmitted
	case registry.AgentUnreachable:
		return core.AgentUnreachable
	case registry.AgentGone:
		return core.AgentGone
	}
	return core.AgentUnknown
}

// AddFramework records a subscribed framework (info.id set), clearing a
// pending failover deadline; registry.ErrFrameworkRemoved if its id was
// removed.
func (a *Registry) AddFramework(info *mesospb.FrameworkInfo) error {
	ctx, cancel := a.ctx()
	defer cancel()
	return a.r.PutFramework(ctx, info)
}

// DisconnectFramework records that a framework disconnected and is to be
// removed at deadline (disconnection time + failover_timeout) unless it
// resubscribes. The deadline survives a master failover.
func (a *Registry) DisconnectFramework(frameworkID string, deadline time.Time) error {
	ctx, cancel := a.ctx()
	defer cancel()
	return a.r.DisconnectFramework(ctx, frameworkID, deadline)
}

// RemoveFramework implements core.Registry: the framework is recorded as
// removed now (the core's interface carries no time for it).
func (a *Registry) RemoveFramework(frameworkID string) error {
	ctx, cancel := a.ctx()
	defer cancel()
	return a.r.RemoveFramework(ctx, frameworkID, a.now())
}

// FrameworkRemoved reports whether a framework id was removed (and so may
// not subscribe again).
func (a *Registry) FrameworkRemoved(frameworkID string) bool {
	var removed bool
	a.r.Read(func(st *registry.State) { removed = st.Framework(frameworkID).Status == registry.FrameworkRemoved })
	return removed
}

// SetQuota implements core.QuotaRegistry.
func (a *Registry) SetQuota(role string, config []byte) error {
	ctx, cancel := a.ctx()
	defer cancel()
	return a.r.SetQuota(ctx, role, config)
}

// SetWeights implements core.WeightRegistry.
func (a *Registry) SetWeights(weights map[string]float64) error {
	ctx, cancel := a.ctx()
	defer cancel()
	return a.r.SetWeights(ctx, weights)
}

// SetMaintenance implements core.MaintenanceRegistry.
func (a *Registry) SetMaintenance(record []byte) error {
	ctx, cancel := a.ctx()
	defer cancel()
	return a.r.SetMaintenance(ctx, record)
}

// SetReservations implements core.ReservationRegistry.
func (a *Registry) SetReservations(agentID string, resources []byte) error {
	ctx, cancel := a.ctx()
	defer cancel()
	return a.r.SetReservations(ctx, agentID, resources)
}

// Recovery reads what a newly elected master recovers from a registry
// state (read after a Barrier): the admitted agents and the frameworks not
// removed, with the failover deadlines of those disconnected.
func Recovery(st *registry.State) (core.Recovery, error) {
	var rec core.Recovery
	for _, id := range st.AgentIDs(registry.AgentAdmitted) {
		info := &mesospb.AgentInfo{}
		if err := proto.Unmarshal(st.Agent(id).Info, info); err != nil {
			return core.Recovery{}, fmt.Errorf("coreregistry: agent %s: agent_info: %w", id, err)
		}
		info.Id = &mesospb.AgentID{Value: proto.String(id)}
		rec.Agents = append(rec.Agents, info)
	}
	for _, status := range []registry.FrameworkStatus{registry.FrameworkActive, registry.FrameworkDisconnected} {
		for _, id := range st.FrameworkIDs(status) {
			f := st.Framework(id)
			info := &mesospb.FrameworkInfo{}
			if err := proto.Unmarshal(f.Info, info); err != nil {
				return core.Recovery{}, fmt.Errorf("coreregistry: framework %s: framework_info: %w", id, err)
			}
			info.Id = &mesospb.FrameworkID{Value: proto.String(id)}
			rf := core.RecoveredFramework{Info: info}
			if status == registry.FrameworkDisconnected {
				rf.FailoverDeadline = time.Unix(0, f.FailoverDeadline)
			}
			rec.Frameworks = append(rec.Frameworks, rf)
		}
	}
	for _, role := range st.QuotaRoles() {
		cfg := &quotapb.QuotaConfig{}
		if err := proto.Unmarshal(st.Quota(role), cfg); err != nil {
			return core.Recovery{}, fmt.Errorf("coreregistry: quota of %s: %w", role, err)
		}
		cfg.Role = proto.String(role)
		rec.Quotas = append(rec.Quotas, cfg)
	}
	if w := st.Weights(); len(w) > 0 {
		rec.Weights = w
	}
	rec.Maintenance = st.Maintenance()
	for _, id := range st.ReservationAgents() {
		list, err := core.ParseCheckpointedList(st.Reservations(id))
		if err != nil {
			return core.Recovery{}, fmt.Errorf("coreregistry: reservations of agent %s: %w", id, err)
		}
		if rec.Reservations == nil {
			rec.Reservations = map[string][]*mesospb.Resource{}
		}
		rec.Reservations[id] = list.ToProto("", false)
	}
	return rec, nil
}
