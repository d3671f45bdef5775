package main

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mesoproject/meso/internal/master"
	"github.com/mesoproject/meso/internal/master/core"
	"github.com/mesoproject/meso/internal/mesosflag"
)

// newMasterCmd is `meso master`: the Mesos-compatible master daemon.
func newMasterCmd() *cobra.Command {
	var cfg master.Config
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
			cfg.Version = version
			cfg.Flags = flagValues(cmd.Flags())
			cfg.LogLevel = new(slog.LevelVar) // SET_LOGGING_LEVEL changes it
			cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel})).With("component", "master")
			m, err := master.New(cfg)
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(cfg.Port)))
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
	mesosflag.DurationVar(f, &cfg.AllocationInterval, "allocation_interval", core.DefaultAllocationInterval,
		"interval between allocation cycles")
	mesosflag.DurationVar(f, &cfg.AgentPingTimeout, "agent_ping_timeout", core.DefaultAgentPingTimeout,
		"interval of agent pings; an agent that misses --max_agent_ping_timeouts in a row is lost")
	f.IntVar(&cfg.MaxAgentPingTimeouts, "max_agent_ping_timeouts", core.DefaultMaxAgentPingTimeouts,
		"missed pings in a row after which an agent is lost")
	f.StringVar(&cfg.MinAllocatableResources, "min_allocatable_resources", "",
		`smallest offers worth making, e.g. "cpus:0.01|mem:32" (alternatives separated by '|')`)
	mesosflag.DurationVar(f, &cfg.HeartbeatInterval, "heartbeat_interval", core.DefaultHeartbeatInterval,
		"interval of HEARTBEAT events on scheduler streams")
	mesosflag.DurationVar(f, &cfg.OfferTimeout, "offer_timeout", 0,
		"rescind offers not answered within this duration (0: never)")
	f.IntVar(&cfg.MaxCompletedFrameworks, "max_completed_frameworks", core.DefaultMaxCompletedFrameworks,
		"completed frameworks kept for /state")
	f.IntVar(&cfg.MaxCompletedTasksPerFramework, "max_completed_tasks_per_framework", core.DefaultMaxCompletedTasks,
		"completed tasks kept per framework for /state")
	httpBoundFlags(f, &cfg.HTTP)
	return cmd
}

// flagValues lists every flag's value, for /state's "flags".
func flagValues(fs *pflag.FlagSet) map[string]string {
	out := map[string]string{}
	fs.VisitAll(func(f *pflag.Flag) { out[f.Name] = f.Value.String() })
	return out
}
