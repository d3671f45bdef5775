package mesosbackend

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/resources"
)

// MaxAgentFailures is Spark's MAX_SLAVE_FAILURES: an agent where this many
// executors failed (or were lost) is not used again.
const MaxAgentFailures = 2

// Unlimited as a target means as many executors as spark.cores.max allows.
const Unlimited = -1

const (
	// DefaultShortageInterval is how long offers must have been too small
	// before the core reports a Shortage, and how often it repeats.
	DefaultShortageInterval = 30 * time.Second
	// killRetryInterval is how long a killed executor may go without a
	// terminal update before its KILL is sent again.
	killRetryInterval = 10 * time.Second
)

// ErrUnknownExecutor: Kill named an executor that is not alive.
var ErrUnknownExecutor = errors.New("mesosbackend: unknown executor")

// Offer is what the core needs of a Mesos offer: whole and fractional cpus
// and memory usable by the framework, and the agent's attributes.
type Offer struct {
	ID, Agent, Hostname string
	CPUs                float64
	MemMiB              float64
	Attributes          resources.Attributes
}

// Phase is where an executor task is in its life.
type Phase int

// Phases. Staging covers TASK_STAGING and TASK_STARTING; Running covers
// TASK_RUNNING and TASK_KILLING; the rest are terminal, with Spark's
// classification of Mesos states: Failed (TASK_FAILED, TASK_GONE,
// TASK_GONE_BY_OPERATOR), Lost (TASK_LOST, TASK_ERROR, TASK_DROPPED,
// TASK_UNKNOWN, TASK_UNREACHABLE), Killed, Finished.
const (
	Staging Phase = iota
	Running
	Finished
	Killed
	Failed
	Lost
)

var phaseNames = [...]string{"staging", "running", "finished", "killed", "failed", "lost"}

func (p Phase) String() string {
	if p >= 0 && int(p) < len(phaseNames) {
		return phaseNames[p]
	}
	return fmt.Sprintf("phase(%d)", int(p))
}

// Terminal reports whether p is an end state.
func (p Phase) Terminal() bool { return p >= Finished }

// PhaseOf classifies a Mesos task state.
func PhaseOf(s mesospb.TaskState) Phase {
	switch s {
	case mesospb.TaskState_TASK_STAGING, mesospb.TaskState_TASK_STARTING:
		return Staging
	case mesospb.TaskState_TASK_RUNNING, mesospb.TaskState_TASK_KILLING:
		return Running
	case mesospb.TaskState_TASK_FINISHED:
		return Finished
	case mesospb.TaskState_TASK_KILLED:
		return Killed
	case mesospb.TaskState_TASK_FAILED, mesospb.TaskState_TASK_GONE, mesospb.TaskState_TASK_GONE_BY_OPERATOR:
		return Failed
	}
	return Lost
}

// Executor is one executor task: its sizes, where it runs and its phase.
type Executor struct {
	ID, Agent, Hostname string
	CPUs                int // cpus asked from Mesos
	MemMiB              int // memory asked from Mesos (executor memory + overhead)
	Slots               int // task slots it advertises: CPUs + spark.mesos.extra.cores
	Phase               Phase
	Killing             bool // a kill was asked (by Kill or Stop)
}

// Launch asks to accept an offer and start executors on it.
type Launch struct {
	OfferID   string
	Executors []Executor
}

// Reason says why an offer was declined.
type Reason string

// Decline reasons.
const (
	ReasonUnmetConstraints Reason = "unmet-constraints"
	ReasonMaxCores         Reason = "max-cores"
	ReasonTargetReached    Reason = "target-reached"
	ReasonTooSmall         Reason = "too-small"
	ReasonBlacklisted      Reason = "blacklisted"
	ReasonStopping         Reason = "stopping"
)

// Decline asks to decline an offer with a refuse filter; Filter 0 means no
// filter (the master's default, 5 s in Mesos).
type Decline struct {
	OfferID string
	Filter  time.Duration
	Reason  Reason
}

// Kill asks to kill an executor task.
type Kill struct{ ExecutorID, Agent string }

// EventType says what happened to an executor.
type EventType int

// Event types.
const (
	// EventLaunched: the executor task was sent to Mesos in an ACCEPT.
	EventLaunched EventType = iota
	// EventRunning: Mesos reported TASK_RUNNING.
	EventRunning
	// EventExited: the task reached a terminal state (Event.State says
	// which).
	EventExited
	// EventShortage: offers keep coming but none is big enough for an
	// executor (Event.Shortage says what is short); sent by the shell.
	EventShortage
)

