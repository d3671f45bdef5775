package master

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/mesoproject/meso/internal/allocator"
	"github.com/mesoproject/meso/internal/httpbound"
	"github.com/mesoproject/meso/internal/master/core"
	"github.com/mesoproject/meso/internal/resources"
)

// ErrConfig wraps every configuration error.
var ErrConfig = errors.New("master: invalid config")

// Config configures a Master. Fields map 1:1 to `meso master` flags (Mesos
// names); zero values mean the Mesos defaults.
type Config struct {
	IP       string // --ip: address advertised in MasterInfo (default: the listener's, else the hostname's)
	Port     int    // --port: advertised port (default: the listener's)
	Hostname string // --hostname: advertised hostname (default: the IP)
	WorkDir  string // --work_dir: reserved for the registry (created when set)

	AllocationInterval   time.Duration // --allocation_interval (1secs)
	AgentPingTimeout     time.Duration // --agent_ping_timeout (15secs)
	MaxAgentPingTimeouts int           // --max_agent_ping_timeouts (5)
	// MinAllocatableResources is --min_allocatable_resources, e.g.
	// "cpus:0.01|mem:32" (alternatives separated by '|'); empty means any
	// non-empty resources may be offered.
	MinAllocatableResources string
	// HeartbeatInterval is the interval of HEARTBEAT events on scheduler
	// streams (--heartbeat_interval, meso's; Mesos fixes it at 15secs).
	HeartbeatInterval time.Duration
	// OfferTimeout rescinds offers not answered within it
	// (--offer_timeout); zero means never.
	OfferTimeout time.Duration

	MaxCompletedFrameworks        int // --max_completed_frameworks (50)
	MaxCompletedTasksPerFramework int // --max_completed_tasks_per_framework (1000)

	// MaxCallBytes bounds request bodies of scheduler calls (default 16 MiB)
	// and agent link calls (4x that); bigger ones get 413.
	MaxCallBytes int64
	// HTTP bounds the HTTP server: header, body and idle timeouts and the
	// memory request bodies may hold at once (--http_header_timeout,
	// --http_body_timeout, --http_idle_timeout, --http_body_memory).
	HTTP httpbound.Config

	// Version is reported by /version, /state and MasterInfo.
	Version string
	// Flags are reported as /state's "flags" (name -> value).
	Flags map[string]string
	// Leadership says who leads; nil means this master always does.
	Leadership Leadership
	// Registry admits agents; nil means an in-memory one.
	Registry core.Registry
	// Logger receives the master's logs; nil discards them.
	Logger *slog.Logger
	// LogLevel is the level Logger's handler reads, which the operator
	// API's SET_LOGGING_LEVEL changes for a while; nil means a level of
	// the master's own that no handler reads.
	LogLevel *slog.LevelVar
	// MaxOperatorEvents bounds the events queued for one operator
	// SUBSCRIBE stream; a subscriber that falls further behind is
	// disconnected (default 65536).
	MaxOperatorEvents int
}

// Leadership tells the HTTP shell which master leads, so that a
// non-leading master redirects frameworks (307 with Location) and answers
// 503 when no master leads, as Mesos does. High availability comes with the
// replicated registry (a later issue); until then a master always leads.
type Leadership interface {
	// Leader returns the leading master's host:port and whether that is
	// this master; "" when no master leads at the moment.
	Leader() (hostport string, self bool)
}

// DefaultMaxCallBytes is the default bound of a scheduler call body.
const DefaultMaxCallBytes = 16 << 20

func (cfg *Config) validate() ([]resources.Quantities, error) {
	if cfg.Port < 0 || cfg.Port > 65535 {
		return nil, fmt.Errorf("%w: port %d out of range", ErrConfig, cfg.Port)
	}
	for name, d := range map[string]time.Duration{
		"allocation_interval": cfg.AllocationInterval, "agent_ping_timeout": cfg.AgentPingTimeout,
		"heartbeat_interval": cfg.HeartbeatInterval, "offer_timeout": cfg.OfferTimeout,
	} {
		if d < 0 {
			return nil, fmt.Errorf("%w: --%s must not be negative", ErrConfig, name)
		}
	}
	if cfg.MaxAgentPingTimeouts < 0 || cfg.MaxCompletedFrameworks < 0 || cfg.MaxCompletedTasksPerFramework < 0 {
		return nil, fmt.Errorf("%w: counts must not be negative", ErrConfig)
	}
	if cfg.MaxCallBytes <= 0 {
		cfg.MaxCallBytes = DefaultMaxCallBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MinAllocatableResources == "" {
		return nil, nil
	}
	q, err := allocator.ParseMinAllocatable(cfg.MinAllocatableResources)
	if err != nil {
		return nil, fmt.Errorf("%w: --min_allocatable_resources: %w", ErrConfig, err)
	}
	return q, nil
}
