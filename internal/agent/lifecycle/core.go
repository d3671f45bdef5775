package lifecycle

import (
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/mesoproject/meso/api/executorpb"
	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/agent/statusupdate"
)

// Errors returned by inputs. Those of the executor API map to HTTP status
// codes (see the agent's executor handler); the others are informational:
// the input was ignored and the caller logs it.
var (
	ErrFrameworkNotFound = errors.New("framework cannot be found")
	ErrExecutorNotFound  = errors.New("executor cannot be found")
	ErrNotSubscribed     = errors.New("executor is not subscribed")
	ErrInvalidCall       = errors.New("invalid call")
	ErrIgnored           = errors.New("lifecycle: ignored")
)

// Defaults, as in Mesos.
const (
	DefaultRegistrationTimeout    = time.Minute
	DefaultShutdownGracePeriod    = 5 * time.Second
	DefaultMaxCompletedFrameworks = 50
	DefaultMaxCompletedExecutors  = 150
	DefaultMaxCompletedTasks      = 1000
	// MaxParkedEvents bounds the KILL and MESSAGE events held for one
	// executor while its stream is down; later ones are dropped.
	MaxParkedEvents = 1024
)

// Config configures a Core. Zero durations and limits mean the defaults.
type Config struct {
	// Agent describes this agent (hostname, port, resources, attributes);
	// its id is set by Registered.
	Agent *mesospb.AgentInfo
	// Launcher is the path of the meso binary; a command task's executor runs
	// `<Launcher> executor`, a task group's `<Launcher> default-executor`,
	// unless LeanExecutor is set.
	Launcher string
	// LeanExecutor, when set, is the path of the lean executor binary
	// (meso-executor) that runs command tasks (`<LeanExecutor>`) and task
	// groups (`<LeanExecutor> default-executor`) instead of the meso binary;
	// a command task in a DOCKER container still runs `<Launcher> executor`,
	// which alone has the Docker client.
	LeanExecutor string

	ExecutorRegistrationTimeout time.Duration
	ExecutorShutdownGracePeriod time.Duration
	StatusUpdateRetryMin        time.Duration
	StatusUpdateRetryMax        time.Duration

	// NewUUID returns a fresh 16-byte uuid for updates the agent generates
	// or that arrive without one. NewContainerID returns a fresh container
	// id. Both are required.
	NewUUID        func() []byte
	NewContainerID func() string

	MaxCompletedFrameworks            int
	MaxCompletedExecutorsPerFramework int
	MaxCompletedTasksPerExecutor      int
}

// Effect is something the caller must do. The concrete types are
// LaunchExecutor, SendExecutor, SendMaster and DestroyContainer.
type Effect interface{ effect() }

// LaunchExecutor asks for the executor's sandbox to be created and its
// container started; the caller reports back with ContainerLaunchFailed or,
// when the container ends, ExecutorExited.
type LaunchExecutor struct {
	FrameworkID string
	ExecutorID  string
	ContainerID string
	Framework   *mesospb.FrameworkInfo
	Executor    *mesospb.ExecutorInfo
	// CommandExecutor is set when the executor was generated for a command
	// task (Executor.Command is `<Launcher> executor`).
	CommandExecutor bool
	// User to run as: the command's user, else the framework's.
	User string
	// Resources of the container: the executor's plus its tasks'.
	Resources []*mesospb.Resource
}

// SendExecutor asks for an event to be written to an executor's stream.
type SendExecutor struct {
	FrameworkID string
	ExecutorID  string
	Event       *executorpb.Event
}

// SendMaster asks for a call to be sent to the master; the caller sets
// link_id and agent_id.
type SendMaster struct {
	Call *linkpb.AgentCall
}

// DestroyContainer asks for an executor's container to be killed; its end
// is reported with ExecutorExited.
type DestroyContainer struct {
	FrameworkID string
	ExecutorID  string
	ContainerID string
}

func (LaunchExecutor) effect()   {}
func (SendExecutor) effect()     {}
func (SendMaster) effect()       {}
func (DestroyContainer) effect() {}

// ExecutorState is the state of an executor, as in Mesos.
type ExecutorState int

// Executor states.
const (
	ExecutorRegistering ExecutorState = iota
	ExecutorRunning
	ExecutorTerminating
	ExecutorTerminated
)

func (s ExecutorState) String() string {
	switch s {
	case ExecutorRegistering:
		return "REGISTERING"
	case ExecutorRunning:
		return "RUNNING"
	case ExecutorTerminating:
		return "TERMINATING"
	case ExecutorTerminated:
		return "TERMINATED"
	}
	return "UNKNOWN"
}

// termination is what the agent decided about an executor it is killing:
// the state, reason and message its unfinished tasks get.
type termination struct {
	state   mesospb.TaskState
	reason  mesospb.TaskStatus_Reason
	message string
}