func (t EventType) String() string {
	switch t {
	case EventLaunched:
		return "launched"
	case EventRunning:
		return "running"
	case EventExited:
		return "exited"
	case EventShortage:
		return "shortage"
	}
	return fmt.Sprintf("event(%d)", int(t))
}

// Event is a change in an executor's life, for the driver.
type Event struct {
	Type     EventType
	Executor Executor
	// State, Reason and Message are the Mesos status that caused Running or
	// Exited (e.g. TASK_FAILED, REASON_COMMAND_EXECUTOR_FAILED, "exited
	// with status 1"); empty for Launched.
	State   string
	Reason  string
	Message string
	// Shortage is set for EventShortage only.
	Shortage *Shortage
}

// Shortage reports that offers kept arriving but none was big enough for an
// executor: what one needs, and the most cpus and memory any offer had.
type Shortage struct {
	NeedCPUs   int
	NeedMemMiB int
	MaxCPUs    float64
	MaxMemMiB  float64
	Offers     int      // too-small offers seen since the last report
	Short      []string // resources no offer had enough of ("cpus", "mem")
	Since      time.Time
}

func (s Shortage) String() string {
	msg := fmt.Sprintf("no offer big enough for an executor: need cpus %d, mem %d MiB; %d offers since %s had at most cpus %g, mem %g MiB",
		s.NeedCPUs, s.NeedMemMiB, s.Offers, s.Since.UTC().Format(time.RFC3339), s.MaxCPUs, s.MaxMemMiB)
	if len(s.Short) == 0 {
		return msg + " (never both in one offer)"
	}
	return msg + " (short of " + strings.Join(s.Short, " and ") + ")"
}

// Ready is what the core decided since the last call to Ready, for the
// shell to carry out in this order: Launch, Decline, Kill, then
// Suppress/Revive (at most one of them), and to hand Events to the driver.
type Ready struct {
	Launch   []Launch
	Decline  []Decline
	Kill     []Kill
	Suppress bool
	Revive   bool
	Events   []Event
	Shortage *Shortage
}

// Status is the part of a Mesos status update the core reads.
type Status struct {
	ExecutorID string
	Agent      string
	State      mesospb.TaskState
	Reason     string
	Message    string
}

// Core is the pure offer-matching and executor-tracking state machine of
// the coarse-grained backend. It has no goroutines, clock or I/O: time is
// an argument, and decisions accumulate until Ready collects them. It is not
// safe for concurrent use; the shell owns it.
type Core struct {
	s        Settings
	maxCores int // spark.cores.max rounded down to a multiple of minCores
	minCores int // cpus of the smallest executor that can start
	target   int // wanted executors; Unlimited for as many as maxCores allows

	nextID     int
	live       map[string]*Executor // staging and running executors by id
	order      []string             // live ids in launch order
	cores      int                  // cpus held by live executors
	failures   map[string]int       // agent -> failed or lost executors
	killSentAt map[string]time.Time // executor -> when its KILL was last sent

	stopped    bool
	suppressed bool // what the master was last told

	shortage         *Shortage // the current too-small window, nil when none
	shortageInterval time.Duration

	ready Ready
}

// NewCore returns a core for s wanting s.InitialTarget executors.
func NewCore(s Settings) *Core {
	c := &Core{
		s:          s,
		minCores:   max(1, s.ExecutorCores),
		target:     max(Unlimited, s.InitialTarget),
		live:       map[string]*Executor{},
		failures:   map[string]int{},
		killSentAt: map[string]time.Time{},

		shortageInterval: DefaultShortageInterval,
	}
	c.maxCores = math.MaxInt32
	if s.CoresMax > 0 {
		c.maxCores = s.CoresMax
	}
	c.maxCores -= c.maxCores % c.minCores
	return c
}

// SetShortageInterval changes DefaultShortageInterval (d > 0).
func (c *Core) SetShortageInterval(d time.Duration) {
	if d > 0 {
		c.shortageInterval = d
	}
}

// SetTarget sets how many executors are wanted (Unlimited, or n >= 0). A
// lower target does not kill anything: call Kill for executors to drop.
func (c *Core) SetTarget(n int) {
	if n < 0 {
		n = Unlimited
	}
	c.target = n
}

// Target returns the wanted executor count (Unlimited when not capped).
func (c *Core) Target() int { return c.target }

// CoresInUse returns the cpus held by staging and running executors.
func (c *Core) CoresInUse() int { return c.cores }

// Executors returns the live (staging and running) executors in launch
// order.
func (c *Core) Executors() []Executor {
	out := make([]Executor, 0, len(c.order))
	for _, id := range c.order {
		out = append(out, *c.live[id])
	}
	return out
}

