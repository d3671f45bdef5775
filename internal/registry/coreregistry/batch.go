package coreregistry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/registrypb"
	"github.com/mesoproject/meso/internal/master/core"
	"github.com/mesoproject/meso/internal/registry"
)

var _ core.Registry = (*Batch)(nil)

// ErrDiverged: a command committed with another outcome than the shadow
// state predicted (another writer, or a bug); the caller must recover
// from the registry again.
var ErrDiverged = errors.New("coreregistry: the registry diverged from the master's shadow")

// Batch implements core.Registry for a master that writes in batches, one
// raft entry (one fsync, one round trip) per step of its loop instead of
// one per write. A write applies at once to a shadow of the registry
// state, so the core sees its outcome (the one the replicated state
// machine will give: Apply is deterministic and the leader is the only
// writer), and queues; reads answer from the shadow. The caller must
// Flush before it delivers anything the step's writes decided (REGISTERED,
// offers, LOST updates), so that nothing goes out that a new leader would
// not know.
//
// Batch is not safe for concurrent use: one owner (the master's loop)
// calls the core, and so the Batch, and Flush.
type Batch struct {
	r       *registry.Registry
	shadow  *registry.State
	timeout time.Duration
	now     func() time.Time

	pending []*registrypb.Command // each succeeded on the shadow
}

// NewBatch returns a batching Registry over r whose shadow starts as
// shadow (the state the master recovered from, read after a Barrier; the
// Batch owns it from now on). Each Flush waits at most timeout; now
// (time.Now if nil) stamps writes that carry no time.
func NewBatch(r *registry.Registry, shadow *registry.State, timeout time.Duration, now func() time.Time) *Batch {
	if now == nil {
		now = time.Now
	}
	return &Batch{r: r, shadow: shadow, timeout: timeout, now: now}
}

// apply applies c to the shadow and, if it succeeded there, queues it (a
// failing command changes nothing); the shadow's error is the write's.
func (b *Batch) apply(c *registrypb.Command, err error) error {
	if err != nil {
		return err
	}
	if err := b.shadow.Apply(c); err != nil {
		return err
	}
	b.pending = append(b.pending, c)
	return nil
}

// Pending is the number of writes not flushed yet.
func (b *Batch) Pending() int { return len(b.pending) }

// Flush proposes the pending writes as one raft entry and waits for its
// commit. An error (registry.ErrNotLeader, ErrLeadershipLost, a timeout,
// ErrDiverged) means the master must not deliver the step's outputs: it
// should stop serving and, if still leader, recover again.
func (b *Batch) Flush(ctx context.Context) error {
	if len(b.pending) == 0 {
		return nil
	}
	cmds := b.pending
	b.pending = nil
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	errs, err := b.r.ProposeBatch(ctx, cmds)
	if err != nil {
		return err
	}
	for i, e := range errs {
		if e != nil {
			return fmt.Errorf("%w: command %d (%s): committed with %v", ErrDiverged, i, cmds[i].GetType(), e)
		}
	}
	return nil
}

// AdmitAgent implements core.Registry.
func (b *Batch) AdmitAgent(info *mesospb.AgentInfo) error {
	return b.apply(registry.AdmitAgentCommand(info))
}

// MarkUnreachable implements core.Registry.
func (b *Batch) MarkUnreachable(agentID string, at time.Time) error {
	return b.apply(registry.MarkAgentUnreachableCommand(agentID, at), nil)
}

// RemoveAgent implements core.Registry: the agent is marked gone now.
func (b *Batch) RemoveAgent(agentID string) error {
	return b.apply(registry.MarkAgentGoneCommand(agentID, b.now()), nil)
}

// AgentState implements core.Registry from the shadow.
func (b *Batch) AgentState(agentID string) core.AgentState {
	return agentState(b.shadow.Agent(agentID).Status)
}

// SetAgentSecret implements core.Registry.
func (b *Batch) SetAgentSecret(agentID string, digest []byte) error {
	return b.apply(registry.SetAgentSecretCommand(agentID, digest), nil)
}

// AgentSecret implements core.Registry from the shadow.
func (b *Batch) AgentSecret(agentID string) []byte {
	return b.shadow.Agent(agentID).SecretDigest
}

// AddFramework implements core.Registry.
func (b *Batch) AddFramework(info *mesospb.FrameworkInfo) error {
	return b.apply(registry.PutFrameworkCommand(info))
}

// DisconnectFramework implements core.Registry.
func (b *Batch) DisconnectFramework(frameworkID string, deadline time.Time) error {
	return b.apply(registry.DisconnectFrameworkCommand(frameworkID, deadline), nil)
}

// RemoveFramework implements core.Registry: removed now.
func (b *Batch) RemoveFramework(frameworkID string) error {
	return b.apply(registry.RemoveFrameworkCommand(frameworkID, b.now()), nil)
}

// FrameworkRemoved implements core.Registry from the shadow.
func (b *Batch) FrameworkRemoved(frameworkID string) bool {
	return b.shadow.Framework(frameworkID).Status == registry.FrameworkRemoved
}

// SetQuota implements core.QuotaRegistry.
func (b *Batch) SetQuota(role string, config []byte) error {
	return b.apply(registry.SetQuotaCommand(role, config), nil)
}

// SetWeights implements core.WeightRegistry.
func (b *Batch) SetWeights(weights map[string]float64) error {
	return b.apply(registry.SetWeightsCommand(weights), nil)
}

// SetMaintenance implements core.MaintenanceRegistry.
func (b *Batch) SetMaintenance(record []byte) error {
	return b.apply(registry.SetMaintenanceCommand(record), nil)
}

// SetReservations implements core.ReservationRegistry.
func (b *Batch) SetReservations(agentID string, resources []byte) error {
	return b.apply(registry.SetReservationsCommand(agentID, resources), nil)
}
