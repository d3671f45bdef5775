package agent

import (
	"bufio"
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mesoproject/meso/internal/acl"
	"github.com/mesoproject/meso/internal/authn"
	"github.com/mesoproject/meso/internal/cgroups"
	"github.com/mesoproject/meso/internal/containerizer"
	"github.com/mesoproject/meso/internal/containerizer/docker"
	"github.com/mesoproject/meso/internal/containerizer/posix"
	"github.com/mesoproject/meso/internal/fetcher"
	"github.com/mesoproject/meso/internal/httpbound"
	"github.com/mesoproject/meso/internal/resources"
	"github.com/mesoproject/meso/internal/tlsconf"
)

// Config configures an Agent. Flags of `meso agent` map 1:1 to fields; zero
// values mean the Mesos defaults.
type Config struct {
	// Master is the master's address, "host:port" (an http:// URL is
	// accepted too), or the masters of a group as a comma-separated list:
	// the agent tries them in turn and follows a non-leader's 307.
	Master string
	// IP is the address executors and the master reach this agent at; empty
	// means the listener's address (127.0.0.1 when it listens on all
	// addresses).
	IP string
	// Port is the advertised port; 0 means the listener's port.
	Port int
	// Hostname advertised to the master; empty means os.Hostname, or IP
	// when the hostname cannot be found.
	Hostname string
	// WorkDir holds the sandboxes (work_dir/slaves/...). Required.
	WorkDir string
	// Resources overrides detected resources per name (--resources);
	// Attributes describe the agent (--attributes).
	Resources  resources.Resources
	Attributes resources.Attributes
	// ShuffleService is the external shuffle service running beside this
	// agent, "host:port" (--shuffle_service), given to every executor as
	// MESO_SHUFFLE_SERVICE_ADDR; empty: none.
	ShuffleService string
	// Isolation and Containerizers are the Mesos flags; they configure the
	// containerizers built when Containerizer is nil.
	Isolation      string // default "posix/cpu,posix/mem"; cgroups/cpu, cgroups/mem, cgroups/pids, cgroups/all
	Containerizers string // default "mesos"; "docker,mesos" adds Docker
	// cgroups isolation (Isolation names a cgroups/* isolator): containers
	// live under <agent's cgroup>/<CgroupsRoot> (default "meso"); a pids
	// limit per container (0: none).
	CgroupsRoot      string
	CgroupsPidsLimit uint64
	// CgroupsEnableCFS caps cpu at the cpus resource with a CFS quota, for
	// cgroups isolation and Docker containers alike (--cgroups_enable_cfs).
	CgroupsEnableCFS bool
	// Docker containerizer settings (when Containerizers names docker):
	// the daemon's socket (default /var/run/docker.sock) and where the
	// sandbox appears inside containers (default /mnt/mesos/sandbox).
	DockerSocket     string
	SandboxDirectory string

	ExecutorRegistrationTimeout  time.Duration // default 1 min
	ExecutorShutdownGracePeriod  time.Duration // default 5 s
	StatusUpdateRetryIntervalMin time.Duration // default 10 s
	StatusUpdateRetryIntervalMax time.Duration // default 10 min
	// RegistrationBackoffFactor bounds the random delay before the first
	// (re-)registration attempt after the link broke (Mesos'
	// --registration_backoff_factor); the bound doubles on each failed
	// attempt up to RegistrationBackoffMax. Defaults 1 s and 5 s.
	RegistrationBackoffFactor time.Duration
	RegistrationBackoffMax    time.Duration
	// MasterPingTimeouts is how many ping intervals (announced by the
	// master at registration) may pass without a PING before the agent
	// takes the master for lost and registers again. Default 5.
	MasterPingTimeouts int

	// RecoveryTimeout is Mesos' --recovery_timeout, told to the executors of
	// checkpointing frameworks as MESOS_RECOVERY_TIMEOUT: how long they wait
	// for this agent to come back before they kill their tasks and exit;
	// also how long a recovering agent waits for each recovered executor
	// to subscribe again before it destroys it. Default 15 min.
	RecoveryTimeout time.Duration
	// AuthenticateHTTPExecutors makes every executor API call carry
	// "Authorization: Bearer <token>" with the token the agent gave that
	// executor in MESOS_EXECUTOR_AUTHENTICATION_TOKEN
	// (--authenticate_http_executors); others get 401.
	AuthenticateHTTPExecutors bool
	// NoSwitchUser is --switch_user=false: executors and tasks run as the
	// agent's user, whatever CommandInfo.user and FrameworkInfo.user say.
	// By default (Mesos' --switch_user=true) a root agent runs each
	// executor and task as its user: the task's CommandInfo.user, else the
	// executor's, else FrameworkInfo.user (the master's run_tasks ACL says
	// which users a principal may ask for).
	NoSwitchUser bool
	// Credentials are the principals and secrets operators authenticate
	// with over HTTP Basic (--credentials); required when
	// AuthenticateHTTPReadOnly or AuthenticateHTTPReadWrite is set.
	Credentials *authn.Credentials
	// AuthenticateHTTPReadOnly requires credentials on /state, the metrics
	// and statistics endpoints and the files API
	// (--authenticate_http_readonly); AuthenticateHTTPReadWrite on the
	// operator API (--authenticate_http_readwrite). Others get 401.
	AuthenticateHTTPReadOnly  bool
	AuthenticateHTTPReadWrite bool
	// ACLs authorize operators (--acls, Mesos' format): access_sandboxes
	// on the files API and LIST_FILES/READ_FILE, access_mesos_logs on the
	// agent's log; nil allows everything.
	ACLs *acl.ACLs
	// LogFile is the file the agent's log is written to (`meso agent
	// --log_dir`); when set, the files API and LIST_FILES/READ_FILE serve
	// it as /slave/log, as Mesos does.
	LogFile string
	// Recover is Mesos' --recover: RecoverReconnect (default) recovers
	// what the checkpoints under WorkDir hold (the agent id, the executors
	// of checkpointing frameworks, their tasks and unacknowledged
	// updates); RecoverCleanup kills every executor of the last run and
	// starts as a new agent.
	Recover string
	// LeaveExecutorsOnStop makes Serve, when it returns, leave the
	// executors of checkpointing frameworks running (as Mesos' agent does
	// when it exits) for the next run on the same WorkDir to recover;
	// the others are destroyed. `meso agent` sets it; by default (`meso
	// dev`, tests) every container is destroyed.
	LeaveExecutorsOnStop bool
	// NonStrict is --strict=false: corrupt checkpoints are logged and
	// skipped; by default they make New fail.
	NonStrict bool

	// Launcher is the path of the meso binary the command executor runs
	// from (`<Launcher> executor`); default os.Executable().
	Launcher string
	// LauncherDir is where the agent looks for the lean executor binary,
	// LeanExecutorName, as Mesos looks for mesos-executor in its
	// --launcher_dir (default: the directory of Launcher). When the file is
	// there, command tasks (but those in a Docker container) and task groups
	// run in it instead of the meso binary; otherwise in the meso binary.
	// "none" never uses it.
	LauncherDir  string
	leanExecutor string // the lean executor's path, found by check
	// CommandExecutorHost (--command_executor_host) runs the command
	// executors of a framework's command tasks in one long-lived process,
	// a command executor host (package cmdhost), instead of a lean
	// executor process per task; each task keeps its executor id,
	// sandbox, updates and acknowledgements. It needs the lean executor,
	// and is not used with cgroups isolation, for tasks with a
	// ContainerInfo, or when a root agent would switch to a user: those
	// run in their own process as before. CommandExecutorHostIdle
	// (--command_executor_host_idle, default 30 s) is how long a host
	// with no executor is kept. The meso agent command turns it on by
	// default (--command_executor_host=false: a process per task); the
	// zero Config keeps it off.
	CommandExecutorHost     bool
	CommandExecutorHostIdle time.Duration
	// Containerizer runs executors; nil builds the posix one.
	Containerizer containerizer.Containerizer
	// Fetcher puts the URIs of an executor's command into its sandbox
	// before it starts; nil builds one from the three settings below.
	Fetcher *fetcher.Fetcher
	// FetcherCacheDir holds the fetcher's cache (--fetcher_cache_dir;
	// default <work_dir>/fetch). FetcherCacheSize bounds it in bytes
	// (--fetcher_cache_size; default 2 GiB). FetcherStallTimeout aborts a
	// download that receives nothing for that long (--fetcher_stall_timeout;
	// default 1 min).
	FetcherCacheDir     string
	FetcherCacheSize    int64
	FetcherStallTimeout time.Duration
	// HTTP bounds the agent's HTTP server: header, body and idle timeouts
	// and the memory request bodies may hold at once
	// (--http_header_timeout, --http_body_timeout, --http_idle_timeout,
	// --http_body_memory).
	HTTP httpbound.Config
	// HTTPClient talks to the master; nil means a client without timeouts
	// (the link is a long-lived stream). `meso agent` gives it the TLS
	// configuration and the --credential of the link.
	HTTPClient *http.Client
	// TLS is the TLS the agent's listener speaks (the caller wraps the
	// listener): executors receive it as LIBPROCESS_SSL_* variables, so
	// that they reach the executor API over TLS, as Mesos passes its own.
	TLS    tlsconf.Config
	Logger *slog.Logger
	// LogLevel is the level Logger's handler reads, which the operator
	// API's SET_LOGGING_LEVEL changes for a while; nil means a level of
	// the agent's own that no handler reads.
	LogLevel *slog.LevelVar
	// Detected overrides resource detection (tests); nil means detect.
	Detected *resources.Detected
}

