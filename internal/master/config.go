package master

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/mesoproject/meso/internal/acl"
	"github.com/mesoproject/meso/internal/allocator"
	"github.com/mesoproject/meso/internal/authn"
	"github.com/mesoproject/meso/internal/httpbound"
	"github.com/mesoproject/meso/internal/master/core"
	"github.com/mesoproject/meso/internal/registry"
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
	WorkDir  string // --work_dir: created when set; the replicated registry lives in its "registry" subdirectory
	// LogFile is the file the master's log is written to (`meso master
	// --log_dir`); when set, the files API serves it as /master/log, as
	// Mesos does, to principals the access_mesos_logs ACL allows.
	LogFile string

	AllocationInterval   time.Duration // --allocation_interval (1secs)
	AgentPingTimeout     time.Duration // --agent_ping_timeout (15secs)
	MaxAgentPingTimeouts int           // --max_agent_ping_timeouts (5)
	// MinAllocatableResources is --min_allocatable_resources, e.g.
	// "cpus:0.01|mem:32" (alternatives separated by '|'); empty means any
	// non-empty resources may be offered.
	MinAllocatableResources string
	// OfferMode is --offer_mode: "pessimistic" (the default, Mesos'
	// behaviour: an agent's resources are offered to one framework at a
	// time) or "optimistic" (the same resources to up to OfferFanout
	// frameworks at once; the first ACCEPT wins).
	OfferMode string
	// OfferFanout is --offer_fanout: how many frameworks an optimistic
	// offer goes to (default DefaultOfferFanout; ignored when pessimistic).
	OfferFanout int
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
	// NoFramedLink serves the agent link in its HTTP form only (link
	// version 2: an agent's Upgrade to meso-link/3 is ignored), as a
	// master before version 3 did: for tests of old masters and for
	// comparisons.
	NoFramedLink bool
	// HTTP bounds the HTTP server: header, body and idle timeouts and the
	// memory request bodies may hold at once (--http_header_timeout,
	// --http_body_timeout, --http_idle_timeout, --http_body_memory).
	HTTP httpbound.Config

	// Version is reported by /version, /state and MasterInfo.
	Version string
	// Flags are reported as /state's "flags" (name -> value).
	Flags map[string]string
	// Leadership says who leads; nil means this master always does (or,
	// with Replicated, whoever the raft group elects).
	Leadership Leadership
	// Registry admits agents; nil means an in-memory one (or, with
	// Replicated, the replicated one).
	Registry core.Registry
	// Replicated, when set, keeps the registry in a raft group
	// (internal/registry) and makes this master lead only while raft
	// elects it (see Replicated).
	Replicated *Replicated
	// AgentReregisterTimeout is how long a newly elected master waits for
	// the agents of the registry to re-register before it marks the
	// others unreachable (--agent_reregister_timeout, 10mins).
	AgentReregisterTimeout time.Duration
	// RecoveryAgentRemovalLimit is the largest fraction of the recovered
	// agents marked unreachable that way; over it none is
	// (--recovery_agent_removal_limit, 1 = 100%).
	RecoveryAgentRemovalLimit float64
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

	// Credentials are the principals and secrets requests authenticate
	// with (--credentials); required when any Authenticate* is set.
	Credentials *authn.Credentials
	// AuthenticateFrameworks requires HTTP Basic credentials on
	// /api/v1/scheduler, whose principal must be the FrameworkInfo's
	// (--authenticate_frameworks).
	AuthenticateFrameworks bool
	// AuthenticateHTTPReadWrite requires them on the operator API
	// (--authenticate_http_readwrite).
	AuthenticateHTTPReadWrite bool
	// AuthenticateHTTPReadOnly requires them on the read-only endpoints:
	// /state, /master/state and their cuts, /metrics/snapshot, /metrics
	// (--authenticate_http_readonly).
	AuthenticateHTTPReadOnly bool
	// AuthenticateAgents requires them on every call of the agent link,
	// /internal/v1/link (--authenticate_agents; agents send their
	// --credential). With or without it, a re-registration must present
	// the secret the master issued to that agent id (see link.go).
	AuthenticateAgents bool
	// ACLs authorize frameworks and operators (--acls, Mesos' format);
	// nil allows everything. See authz.go for where each is asked.
	ACLs *acl.ACLs
}

