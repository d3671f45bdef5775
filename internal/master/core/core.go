package core

import (
	"cmp"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/internal/allocator"
)

// Errors returned by the inputs of Core. The shell maps them to HTTP
// statuses; the messages are fit for a response body.
var (
	// ErrInvalid: a malformed call or registration (400).
	ErrInvalid = errors.New("invalid call")
	// ErrForbidden: the framework is unknown or not subscribed (403).
	ErrForbidden = errors.New("forbidden")
	// ErrStream: the Mesos-Stream-Id header is missing or is not the
	// framework's current stream (400).
	ErrStream = errors.New("bad stream id")
	// ErrStaleLink: the agent call names a link that is not the agent's
	// current session (409: the agent must register again).
	ErrStaleLink = errors.New("stale link")
	// ErrNotFound: an operator call names an agent the master does not
	// know (404).
	ErrNotFound = errors.New("not found")
)

// Defaults, the Mesos ones.
const (
	DefaultHeartbeatInterval    = 15 * time.Second
	DefaultAllocationInterval   = time.Second
	DefaultAgentPingTimeout     = 15 * time.Second
	DefaultMaxAgentPingTimeouts = 5
	// DefaultMaxCompletedFrameworks is --max_completed_frameworks.
	DefaultMaxCompletedFrameworks = 50
	// DefaultMaxCompletedTasks is --max_completed_tasks_per_framework.
	DefaultMaxCompletedTasks = 1000
)

// Config configures a Core. Zero values mean the Mesos defaults.
type Config struct {
	// MasterInfo describes this master (id, ip, port, hostname, version);
	// it goes into SUBSCRIBED and REGISTERED. Its id prefixes every id the
	// core assigns (frameworks, agents, offers). Required.
	MasterInfo *mesospb.MasterInfo

	HeartbeatInterval    time.Duration // heartbeat_interval_seconds in SUBSCRIBED
	AllocationInterval   time.Duration // --allocation_interval
	AgentPingTimeout     time.Duration // --agent_ping_timeout
	MaxAgentPingTimeouts int           // --max_agent_ping_timeouts
	// OfferTimeout rescinds offers not answered within it (--offer_timeout);
	// zero means never.
	OfferTimeout time.Duration

	MaxCompletedFrameworks int // --max_completed_frameworks
	MaxCompletedTasks      int // --max_completed_tasks_per_framework

	// AgentReregisterTimeout is how long after Recover agents may
	// re-register before they are marked unreachable
	// (--agent_reregister_timeout).
	AgentReregisterTimeout time.Duration
	// RecoveryAgentRemovalLimit is the largest fraction (0 to 1) of the
	// recovered agents that may be marked unreachable for not
	// re-registering (--recovery_agent_removal_limit).
	RecoveryAgentRemovalLimit float64

	Allocator allocator.Config
	// Registry admits agents durably; nil means an in-memory one.
	Registry Registry
	// DurableFrameworks says the Registry records every framework that
	// subscribes (the replicated registry does, the in-memory one is
	// forgotten by a restart). Then a SUBSCRIBE naming a framework id that
	// neither the registry (see Recover) nor an agent's report vouches for
	// is refused; otherwise it is accepted as a failover to a new master,
	// as Mesos does.
	DurableFrameworks bool
	// AuthorizeTask, when set, decides whether a framework may run a
	// task as the user it would run as (the run_tasks ACL); a refusal
	// answers the task TASK_ERROR with REASON_TASK_UNAUTHORIZED
	// (REASON_TASK_GROUP_UNAUTHORIZED for every task of a group) and
	// the error's message. It must be a pure function of its arguments.
	AuthorizeTask func(fw *mesospb.FrameworkInfo, task *mesospb.TaskInfo, executor *mesospb.ExecutorInfo) error
	// AuthorizeOperation, when set, decides whether a framework's
	// principal may apply a RESERVE, UNRESERVE, CREATE or DESTROY of an
	// ACCEPT (the reserve_resources ACL and the others); a refusal drops
	// the operation (OPERATION_ERROR when it has an id). Pure, like
	// AuthorizeTask.
	AuthorizeOperation func(principal string, op *mesospb.Offer_Operation) error
	// Logger receives warnings about dropped calls; nil discards.
	Logger *slog.Logger
}