// Defaults.
const (
	DefaultIsolation                 = "posix/cpu,posix/mem"
	DefaultContainerizers            = "mesos"
	DefaultCgroupsRoot               = "meso"
	DefaultRegistrationBackoffFactor = time.Second
	DefaultRegistrationBackoffMax    = 5 * time.Second
	DefaultMasterPingTimeouts        = 5
	DefaultRecoveryTimeout           = 15 * time.Minute
	defaultPingInterval              = 15 * time.Second
)

func (c *Config) setDefaults() error {
	if c.Master == "" {
		return fmt.Errorf("agent: --master is required")
	}
	if c.WorkDir == "" {
		return fmt.Errorf("agent: --work_dir is required")
	}
	if c.Isolation == "" {
		c.Isolation = DefaultIsolation
	}
	if c.Containerizers == "" {
		c.Containerizers = DefaultContainerizers
	}
	if c.CgroupsRoot == "" {
		c.CgroupsRoot = DefaultCgroupsRoot
	}
	if c.DockerSocket == "" {
		c.DockerSocket = docker.DefaultSocket
	}
	if c.SandboxDirectory == "" {
		c.SandboxDirectory = docker.DefaultSandboxDirectory
	}
	if c.RegistrationBackoffFactor <= 0 {
		c.RegistrationBackoffFactor = DefaultRegistrationBackoffFactor
	}
	if c.RegistrationBackoffMax <= 0 {
		c.RegistrationBackoffMax = DefaultRegistrationBackoffMax
	}
	c.RegistrationBackoffMax = max(c.RegistrationBackoffMax, c.RegistrationBackoffFactor)
	if c.MasterPingTimeouts <= 0 {
		c.MasterPingTimeouts = DefaultMasterPingTimeouts
	}
	if c.RecoveryTimeout <= 0 {
		c.RecoveryTimeout = DefaultRecoveryTimeout
	}
	switch c.Recover {
	case "":
		c.Recover = RecoverReconnect
	case RecoverReconnect, RecoverCleanup:
	default:
		return fmt.Errorf("agent: --recover=%q: want %q or %q", c.Recover, RecoverReconnect, RecoverCleanup)
	}
	if c.Launcher == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("agent: --launcher not set and the executable's path is unknown: %w", err)
		}
		c.Launcher = exe
	}
	c.leanExecutor = findLeanExecutor(c.LauncherDir, c.Launcher)
	if (c.AuthenticateHTTPReadOnly || c.AuthenticateHTTPReadWrite) && c.Credentials.Len() == 0 {
		return fmt.Errorf("agent: HTTP authentication needs --credentials")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	return nil
}

