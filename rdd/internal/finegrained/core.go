package finegrained

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/resources"
)

// MaxAgentFailures is how many executor incarnations may fail (or be lost)
// on an agent before it is not used again (Spark's MAX_SLAVE_FAILURES, as
// in coarse mode).
const MaxAgentFailures = 2

// Settings size executors and tasks.
type Settings struct {
	ExecutorCPUs   float64       // spark.mesos.mesosExecutor.cores (1.0)
	ExecutorMemMiB float64       // spark.executor.memory + overhead
	TaskCPUs       float64       // spark.task.cpus (1)
	RejectFor      time.Duration // spark.mesos.rejectOfferDuration: decline filter when idle
	// Constraints is spark.mesos.constraints: offers of agents whose
	// attributes do not match are declined with RejectUnmet
	// (spark.mesos.rejectOfferDurationForUnmetConstraints).
	Constraints resources.Constraints
	RejectUnmet time.Duration
}

// Offer is the part of a Mesos offer the core decides on.
type Offer struct {
	ID, Agent, Hostname string
	CPUs, MemMiB        float64
	Attributes          resources.Attributes
}

// Status is a task's Mesos status update.
type Status struct {
	TaskID   string
	State    mesospb.TaskState
	Reason   mesospb.TaskStatus_Reason
	Message  string
	Data     []byte
	Executor string // the executor the agent says ran it (may be empty)
}

// Launch starts tasks on one offer's agent, inside Executor; NewExecutor
// says the executor has to be started with them (and takes its resources).
type Launch struct {
	OfferID, Agent, Hostname string
	Executor                 string
	NewExecutor              bool
	Tasks                    []string
}

// Decline gives an offer back; Filter 0 means the master's default.
type Decline struct {
	OfferID string
	Filter  time.Duration
}

// Kill asks the agent to kill a running task.
type Kill struct{ Task, Agent string }

// End is a task's terminal update.
type End struct {
	Task     string
	Executor string
	Status   Status
}

// Ready is what the shell carries out, in this order.
type Ready struct {
	Launch   []Launch
	Decline  []Decline
	Kill     []Kill
	Suppress bool
	Revive   bool
	Ended    []End
	// Gone lists executor incarnations that ended.
	Gone []string
	// Reconcile lists the running tasks to ask the master about (after a
	// re-subscription: updates sent meanwhile may be lost).
	Reconcile []Kill
	// Exhausted is set, once, when tasks wait but every agent offers came
	// from is blacklisted and nothing runs: no task would launch again
	// (coarse mode gives up the same way). It says why.
	Exhausted string
}

type agent struct {
	incarnation int
	live        string // the live executor's id ("" when none)
	failures    int    // executor incarnations that failed or were lost
}

type running struct {
	agent, executor string
}

// Core is the fine-grained scheduler's state machine.
type Core struct {
	s          Settings
	pending    []string
	queued     map[string]bool    // pending, by id
	running    map[string]running // launched, not ended
	agents     map[string]*agent
	suppressed bool
	stopped    bool
	subscribed bool // a SUBSCRIBED came before
	exhausted  bool // Ready.Exhausted was set
	out        Ready
}

// NewCore returns a core with no tasks.
func NewCore(s Settings) *Core {
	return &Core{s: s, queued: map[string]bool{}, running: map[string]running{}, agents: map[string]*agent{}}
}

// Submit queues a task for the next offers.
func (c *Core) Submit(id string) {
	if c.stopped || c.queued[id] {
		return
	}
	if _, ok := c.running[id]; ok {
		return
	}
	c.queued[id] = true
	c.pending = append(c.pending, id)
	if c.suppressed {
		c.suppressed = false
		c.out.Revive = true
	}
}