// Blacklisted reports whether agent has had MaxAgentFailures failures.
func (c *Core) Blacklisted(agent string) bool { return c.failures[agent] >= MaxAgentFailures }

// Stopped reports whether Stop was called; Done whether, in addition, no
// executor is alive any more.
func (c *Core) Stopped() bool { return c.stopped }
func (c *Core) Done() bool    { return c.stopped && len(c.live) == 0 }

// Subscribed tells the core a (new) subscription is up: the master has
// forgotten any suppression, so the next Ready suppresses again if nothing
// is wanted.
func (c *Core) Subscribed() { c.suppressed = false }

// wants reports whether another executor could be launched at all.
func (c *Core) wants() bool {
	return !c.stopped && (c.target == Unlimited || len(c.live) < c.target) &&
		c.cores+c.minCores <= c.maxCores
}

// executorCores is the cpus of the next executor on an offer with
// offerCPUs whole cpus left.
func (c *Core) executorCores(offerCPUs int) int {
	if c.s.ExecutorCores > 0 {
		return c.s.ExecutorCores
	}
	return min(offerCPUs, c.maxCores-c.cores)
}

type offerLeft struct {
	cpus int     // whole cpus left
	mem  float64 // MiB left
	ok   bool    // may be used (constraints, blacklist, not stopping)
	used []Executor
}

// canLaunch is Spark's test for one more executor on what is left of an
// offer.
func (c *Core) canLaunch(l *offerLeft) bool {
	cpus := c.executorCores(l.cpus)
	return l.ok && cpus > 0 && cpus <= l.cpus && c.cores+cpus <= c.maxCores &&
		float64(c.s.MemoryMiB()) <= l.mem &&
		(c.target == Unlimited || len(c.live) < c.target)
}

// Offers decides on a batch of offers at now: executors are placed round
// robin over the usable offers (one per offer per round, as Spark does), so
// several land on one agent only when spark.executor.cores leaves room;
// offers left unused are declined with the filter their reason calls for.
func (c *Core) Offers(now time.Time, offers []Offer) {
	left := make([]offerLeft, len(offers))
	for i, o := range offers {
		left[i] = offerLeft{
			cpus: int(math.Floor(max(0, o.CPUs))),
			mem:  o.MemMiB,
			ok:   !c.stopped && c.s.Constraints.Match(o.Attributes) && !c.Blacklisted(o.Agent),
		}
	}
	for placed := true; placed; {
		placed = false
		for i := range offers {
			l := &left[i]
			if !c.canLaunch(l) {
				continue
			}
			placed = true
			cpus := c.executorCores(l.cpus)
			e := &Executor{
				ID: fmt.Sprintf("e%d", c.nextID), Agent: offers[i].Agent, Hostname: offers[i].Hostname,
				CPUs: cpus, MemMiB: c.s.MemoryMiB(), Slots: cpus + c.s.ExtraCores, Phase: Staging,
			}
			c.nextID++
			l.cpus -= cpus
			l.mem -= float64(e.MemMiB)
			c.live[e.ID] = e
			c.order = append(c.order, e.ID)
			c.cores += cpus
			l.used = append(l.used, *e)
			c.ready.Events = append(c.ready.Events, Event{Type: EventLaunched, Executor: *e})
		}
	}
	for i, o := range offers {
		if len(left[i].used) > 0 {
			c.ready.Launch = append(c.ready.Launch, Launch{OfferID: o.ID, Executors: left[i].used})
			c.shortage = nil
			continue
		}
		d := c.decline(o)
		if d.Reason == ReasonTooSmall {
			c.noteShortage(now, o)
		}
		c.ready.Decline = append(c.ready.Decline, d)
	}
}

// decline picks the reason and filter for an offer that got no executor.
func (c *Core) decline(o Offer) Decline {
	d := Decline{OfferID: o.ID}
	switch {
	case c.stopped:
		d.Reason, d.Filter = ReasonStopping, c.s.RejectOfferDuration
	case !c.s.Constraints.Match(o.Attributes):
		d.Reason, d.Filter = ReasonUnmetConstraints, c.s.RejectUnmetConstraints
	case c.Blacklisted(o.Agent):
		d.Reason, d.Filter = ReasonBlacklisted, c.s.RejectOfferDuration
	case c.cores+c.minCores > c.maxCores:
		d.Reason, d.Filter = ReasonMaxCores, c.s.RejectReachedMaxCores
	case c.target != Unlimited && len(c.live) >= c.target:
		d.Reason, d.Filter = ReasonTargetReached, c.s.RejectOfferDuration
	default:
		d.Reason = ReasonTooSmall // Spark declines these with the master's default filter
	}
	return d
}

