package main

import (
	"crypto/tls"
	"fmt"
	"github.com/mesoproject/meso/internal/tlsconf"
	"log/slog"
	"net"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mesoproject/meso/internal/master"
	"github.com/mesoproject/meso/internal/master/core"
	"github.com/mesoproject/meso/internal/mesosflag"
	"github.com/mesoproject/meso/internal/registry"
)

// newMasterCmd is `meso master`: the Mesos-compatible master daemon.
func newMasterCmd() *cobra.Command {
	var cfg master.Config
	var reg registryFlags
	var credentials, acls, logDir string
	var memoryLimit int64
	var tlsf tlsFlags
	ip := "0.0.0.0"
	cmd := &cobra.Command{
		Use:   "master",
		Short: "Run a master (Mesos v1 scheduler API, DRF allocator)",
		Long: `Run a meso master: frameworks subscribe at /api/v1/scheduler (the Mesos v1
scheduler API), agents register at /internal/v1/link, and operators read
/state, /health, /metrics/snapshot and /metrics.

Every flag can also be set from the environment as MESOS_<FLAG> or
MESO_<FLAG> (e.g. MESOS_WORK_DIR); durations take the Mesos syntax
("15secs", "2mins") or Go's ("15s").`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd); err != nil {
				return err
			}
			cfg.IP = ip
			if err := applyMemoryLimit(memoryLimit); err != nil {
				return err
			}
			if err := reg.apply(&cfg, ip); err != nil {
				return err
			}
			var err error
			if cfg.Credentials, cfg.ACLs, err = loadAuth(credentials, acls); err != nil {
				return err
			}
			cfg.Version = version
			cfg.Flags = flagValues(cmd.Flags())
			cfg.LogLevel = new(slog.LevelVar) // SET_LOGGING_LEVEL changes it
			logOut, logFile, err := logWriter(logDir, "meso-master.log")
			if err != nil {
				return err
			}
			cfg.LogFile = logFile
			cfg.Logger = slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: cfg.LogLevel})).With("component", "master")
			tc, err := tlsf.config()
			if err != nil {
				return err
			}
			if err := raftTLS(cfg.Replicated, tc); err != nil {
				return err
			}
			m, err := master.New(cfg)
			if err != nil {
				return err
			}
			ln, err := listen(net.JoinHostPort(ip, strconv.Itoa(cfg.Port)), tc)
			if err != nil {
				return fmt.Errorf("master: %w", err)
			}
			return m.Serve(cmd.Context(), ln)
		},
	}
	f := cmd.Flags()
	f.StringVar(&ip, "ip", ip, "IP address to listen on and advertise")
	f.IntVar(&cfg.Port, "port", 5050, "port to listen on")
	f.StringVar(&cfg.Hostname, "hostname", "", "hostname to advertise (default: the IP)")
	f.StringVar(&cfg.WorkDir, "work_dir", "", "directory for the master's durable state")
	f.StringVar(&logDir, "log_dir", "", "directory to write the master's log to (meso-master.log, besides stderr); the files API then serves it as /master/log")
	mesosflag.DurationVar(f, &cfg.AllocationInterval, "allocation_interval", core.DefaultAllocationInterval,
		"interval between allocation cycles")
	mesosflag.DurationVar(f, &cfg.AgentPingTimeout, "agent_ping_timeout", core.DefaultAgentPingTimeout,
		"interval of agent pings; an agent that misses --max_agent_ping_timeouts in a row is lost")
	f.IntVar(&cfg.MaxAgentPingTimeouts, "max_agent_ping_timeouts", core.DefaultMaxAgentPingTimeouts,
		"missed pings in a row after which an agent is lost")
	f.StringVar(&cfg.MinAllocatableResources, "min_allocatable_resources", "",
		`smallest offers worth making, e.g. "cpus:0.01|mem:32" (alternatives separated by '|')`)
	f.StringVar(&cfg.OfferMode, "offer_mode", master.OfferPessimistic,
		`"pessimistic" (Mesos': an agent's resources go to one framework at a time) or "optimistic" (to --offer_fanout frameworks at once; the first ACCEPT wins, the others are rescinded)`)
	f.IntVar(&cfg.OfferFanout, "offer_fanout", master.DefaultOfferFanout,
		"with --offer_mode=optimistic: how many frameworks are offered the same resources at once")
	mesosflag.DurationVar(f, &cfg.HeartbeatInterval, "heartbeat_interval", core.DefaultHeartbeatInterval,
		"interval of HEARTBEAT events on scheduler streams")
	mesosflag.DurationVar(f, &cfg.OfferTimeout, "offer_timeout", 0,
		"rescind offers not answered within this duration (0: never)")
	f.IntVar(&cfg.MaxCompletedFrameworks, "max_completed_frameworks", core.DefaultMaxCompletedFrameworks,
		"completed frameworks kept for /state")
	f.IntVar(&cfg.MaxCompletedTasksPerFramework, "max_completed_tasks_per_framework", core.DefaultMaxCompletedTasks,
		"completed tasks kept per framework for /state")
	mesosflag.DurationVar(f, &cfg.AgentReregisterTimeout, "agent_reregister_timeout", core.DefaultAgentReregisterTimeout,
		"time a newly elected master waits for the registry's agents to re-register before marking the others unreachable")
	f.StringVar(&reg.removalLimit, "recovery_agent_removal_limit", "100%",
		"largest share of the recovered agents marked unreachable after --agent_reregister_timeout; over it none is")
	f.StringVar(&reg.kind, "registry", registryReplicated,
		`where the registry lives: "replicated_log" (raft, under --work_dir/registry) or "in_memory" (forgotten at exit; tests)`)
	f.StringVar(&reg.masters, "masters", "",
		"every master of the group as ip:port (their --ip:--port, this one included), comma-separated; empty: this master alone")
	f.IntVar(&reg.portOffset, "registry_port_offset", defaultRegistryPortOffset,
		"the registry's raft port is each master's --port plus this (the same on every master)")
	mesosflag.DurationVar(f, &reg.electionTimeout, "registry_election_timeout", 0,
		"raft heartbeat and election timeout (0: raft's default, 1secs)")
	f.StringVar(&credentials, "credentials", "",
		`credentials file (path or file:///path): {"credentials":[{"principal":"..","secret":".."}]} or "principal secret" lines`)
	f.StringVar(&acls, "acls", "", aclsUsage)
	f.BoolVar(&cfg.AuthenticateFrameworks, "authenticate_frameworks", false,
		"require HTTP Basic credentials on /api/v1/scheduler; the principal must be FrameworkInfo.principal")
	f.BoolVar(&cfg.AuthenticateHTTPReadWrite, "authenticate_http_readwrite", false,
		"require HTTP Basic credentials on the operator API (/api/v1)")
	f.BoolVar(&cfg.AuthenticateHTTPReadOnly, "authenticate_http_readonly", false,
		"require HTTP Basic credentials on /state, /master/state and its cuts, /metrics/snapshot and /metrics")
	f.BoolVar(&cfg.AuthenticateAgents, "authenticate_agents", false,
		"require HTTP Basic credentials (the agents' --credential) on the agent link")
	mesosflag.BytesVar(f, &memoryLimit, "memory_limit", 0,
		`soft limit on the master process's memory, e.g. "1GB" (0: none): near it the Go garbage collector runs more often instead of letting the heap grow to twice the live data, for a master in a container or on a host with a memory cap (costs CPU when the live data approaches it; it is not a hard limit)`)
	tlsf.add(f, true)
	httpBoundFlags(f, &cfg.HTTP)
	return cmd
}