// Kill withdraws a pending task (it ends as TASK_KILLED at once) or asks
// the agent to kill a running one.
func (c *Core) Kill(id string) {
	if c.queued[id] {
		delete(c.queued, id)
		c.pending = slices.DeleteFunc(c.pending, func(p string) bool { return p == id })
		c.out.Ended = append(c.out.Ended, End{Task: id, Status: Status{TaskID: id, State: mesospb.TaskState_TASK_KILLED,
			Message: "killed before launch"}})
		return
	}
	if r, ok := c.running[id]; ok {
		c.out.Kill = append(c.out.Kill, Kill{Task: id, Agent: r.agent})
	}
}

// Stop withdraws every pending task and launches nothing more.
func (c *Core) Stop() {
	for _, id := range slices.Clone(c.pending) {
		c.Kill(id)
	}
	c.stopped = true
}

// Abandon ends every pending and running task as TASK_LOST with why (the
// subscription ended for good: no update will come).
func (c *Core) Abandon(why string) {
	ids := append(slices.Clone(c.pending), slices.Sorted(maps.Keys(c.running))...)
	for _, id := range ids {
		c.out.Ended = append(c.out.Ended, End{Task: id, Executor: c.running[id].executor,
			Status: Status{TaskID: id, State: mesospb.TaskState_TASK_LOST, Message: why}})
	}
	c.pending, c.queued, c.running = nil, map[string]bool{}, map[string]running{}
	c.stopped = true
}

// Running is how many launched tasks have not ended.
func (c *Core) Running() int { return len(c.running) }

// Subscribed forgets the suppression (a new subscription is unsuppressed);
// on a re-subscription it asks to reconcile every running task, so that a
// terminal update lost while the stream was down is sent again.
func (c *Core) Subscribed() {
	c.suppressed = false
	if c.subscribed {
		for _, id := range slices.Sorted(maps.Keys(c.running)) {
			c.out.Reconcile = append(c.out.Reconcile, Kill{Task: id, Agent: c.running[id].agent})
		}
	}
	c.subscribed = true
}

// Blacklisted reports whether MaxAgentFailures executors failed on agent.
func (c *Core) Blacklisted(agentID string) bool {
	a := c.agents[agentID]
	return a != nil && a.failures >= MaxAgentFailures
}

func round(f float64) float64 { return math.Round(f*1000) / 1000 }

// Offers places pending tasks on a batch of offers.
func (c *Core) Offers(batch []Offer) {
	for _, o := range batch {
		a := c.agents[o.Agent]
		if a == nil {
			a = &agent{}
			c.agents[o.Agent] = a
		}
		switch {
		case !c.s.Constraints.Match(o.Attributes):
			c.out.Decline = append(c.out.Decline, Decline{OfferID: o.ID, Filter: c.s.RejectUnmet})
			continue
		case a.failures >= MaxAgentFailures:
			c.out.Decline = append(c.out.Decline, Decline{OfferID: o.ID, Filter: c.s.RejectFor})
			continue
		}
		cpus, mem := o.CPUs, o.MemMiB
		l := Launch{OfferID: o.ID, Agent: o.Agent, Hostname: o.Hostname, Executor: a.live}
		if a.live == "" && len(c.pending) > 0 && !c.stopped {
			if round(cpus-c.s.ExecutorCPUs-c.s.TaskCPUs) >= 0 && round(mem-c.s.ExecutorMemMiB) >= 0 {
				a.incarnation++
				a.live = fmt.Sprintf("%s-f%d", o.Agent, a.incarnation)
				l.Executor, l.NewExecutor = a.live, true
				cpus -= c.s.ExecutorCPUs
			}
		}
		for l.Executor != "" && len(c.pending) > 0 && !c.stopped && round(cpus-c.s.TaskCPUs) >= 0 {
			id := c.pending[0]
			c.pending = c.pending[1:]
			delete(c.queued, id)
			c.running[id] = running{agent: o.Agent, executor: l.Executor}
			l.Tasks = append(l.Tasks, id)
			cpus -= c.s.TaskCPUs
		}
		switch {
		case len(l.Tasks) > 0:
			c.out.Launch = append(c.out.Launch, l)
		case len(c.pending) == 0:
			c.out.Decline = append(c.out.Decline, Decline{OfferID: o.ID, Filter: c.s.RejectFor})
		default:
			c.out.Decline = append(c.out.Decline, Decline{OfferID: o.ID})
		}
	}
	if len(c.pending) == 0 && !c.suppressed {
		c.suppressed = true
		c.out.Suppress = true
	}
	c.checkExhausted()
}

