package sim

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/mesoproject/meso/internal/resources"
)

// Errors callers branch on.
var (
	// ErrConfig: the Config cannot work (a count below one, task
	// resources with ranges, too few open files for the agents).
	ErrConfig = errors.New("sim: invalid config")
	// ErrIncomplete: the run ended (timeout or cancellation) before every
	// task was finished and acknowledged; the report so far comes with it.
	ErrIncomplete = errors.New("sim: run incomplete")
	// ErrTable: a line does not have the form of the report's table.
	ErrTable = errors.New("sim: not a report line")
)

// Defaults for the zero values of Config.
const (
	DefaultAgentResources = "cpus:8;mem:16384;disk:100000;ports:[31000-32000]"
	DefaultTaskResources  = "cpus:0.1;mem:32"
	DefaultTimeout        = 30 * time.Minute
	DefaultSenders        = 512
	DefaultRegistering    = 256
	DefaultCallWorkers    = 16
	DefaultStateInterval  = time.Second
	DefaultSteadyDuration = time.Minute
)

// The state queries the sampler can ask (Config.StateQuery).
const (
	StateQueryHTTP     = "state"    // GET /master/state
	StateQueryOperator = "operator" // POST /api/v1 GET_STATE, JSON
)

// Config configures a run. Agents, Frameworks and Tasks are required.
type Config struct {
	// Master is the host:port of an external master; "" starts one in
	// this process on 127.0.0.1.
	Master string
	// MasterPID is the external master's process id, for its memory
	// (/proc/PID/status); 0 leaves memory out of the report.
	MasterPID int
	// AllocationInterval is the in-process master's
	// --allocation_interval (default the master's, 1 s).
	AllocationInterval time.Duration
	// OfferMode and OfferFanout are the in-process master's --offer_mode
	// and --offer_fanout (master.Config); an external master has its own.
	OfferMode   string
	OfferFanout int
	// DecisionTime is the simulated frameworks' think time: every ACCEPT
	// and DECLINE is sent about this long (uniform from half to one and
	// a half times it) after its offers arrived. An offer
	// rescinded meanwhile is not answered (its tasks wait for the next).
	DecisionTime time.Duration
	// DeclineFraction is the share (0 to 1) of offers a simulated
	// framework declines although its tasks would fit: picky frameworks
	// (placement constraints the simulator does not model otherwise).
	DeclineFraction float64

	Agents     int
	Frameworks int
	Tasks      int // over all frameworks, shared out evenly
	// TaskDuration is how long a task runs from RUN_TASK to TASK_FINISHED.
	TaskDuration time.Duration
	// TaskStarting makes the simulated executor report TASK_STARTING
	// before TASK_RUNNING, as Mesos' command executor does: three
	// updates (and acknowledgements) per task instead of two. Off by
	// default, as for Spark's and most custom executors, which send
	// TASK_RUNNING and then a terminal state.
	TaskStarting bool

	AgentResources resources.Resources // each agent's; default DefaultAgentResources
	TaskResources  resources.Resources // each task's, scalars only; default DefaultTaskResources

	// UpdateRetry is the status update managers' first retry interval
	// (default Mesos' 10 s, doubling up to 10 min).
	UpdateRetry time.Duration

	// Senders is how many goroutines post the agents' calls, each on its
	// own kept-alive connection (default 512);
	// Registering bounds the REGISTERs in flight (default 256);
	// CallWorkers is how many calls each framework has in flight (16).
	Senders, Registering, CallWorkers int

	// PipelineCalls, when positive, sends each framework's calls through
	// a subscribe.Pipeline of that many connections (HTTP/1.1 pipelining:
	// the calls waiting for a connection in one write, answers in order);
	// zero: net/http's client, one request per connection at a time. Not
	// with HTTP2.
	PipelineCalls int

	// HTTP2 puts the agents' links and calls on HTTP/2 without TLS, many
	// per connection (up to httpbound.MaxStreams), so that a run is not
	// bounded by open files at one connection per agent. The master must
	// serve it (--http2_cleartext; the in-process one does then). Real
	// Mesos agents keep one HTTP/1.1 connection each: label such figures.
	HTTP2 bool
	// LinkMux, when positive, puts the agents on the framed link (link
	// version 3, an HTTP/1.1 Upgrade), LinkMux agents per connection,
	// their calls on the link's connection too. A real agent has a
	// connection of its own (LinkMux 1); more per connection is how a
	// run gets past the open-file limit with the master's per-link cost
	// that of a session, not a connection: label such figures.
	LinkMux int

	// LaunchRate, when positive, adds a steady phase to the run: the
	// Tasks tasks are launched first (one burst, as without it) and held
	// running until the run ends; once every one of them runs, the
	// frameworks launch LaunchRate more tasks per second (over all of
	// them, shared evenly; launched when offers arrive, so in steps of
	// the allocation interval), each running TaskDuration, for
	// SteadyDuration. Report.Steady has that phase's figures, and the
	// state queries run only in it: launches at a sustainable pace with
	// the cluster at its full size, instead of one burst that saturates
	// the machine.
	LaunchRate float64
	// SteadyDuration is how long the steady phase launches (default 60 s).
	SteadyDuration time.Duration

	// Timeout bounds the whole run (default 30 min).
	Timeout time.Duration
	// StateInterval is the pause between the end of one GET /master/state
	// and the start of the next while tasks run (default 1 s), so that
	// the queries never run back to back; negative: no queries. Memory is
	// sampled at the same pace.
	StateInterval time.Duration
	// StateQuery is what the sampler asks: StateQueryHTTP (default, GET
	// /master/state) or StateQueryOperator (the v1 operator API's
	// GET_STATE, POST /api/v1 in JSON).
	StateQuery string

	// Progress, when set, gets a progress line every second.
	Progress io.Writer
	// ProfileDir, when set, receives register.pprof (CPU while the agents
	// register), heap-registered.pprof (the live heap once all are
	// registered), cpu.pprof (while tasks run) and heap.pprof (at the
	// end) of this process: in-process, the master's with the simulator's.
	ProfileDir string
	// Version is sent as the agents' version in REGISTER.
	Version string
	// Audit keeps, per status update, how often agents saw it
	// acknowledged (Result.Audit), for tests; it costs memory.
	Audit bool
	// Logger receives the simulator's and the in-process master's logs
	// (default: discarded).
	Logger *slog.Logger
}