// Replicated configures the replicated registry (--registry=replicated_log).
type Replicated struct {
	// Dir holds raft's log, stable store and snapshots
	// (<work_dir>/registry).
	Dir string
	// Bind is the address raft listens on, unless Listener is set.
	Bind string
	// Listener, if set, is raft's listener (tests); Serve closes it.
	Listener net.Listener
	// Peers lists every master of the group, this one included, each
	// with ID its advertised HTTP host:port (so that a follower redirects
	// to the leader's ID) and Addr its raft address. Empty means a group
	// of this master alone.
	Peers []registry.Peer
	// Raft timing; zero means hashicorp/raft's defaults (1 s heartbeat and
	// election timeouts, 500 ms leader lease).
	HeartbeatTimeout, ElectionTimeout, LeaderLeaseTimeout time.Duration
	// WriteTimeout bounds each registry write of the core (default 10 s).
	WriteTimeout time.Duration
	// ServerTLS and ClientTLS make the raft traffic between the masters
	// TLS (see registry.Config); nil: plain TCP.
	ServerTLS, ClientTLS *tls.Config
}

// Leadership tells the HTTP shell which master leads, so that a
// non-leading master redirects frameworks (307 with Location) and answers
// 503 when no master leads, as Mesos does. With Config.Replicated the
// master answers it itself from the raft group.
type Leadership interface {
	// Leader returns the leading master's host:port and whether that is
	// this master; "" when no master leads at the moment.
	Leader() (hostport string, self bool)
}

// DefaultMaxCallBytes is the default bound of a scheduler call body.
const DefaultMaxCallBytes = 16 << 20

// The --offer_mode values, and the default --offer_fanout.
const (
	OfferPessimistic   = "pessimistic"
	OfferOptimistic    = "optimistic"
	DefaultOfferFanout = 3
)

// offerFanout is the allocator's OfferFanout for the configured mode.
func (cfg *Config) offerFanout() int {
	switch {
	case cfg.OfferMode != OfferOptimistic:
		return 0
	case cfg.OfferFanout == 0:
		return DefaultOfferFanout
	}
	return cfg.OfferFanout
}

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
	if cfg.AgentReregisterTimeout < 0 {
		return nil, fmt.Errorf("%w: --agent_reregister_timeout must not be negative", ErrConfig)
	}
	if l := cfg.RecoveryAgentRemovalLimit; l < 0 || l > 1 || l != l {
		return nil, fmt.Errorf("%w: --recovery_agent_removal_limit must be between 0%% and 100%%", ErrConfig)
	}
	if r := cfg.Replicated; r != nil {
		if r.Dir == "" {
			return nil, fmt.Errorf("%w: the replicated registry needs a directory (--work_dir)", ErrConfig)
		}
		if r.Bind == "" && r.Listener == nil {
			return nil, fmt.Errorf("%w: the replicated registry needs an address to listen on", ErrConfig)
		}
		if cfg.Registry != nil || cfg.Leadership != nil {
			return nil, fmt.Errorf("%w: Replicated excludes Registry and Leadership", ErrConfig)
		}
	}
	if cfg.MaxAgentPingTimeouts < 0 || cfg.MaxCompletedFrameworks < 0 || cfg.MaxCompletedTasksPerFramework < 0 {
		return nil, fmt.Errorf("%w: counts must not be negative", ErrConfig)
	}
	if (cfg.AuthenticateFrameworks || cfg.AuthenticateHTTPReadWrite || cfg.AuthenticateHTTPReadOnly || cfg.AuthenticateAgents) && cfg.Credentials.Len() == 0 {
		return nil, fmt.Errorf("%w: authentication needs --credentials", ErrConfig)
	}
	if cfg.MaxCallBytes <= 0 {
		cfg.MaxCallBytes = DefaultMaxCallBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	switch cfg.OfferMode {
	case "", OfferPessimistic:
	case OfferOptimistic:
		if cfg.OfferFanout < 0 || cfg.OfferFanout == 1 {
			return nil, fmt.Errorf("%w: --offer_fanout %d: an optimistic offer goes to at least 2 frameworks", ErrConfig, cfg.OfferFanout)
		}
	default:
		return nil, fmt.Errorf("%w: --offer_mode %q: want %s or %s", ErrConfig, cfg.OfferMode, OfferPessimistic, OfferOptimistic)
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