// checkExhausted sets Ready.Exhausted when, after a batch of offers, tasks
// wait, nothing runs, no executor is live, and every agent offers ever
// came from is blacklisted. It is decided on offers, not on the failure
// that blacklisted the last agent: the master offers every agent with
// free resources in its allocation cycles, so an agent that has not
// offered yet gets one batch's chance first.
func (c *Core) checkExhausted() {
	if c.exhausted || c.stopped || len(c.pending) == 0 || len(c.running) > 0 || len(c.agents) == 0 {
		return
	}
	for _, a := range c.agents {
		if a.failures < MaxAgentFailures || a.live != "" {
			return
		}
	}
	c.exhausted = true
	c.out.Exhausted = fmt.Sprintf("on each of the %d agents offered, %d executors failed or were lost, so none is used again; %d tasks cannot launch",
		len(c.agents), MaxAgentFailures, len(c.pending))
}

// LaunchFailed puts tasks whose ACCEPT failed back at the head of the
// queue (the offer was rescinded or the master unreachable). A new
// executor that never started is forgotten.
func (c *Core) LaunchFailed(l Launch) {
	for _, id := range l.Tasks {
		delete(c.running, id)
		c.queued[id] = true
	}
	c.pending = append(slices.Clone(l.Tasks), c.pending...)
	if a := c.agents[l.Agent]; a != nil && l.NewExecutor && a.live == l.Executor {
		a.live = ""
	}
	if c.suppressed {
		c.suppressed = false
		c.out.Revive = true
	}
}

// Update takes a task's status update: terminal ones end the task (and,
// with REASON_EXECUTOR_TERMINATED, its executor).
func (c *Core) Update(st Status) {
	r, ok := c.running[st.TaskID]
	// Unreachable is final too: the framework is not partition aware, and
	// a task that comes back is not waited for (its attempt is retried).
	if !ok || !mesospb.IsTerminal(st.State) && st.State != mesospb.TaskState_TASK_UNREACHABLE {
		return
	}
	delete(c.running, st.TaskID)
	c.out.Ended = append(c.out.Ended, End{Task: st.TaskID, Executor: r.executor, Status: st})
	if st.Reason == mesospb.TaskStatus_REASON_EXECUTOR_TERMINATED || st.State == mesospb.TaskState_TASK_LOST ||
		st.State == mesospb.TaskState_TASK_UNREACHABLE ||
		st.State == mesospb.TaskState_TASK_GONE || st.Reason == mesospb.TaskStatus_REASON_AGENT_REMOVED {
		c.ExecutorFailed(r.agent, r.executor)
	}
}

// ExecutorFailed ends an executor incarnation that failed or was lost and
// counts it against its agent (once per incarnation).
func (c *Core) ExecutorFailed(agentID, executor string) {
	if a := c.agents[agentID]; a != nil && a.live == executor && executor != "" {
		a.failures++
	}
	c.ExecutorGone(agentID, executor)
}

// ExecutorGone records that an executor incarnation ended: the next task
// on its agent starts a new one.
func (c *Core) ExecutorGone(agentID, executor string) {
	a := c.agents[agentID]
	if a == nil || a.live != executor || executor == "" {
		return
	}
	a.live = ""
	c.out.Gone = append(c.out.Gone, executor)
}

// Ready returns and clears the decisions made since the last call.
func (c *Core) Ready() Ready {
	r := c.out
	// Only the last of a suppression and a revival made since matters.
	r.Suppress = r.Suppress && c.suppressed
	r.Revive = r.Revive && !c.suppressed
	c.out = Ready{}
	return r
}