func (cfg *Config) validate() error {
	switch {
	case cfg.Agents < 1:
		return fmt.Errorf("%w: --agents must be at least 1, got %d", ErrConfig, cfg.Agents)
	case cfg.Frameworks < 1:
		return fmt.Errorf("%w: --frameworks must be at least 1, got %d", ErrConfig, cfg.Frameworks)
	case cfg.Tasks < cfg.Frameworks:
		return fmt.Errorf("%w: --tasks (%d) must be at least --frameworks (%d)", ErrConfig, cfg.Tasks, cfg.Frameworks)
	case cfg.TaskDuration < 0:
		return fmt.Errorf("%w: --task_duration must not be negative", ErrConfig)
	case cfg.MasterPID < 0:
		return fmt.Errorf("%w: --master_pid must not be negative", ErrConfig)
	case cfg.DeclineFraction < 0 || cfg.DeclineFraction >= 1:
		return fmt.Errorf("%w: --decline_fraction must be in [0, 1)", ErrConfig)
	case cfg.DecisionTime < 0:
		return fmt.Errorf("%w: --decision_time must not be negative", ErrConfig)
	case cfg.OfferMode != "" && cfg.Master != "":
		return fmt.Errorf("%w: --offer_mode sets the in-process master's; an external master (--master) has its own", ErrConfig)
	case cfg.LinkMux < 0:
		return fmt.Errorf("%w: --link_mux must not be negative", ErrConfig)
	case cfg.LinkMux > 0 && cfg.HTTP2:
		return fmt.Errorf("%w: --link_mux and --http2 exclude each other (the framed link is HTTP/1.1)", ErrConfig)
	case cfg.LaunchRate < 0 || math.IsNaN(cfg.LaunchRate) || math.IsInf(cfg.LaunchRate, 0):
		return fmt.Errorf("%w: --launch_rate must be a finite number, not negative", ErrConfig)
	case cfg.SteadyDuration < 0:
		return fmt.Errorf("%w: --steady_duration must not be negative", ErrConfig)
	case cfg.SteadyDuration > 0 && cfg.LaunchRate == 0:
		return fmt.Errorf("%w: --steady_duration needs --launch_rate (there is no steady phase without it)", ErrConfig)
	case cfg.PipelineCalls < 0:
		return fmt.Errorf("%w: --pipeline_calls must not be negative (0: one request per connection at a time)", ErrConfig)
	case cfg.MasterPID > 0 && cfg.Master == "":
		return fmt.Errorf("%w: --master_pid needs --master", ErrConfig)
	}
	if cfg.AgentResources == nil {
		cfg.AgentResources = resources.MustParse(DefaultAgentResources)
	}
	if cfg.TaskResources == nil {
		cfg.TaskResources = resources.MustParse(DefaultTaskResources)
	}
	for _, r := range cfg.TaskResources {
		if r.Kind != resources.KindScalar {
			return fmt.Errorf("%w: --task_resources: %s is not a scalar; tasks take scalars only", ErrConfig, r.Name)
		}
	}
	if cfg.TaskResources.IsEmpty() {
		return fmt.Errorf("%w: --task_resources must not be empty", ErrConfig)
	}
	if fits(cfg.AgentResources.Quantities(), cfg.TaskResources.Quantities(), 1) < 1 {
		return fmt.Errorf("%w: a task (%s) does not fit on an agent (%s)", ErrConfig, cfg.TaskResources, cfg.AgentResources)
	}
	setDefault(&cfg.Senders, DefaultSenders)
	setDefault(&cfg.Registering, DefaultRegistering)
	setDefault(&cfg.CallWorkers, DefaultCallWorkers)
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.StateInterval == 0 {
		cfg.StateInterval = DefaultStateInterval
	}
	switch cfg.StateQuery {
	case "":
		cfg.StateQuery = StateQueryHTTP
	case StateQueryHTTP, StateQueryOperator:
	default:
		return fmt.Errorf("%w: --state_query %q: want %s or %s", ErrConfig, cfg.StateQuery, StateQueryHTTP, StateQueryOperator)
	}
	if cfg.LaunchRate > 0 {
		if cfg.SteadyDuration == 0 {
			cfg.SteadyDuration = DefaultSteadyDuration
		}
		if n := cfg.steadyTasks(); n < cfg.Frameworks {
			return fmt.Errorf("%w: --launch_rate x --steady_duration is %d tasks, fewer than --frameworks (%d)", ErrConfig, n, cfg.Frameworks)
		}
	}
	if cfg.Version == "" {
		cfg.Version = "sim"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

func setDefault(p *int, def int) {
	if *p <= 0 {
		*p = def
	}
}

// share is framework i's part of n tasks over m frameworks: n/m, the first
// n%m frameworks one more.
func share(n, m, i int) int {
	s := n / m
	if i < n%m {
		s++
	}
	return s
}

// steadyTasks is how many tasks the steady phase launches (Config.LaunchRate).
func (cfg *Config) steadyTasks() int {
	if cfg.LaunchRate <= 0 {
		return 0
	}
	return int(math.Round(cfg.LaunchRate * cfg.SteadyDuration.Seconds()))
}

// heldTaskMark is in the ids of the tasks a run with a steady phase holds
// running until it ends (Config.LaunchRate): the simulated agents never
// finish them.
const heldTaskMark = "-h"

func heldTask(id string) bool { return strings.Contains(id, heldTaskMark) }