func (cfg *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.HeartbeatInterval, DefaultHeartbeatInterval)
	def(&cfg.AllocationInterval, DefaultAllocationInterval)
	def(&cfg.AgentPingTimeout, DefaultAgentPingTimeout)
	def(&cfg.AgentReregisterTimeout, DefaultAgentReregisterTimeout)
	if cfg.RecoveryAgentRemovalLimit <= 0 || cfg.RecoveryAgentRemovalLimit > 1 {
		cfg.RecoveryAgentRemovalLimit = DefaultRecoveryAgentRemovalLimit
	}
	if cfg.MaxAgentPingTimeouts <= 0 {
		cfg.MaxAgentPingTimeouts = DefaultMaxAgentPingTimeouts
	}
	if cfg.MaxCompletedFrameworks <= 0 {
		cfg.MaxCompletedFrameworks = DefaultMaxCompletedFrameworks
	}
	if cfg.MaxCompletedTasks <= 0 {
		cfg.MaxCompletedTasks = DefaultMaxCompletedTasks
	}
	if cfg.Registry == nil {
		cfg.Registry = NewMemRegistry()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
}

// Ready holds the outputs accumulated since the last call to Ready, in the
// order they were produced. The shell must deliver them in that order.
// Messages in it are never modified by the core afterwards.
type Ready struct {
	// Events go to framework streams.
	Events []FrameworkEvent
	// Messages go to agent links.
	Messages []AgentMessage
	// CloseStreams lists framework streams to end (after their events).
	CloseStreams []string
	// CloseLinks lists agent links to end (after their messages).
	CloseLinks []string
	// Operator holds the events of the operator SUBSCRIBE streams.
	Operator []OperatorEvent
}

// FrameworkEvent is an event for the framework stream Stream.
type FrameworkEvent struct {
	Stream string
	Event  *schedulerpb.Event
}

// AgentMessage is a message for the agent link Link.
type AgentMessage struct {
	Link  string
	Event *linkpb.MasterEvent
}

// Empty reports whether there is nothing to deliver.
func (r *Ready) Empty() bool {
	return len(r.Events) == 0 && len(r.Messages) == 0 && len(r.CloseStreams) == 0 && len(r.CloseLinks) == 0 &&
		len(r.Operator) == 0
}

// Core is the master's state machine. It is not safe for concurrent use:
// one owner (the shell's loop) calls it.
type Core struct {
	cfg      Config
	masterID string
	alloc    *allocator.Allocator
	log      *slog.Logger
	started  time.Time

	frameworks map[string]*framework // by id
	// maint: the maintenance schedule, machine modes and agent drains
	// (maintenance.go, drain.go); drainCheck: a draining agent may have
	// drained (Tick checks).
	maint      maintenance
	drainCheck bool
	// inverse: the inverse offers of maintenance (inverse.go).
	inverse inverseBooks
	// failingOver holds the disconnected frameworks whose failover
	// timeout runs.
	failingOver map[string]*framework
	streams     map[string]*framework // by current stream id
	completed   []*framework          // removed frameworks, oldest first
	agents      map[string]*agent     // by id
	links       map[string]*agent     // by current link id
	offers      map[string]*offer     // by offer id
	operators   map[string]bool       // operator SUBSCRIBE streams, by shell id

	// agentOrder is agents sorted by id, for state queries; nil once an
	// agent was added or removed (agentAdded, agentRemoved), rebuilt by
	// the next query (agentSnaps).
	agentOrder []*agent

	// recovering holds the agents recovered from the registry that have
	// not re-registered yet; they are marked unreachable at
	// reregisterDeadline (zero: never).
	recovering         map[string]*mesospb.AgentInfo
	recoveredAgents    int
	reregisterDeadline time.Time
	// heldAcks are acknowledgements for recovered agents still to
	// re-register, by agent id, oldest first (at most maxHeldAcks per
	// agent): sent when the agent re-registers, so that an
	// acknowledgement made right after a failover is not lost (the agent
	// would send the update again, but only once per retry interval).
	heldAcks map[string][]*linkpb.MasterEvent_Acknowledge

	nextFrameworkNum uint64
	nextAgentNum     uint64
	nextOfferNum     uint64
	// conflicts says why optimistic offers were rescinded (conflicts.go),
	// by offer id; conflictOrder is their ids, oldest first.
	conflicts     map[string]string
	conflictOrder []string
	pingSeq       uint64
	heldSeq       uint64 // last task.heldSeq given
	uuidSeq       uint64 // uuids made by newUUID
	// recGen is the generation of task records: a task's record made in
	// the current one (task.recGen) is not shared yet and may be modified
	// in place; every state query's snapshot starts a new one (taskviews.go).
	recGen uint64

	nextAllocation time.Time
	allocateSoon   bool
	nextPing       time.Time

	out     Ready
	metrics counters
	resv    reservationBook // dynamic reservations and volumes (reservations.go)
}

