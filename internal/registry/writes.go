package registry

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/registrypb"
	"google.golang.org/protobuf/proto"
)

// The ...Command functions build one command each, for Propose or
// ProposeBatch; the typed writes below propose them and wait. Times are
// chosen here, by the proposer, never inside Apply.

// AdmitAgentCommand records an agent (info.id set) as admitted, again if
// it was unreachable; it fails with ErrAgentGone if the agent is gone.
func AdmitAgentCommand(info *mesospb.AgentInfo) (*registrypb.Command, error) {
	if info.GetId().GetValue() == "" {
		return nil, fmt.Errorf("%w: agent_info.id is empty", ErrInvalidCommand)
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(info)
	if err != nil {
		return nil, fmt.Errorf("registry: encode agent info: %w", err)
	}
	return &registrypb.Command{
		Type:       registrypb.Command_ADMIT_AGENT.Enum(),
		AdmitAgent: &registrypb.Command_AdmitAgent{AgentId: proto.String(info.GetId().GetValue()), AgentInfo: b},
	}, nil
}

// SetAgentSecretCommand records the SHA-256 digest of the secret issued
// to an admitted agent.
func SetAgentSecretCommand(agentID string, digest []byte) *registrypb.Command {
	return &registrypb.Command{
		Type:           registrypb.Command_SET_AGENT_SECRET.Enum(),
		SetAgentSecret: &registrypb.Command_SetAgentSecret{AgentId: &agentID, SecretDigest: digest},
	}
}

// MarkAgentUnreachableCommand records that an admitted agent was lost at
// the given time.
func MarkAgentUnreachableCommand(agentID string, at time.Time) *registrypb.Command {
	return &registrypb.Command{
		Type:                 registrypb.Command_MARK_AGENT_UNREACHABLE.Enum(),
		MarkAgentUnreachable: &registrypb.Command_MarkAgentUnreachable{AgentId: &agentID, TimeNanos: proto.Int64(at.UnixNano())},
	}
}

// MarkAgentGoneCommand records that an agent is gone for good as of the
// given time.
func MarkAgentGoneCommand(agentID string, at time.Time) *registrypb.Command {
	return &registrypb.Command{
		Type:          registrypb.Command_MARK_AGENT_GONE.Enum(),
		MarkAgentGone: &registrypb.Command_MarkAgentGone{AgentId: &agentID, TimeNanos: proto.Int64(at.UnixNano())},
	}
}

// PruneAgentsCommand forgets the listed agents that are unreachable or
// gone.
func PruneAgentsCommand(agentIDs []string) *registrypb.Command {
	return &registrypb.Command{
		Type:        registrypb.Command_PRUNE_AGENTS.Enum(),
		PruneAgents: &registrypb.Command_PruneAgents{AgentIds: agentIDs},
	}
}

// PutFrameworkCommand records a subscribed framework (info.id set),
// clearing its failover deadline; it fails with ErrFrameworkRemoved if the
// id was removed.
func PutFrameworkCommand(info *mesospb.FrameworkInfo) (*registrypb.Command, error) {
	if info.GetId().GetValue() == "" {
		return nil, fmt.Errorf("%w: framework_info.id is empty", ErrInvalidCommand)
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(info)
	if err != nil {
		return nil, fmt.Errorf("registry: encode framework info: %w", err)
	}
	return &registrypb.Command{
		Type:         registrypb.Command_PUT_FRAMEWORK.Enum(),
		PutFramework: &registrypb.Command_PutFramework{FrameworkId: proto.String(info.GetId().GetValue()), FrameworkInfo: b},
	}, nil
}

// DisconnectFrameworkCommand records that a framework disconnected and is
// to be removed at deadline unless it resubscribes.
func DisconnectFrameworkCommand(frameworkID string, deadline time.Time) *registrypb.Command {
	return &registrypb.Command{
		Type: registrypb.Command_DISCONNECT_FRAMEWORK.Enum(),
		DisconnectFramework: &registrypb.Command_DisconnectFramework{
			FrameworkId: &frameworkID, FailoverDeadlineNanos: proto.Int64(deadline.UnixNano()),
		},
	}
}

// RemoveFrameworkCommand records that a framework was removed at the
// given time; its id is never accepted again.
func RemoveFrameworkCommand(frameworkID string, at time.Time) *registrypb.Command {
	return &registrypb.Command{
		Type:            registrypb.Command_REMOVE_FRAMEWORK.Enum(),
		RemoveFramework: &registrypb.Command_RemoveFramework{FrameworkId: &frameworkID, TimeNanos: proto.Int64(at.UnixNano())},
	}
}

// PruneFrameworksCommand forgets the listed removed framework ids.
func PruneFrameworksCommand(frameworkIDs []string) *registrypb.Command {
	return &registrypb.Command{
		Type:            registrypb.Command_PRUNE_FRAMEWORKS.Enum(),
		PruneFrameworks: &registrypb.Command_PruneFrameworks{FrameworkIds: frameworkIDs},
	}
}

// SetWeightsCommand sets the weights of the given roles (others keep
// theirs).
func SetWeightsCommand(weights map[string]float64) *registrypb.Command {
	m := &registrypb.Command_SetWeights{}
	for _, role := range slices.Sorted(maps.Keys(weights)) {
		m.Weights = append(m.Weights, &registrypb.Weight{Role: proto.String(role), Weight: proto.Float64(weights[role])})
	}
	return &registrypb.Command{Type: registrypb.Command_SET_WEIGHTS.Enum(), SetWeights: m}
}

// SetQuotaCommand sets a role's serialized quota configuration (nil
// clears it).
func SetQuotaCommand(role string, config []byte) *registrypb.Command {
	return &registrypb.Command{
		Type:     registrypb.Command_SET_QUOTA.Enum(),
		SetQuota: &registrypb.Command_SetQuota{Role: &role, Config: config},
	}
}

// SetMaintenanceCommand replaces the serialized maintenance schedule (nil
// clears it).
func SetMaintenanceCommand(schedule []byte) *registrypb.Command {
	return &registrypb.Command{
		Type:           registrypb.Command_SET_MAINTENANCE.Enum(),
		SetMaintenance: &registrypb.Command_SetMaintenance{Schedule: schedule},
	}
}

// SetReservationsCommand replaces an agent's serialized operator
// reservations (nil clears them).
func SetReservationsCommand(agentID string, resources []byte) *registrypb.Command {
	return &registrypb.Command{
		Type:            registrypb.Command_SET_RESERVATIONS.Enum(),
		SetReservations: &registrypb.Command_SetReservations{AgentId: &agentID, Resources: resources},
	}
}

// AdmitAgent proposes AdmitAgentCommand and waits.
func (r *Registry) AdmitAgent(ctx context.Context, info *mesospb.AgentInfo) error {
	c, err := AdmitAgentCommand(info)
	if err != nil {
		return err
	}
	return r.Propose(ctx, c)
}

// MarkAgentUnreachable proposes MarkAgentUnreachableCommand and waits.
func (r *Registry) MarkAgentUnreachable(ctx context.Context, agentID string, at time.Time) error {
	return r.Propose(ctx, MarkAgentUnreachableCommand(agentID, at))
}

// MarkAgentGone proposes MarkAgentGoneCommand and waits.
func (r *Registry) MarkAgentGone(ctx context.Context, agentID string, at time.Time) error {
	return r.Propose(ctx, MarkAgentGoneCommand(agentID, at))
}

// PruneAgents proposes PruneAgentsCommand and waits.
func (r *Registry) PruneAgents(ctx context.Context, agentIDs []string) error {
	return r.Propose(ctx, PruneAgentsCommand(agentIDs))
}

// PutFramework proposes PutFrameworkCommand and waits.
func (r *Registry) PutFramework(ctx context.Context, info *mesospb.FrameworkInfo) error {
	c, err := PutFrameworkCommand(info)
	if err != nil {
		return err
	}
	return r.Propose(ctx, c)
}

// DisconnectFramework proposes DisconnectFrameworkCommand and waits.
func (r *Registry) DisconnectFramework(ctx context.Context, frameworkID string, deadline time.Time) error {
	return r.Propose(ctx, DisconnectFrameworkCommand(frameworkID, deadline))
}

// RemoveFramework proposes RemoveFrameworkCommand and waits.
func (r *Registry) RemoveFramework(ctx context.Context, frameworkID string, at time.Time) error {
	return r.Propose(ctx, RemoveFrameworkCommand(frameworkID, at))
}

// PruneFrameworks proposes PruneFrameworksCommand and waits.
func (r *Registry) PruneFrameworks(ctx context.Context, frameworkIDs []string) error {
	return r.Propose(ctx, PruneFrameworksCommand(frameworkIDs))
}

// SetWeights proposes SetWeightsCommand and waits.
func (r *Registry) SetWeights(ctx context.Context, weights map[string]float64) error {
	return r.Propose(ctx, SetWeightsCommand(weights))
}

// SetQuota proposes SetQuotaCommand and waits.
func (r *Registry) SetQuota(ctx context.Context, role string, config []byte) error {
	return r.Propose(ctx, SetQuotaCommand(role, config))
}

// SetMaintenance proposes SetMaintenanceCommand and waits.
func (r *Registry) SetMaintenance(ctx context.Context, schedule []byte) error {
	return r.Propose(ctx, SetMaintenanceCommand(schedule))
}

// SetReservations proposes SetReservationsCommand and waits.
func (r *Registry) SetReservations(ctx context.Context, agentID string, resources []byte) error {
	return r.Propose(ctx, SetReservationsCommand(agentID, resources))
}