// applyMemoryLimit sets the Go runtime's soft memory limit to n bytes
// (--memory_limit; 0 leaves the runtime's, which GOMEMLIMIT may set).
func applyMemoryLimit(n int64) error {
	switch {
	case n < 0:
		return fmt.Errorf("%w: --memory_limit must not be negative", master.ErrConfig)
	case n > 0:
		debug.SetMemoryLimit(n)
	}
	return nil
}

// The --registry values.
const (
	registryReplicated = "replicated_log"
	registryInMemory   = "in_memory"
)

// defaultRegistryPortOffset puts a master's raft port 1000 above its HTTP
// port (5050 -> 6050), clear of the agent's default 5051.
const defaultRegistryPortOffset = 1000

// registryFlags are the flags of the master's registry and leadership.
type registryFlags struct {
	kind            string
	masters         string
	portOffset      int
	electionTimeout time.Duration
	removalLimit    string
}

// apply sets cfg.Replicated (or nothing, for --registry=in_memory) and
// cfg.RecoveryAgentRemovalLimit from the flags.
func (r *registryFlags) apply(cfg *master.Config, ip string) error {
	limit, err := parsePercent(r.removalLimit)
	if err != nil {
		return fmt.Errorf("%w: --recovery_agent_removal_limit: %w", master.ErrConfig, err)
	}
	cfg.RecoveryAgentRemovalLimit = limit
	switch r.kind {
	case registryInMemory:
		if r.masters != "" {
			return fmt.Errorf("%w: --masters needs --registry=%s", master.ErrConfig, registryReplicated)
		}
		return nil
	case registryReplicated:
	default:
		return fmt.Errorf("%w: --registry=%q: want %s or %s", master.ErrConfig, r.kind, registryReplicated, registryInMemory)
	}
	if cfg.WorkDir == "" {
		return fmt.Errorf("%w: --registry=%s needs --work_dir (or use --registry=%s)", master.ErrConfig, registryReplicated, registryInMemory)
	}
	rep := &master.Replicated{Dir: filepath.Join(cfg.WorkDir, "registry"),
		HeartbeatTimeout: r.electionTimeout, ElectionTimeout: r.electionTimeout, LeaderLeaseTimeout: r.electionTimeout / 2}
	if r.masters == "" {
		// A single voter never dials anyone: any loopback port will do.
		rep.Bind = "127.0.0.1:0"
		cfg.Replicated = rep
		return nil
	}
	self := net.JoinHostPort(ip, strconv.Itoa(cfg.Port))
	for _, hp := range strings.Split(r.masters, ",") {
		hp = strings.TrimSpace(hp)
		host, portText, err := net.SplitHostPort(hp)
		port, perr := strconv.Atoi(portText)
		if err != nil || perr != nil || port <= 0 || port+r.portOffset > 65535 {
			return fmt.Errorf("%w: --masters: %q is not ip:port (with a raft port of port+%d)", master.ErrConfig, hp, r.portOffset)
		}
		raftAddr := net.JoinHostPort(host, strconv.Itoa(port+r.portOffset))
		rep.Peers = append(rep.Peers, registry.Peer{ID: net.JoinHostPort(host, portText), Addr: raftAddr})
		if rep.Peers[len(rep.Peers)-1].ID == self {
			rep.Bind = raftAddr
		}
	}
	if rep.Bind == "" {
		return fmt.Errorf("%w: --masters does not list this master's --ip:--port %s", master.ErrConfig, self)
	}
	cfg.Replicated = rep
	return nil
}

