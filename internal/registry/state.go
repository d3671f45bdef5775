package registry

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/mesoproject/meso/api/registrypb"
	"google.golang.org/protobuf/proto"
)

// Errors a command can fail with. Applying a failing command leaves the
// state unchanged, on every replica alike.
var (
	// ErrInvalidCommand: a command is malformed (a field is missing or out
	// of range); the message names the field.
	ErrInvalidCommand = errors.New("registry: invalid command")
	// ErrAgentUnknown: the agent id was never admitted (or was pruned).
	ErrAgentUnknown = errors.New("registry: unknown agent")
	// ErrAgentGone: the agent was marked gone and may not come back.
	ErrAgentGone = errors.New("registry: agent is gone")
	// ErrFrameworkUnknown: the framework id is not in the registry.
	ErrFrameworkUnknown = errors.New("registry: unknown framework")
	// ErrFrameworkRemoved: the framework was removed and its id may not be
	// used again.
	ErrFrameworkRemoved = errors.New("registry: framework was removed")
)

// AgentStatus is what the registry knows about an agent id.
type AgentStatus int

// Agent statuses; the values match registrypb.Snapshot_Agent_State.
const (
	AgentUnknown     AgentStatus = iota // never admitted, or pruned
	AgentAdmitted                       // registered and not lost
	AgentUnreachable                    // lost: stopped answering pings
	AgentGone                           // gone for good
)

func (s AgentStatus) String() string {
	return registrypb.Snapshot_Agent_State(s).String()
}

// FrameworkStatus is what the registry knows about a framework id.
type FrameworkStatus int

// Framework statuses; the values match registrypb.Snapshot_Framework_State.
const (
	FrameworkUnknown      FrameworkStatus = iota // never added, or pruned
	FrameworkActive                              // subscribed
	FrameworkDisconnected                        // waiting for failover until its deadline
	FrameworkRemoved                             // never allowed back
)

func (s FrameworkStatus) String() string {
	return registrypb.Snapshot_Framework_State(s).String()
}

// Agent is the registry's record of one agent.
type Agent struct {
	Status AgentStatus
	// Info is the serialized mesos.v1.AgentInfo of the latest admission.
	Info []byte
	// Time is when the agent became unreachable or gone (Unix ns); 0 while
	// admitted.
	Time int64
	// SecretDigest is the SHA-256 of the secret the master issued to the
	// agent (SET_AGENT_SECRET); nil when none was. Admissions keep it.
	SecretDigest []byte
}

// Framework is the registry's record of one framework.
type Framework struct {
	Status FrameworkStatus
	// Info is the serialized mesos.v1.FrameworkInfo; nil once removed.
	Info []byte
	// FailoverDeadline (Unix ns) is set while disconnected: the framework
	// is removed at that time unless it resubscribes.
	FailoverDeadline int64
	// RemovedTime (Unix ns) is set once removed.
	RemovedTime int64
}

// State is the registry's replicated state machine: pure and
// deterministic. Apply reads nothing but its command and the state (no
// clock, no random source), so replicas that apply the same commands in
// the same order hold the same state, and Snapshot encodes one state in
// exactly one way. State is not safe for concurrent use.
//
// Byte slices handed to Apply are kept (not copied); byte slices read
// from the state must not be modified.
type State struct {
	agents       map[string]Agent
	frameworks   map[string]Framework
	weights      map[string]float64
	quotas       map[string][]byte
	maintenance  []byte
	reservations map[string][]byte
}

// NewState returns an empty registry state.
func NewState() *State {
	return &State{
		agents:       map[string]Agent{},
		frameworks:   map[string]Framework{},
		weights:      map[string]float64{},
		quotas:       map[string][]byte{},
		reservations: map[string][]byte{},
	}
}