// launch is one queued delivery: a single task, or a task group.
type launch struct {
	tasks []*mesospb.TaskInfo
	group bool
}

type executor struct {
	id          string
	frameworkID string
	info        *mesospb.ExecutorInfo
	containerID string
	command     bool
	state       ExecutorState
	connected   bool
	launchedAt  time.Time

	queued     []launch
	parked     []*executorpb.Event    // KILL and MESSAGE held while the executor's stream is down
	launched   map[string]*taskRecord // sent (or about to be sent), not terminal
	terminated map[string]*taskRecord // terminal, terminal update not yet acknowledged
	completed  []*mesospb.Task        // terminal update acknowledged; bounded

	registerDeadline time.Time // while REGISTERING
	// reregisterDeadline is when a recovered executor must have subscribed
	// again (zero once it has, and for executors this agent launched).
	reregisterDeadline time.Time
	reregisterTimeout  time.Duration
	shutdownDeadline   time.Time // while TERMINATING; zero once destroyed
	pending            *termination
	exitStatus         int32
}

type taskRecord struct {
	info *mesospb.TaskInfo
	task *mesospb.Task
}

type framework struct {
	id          string
	info        *mesospb.FrameworkInfo
	executors   map[string]*executor
	tasks       map[string]*executor // executor of each queued, launched or terminated task
	completed   []*executor
	terminating bool
}

// Counters are the Core's running totals, for metrics.
type Counters struct {
	ValidStatusUpdates       uint64
	InvalidStatusUpdates     uint64
	ValidFrameworkMessages   uint64
	InvalidFrameworkMessages uint64
	ExecutorsLaunched        uint64
	ExecutorsTerminated      uint64
	ContainerLaunchErrors    uint64
	// TerminalTasks counts tasks by the terminal state they reached.
	TerminalTasks map[mesospb.TaskState]uint64
}

// Core is the agent's task lifecycle state machine; see the package
// documentation.
type Core struct {
	cfg       Config
	agentID   string
	sum       *statusupdate.Manager
	fws       map[string]*framework
	completed []*framework
	counters  Counters
	dirty     checkpoints // changes for Checkpoints
}

// New returns a Core with no frameworks, not registered with a master.
func New(cfg Config) *Core {
	if cfg.ExecutorRegistrationTimeout <= 0 {
		cfg.ExecutorRegistrationTimeout = DefaultRegistrationTimeout
	}
	if cfg.ExecutorShutdownGracePeriod <= 0 {
		cfg.ExecutorShutdownGracePeriod = DefaultShutdownGracePeriod
	}
	if cfg.MaxCompletedFrameworks <= 0 {
		cfg.MaxCompletedFrameworks = DefaultMaxCompletedFrameworks
	}
	if cfg.MaxCompletedExecutorsPerFramework <= 0 {
		cfg.MaxCompletedExecutorsPerFramework = DefaultMaxCompletedExecutors
	}
	if cfg.MaxCompletedTasksPerExecutor <= 0 {
		cfg.MaxCompletedTasksPerExecutor = DefaultMaxCompletedTasks
	}
	if cfg.Agent == nil {
		cfg.Agent = &mesospb.AgentInfo{Hostname: new(string)}
	}
	return &Core{
		cfg:      cfg,
		sum:      statusupdate.New(cfg.StatusUpdateRetryMin, cfg.StatusUpdateRetryMax),
		fws:      make(map[string]*framework),
		counters: Counters{TerminalTasks: make(map[mesospb.TaskState]uint64)},
		dirty:    newCheckpoints(),
	}
}

// SetAgentInfo replaces the description of this agent that executors get
// in SUBSCRIBED (the id is added by the Core).
func (c *Core) SetAgentInfo(info *mesospb.AgentInfo) { c.cfg.Agent = info }

// ContainerID returns the container of an executor the Core tracks, "" if
// none.
func (c *Core) ContainerID(frameworkID, executorID string) string {
	if _, ex, err := c.lookup(frameworkID, executorID); err == nil {
		return ex.containerID
	}
	return ""
}

// AgentID returns the id the master gave this agent, "" before the first
// registration.
func (c *Core) AgentID() string { return c.agentID }

// Counters returns the running totals.
func (c *Core) Counters() Counters {
	out := c.counters
	out.TerminalTasks = maps.Clone(c.counters.TerminalTasks)
	return out
}

// Registered records that the link to the master is up with this agent id,
// and resends every pending status update at once. When the master gave a
// different id than before, it does not know this agent any more: every
// executor is destroyed and all state forgotten first (see Reset).
func (c *Core) Registered(agentID string, now time.Time) []Effect {
	var effs []Effect
	if c.agentID != "" && c.agentID != agentID {
		effs = c.Reset()
	}
	c.agentID = agentID
	return append(effs, c.forward(c.sum.Resume(now))...)
}