// parsePercent reads "50%", "50" (percent) or "0.5%" into a fraction.
func parsePercent(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), "%"), 64)
	if err != nil || v < 0 || v > 100 {
		return 0, fmt.Errorf("%q is not a percentage between 0%% and 100%%", s)
	}
	return v / 100, nil
}

// flagValues lists every flag's value, for /state's "flags".
func flagValues(fs *pflag.FlagSet) map[string]string {
	out := map[string]string{}
	fs.VisitAll(func(f *pflag.Flag) { out[f.Name] = f.Value.String() })
	return out
}

// raftTLS makes a group of masters with TLS talk raft over mutual TLS:
// each master presents its certificate and requires a peer's, verified
// against --ssl_ca_file (or the system roots), so that only the group's
// masters can join the raft traffic. A single master dials nobody.
func raftTLS(rep *master.Replicated, tc tlsconf.Config) error {
	if rep == nil || len(rep.Peers) == 0 || !tc.Enabled {
		return nil
	}
	srv, err := tc.Server()
	if err != nil {
		return err
	}
	cli, err := tc.Client()
	if err != nil {
		return err
	}
	srv.ClientAuth = tls.RequireAndVerifyClientCert
	rep.ServerTLS, rep.ClientTLS = srv, cli
	return nil
}