// Apply applies one command. On error the state is unchanged.
func (s *State) Apply(c *registrypb.Command) error {
	switch c.GetType() {
	case registrypb.Command_ADMIT_AGENT:
		return s.admitAgent(c.GetAdmitAgent())
	case registrypb.Command_MARK_AGENT_UNREACHABLE:
		m := c.GetMarkAgentUnreachable()
		return s.markAgent(m.GetAgentId(), m.GetTimeNanos(), AgentUnreachable, "mark_agent_unreachable")
	case registrypb.Command_MARK_AGENT_GONE:
		m := c.GetMarkAgentGone()
		return s.markAgent(m.GetAgentId(), m.GetTimeNanos(), AgentGone, "mark_agent_gone")
	case registrypb.Command_PRUNE_AGENTS:
		for _, id := range c.GetPruneAgents().GetAgentIds() {
			if a, ok := s.agents[id]; ok && a.Status != AgentAdmitted {
				delete(s.agents, id)
			}
		}
		return nil
	case registrypb.Command_PUT_FRAMEWORK:
		return s.putFramework(c.GetPutFramework())
	case registrypb.Command_DISCONNECT_FRAMEWORK:
		return s.disconnectFramework(c.GetDisconnectFramework())
	case registrypb.Command_REMOVE_FRAMEWORK:
		return s.removeFramework(c.GetRemoveFramework())
	case registrypb.Command_PRUNE_FRAMEWORKS:
		for _, id := range c.GetPruneFrameworks().GetFrameworkIds() {
			if f, ok := s.frameworks[id]; ok && f.Status == FrameworkRemoved {
				delete(s.frameworks, id)
			}
		}
		return nil
	case registrypb.Command_SET_WEIGHTS:
		return s.setWeights(c.GetSetWeights())
	case registrypb.Command_SET_QUOTA:
		m := c.GetSetQuota()
		if m.GetRole() == "" {
			return fmt.Errorf("%w: set_quota.role is empty", ErrInvalidCommand)
		}
		setOrDelete(s.quotas, m.GetRole(), m.GetConfig())
		return nil
	case registrypb.Command_SET_MAINTENANCE:
		s.maintenance = nilIfEmpty(c.GetSetMaintenance().GetSchedule())
		return nil
	case registrypb.Command_BATCH:
		var errs []error
		for i, err := range s.ApplyBatch(c.GetBatch()) {
			if err != nil {
				errs = append(errs, fmt.Errorf("batch[%d]: %w", i, err))
			}
		}
		return errors.Join(errs...)
	case registrypb.Command_SET_AGENT_SECRET:
		return s.setAgentSecret(c.GetSetAgentSecret())
	case registrypb.Command_SET_RESERVATIONS:
		m := c.GetSetReservations()
		if m.GetAgentId() == "" {
			return fmt.Errorf("%w: set_reservations.agent_id is empty", ErrInvalidCommand)
		}
		setOrDelete(s.reservations, m.GetAgentId(), m.GetResources())
		return nil
	default:
		return fmt.Errorf("%w: type %d is not known", ErrInvalidCommand, c.GetType())
	}
}

// ApplyBatch applies the commands of a BATCH in order, each on its own
// (a failure changes nothing and does not stop the others), and returns
// their errors by index. A BATCH inside a batch is invalid.
func (s *State) ApplyBatch(cmds []*registrypb.Command) []error {
	errs := make([]error, len(cmds))
	for i, c := range cmds {
		if c.GetType() == registrypb.Command_BATCH {
			errs[i] = fmt.Errorf("%w: batch inside a batch", ErrInvalidCommand)
			continue
		}
		errs[i] = s.Apply(c)
	}
	return errs
}

// admitAgent: unknown, admitted or unreachable -> admitted with the new
// info; gone agents may not come back.
func (s *State) admitAgent(m *registrypb.Command_AdmitAgent) error {
	id := m.GetAgentId()
	if id == "" {
		return fmt.Errorf("%w: admit_agent.agent_id is empty", ErrInvalidCommand)
	}
	if len(m.GetAgentInfo()) == 0 {
		return fmt.Errorf("%w: admit_agent.agent_info is empty", ErrInvalidCommand)
	}
	if s.agents[id].Status == AgentGone {
		return fmt.Errorf("%w: %s", ErrAgentGone, id)
	}
	s.agents[id] = Agent{Status: AgentAdmitted, Info: m.GetAgentInfo(), SecretDigest: s.agents[id].SecretDigest}
	return nil
}

