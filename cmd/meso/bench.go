package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mesoproject/meso/internal/master"
	"github.com/mesoproject/meso/internal/mesosflag"
	"github.com/mesoproject/meso/internal/resources"
	"github.com/mesoproject/meso/internal/sim"
)

// newBenchCmd is `meso bench`: the cluster simulator (internal/sim).
func newBenchCmd() *cobra.Command {
	cfg := sim.Config{
		Agents: 1000, Frameworks: 10, Tasks: 20000, TaskDuration: time.Second,
		AgentResources: resources.MustParse(sim.DefaultAgentResources),
		TaskResources:  resources.MustParse(sim.DefaultTaskResources),
	}
	var output string
	stateInterval := sim.DefaultStateInterval
	var quiet, verbose bool
	offerMode := master.OfferPessimistic
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure a master with thousands of simulated agents and frameworks",
		Long: `bench starts a master in this process (or uses the one at --master), registers
--agents simulated agents that speak the real agent link protocol, then runs
--tasks tasks through --frameworks simulated frameworks on the scheduler
API. A task runs for --task_duration (nothing is executed): the agent
reports TASK_RUNNING at once (after TASK_STARTING with --task_starting) and
TASK_FINISHED after it, and the framework acknowledges every update.

A progress line goes to stderr every second; the figures go to stdout when
the run ends, one per line ("to RUNNING: 23,456 tasks/s"), or as JSON with
-o json. docs/BENCHMARKS.md says what each figure measures.

Flags may be written with '_' or '-' (--task_duration, --task-duration).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd); err != nil {
				return err
			}
			if output != "table" && output != "json" {
				return fmt.Errorf("-o %q: want table or json", output)
			}
			cfg.Version = version
			cfg.StateInterval = stateInterval
			if stateInterval <= 0 {
				cfg.StateInterval = -1
			}
			if !quiet {
				cfg.Progress = cmd.ErrOrStderr()
			}
			cfg.Logger = slog.New(slog.DiscardHandler)
			if verbose {
				cfg.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
			}
			modes := []string{offerMode}
			switch offerMode {
			case master.OfferPessimistic, master.OfferOptimistic:
			case "compare":
				modes = []string{master.OfferPessimistic, master.OfferOptimistic}
			default:
				return fmt.Errorf("--offer_mode %q: want pessimistic, optimistic or compare", offerMode)
			}
			if cfg.Master != "" && cmd.Flags().Changed("offer_mode") {
				return errors.New("--offer_mode sets the in-process master's; an external master (--master) has its own")
			}
			var err error
			reports := map[string]*sim.Report{}
			for i, mode := range modes {
				run := cfg
				if cfg.Master == "" {
					run.OfferMode = mode
				}
				var rep *sim.Report
				rep, err = sim.Run(cmd.Context(), run)
				if rep == nil {
					break
				}
				reports[mode] = rep
				if output == "json" {
					if len(modes) == 1 {
						err = errors.Join(err, rep.WriteJSON(cmd.OutOrStdout()))
					}
				} else {
					if len(modes) > 1 {
						if i > 0 {
							fmt.Fprintln(cmd.OutOrStdout())
						}
						fmt.Fprintf(cmd.OutOrStdout(), "# offer_mode=%s\n", mode)
					}
					err = errors.Join(err, rep.WriteTable(cmd.OutOrStdout()))
				}
				if err != nil {
					break
				}
			}
			if output == "json" && len(modes) > 1 && len(reports) > 0 {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				err = errors.Join(err, enc.Encode(reports))
			}
			if errors.Is(err, sim.ErrIncomplete) {
				fmt.Fprintln(cmd.ErrOrStderr(), "meso bench:", err)
				return exitCode(1)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		return pflag.NormalizedName(strings.ReplaceAll(name, "-", "_"))
	})
	f.StringVar(&cfg.Master, "master", "", "host:port of an external master (default: start one in this process)")
	f.IntVar(&cfg.MasterPID, "master_pid", 0, "process id of the external master, to report its memory")
	f.IntVar(&cfg.Agents, "agents", cfg.Agents, "number of simulated agents")
	f.IntVar(&cfg.Frameworks, "frameworks", cfg.Frameworks, "number of simulated frameworks")
	f.IntVar(&cfg.Tasks, "tasks", cfg.Tasks, "number of tasks, shared out evenly over the frameworks")
	mesosflag.DurationVar(f, &cfg.TaskDuration, "task_duration", cfg.TaskDuration, "how long each task runs (e.g. 2secs, 500ms)")
	mesosflag.ResourcesVar(f, &cfg.AgentResources, "agent_resources", cfg.AgentResources, "resources of each agent")
	mesosflag.ResourcesVar(f, &cfg.TaskResources, "task_resources", cfg.TaskResources, "resources of each task (scalars only)")
	f.BoolVar(&cfg.TaskStarting, "task_starting", false,
		"the simulated executor reports TASK_STARTING before TASK_RUNNING, as Mesos' command executor does (3 updates per task); by default TASK_RUNNING then TASK_FINISHED, as Spark's and most custom executors")
	mesosflag.DurationVar(f, &cfg.AllocationInterval, "allocation_interval", 0,
		"--allocation_interval of the in-process master (0: the master's default, 1secs)")
	mesosflag.DurationVar(f, &cfg.Timeout, "timeout", sim.DefaultTimeout, "give up after this long")
	mesosflag.DurationVar(f, &cfg.UpdateRetry, "update_retry", 0,
		"first retry interval of the simulated agents' unacknowledged status updates, doubling (0: Mesos' 10secs)")
	mesosflag.DurationVar(f, &stateInterval, "state_interval", stateInterval,
		"pause between the end of one state query and the next while tasks run (0: no queries)")
	f.Float64Var(&cfg.LaunchRate, "launch_rate", 0,
		"tasks/s of a steady phase: --tasks are launched first and held running, then this many tasks a second more (each running --task_duration) for --steady_duration; the steady figures and the state queries are that phase's (0: no steady phase, --tasks as one burst)")
	mesosflag.DurationVar(f, &cfg.SteadyDuration, "steady_duration", 0,
		"how long the steady phase launches (with --launch_rate; 0: 60secs)")
	f.StringVar(&cfg.StateQuery, "state_query", sim.StateQueryHTTP,
		"the state query: state (GET /master/state) or operator (the v1 operator API's GET_STATE, JSON)")
	f.StringVar(&offerMode, "offer_mode", offerMode,
		"the in-process master's --offer_mode: pessimistic, optimistic, or compare (both, one after the other, in this run)")
	f.IntVar(&cfg.OfferFanout, "offer_fanout", master.DefaultOfferFanout, "the in-process master's --offer_fanout (optimistic offers)")
	f.Float64Var(&cfg.DeclineFraction, "decline_fraction", 0,
		"share of the offers (0 to 1) each framework declines although its tasks fit (picky frameworks)")
	mesosflag.DurationVar(f, &cfg.DecisionTime, "decision_time", 0,
		"the frameworks' think time: each ACCEPT or DECLINE goes this long after its offers arrived")
	f.BoolVar(&cfg.HTTP2, "http2", false,
		"put the agents' links on HTTP/2 without TLS, many per connection, so the run is not bounded by open files (an external master needs --http2_cleartext); real agents use one HTTP/1.1 connection each")
	f.IntVar(&cfg.PipelineCalls, "pipeline_calls", 4,
		"pipeline each framework's calls (HTTP/1.1) over this many connections, the calls waiting for one in one write (subscribe.Pipeline as scheduler.Config.CallTransport; the master answers them together); 0: net/http's client, one request per connection at a time")
	f.IntVar(&cfg.LinkMux, "link_mux", 0,
		"put the agents on the framed link (link version 3), this many per connection (1: one connection per agent, as real agents; 0: the link's HTTP form)")
	f.StringVar(&cfg.ProfileDir, "profile", "", "write CPU and heap profiles of the in-process master (and simulator) into this directory: register.pprof and heap-registered.pprof for the registration, cpu.pprof and heap.pprof for the tasks")
	f.StringVarP(&output, "output", "o", "table", "output format: table or json")
	f.BoolVar(&quiet, "quiet", false, "no progress line")
	f.BoolVar(&verbose, "verbose", false, "log the master's and the simulator's warnings to stderr")
	return cmd
}