// Disconnected records that the link to the master is down: status updates
// wait until the next Registered.
func (c *Core) Disconnected() { c.sum.Pause() }

// Reset destroys every container and forgets every framework, executor,
// task and pending update, as when the master told the agent to shut down.
// The agent id is forgotten too.
func (c *Core) Reset() []Effect {
	var effs []Effect
	for _, fw := range c.sortedFrameworks() {
		for _, ex := range fw.sortedExecutors() {
			if ex.state != ExecutorTerminated {
				effs = append(effs, destroy(ex))
			}
		}
		c.untouchFramework(fw)
	}
	c.fws = make(map[string]*framework)
	c.completed = nil
	c.sum = statusupdate.New(c.cfg.StatusUpdateRetryMin, c.cfg.StatusUpdateRetryMax)
	c.agentID = ""
	return effs
}

func destroy(ex *executor) DestroyContainer {
	return DestroyContainer{FrameworkID: ex.frameworkID, ExecutorID: ex.id, ContainerID: ex.containerID}
}

func (c *Core) lookup(frameworkID, executorID string) (*framework, *executor, error) {
	fw := c.fws[frameworkID]
	if fw == nil {
		return nil, nil, ErrFrameworkNotFound
	}
	ex := fw.executors[executorID]
	if ex == nil {
		return fw, nil, ErrExecutorNotFound
	}
	return fw, ex, nil
}

// executorOfTask finds the executor that has a task queued, launched or
// terminated (not completed).
func (fw *framework) executorOfTask(taskID string) *executor { return fw.tasks[taskID] }

// untrackAll forgets every task of an executor.
func (fw *framework) untrackAll(ex *executor) {
	for id, owner := range fw.tasks {
		if owner == ex {
			delete(fw.tasks, id)
		}
	}
}

// queuedTask returns the position of a queued task: index of its launch
// and of the task in it.
func (ex *executor) queuedTask(taskID string) (int, int, bool) {
	for i, l := range ex.queued {
		for j, t := range l.tasks {
			if t.GetTaskId().GetValue() == taskID {
				return i, j, true
			}
		}
	}
	return 0, 0, false
}

func (ex *executor) isCompleted(taskID string) bool {
	return slices.ContainsFunc(ex.completed, func(t *mesospb.Task) bool { return t.GetTaskId().GetValue() == taskID })
}

// empty reports whether the executor has no task left to track.
func (ex *executor) empty() bool {
	return len(ex.queued) == 0 && len(ex.launched) == 0 && len(ex.terminated) == 0
}

func (c *Core) sortedFrameworks() []*framework {
	out := make([]*framework, 0, len(c.fws))
	for _, fw := range c.fws {
		out = append(out, fw)
	}
	slices.SortFunc(out, func(a, b *framework) int { return compareStrings(a.id, b.id) })
	return out
}

func (fw *framework) sortedExecutors() []*executor {
	out := make([]*executor, 0, len(fw.executors))
	for _, ex := range fw.executors {
		out = append(out, ex)
	}
	slices.SortFunc(out, func(a, b *executor) int { return compareStrings(a.id, b.id) })
	return out
}

func sortedTasks(m map[string]*taskRecord) []*taskRecord {
	out := make([]*taskRecord, 0, len(m))
	for _, t := range m {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b *taskRecord) int {
		return compareStrings(a.task.GetTaskId().GetValue(), b.task.GetTaskId().GetValue())
	})
	return out
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func partitionAware(info *mesospb.FrameworkInfo) bool {
	return mesospb.HasCapability(info, mesospb.FrameworkInfo_Capability_PARTITION_AWARE)
}

// removeExecutorIfDone moves a terminated executor with nothing left to
// track to the completed list, and its framework too when it has no
// executors left.
func (c *Core) removeExecutorIfDone(fw *framework, ex *executor) {
	if ex.state != ExecutorTerminated || !ex.empty() {
		return
	}
	delete(fw.executors, ex.id)
	c.untouch(fw, ex)
	fw.completed = appendBounded(fw.completed, ex, c.cfg.MaxCompletedExecutorsPerFramework)
	if len(fw.executors) == 0 {
		c.removeFramework(fw)
	}
}

func (c *Core) removeFramework(fw *framework) {
	delete(c.fws, fw.id)
	c.untouchFramework(fw)
	c.sum.RemoveFramework(fw.id)
	c.completed = appendBounded(c.completed, fw, c.cfg.MaxCompletedFrameworks)
}

func appendBounded[T any](list []T, v T, limit int) []T {
	list = append(list, v)
	if len(list) > limit {
		list = slices.Delete(list, 0, len(list)-limit)
	}
	return list
}
