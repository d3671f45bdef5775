package main

import (
	"cmp"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/mesoproject/meso/internal/agent"
	"github.com/mesoproject/meso/internal/agent/lifecycle"
	"github.com/mesoproject/meso/internal/agent/statusupdate"
	"github.com/mesoproject/meso/internal/authn"
	"github.com/mesoproject/meso/internal/cmdhost"
	"github.com/mesoproject/meso/internal/fetcher"
	"github.com/mesoproject/meso/internal/mesosflag"
	"github.com/mesoproject/meso/internal/tlsconf"
	"github.com/mesoproject/meso/rdd/shuffleservice"
)

// newAgentCmd is `meso agent`: the Mesos-compatible agent daemon.
func newAgentCmd() *cobra.Command {
	var cfg agent.Config
	var tlsf tlsFlags
	var credential string
	ip := "0.0.0.0"
	strict := true
	switchUser := true
	var credentials, acls string
	var shufflePort int
	var logDir string
	var shuffleCleaner time.Duration
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run an agent (runs tasks for the master; Mesos v1 executor API)",
		Long: `Run a meso agent: it registers with the master given by --master, offers this
host's resources (detected, or as given by --resources), runs the tasks the
master sends it in executors under --work_dir, and serves the Mesos v1 executor
API at /api/v1/executor, plus /state, /health and /metrics/snapshot.

Every flag can also be set from the environment as MESOS_<FLAG> or
MESO_<FLAG> (e.g. MESOS_WORK_DIR); durations take the Mesos syntax
("15secs", "2mins") or Go's ("15s").`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd); err != nil {
				return err
			}
			if shufflePort < 0 || shufflePort > 65535 {
				// Refused before anything starts, not at listen time.
				return fmt.Errorf("--shuffle_service=%d: a port is 1-65535 (0 or absent: no shuffle service)", shufflePort)
			}
			if cfg.CommandExecutorHostIdle <= 0 {
				return fmt.Errorf("--command_executor_host_idle=%v: a host's idle time must be positive", cfg.CommandExecutorHostIdle)
			}
			if ip != "0.0.0.0" && ip != "::" {
				cfg.IP = ip
			}
			cfg.NonStrict = !strict
			cfg.NoSwitchUser = !switchUser
			var err error
			if cfg.Credentials, cfg.ACLs, err = loadAuth(credentials, acls); err != nil {
				return err
			}
			cfg.LeaveExecutorsOnStop = true // an agent upgrade keeps checkpointing frameworks' tasks
			agent.Version = version
			cfg.LogLevel = new(slog.LevelVar) // SET_LOGGING_LEVEL changes it
			logOut, logFile, err := logWriter(logDir, "meso-agent.log")
			if err != nil {
				return err
			}
			cfg.LogFile = logFile
			cfg.Logger = slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: cfg.LogLevel})).With("component", "agent")
			tc, err := tlsf.config()
			if err != nil {
				return err
			}
			if err := linkClient(&cfg, tc, credential); err != nil {
				return err
			}
			if shufflePort > 0 {
				advertise := cmp.Or(cfg.IP, cfg.Hostname, "127.0.0.1")
				cfg.ShuffleService, _, err = startShuffleService(cmd.Context(), ip, shufflePort, advertise,
					shuffleCleaner, cfg.HTTP, cfg.Logger.With("component", "shuffle-service"))
				if err != nil {
					return err
				}
			}
			a, err := agent.New(cfg)
			if err != nil {
				return err
			}
			ln, err := listen(net.JoinHostPort(ip, strconv.Itoa(cfg.Port)), tc)
			if err != nil {
				return fmt.Errorf("agent: %w", err)
			}
			return a.Serve(cmd.Context(), ln)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Master, "master", "", "the master, host:port, or the masters of a group, comma-separated (required)")
	f.StringVar(&ip, "ip", ip, "IP address to listen on (and advertise, unless 0.0.0.0)")
	f.IntVar(&cfg.Port, "port", 5051, "port to listen on")
	f.StringVar(&cfg.Hostname, "hostname", "", "hostname to advertise (default: the host's name)")
	f.StringVar(&cfg.WorkDir, "work_dir", "", "directory for sandboxes (required)")
	mesosflag.ResourcesVar(f, &cfg.Resources, "resources", nil,
		`resources to offer, overriding detection per name, e.g. "cpus:4;mem:8192;disk:50000;ports:[31000-32000];cpus(web):2"`)
	mesosflag.AttributesVar(f, &cfg.Attributes, "attributes", nil, `attributes of this agent, e.g. "rack:r1;zone:a"`)
	f.StringVar(&cfg.Isolation, "isolation", agent.DefaultIsolation,
		"isolators, comma-separated: posix/cpu, posix/mem (plain processes), cgroups/cpu, cgroups/mem, cgroups/pids, cgroups/all (limits; need writable cgroups)")
	f.StringVar(&cfg.Containerizers, "containerizers", agent.DefaultContainerizers, `containerizers, in order of preference ("mesos", or "docker,mesos")`)
	f.StringVar(&cfg.CgroupsRoot, "cgroups_root", agent.DefaultCgroupsRoot, "name of the cgroup, under the agent's own, holding the containers' cgroups (cgroups isolation)")
	f.Uint64Var(&cfg.CgroupsPidsLimit, "cgroups_pids_limit", 0, "most processes and threads per container with cgroups/pids (0: no limit, only counted)")
	f.BoolVar(&cfg.CgroupsEnableCFS, "cgroups_enable_cfs", false, "cap cpu at the cpus resource with a CFS quota (cgroups/cpu and Docker containers), not only shares")
	f.StringVar(&cfg.DockerSocket, "docker_socket", "/var/run/docker.sock", "the Docker daemon's socket (with --containerizers=docker,...)")
	f.StringVar(&cfg.SandboxDirectory, "sandbox_directory", "/mnt/mesos/sandbox", "where the sandbox appears inside Docker containers")
	mesosflag.DurationVar(f, &cfg.ExecutorRegistrationTimeout, "executor_registration_timeout",
		lifecycle.DefaultRegistrationTimeout, "time an executor has to subscribe before it is destroyed")
	mesosflag.DurationVar(f, &cfg.ExecutorShutdownGracePeriod, "executor_shutdown_grace_period",
		lifecycle.DefaultShutdownGracePeriod, "time an executor has to shut down after SHUTDOWN before it is killed")
	mesosflag.DurationVar(f, &cfg.RecoveryTimeout, "recovery_timeout", agent.DefaultRecoveryTimeout,
		"time executors of checkpointing frameworks wait for this agent to come back before they kill their tasks and exit (MESOS_RECOVERY_TIMEOUT); also how long a restarted agent waits for them to subscribe again")
	f.BoolVar(&cfg.AuthenticateHTTPExecutors, "authenticate_http_executors", false,
		"give each executor a token (MESOS_EXECUTOR_AUTHENTICATION_TOKEN) and refuse executor API calls without it (401)")
	f.StringVar(&credentials, "credentials", "",
		`credentials operators authenticate with (path or file:///path): {"credentials":[{"principal":"..","secret":".."}]} or "principal secret" lines`)
	f.BoolVar(&cfg.AuthenticateHTTPReadOnly, "authenticate_http_readonly", false,
		"require HTTP Basic credentials on /state, /metrics/snapshot, /metrics, /monitor/statistics and /files")
	f.BoolVar(&cfg.AuthenticateHTTPReadWrite, "authenticate_http_readwrite", false,
		"require HTTP Basic credentials on the operator API (/api/v1)")
	f.StringVar(&acls, "acls", "", aclsUsage)
	f.BoolVar(&switchUser, "switch_user", true,
		"when root, run each executor and task as its user (CommandInfo.user, else FrameworkInfo.user); false runs them as the agent's user")
	f.StringVar(&cfg.Recover, "recover", agent.RecoverReconnect,
		`at start: "reconnect" recovers the agent id and the executors of checkpointing frameworks from --work_dir; "cleanup" kills every executor of the last run and starts as a new agent`)
	f.BoolVar(&strict, "strict", true, "a corrupt checkpoint in --work_dir makes the start fail; with --strict=false it is logged and skipped")
	mesosflag.DurationVar(f, &cfg.StatusUpdateRetryIntervalMin, "status_update_retry_interval_min",
		statusupdate.DefaultRetryMin, "first retry interval of an unacknowledged status update")
	mesosflag.DurationVar(f, &cfg.StatusUpdateRetryIntervalMax, "status_update_retry_interval_max",
		statusupdate.DefaultRetryMax, "largest retry interval of an unacknowledged status update")
	mesosflag.DurationVar(f, &cfg.RegistrationBackoffFactor, "registration_backoff_factor",
		agent.DefaultRegistrationBackoffFactor, "bound of the random delay before registering again; doubles per failure")
	mesosflag.DurationVar(f, &cfg.RegistrationBackoffMax, "registration_backoff_max",
		agent.DefaultRegistrationBackoffMax, "largest delay between registration attempts")
	f.StringVar(&cfg.FetcherCacheDir, "fetcher_cache_dir", "", "directory of the fetcher's cache; cache files of an earlier run are removed at start (default: <work_dir>/fetch)")
	mesosflag.BytesVar(f, &cfg.FetcherCacheSize, "fetcher_cache_size", fetcher.DefaultCacheSize,
		`size bound of the fetcher's cache, e.g. "2GB", "512MB"`)
	mesosflag.DurationVar(f, &cfg.FetcherStallTimeout, "fetcher_stall_timeout", fetcher.DefaultStallTimeout,
		"a download that receives no data for this long fails")
	f.StringVar(&cfg.Launcher, "launcher", "", "path of the meso binary executors run from (default: this binary)")
	f.BoolVar(&cfg.CommandExecutorHost, "command_executor_host", true,
		`run the command executors of a framework's command tasks in one long-lived process (a command executor host) instead of a process per task; each task keeps its executor id, sandbox and updates (not with cgroups isolation; needs meso-executor in --launcher_dir; false: a process per task)`)
	mesosflag.DurationVar(f, &cfg.CommandExecutorHostIdle, "command_executor_host_idle", cmdhost.DefaultIdleTimeout,
		"how long a command executor host with no executor is kept before it is told to exit")
	f.StringVar(&cfg.LauncherDir, "launcher_dir", "", `directory holding the lean executor binary meso-executor, used for command tasks and task groups when present ("none": always the meso binary; default: this binary's directory)`)
	f.StringVar(&credential, "credential", "",
		`this agent's credential on the master's link (path or file:///path): {"principal":"..","secret":".."} or one "principal secret" line`)
	f.StringVar(&logDir, "log_dir", "", "directory to write the agent's log to (meso-agent.log, besides stderr); the files API then serves it as /slave/log")
	f.IntVar(&shufflePort, "shuffle_service", 0,
		"run the external shuffle service on this port beside the agent (--shuffle_service alone: 7337); executors learn it from MESO_SHUFFLE_SERVICE_ADDR")
	f.Lookup("shuffle_service").NoOptDefVal = strconv.Itoa(shuffleservice.DefaultPort)
	mesosflag.DurationVar(f, &shuffleCleaner, "shuffle_service_cleaner_interval", shuffleservice.DefaultCleanerInterval,
		"how often the shuffle service deletes the files of applications whose driver stopped sending heartbeats (spark.shuffle.cleaner.interval)")
	tlsf.add(f, true)
	httpBoundFlags(f, &cfg.HTTP)
	return cmd
}

// linkClient gives the agent its HTTP client to the master: TLS (https
// for masters given as host:port when TLS is on or a CA file is given),
// and HTTP Basic with the --credential when one is given. It also hands
// the TLS settings on to the agent for its executors.
func linkClient(cfg *agent.Config, tc tlsconf.Config, credential string) error {
	tr, secure, err := clientTransport(tc)
	if err != nil {
		return err
	}
	cfg.TLS = tc
	cfg.Master = withScheme(cfg.Master, secure)
	var rt http.RoundTripper = tr
	if credential != "" {
		c, err := authn.LoadOne(credential)
		if err != nil {
			return fmt.Errorf("--credential: %w", err)
		}
		rt = &basicAuth{principal: c.Principal, secret: c.Secret, next: tr}
	}
	cfg.HTTPClient = &http.Client{Transport: rt}
	return nil
}