func (c *Core) noteShortage(now time.Time, o Offer) {
	if c.shortage == nil {
		c.shortage = &Shortage{NeedCPUs: c.minCores, NeedMemMiB: c.s.MemoryMiB(), Since: now}
	}
	sh := c.shortage
	sh.Offers++
	sh.MaxCPUs = max(sh.MaxCPUs, o.CPUs)
	sh.MaxMemMiB = max(sh.MaxMemMiB, o.MemMiB)
}

// Update applies a status update for an executor task at now. Terminal
// updates for unknown or already ended executors are ignored (they still
// need an acknowledgement, which is the shell's business); a task alive that
// the core does not track (its ACCEPT seemed to fail, or it is from an
// earlier incarnation of the framework) is killed, so that no executor runs
// unsupervised.
func (c *Core) Update(now time.Time, st Status) {
	p := PhaseOf(st.State)
	e, ok := c.live[st.ExecutorID]
	if !ok {
		if !p.Terminal() && st.Agent != "" {
			c.ready.Kill = append(c.ready.Kill, Kill{ExecutorID: st.ExecutorID, Agent: st.Agent})
		}
		return
	}
	switch {
	case p == Running && e.Phase == Staging:
		e.Phase = Running
		c.ready.Events = append(c.ready.Events, Event{Type: EventRunning, Executor: *e,
			State: st.State.String(), Reason: st.Reason, Message: st.Message})
	case p.Terminal():
		c.end(e, p, st.State.String(), st.Reason, st.Message)
	}
}

// LaunchFailed ends an executor whose ACCEPT could not be delivered (the
// call failed): it is counted as lost, but not against its agent.
func (c *Core) LaunchFailed(id, message string) {
	if e, ok := c.live[id]; ok {
		e.Killing = true // not the agent's fault
		c.end(e, Lost, mesospb.TaskState_TASK_DROPPED.String(), "", message)
	}
}

func (c *Core) end(e *Executor, p Phase, state, reason, msg string) {
	e.Phase = p
	delete(c.live, e.ID)
	c.order = slices.DeleteFunc(c.order, func(id string) bool { return id == e.ID })
	delete(c.killSentAt, e.ID)
	c.cores -= e.CPUs
	if (p == Failed || p == Lost) && !e.Killing {
		c.failures[e.Agent]++
	}
	c.ready.Events = append(c.ready.Events, Event{Type: EventExited, Executor: *e, State: state, Reason: reason, Message: msg})
}

// Kill asks for one executor to be killed at now. It stays counted (and its
// cpus held) until its terminal update; lower the target first to keep it
// from being replaced.
func (c *Core) Kill(now time.Time, id string) error {
	e, ok := c.live[id]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownExecutor, id)
	}
	c.kill(now, e)
	return nil
}

func (c *Core) kill(now time.Time, e *Executor) {
	e.Killing = true
	c.killSentAt[e.ID] = now
	c.ready.Kill = append(c.ready.Kill, Kill{ExecutorID: e.ID, Agent: e.Agent})
}

// Stop kills every live executor and declines every later offer.
func (c *Core) Stop(now time.Time) {
	if c.stopped {
		return
	}
	c.stopped = true
	for _, id := range c.order {
		c.kill(now, c.live[id])
	}
}

// Tick advances time: it resends kills that got no terminal update within
// killRetryInterval and reports a shortage that has lasted the shortage
// interval.
func (c *Core) Tick(now time.Time) {
	for _, id := range c.order {
		if at, ok := c.killSentAt[id]; ok && now.Sub(at) >= killRetryInterval {
			c.kill(now, c.live[id])
		}
	}
	if sh := c.shortage; sh != nil && now.Sub(sh.Since) >= c.shortageInterval {
		if sh.MaxCPUs < float64(sh.NeedCPUs) {
			sh.Short = append(sh.Short, "cpus")
		}
		if sh.MaxMemMiB < float64(sh.NeedMemMiB) {
			sh.Short = append(sh.Short, "mem")
		}
		c.ready.Shortage = sh
		c.shortage = nil
	}
}

// Ready returns the decisions made since the last call and clears them,
// adding SUPPRESS when nothing more is wanted and REVIVE when executors are
// wanted again.
func (c *Core) Ready() Ready {
	want := c.wants()
	switch {
	case !want && !c.suppressed:
		c.ready.Suppress, c.suppressed = true, true
		c.shortage = nil
	case want && c.suppressed:
		c.ready.Revive, c.suppressed = true, false
	}
	r := c.ready
	c.ready = Ready{}
	return r
}