// New returns a core with no agents or frameworks; now is the master's
// start time.
func New(cfg Config, now time.Time) (*Core, error) {
	if cfg.MasterInfo == nil || cfg.MasterInfo.GetId() == "" {
		return nil, fmt.Errorf("%w: config needs a MasterInfo with an id", ErrInvalid)
	}
	cfg.setDefaults()
	return &Core{
		cfg:            cfg,
		masterID:       cfg.MasterInfo.GetId(),
		alloc:          allocator.New(cfg.Allocator),
		log:            cfg.Logger,
		started:        now,
		recGen:         1,
		frameworks:     map[string]*framework{},
		streams:        map[string]*framework{},
		failingOver:    map[string]*framework{},
		agents:         map[string]*agent{},
		links:          map[string]*agent{},
		offers:         map[string]*offer{},
		operators:      map[string]bool{},
		recovering:     map[string]*mesospb.AgentInfo{},
		maint:          newMaintenance(),
		heldAcks:       map[string][]*linkpb.MasterEvent_Acknowledge{},
		nextAllocation: now.Add(cfg.AllocationInterval),
		nextPing:       now.Add(cfg.AgentPingTimeout),
		metrics: counters{
			calls:    map[schedulerpb.Call_Type]uint64{},
			terminal: map[mesospb.TaskState]uint64{},
		},
	}, nil
}

// Ready returns and clears the accumulated outputs.
func (c *Core) Ready() Ready {
	r := c.out
	c.out = Ready{}
	return r
}

// HeartbeatInterval is the interval announced in SUBSCRIBED; the shell
// sends HEARTBEAT events at this pace on every stream.
func (c *Core) HeartbeatInterval() time.Duration { return c.cfg.HeartbeatInterval }

// Tick does the work that is due at now: framework failover timeouts,
// agent pings and liveness, offer timeouts, and an allocation cycle. It
// reports whether an allocation cycle ran.
func (c *Core) Tick(now time.Time) (allocated bool) {
	if c.drainCheck {
		c.drainCheck = false
		c.finishDrains(now)
	}
	c.expireFailovers(now)
	c.expireRecovery(now)
	if !now.Before(c.nextPing) {
		c.pingAgents(now)
		c.nextPing = now.Add(c.cfg.AgentPingTimeout)
	}
	c.expireOffers(now)
	if c.allocateSoon || !now.Before(c.nextAllocation) {
		c.sendInverseOffers(now)
		c.allocate(now)
		c.allocateSoon = false
		c.nextAllocation = now.Add(c.cfg.AllocationInterval)
		return true
	}
	return false
}

// NextTick is when Tick next has work to do. It may be in the past (call
// Tick at once).
func (c *Core) NextTick() time.Time {
	next := c.nextPing
	if c.allocateSoon {
		return c.started // the past: allocate now
	}
	next = earliest(next, c.nextAllocation)
	if len(c.recovering) > 0 && !c.reregisterDeadline.IsZero() {
		next = earliest(next, c.reregisterDeadline)
	}
	for _, fw := range c.failingOver {
		next = earliest(next, fw.failoverDeadline)
	}
	if c.cfg.OfferTimeout > 0 {
		for _, o := range c.offers {
			next = earliest(next, o.created.Add(c.cfg.OfferTimeout))
		}
	}
	return next
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// send queues an event for a framework's stream; it is dropped when the
// framework is not connected (Mesos drops too; status updates are retried
// by agents).
func (c *Core) send(fw *framework, ev *schedulerpb.Event) {
	if fw == nil || !fw.connected() {
		return
	}
	c.out.Events = append(c.out.Events, FrameworkEvent{Stream: fw.stream, Event: ev})
	c.metrics.eventsSent++
}

// sendAgent queues a message for an agent's link; dropped when the agent is
// not connected.
func (c *Core) sendAgent(ag *agent, ev *linkpb.MasterEvent) {
	if ag == nil || ag.link == "" {
		return
	}
	c.out.Messages = append(c.out.Messages, AgentMessage{Link: ag.link, Event: ev})
}

// sortedKeys returns the keys of m in order, for deterministic output.
func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	return slices.Sorted(maps.Keys(m))
}

func (c *Core) frameworkID(n uint64) string { return fmt.Sprintf("%s-%04d", c.masterID, n) }
func (c *Core) agentID(n uint64) string     { return fmt.Sprintf("%s-S%d", c.masterID, n) }
func (c *Core) offerID(n uint64) string     { return fmt.Sprintf("%s-O%d", c.masterID, n) }

// newUUID makes the uuid of a status update the master generates and
// expects acknowledged. It is derived from the master id and a counter, so
// the core stays deterministic; ids of different masters differ (the shell
// gives every master run a random id). Version 8 (custom) UUID bits are set.
func (c *Core) newUUID() []byte {
	c.uuidSeq++
	sum := sha256.Sum256(fmt.Appendf(nil, "%s/status-update/%d", c.masterID, c.uuidSeq))
	u := sum[:16]
	u[6] = u[6]&0x0f | 0x80
	u[8] = u[8]&0x3f | 0x80
	return u
}

// timestamp is a TaskStatus timestamp: seconds since the epoch.
func timestamp(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