// setAgentSecret records the digest of an admitted or unreachable
// agent's secret, replacing any earlier one.
func (s *State) setAgentSecret(m *registrypb.Command_SetAgentSecret) error {
	id := m.GetAgentId()
	if id == "" {
		return fmt.Errorf("%w: set_agent_secret.agent_id is empty", ErrInvalidCommand)
	}
	if len(m.GetSecretDigest()) == 0 {
		return fmt.Errorf("%w: set_agent_secret.secret_digest is empty", ErrInvalidCommand)
	}
	a, ok := s.agents[id]
	switch {
	case !ok:
		return fmt.Errorf("%w: %s", ErrAgentUnknown, id)
	case a.Status == AgentGone:
		return fmt.Errorf("%w: %s", ErrAgentGone, id)
	}
	a.SecretDigest = m.GetSecretDigest()
	s.agents[id] = a
	return nil
}

// markAgent moves an admitted or unreachable agent to the given status
// (unreachable or gone). Marking an agent with the status it already has
// is a no-op that keeps the first time, so a retried proposal is harmless.
func (s *State) markAgent(id string, at int64, to AgentStatus, field string) error {
	if id == "" {
		return fmt.Errorf("%w: %s.agent_id is empty", ErrInvalidCommand, field)
	}
	a, ok := s.agents[id]
	switch {
	case !ok:
		return fmt.Errorf("%w: %s", ErrAgentUnknown, id)
	case a.Status == to:
		return nil
	case a.Status == AgentGone:
		return fmt.Errorf("%w: %s", ErrAgentGone, id)
	}
	a.Status, a.Time = to, at
	s.agents[id] = a
	return nil
}

// putFramework: unknown, active or disconnected -> active with the new
// info (a resubscription clears the failover deadline).
func (s *State) putFramework(m *registrypb.Command_PutFramework) error {
	id := m.GetFrameworkId()
	if id == "" {
		return fmt.Errorf("%w: put_framework.framework_id is empty", ErrInvalidCommand)
	}
	if len(m.GetFrameworkInfo()) == 0 {
		return fmt.Errorf("%w: put_framework.framework_info is empty", ErrInvalidCommand)
	}
	if s.frameworks[id].Status == FrameworkRemoved {
		return fmt.Errorf("%w: %s", ErrFrameworkRemoved, id)
	}
	s.frameworks[id] = Framework{Status: FrameworkActive, Info: m.GetFrameworkInfo()}
	return nil
}

// disconnectFramework: active or disconnected -> disconnected with the
// given deadline.
func (s *State) disconnectFramework(m *registrypb.Command_DisconnectFramework) error {
	id := m.GetFrameworkId()
	if id == "" {
		return fmt.Errorf("%w: disconnect_framework.framework_id is empty", ErrInvalidCommand)
	}
	f, ok := s.frameworks[id]
	switch {
	case !ok:
		return fmt.Errorf("%w: %s", ErrFrameworkUnknown, id)
	case f.Status == FrameworkRemoved:
		return fmt.Errorf("%w: %s", ErrFrameworkRemoved, id)
	}
	f.Status, f.FailoverDeadline = FrameworkDisconnected, m.GetFailoverDeadlineNanos()
	s.frameworks[id] = f
	return nil
}

// removeFramework: any id -> removed (its info dropped). An id the
// registry never saw is recorded too, so that it can never be used.
// Removing a removed framework is a no-op that keeps the first time.
func (s *State) removeFramework(m *registrypb.Command_RemoveFramework) error {
	id := m.GetFrameworkId()
	if id == "" {
		return fmt.Errorf("%w: remove_framework.framework_id is empty", ErrInvalidCommand)
	}
	if s.frameworks[id].Status == FrameworkRemoved {
		return nil
	}
	s.frameworks[id] = Framework{Status: FrameworkRemoved, RemovedTime: m.GetTimeNanos()}
	return nil
}

