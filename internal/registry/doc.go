// Package registry is the master's durable, replicated registry: what
// Mesos keeps in its replicated log (admitted, unreachable and gone agents,
// weights, quota, the maintenance schedule, operator reservations) plus,
// beyond Mesos, the frameworks with their failover deadlines, so that a
// framework's failover timeout survives a master failover (MESOS-4659).
// Tasks and executors are not here: a new leader rebuilds them from the
// agents' re-registrations, as Mesos does.
//
// # The state machine
//
// State is pure and deterministic: Apply(command) reads only the command
// and the state; no clock, no random source, no I/O. The proposer chooses
// every time and id a command carries. Commands are registrypb.Command
// messages (api/proto/meso/registry/v1/registry.proto) whose types are
// appended and never renumbered. Mesos messages travel and rest as the
// bytes the proposer serialized, so replicas hold byte-identical state
// whatever protobuf version built them. A failing command (ErrAgentGone,
// ErrInvalidCommand, ...) changes nothing, on every replica alike. A BATCH
// entry (ProposeBatch) carries several commands that apply in order, each
// on its own: a batch saves fsyncs, it is not a transaction.
//
// The life cycles:
//
//	agent:     unknown -admit-> admitted -unreachable-> unreachable -admit-> admitted
//	           admitted|unreachable -gone-> gone (never admitted again)
//	           unreachable|gone -prune-> unknown
//	framework: unknown -put-> active -disconnect(deadline)-> disconnected -put-> active
//	           any -remove-> removed (never put again) -prune-> unknown
//
// Repeating a mark (unreachable, gone, remove) is a no-op that keeps the
// first time, so a proposal retried after an uncertain outcome is
// harmless. MarshalSnapshot encodes the whole state with every list sorted
// by key: one state, one encoding.
//
// # The raft adapter
//
// Open runs one member of a hashicorp/raft group: the log and raft's
// stable store in Dir/raft.db (bbolt, through raft-boltdb/v2, fsync per
// write batch; ErrLocked when another process holds it), snapshots in Dir/snapshots (file store, two kept), TCP on
// Bind. Without Peers the group is this server alone (a single master
// keeps everything across restarts); with Peers, every listed server
// bootstraps the same configuration on first start (a fresh Dir) and
// later starts recover from Dir.
//
// Writes (Propose, ProposeBatch and the typed methods, whose commands the
// ...Command functions build) go to the leader only
// (ErrNotLeader elsewhere: nothing was proposed) and return after the
// command committed on a quorum and was applied locally, with the
// command's own error. ErrLeadershipLost and a context that ends first
// leave the outcome unknown: the command may still commit.
//
// Reads (Read, State) see the local state. A follower's may lag the
// leader; a new leader's may lag until its first Barrier. On the leader,
// a read after Barrier returned nil reflects every write committed before
// it. LeaderChanges tells of each new leader (newest only), for the
// master's redirects (307 to the leader, 503 while none is known).
//
// Package coreregistry adapts a Registry to the master core's Registry
// interface.
package registry
