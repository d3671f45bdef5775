package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/examples/seeddemo"
	"github.com/mesoproject/meso/internal/agent"
	"github.com/mesoproject/meso/internal/batch"
	"github.com/mesoproject/meso/internal/httpbound"
	"github.com/mesoproject/meso/internal/master"
	"github.com/mesoproject/meso/internal/mesosflag"
	"github.com/mesoproject/meso/internal/registry"
	"github.com/mesoproject/meso/internal/resources"
	"github.com/mesoproject/meso/rdd"
	"github.com/mesoproject/meso/rdd/shuffleservice"
)

// devOptions are the flags of `meso dev`.
type devOptions struct {
	ip        string
	port      int
	agents    int
	masters   int
	resources string
	workDir   string
	keep      bool
	example   bool
	demoN     int
	demoParts int
	verbose   bool
	// shuffle runs an external shuffle service beside each agent, on a
	// free port (agents share the host); shuffleCleaner is its cleaner
	// interval.
	shuffle        bool
	shuffleCleaner time.Duration
}

func newDevCmd() *cobra.Command {
	var o devOptions
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run an embedded cluster: a master and agents in one process on loopback",
		Long: `dev runs a master and --agents agents in this process, listening on
loopback, with their work directories under a temporary folder (or
--work_dir). It prints the master's address and serves until interrupted.

With --example it also runs a sample workload (a batch of command tasks
spread over the agents), prints what happened, and exits with status 0 when
every task finished.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd); err != nil {
				return err
			}
			return runDev(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.ip, "ip", "127.0.0.1", "address the master and agents listen on")
	f.IntVar(&o.port, "port", 5050, "master port (0 picks a free one); agents use free ports")
	f.IntVar(&o.agents, "agents", 2, "number of agents")
	f.IntVar(&o.masters, "masters", 1, "number of masters (3 or 5 for a highly available group; the first listens on --port)")
	f.StringVar(&o.resources, "resources", "cpus:2;mem:2048;disk:4096;ports:[31000-32000]",
		"resources of each agent, in Mesos --resources syntax")
	f.StringVar(&o.workDir, "work_dir", "", "work directory (default: a new temporary folder, removed at exit)")
	f.BoolVar(&o.keep, "keep", false, "keep the temporary work directory at exit")
	f.BoolVar(&o.example, "example", false, "run a sample workload on the cluster (command tasks, then the seed demo job as an rdd framework), then exit")
	f.IntVar(&o.demoN, "example-demo-n", 1_000_000, "with --example: integers of the demo job (the seed talk's is 10000000)")
	f.IntVar(&o.demoParts, "example-demo-parts", 100, "with --example: partitions of the demo job (the seed talk's is 500)")
	f.BoolVar(&o.verbose, "verbose", false, "log what the master and agents do to stderr")
	f.BoolVar(&o.shuffle, "shuffle_service", false, "run an external shuffle service beside each agent (on a free port each; executors learn it from MESO_SHUFFLE_SERVICE_ADDR)")
	mesosflag.DurationVar(f, &o.shuffleCleaner, "shuffle_service_cleaner_interval", shuffleservice.DefaultCleanerInterval,
		"with --shuffle_service: how often the services delete the files of applications whose driver stopped sending heartbeats")
	return cmd
}

func runDev(ctx context.Context, out io.Writer, o devOptions) error {
	if o.agents < 1 {
		return fmt.Errorf("--agents must be at least 1, got %d", o.agents)
	}
	if o.masters < 1 {
		return fmt.Errorf("--masters must be at least 1, got %d", o.masters)
	}
	res, err := resources.Parse(o.resources)
	if err != nil {
		return fmt.Errorf("--resources: %w", err)
	}
	workDir := o.workDir
	if workDir == "" {
		if workDir, err = os.MkdirTemp("", "meso-dev-"); err != nil {
			return err
		}
		if !o.keep {
			defer os.RemoveAll(workDir)
		}
	}
	log := slog.New(slog.DiscardHandler)
	level := new(slog.LevelVar) // SET_LOGGING_LEVEL on any daemon changes it
	if o.verbose {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)

	masterAddr, err := startDevMasters(gctx, g, o, workDir, log, level)
	if err != nil {
		cancel()
		g.Wait()
		return err
	}

	for i := range o.agents {
		aln, err := net.Listen("tcp", net.JoinHostPort(o.ip, "0"))
		if err != nil {
			cancel()
			g.Wait()
			return fmt.Errorf("agent %d: %w", i+1, err)
		}
		var shuffleAddr string
		if o.shuffle {
			if shuffleAddr, _, err = startShuffleService(gctx, o.ip, 0, o.ip, o.shuffleCleaner, httpbound.Config{},
				log.With("component", "shuffle-service", "agent", i+1)); err != nil {
				aln.Close()
				cancel()
				g.Wait()
				return err
			}
			fmt.Fprintf(out, "meso dev: agent %d's shuffle service at %s\n", i+1, shuffleAddr)
		}
		a, err := agent.New(agent.Config{
			ShuffleService: shuffleAddr,
			Master:         masterAddr,
			WorkDir:        filepath.Join(workDir, fmt.Sprintf("agent%d", i+1)),
			Resources:      res,
			// Executors prove who they are (MESOS_EXECUTOR_AUTHENTICATION_TOKEN).
			AuthenticateHTTPExecutors: true,
			Logger:                    log.With("component", "agent", "agent", i+1),
			LogLevel:                  level,
		})
		if err != nil {
			aln.Close()
			cancel()
			g.Wait()
			return err
		}
		g.Go(func() error { return a.Serve(gctx, aln) })
	}

	if o.masters == 1 {
		fmt.Fprintf(out, "meso dev: master at http://%s", masterAddr)
	} else {
		fmt.Fprintf(out, "meso dev: %d masters at %s (one leads, the others redirect)", o.masters, masterAddr)
	}
	fmt.Fprintf(out, " with %d agents (%s each); work dir %s\n", o.agents, res, workDir)
	fmt.Fprintf(out, "web UI: http://%s/\n", strings.Split(masterAddr, ",")[0])
	if !o.example {
		fmt.Fprintf(out, "try: meso execute --master %s --name hello --command 'echo hello' --resources 'cpus:0.1;mem:32'\n", masterAddr)
		fmt.Fprintln(out, "press Ctrl-C to stop")
		err := g.Wait()
		if errors.Is(err, context.Canceled) {
			err = nil
		}
		return err
	}
	exErr := runExample(gctx, out, masterAddr, o.agents)
	if exErr == nil {
		exErr = runDemo(gctx, out, masterAddr, o.agents, o.demoN, o.demoParts)
	}
	cancel()
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) && exErr == nil {
		exErr = err
	}
	return exErr
}

// startDevMasters serves o.masters masters on loopback, each with its
// replicated registry under workDir/master<N>/registry (one voter for a
// single master), and returns their addresses as a comma list.
func startDevMasters(ctx context.Context, g *errgroup.Group, o devOptions, workDir string, log *slog.Logger, level *slog.LevelVar) (string, error) {
	var https, rafts []net.Listener
	closeAll := func() {
		for _, ln := range append(https, rafts...) {
			ln.Close()
		}
	}
	var peers []registry.Peer
	var addrs []string
	for i := range o.masters {
		port := 0
		if i == 0 {
			port = o.port
		}
		hln, err := net.Listen("tcp", net.JoinHostPort(o.ip, strconv.Itoa(port)))
		if err != nil {
			closeAll()
			return "", fmt.Errorf("master: %w", err)
		}
		https = append(https, hln)
		rln, err := net.Listen("tcp", net.JoinHostPort(o.ip, "0"))
		if err != nil {
			closeAll()
			return "", fmt.Errorf("master registry: %w", err)
		}
		rafts = append(rafts, rln)
		addrs = append(addrs, hln.Addr().String())
		peers = append(peers, registry.Peer{ID: hln.Addr().String(), Addr: rln.Addr().String()})
	}
	if o.masters == 1 {
		peers = nil
	}
	var ms []*master.Master
	for i := range o.masters {
		dir := filepath.Join(workDir, "master")
		if o.masters > 1 {
			dir = filepath.Join(workDir, fmt.Sprintf("master%d", i+1))
		}
		m, err := master.New(master.Config{
			WorkDir: dir,
			Replicated: &master.Replicated{Dir: filepath.Join(dir, "registry"), Listener: rafts[i], Peers: peers,
				HeartbeatTimeout: devRaftTimeout, ElectionTimeout: devRaftTimeout, LeaderLeaseTimeout: devRaftTimeout / 2},
			Logger:   log.With("component", "master", "master", i+1),
			LogLevel: level,
		})
		if err != nil {
			closeAll()
			return "", err
		}
		ms = append(ms, m)
	}
	for i, m := range ms {
		g.Go(func() error { return m.Serve(ctx, https[i]) })
	}
	// Agents and the example start once a master leads, so that none of
	// them backs off from a 503 during the first election.
	elected, cancel := context.WithCancel(ctx)
	defer cancel()
	leads := make(chan error, len(ms))
	for _, m := range ms {
		go func() { leads <- m.WaitLeading(elected) }()
	}
	if err := <-leads; err != nil {
		return "", fmt.Errorf("no master was elected: %w", err)
	}
	return strings.Join(addrs, ","), nil
}

// devRaftTimeout is the raft heartbeat and election timeout of `meso dev`:
// quicker than raft's 1 s on loopback.
const devRaftTimeout = 300 * time.Millisecond

// runExample runs the sample workload of `meso dev --example`: a batch of
// short command tasks, enough to spread over every agent.
func runExample(ctx context.Context, out io.Writer, masterAddr string, agents int) error {
	n := 5 * agents
	tasks := make([]batch.Task, n)
	need := resources.MustParse("cpus:0.1;mem:32")
	for i := range tasks {
		tasks[i] = batch.Task{
			ID:        fmt.Sprintf("example-%d", i+1),
			Command:   fmt.Sprintf(`echo "task %d of %d ran in $PWD"`, i+1, n),
			Resources: need,
		}
	}
	fmt.Fprintf(out, "running %d example tasks...\n", n)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	start := time.Now()
	res, err := batch.Run(ctx, batch.Config{
		Master:      masterAddr,
		Name:        "meso-dev-example",
		MaxPerOffer: (n + agents - 1) / agents,
		OnUpdate: func(st *mesospb.TaskStatus) {
			fmt.Fprintf(out, "  %-12s %-14s %s\n", st.GetTaskId().GetValue(), st.GetState(), st.GetMessage())
		},
	}, tasks)
	if err != nil {
		return err
	}
	perAgent := map[string]int{}
	failed := 0
	for _, r := range res {
		perAgent[r.AgentID]++
		if r.State != mesospb.TaskState_TASK_FINISHED {
			failed++
		}
	}
	fmt.Fprintf(out, "done in %s: %s, over %d agents\n", time.Since(start).Round(time.Millisecond), batch.Summary(res), len(perAgent))
	if failed > 0 {
		return exitCode(1)
	}
	return nil
}

// runDemo runs the seed talk's demo job with rdd in cluster mode on the
// embedded cluster: the driver is this process, its executors this binary
// (fetched from the driver by the agents, one 1-cpu executor per agent).
func runDemo(ctx context.Context, out io.Writer, masterAddr string, agents, n, parts int) error {
	fmt.Fprintf(out, "running the seed demo job (%d integers, %d partitions) as an rdd framework...\n", n, parts)
	cfg := rdd.Config{Master: "mesos://" + masterAddr, AppName: "meso-dev-demo"}
	for k, v := range map[string]string{"spark.cores.max": fmt.Sprint(agents), "spark.executor.cores": "1",
		"spark.executor.memory": "256m"} {
		if err := cfg.Set(k, v); err != nil {
			return err
		}
	}
	start := time.Now()
	s, err := rdd.Start(cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	groups, err := rdd.Collect(ctx, s, seeddemo.Demo(n, parts))
	if err != nil {
		return err
	}
	if err := s.Close(); err != nil {
		return err
	}
	fmt.Fprintf(out, "demo done in %s: %d groups (checksum %016x); %s\n", time.Since(start).Round(time.Millisecond),
		len(groups), seeddemo.Checksum(groups), strings.ReplaceAll(s.Stats().Summary(), "\n", "; "))
	return nil
}