// detect finds this host's cpus, memory and the size of the file system
// holding dir. Fields it cannot find stay zero.
func detect(dir string) resources.Detected {
	d := resources.Detected{CPUs: float64(runtime.NumCPU())}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		d.MemBytes = memTotal(data)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err == nil {
		d.DiskBytes = st.Blocks * uint64(st.Bsize)
	}
	return d
}

// memTotal reads MemTotal (in kB) from /proc/meminfo contents.
func memTotal(meminfo []byte) uint64 {
	sc := bufio.NewScanner(bytes.NewReader(meminfo))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != "MemTotal" {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return 0
		}
		kb, err := strconv.ParseUint(fields[0], 10, 64)
		if err != nil {
			return 0
		}
		return kb * 1024
	}
	return 0
}

// LeanExecutorName is the file name of the lean executor binary
// (cmd/meso-executor) in the launcher directory.
const LeanExecutorName = "meso-executor"

// findLeanExecutor returns the path of an executable LeanExecutorName in
// dir (default: launcher's directory), or "" when there is none or dir is
// "none".
func findLeanExecutor(dir, launcher string) string {
	if dir == "none" {
		return ""
	}
	if dir == "" {
		dir = filepath.Dir(launcher)
	}
	p := filepath.Join(dir, LeanExecutorName)
	if st, err := os.Stat(p); err != nil || !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		return ""
	}
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	return p
}

// cgroupsIsolation reports whether the --isolation flag puts containers in
// cgroups.
func cgroupsIsolation(flag string) bool {
	return len(cgroups.Select(posix.ParseIsolation(flag)).Controllers) > 0
}
