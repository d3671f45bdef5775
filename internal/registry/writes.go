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

// The typed writes below build one command each and Propose it. Times
// are chosen here, by the proposer, never inside Apply.

// AdmitAgent records an agent (info.id set) as admitted, again if it was
// unreachable; ErrAgentGone if it is gone.
func (r *Registry) AdmitAgent(ctx context.Context, info *mesospb.AgentInfo) error {
	c, err := AdmitAgentCommand(info)
	if err != nil {
		return err
	}
	return r.Propose(ctx, c)
}

// AdmitAgentCommand builds the ADMIT_AGENT command for info.
func AdmitAgentCommand(info *mesospb.AgentInfo) (*registrypb.Command, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(info)
	if err != nil {
		return nil, fmt.Errorf("registry: encode agent info: %w", err)
	}
	return &registrypb.Command{
		Type:       registrypb.Command_ADMIT_AGENT.Enum(),
		AdmitAgent: &registrypb.Command_AdmitAgent{AgentId: proto.String(info.GetId().GetValue()), AgentInfo: b},
	}, nil
}

// MarkAgentUnreachable records that an admitted agent was lost at the
// given time.
func (r *Registry) MarkAgentUnreachable(ctx context.Context, agentID string, at time.Time) error {
	return r.Propose(ctx, &registrypb.Command{
		Type:                 registrypb.Command_MARK_AGENT_UNREACHABLE.Enum(),
		MarkAgentUnreachable: &registrypb.Command_MarkAgentUnreachable{AgentId: &agentID, TimeNanos: proto.Int64(at.UnixNano())},
	})
}

// MarkAgentGone records that an agent is gone for good as of the given
// time.
func (r *Registry) MarkAgentGone(ctx context.Context, agentID string, at time.Time) error {
	return r.Propose(ctx, &registrypb.Command{
		Type:          registrypb.Command_MARK_AGENT_GONE.Enum(),
		MarkAgentGone: &registrypb.Command_MarkAgentGone{AgentId: &agentID, TimeNanos: proto.Int64(at.UnixNano())},
	})
}

// PruneAgents forgets the listed agents that are unreachable or gone.
func (r *Registry) PruneAgents(ctx context.Context, agentIDs []string) error {
	return r.Propose(ctx, &registrypb.Command{
		Type:        registrypb.Command_PRUNE_AGENTS.Enum(),
		PruneAgents: &registrypb.Command_PruneAgents{AgentIds: agentIDs},
	})
}

// PutFramework records a subscribed framework (info.id set), clearing its
// failover deadline; ErrFrameworkRemoved if its id was removed.
func (r *Registry) PutFramework(ctx context.Context, info *mesospb.FrameworkInfo) error {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(info)
	if err != nil {
		return fmt.Errorf("registry: encode framework info: %w", err)
	}
	return r.Propose(ctx, &registrypb.Command{
		Type:         registrypb.Command_PUT_FRAMEWORK.Enum(),
		PutFramework: &registrypb.Command_PutFramework{FrameworkId: proto.String(info.GetId().GetValue()), FrameworkInfo: b},
	})
}

// DisconnectFramework records that a framework disconnected and is to be
// removed at deadline unless it resubscribes.
func (r *Registry) DisconnectFramework(ctx context.Context, frameworkID string, deadline time.Time) error {
	return r.Propose(ctx, &registrypb.Command{
		Type: registrypb.Command_DISCONNECT_FRAMEWORK.Enum(),
		DisconnectFramework: &registrypb.Command_DisconnectFramework{
			FrameworkId: &frameworkID, FailoverDeadlineNanos: proto.Int64(deadline.UnixNano()),
		},
	})
}

// RemoveFramework records that a framework was removed at the given time;
// its id is never accepted again.
func (r *Registry) RemoveFramework(ctx context.Context, frameworkID string, at time.Time) error {
	return r.Propose(ctx, &registrypb.Command{
		Type:            registrypb.Command_REMOVE_FRAMEWORK.Enum(),
		RemoveFramework: &registrypb.Command_RemoveFramework{FrameworkId: &frameworkID, TimeNanos: proto.Int64(at.UnixNano())},
	})
}

// PruneFrameworks forgets the listed removed framework ids.
func (r *Registry) PruneFrameworks(ctx context.Context, frameworkIDs []string) error {
	return r.Propose(ctx, &registrypb.Command{
		Type:            registrypb.Command_PRUNE_FRAMEWORKS.Enum(),
		PruneFrameworks: &registrypb.Command_PruneFrameworks{FrameworkIds: frameworkIDs},
	})
}

// SetWeights sets the weights of the given roles (others keep theirs).
func (r *Registry) SetWeights(ctx context.Context, weights map[string]float64) error {
	m := &registrypb.Command_SetWeights{}
	for _, role := range slices.Sorted(maps.Keys(weights)) {
		m.Weights = append(m.Weights, &registrypb.Weight{Role: proto.String(role), Weight: proto.Float64(weights[role])})
	}
	return r.Propose(ctx, &registrypb.Command{Type: registrypb.Command_SET_WEIGHTS.Enum(), SetWeights: m})
}

// SetQuota sets a role's serialized quota configuration (nil clears it).
func (r *Registry) SetQuota(ctx context.Context, role string, config []byte) error {
	return r.Propose(ctx, &registrypb.Command{
		Type:     registrypb.Command_SET_QUOTA.Enum(),
		SetQuota: &registrypb.Command_SetQuota{Role: &role, Config: config},
	})
}

// SetMaintenance replaces the serialized maintenance schedule (nil clears
// it).
func (r *Registry) SetMaintenance(ctx context.Context, schedule []byte) error {
	return r.Propose(ctx, &registrypb.Command{
		Type:           registrypb.Command_SET_MAINTENANCE.Enum(),
		SetMaintenance: &registrypb.Command_SetMaintenance{Schedule: schedule},
	})
}

// SetReservations replaces an agent's serialized operator reservations
// (nil clears them).
func (r *Registry) SetReservations(ctx context.Context, agentID string, resources []byte) error {
	return r.Propose(ctx, &registrypb.Command{
		Type:            registrypb.Command_SET_RESERVATIONS.Enum(),
		SetReservations: &registrypb.Command_SetReservations{AgentId: &agentID, Resources: resources},
	})
}
