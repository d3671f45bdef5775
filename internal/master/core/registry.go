package core

import (
	"fmt"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
)

// AgentState is what the registry knows about an agent id.
type AgentState int

// Agent states in the registry.
const (
	AgentUnknown     AgentState = iota // never admitted (or forgotten)
	AgentAdmitted                      // registered and not lost
	AgentUnreachable                   // lost: stopped answering pings
	AgentGone                          // removed for good (by an operator)
)

// Registry is the durable record of agent admission, consulted when agents
// register and updated when they are lost, and of the frameworks that were
// removed, consulted when a framework subscribes with an id. Mesos keeps
// agents in its replicated registry (and removed frameworks only in memory,
// the last --max_completed_frameworks of them); meso keeps both, and the
// subscribed frameworks with their failover deadlines, in the
// raft-replicated registry (internal/registry/coreregistry). The core calls
// it synchronously from its loop, and must get each write's outcome at
// once: the master's implementation (coreregistry.Batch) answers from a
// shadow state and commits a loop step's writes together before the step's
// outputs go out; see docs/ARCHITECTURE.md "registry".
type Registry interface {
	// AdmitAgent records an agent (info.id set) as registered.
	AdmitAgent(info *mesospb.AgentInfo) error
	// MarkUnreachable records that an agent was lost at the given time.
	MarkUnreachable(agentID string, at time.Time) error
	// RemoveAgent records that an agent is gone for good.
	RemoveAgent(agentID string) error
	// AgentState reports what is known about an agent id.
	AgentState(agentID string) AgentState
	// SetAgentSecret records the digest of the secret the master issued
	// to a known agent; AgentSecret returns it (nil if none). The core
	// does not use them: the master's shell checks agents' secrets (see
	// internal/master, link.go) through the core's Registry.
	SetAgentSecret(agentID string, digest []byte) error
	AgentSecret(agentID string) []byte

	// RemoveFramework records that a framework was removed (TEARDOWN, or
	// its failover timeout expired): its id may never subscribe again.
	RemoveFramework(frameworkID string) error
	// FrameworkRemoved reports whether a framework id was removed.
	FrameworkRemoved(frameworkID string) bool

	// AddFramework records a subscribed framework (info.id set), clearing
	// a failover deadline, so that a new leader knows it (Recover).
	AddFramework(info *mesospb.FrameworkInfo) error
	// DisconnectFramework records that a framework disconnected and is
	// to be removed at deadline unless it subscribes again.
	DisconnectFramework(frameworkID string, deadline time.Time) error
}

// MemRegistry is an in-memory Registry: it forgets everything when the
// master restarts (then re-registering agents are admitted again, and the
// id of a framework removed before the restart may subscribe again). It
// remembers every removed framework id for the master's lifetime: a set of
// strings, some tens of bytes per framework ever removed.
type MemRegistry struct {
	agents  map[string]memAgent
	removed map[string]struct{} // removed framework ids
}

type memAgent struct {
	state       AgentState
	unreachable time.Time
	secret      []byte // digest of the agent's secret
}

// NewMemRegistry returns an empty in-memory registry. Like the core, it
// is not safe for concurrent use.
func NewMemRegistry() *MemRegistry {
	return &MemRegistry{agents: map[string]memAgent{}, removed: map[string]struct{}{}}
}

// AdmitAgent implements Registry.
func (r *MemRegistry) AdmitAgent(info *mesospb.AgentInfo) error {
	id := info.GetId().GetValue()
	r.agents[id] = memAgent{state: AgentAdmitted, secret: r.agents[id].secret}
	return nil
}

// MarkUnreachable implements Registry.
func (r *MemRegistry) MarkUnreachable(agentID string, at time.Time) error {
	r.agents[agentID] = memAgent{state: AgentUnreachable, unreachable: at, secret: r.agents[agentID].secret}
	return nil
}

// RemoveAgent implements Registry.
func (r *MemRegistry) RemoveAgent(agentID string) error {
	r.agents[agentID] = memAgent{state: AgentGone, secret: r.agents[agentID].secret}
	return nil
}

// SetAgentSecret implements Registry.
func (r *MemRegistry) SetAgentSecret(agentID string, digest []byte) error {
	a, ok := r.agents[agentID]
	if !ok || a.state == AgentGone {
		return fmt.Errorf("agent %s is not admitted", agentID)
	}
	a.secret = digest
	r.agents[agentID] = a
	return nil
}

// AgentSecret implements Registry.
func (r *MemRegistry) AgentSecret(agentID string) []byte { return r.agents[agentID].secret }

// AgentState implements Registry.
func (r *MemRegistry) AgentState(agentID string) AgentState { return r.agents[agentID].state }

// RemoveFramework implements Registry.
func (r *MemRegistry) RemoveFramework(frameworkID string) error {
	r.removed[frameworkID] = struct{}{}
	return nil
}

// AddFramework implements Registry: an in-memory registry recovers
// nothing, so it keeps no framework records.
func (r *MemRegistry) AddFramework(*mesospb.FrameworkInfo) error { return nil }

// DisconnectFramework implements Registry (see AddFramework).
func (r *MemRegistry) DisconnectFramework(string, time.Time) error { return nil }

// FrameworkRemoved implements Registry.
func (r *MemRegistry) FrameworkRemoved(frameworkID string) bool {
	_, ok := r.removed[frameworkID]
	return ok
}