// setWeights checks every weight before setting any.
func (s *State) setWeights(m *registrypb.Command_SetWeights) error {
	for i, w := range m.GetWeights() {
		if w.GetRole() == "" {
			return fmt.Errorf("%w: set_weights.weights[%d].role is empty", ErrInvalidCommand, i)
		}
		// The negated comparison also rejects NaN.
		if !(w.GetWeight() > 0) {
			return fmt.Errorf("%w: set_weights.weights[%d].weight %v is not positive", ErrInvalidCommand, i, w.GetWeight())
		}
	}
	for _, w := range m.GetWeights() {
		s.weights[w.GetRole()] = w.GetWeight()
	}
	return nil
}

func setOrDelete(m map[string][]byte, k string, v []byte) {
	if len(v) == 0 {
		delete(m, k)
		return
	}
	m[k] = v
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// Agent returns the record of an agent id (Status AgentUnknown if none).
func (s *State) Agent(id string) Agent { return s.agents[id] }

// AgentIDs returns the ids of every agent with the given status, sorted.
func (s *State) AgentIDs(status AgentStatus) []string {
	var ids []string
	for id, a := range s.agents {
		if a.Status == status {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// Framework returns the record of a framework id (Status FrameworkUnknown
// if none).
func (s *State) Framework(id string) Framework { return s.frameworks[id] }

// FrameworkIDs returns the ids of every framework with the given status,
// sorted.
func (s *State) FrameworkIDs(status FrameworkStatus) []string {
	var ids []string
	for id, f := range s.frameworks {
		if f.Status == status {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// Weights returns a copy of the roles' weights.
func (s *State) Weights() map[string]float64 { return maps.Clone(s.weights) }

// Quota returns a role's serialized quota configuration (nil if none).
func (s *State) Quota(role string) []byte { return s.quotas[role] }

// QuotaRoles returns the roles that have a quota, sorted.
func (s *State) QuotaRoles() []string { return slices.Sorted(maps.Keys(s.quotas)) }

// Maintenance returns the serialized maintenance schedule (nil if none).
func (s *State) Maintenance() []byte { return s.maintenance }

// Reservations returns an agent's serialized operator reservations (nil
// if none).
func (s *State) Reservations(agentID string) []byte { return s.reservations[agentID] }

// ReservationAgents returns the agent ids that have operator
// reservations, sorted.
func (s *State) ReservationAgents() []string {
	return slices.Sorted(maps.Keys(s.reservations))
}

// Snapshot returns the whole state as a message whose lists are sorted by
// key. The message shares byte slices with the state.
func (s *State) Snapshot() *registrypb.Snapshot {
	snap := &registrypb.Snapshot{Maintenance: s.maintenance}
	for _, id := range slices.Sorted(maps.Keys(s.agents)) {
		a := s.agents[id]
		snap.Agents = append(snap.Agents, &registrypb.Snapshot_Agent{
			Id:           proto.String(id),
			State:        registrypb.Snapshot_Agent_State(a.Status).Enum(),
			Info:         a.Info,
			TimeNanos:    nonZero(a.Time),
			SecretDigest: a.SecretDigest,
		})
	}
	for _, id := range slices.Sorted(maps.Keys(s.frameworks)) {
		f := s.frameworks[id]
		snap.Frameworks = append(snap.Frameworks, &registrypb.Snapshot_Framework{
			Id:                    proto.String(id),
			State:                 registrypb.Snapshot_Framework_State(f.Status).Enum(),
			Info:                  f.Info,
			FailoverDeadlineNanos: nonZero(f.FailoverDeadline),
			RemovedTimeNanos:      nonZero(f.RemovedTime),
		})
	}
	for _, role := range slices.Sorted(maps.Keys(s.weights)) {
		snap.Weights = append(snap.Weights, &registrypb.Weight{Role: proto.String(role), Weight: proto.Float64(s.weights[role])})
	}
	for _, role := range slices.Sorted(maps.Keys(s.quotas)) {
		snap.Quotas = append(snap.Quotas, &registrypb.Snapshot_Quota{Role: proto.String(role), Config: s.quotas[role]})
	}
	for _, id := range slices.Sorted(maps.Keys(s.reservations)) {
		snap.Reservations = append(snap.Reservations, &registrypb.Snapshot_Reservations{AgentId: proto.String(id), Resources: s.reservations[id]})
	}
	return snap
}

func nonZero(v int64) *int64 {
	if v == 0 {
		return nil
	}
	return &v
}

// MarshalSnapshot encodes the whole state. One state has one encoding.
func (s *State) MarshalSnapshot() ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(s.Snapshot())
}

// RestoreState builds a state from a snapshot message, checking it the way
// Apply checks commands (a snapshot is input read from disk or the
// network).
func RestoreState(snap *registrypb.Snapshot) (*State, error) {
	s := NewState()
	for i, a := range snap.GetAgents() {
		st := AgentStatus(a.GetState())
		if a.GetId() == "" || st < AgentAdmitted || st > AgentGone {
			return nil, fmt.Errorf("%w: snapshot agents[%d]: id %q state %d", ErrInvalidCommand, i, a.GetId(), a.GetState())
		}
		s.agents[a.GetId()] = Agent{Status: st, Info: nilIfEmpty(a.GetInfo()), Time: a.GetTimeNanos(),
			SecretDigest: nilIfEmpty(a.GetSecretDigest())}
	}
	for i, f := range snap.GetFrameworks() {
		st := FrameworkStatus(f.GetState())
		if f.GetId() == "" || st < FrameworkActive || st > FrameworkRemoved {
			return nil, fmt.Errorf("%w: snapshot frameworks[%d]: id %q state %d", ErrInvalidCommand, i, f.GetId(), f.GetState())
		}
		s.frameworks[f.GetId()] = Framework{Status: st, Info: nilIfEmpty(f.GetInfo()),
			FailoverDeadline: f.GetFailoverDeadlineNanos(), RemovedTime: f.GetRemovedTimeNanos()}
	}
	for i, w := range snap.GetWeights() {
		if w.GetRole() == "" || !(w.GetWeight() > 0) {
			return nil, fmt.Errorf("%w: snapshot weights[%d]: role %q weight %v", ErrInvalidCommand, i, w.GetRole(), w.GetWeight())
		}
		s.weights[w.GetRole()] = w.GetWeight()
	}
	for _, q := range snap.GetQuotas() {
		setOrDelete(s.quotas, q.GetRole(), q.GetConfig())
	}
	s.maintenance = nilIfEmpty(snap.GetMaintenance())
	for _, r := range snap.GetReservations() {
		setOrDelete(s.reservations, r.GetAgentId(), r.GetResources())
	}
	return s, nil
}

// UnmarshalState decodes a state encoded by MarshalSnapshot.
func UnmarshalState(b []byte) (*State, error) {
	var snap registrypb.Snapshot
	if err := proto.Unmarshal(b, &snap); err != nil {
		return nil, fmt.Errorf("registry: decode snapshot: %w", err)
	}
	return RestoreState(&snap)
}

// Equal reports whether two states hold the same records.
func (s *State) Equal(o *State) bool {
	return maps.EqualFunc(s.agents, o.agents, func(a, b Agent) bool {
		return a.Status == b.Status && a.Time == b.Time && bytes.Equal(a.Info, b.Info) &&
			bytes.Equal(a.SecretDigest, b.SecretDigest)
	}) && maps.EqualFunc(s.frameworks, o.frameworks, func(a, b Framework) bool {
		return a.Status == b.Status && a.FailoverDeadline == b.FailoverDeadline &&
			a.RemovedTime == b.RemovedTime && bytes.Equal(a.Info, b.Info)
	}) && maps.Equal(s.weights, o.weights) &&
		maps.EqualFunc(s.quotas, o.quotas, bytes.Equal) &&
		bytes.Equal(s.maintenance, o.maintenance) &&
		maps.EqualFunc(s.reservations, o.reservations, bytes.Equal)
}

// clone copies the maps; the byte slices are shared (never modified).
func (s *State) clone() *State {
	return &State{
		agents:       maps.Clone(s.agents),
		frameworks:   maps.Clone(s.frameworks),
		weights:      maps.Clone(s.weights),
		quotas:       maps.Clone(s.quotas),
		maintenance:  s.maintenance,
		reservations: maps.Clone(s.reservations),
	}
}
