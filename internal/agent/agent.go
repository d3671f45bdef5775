package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/agent/checkpoint"
	"github.com/mesoproject/meso/internal/agent/lifecycle"
	"github.com/mesoproject/meso/internal/cmdhost"
	"github.com/mesoproject/meso/internal/containerizer"
	"github.com/mesoproject/meso/internal/containerizer/docker"
	"github.com/mesoproject/meso/internal/containerizer/posix"
	"github.com/mesoproject/meso/internal/fetcher"
	"github.com/mesoproject/meso/internal/files"
	"github.com/mesoproject/meso/internal/httpbound"
	"github.com/mesoproject/meso/internal/operator"
	"github.com/mesoproject/meso/internal/resources"
	"github.com/mesoproject/meso/internal/subscribe"
)

// Version is reported to the master at registration.
var Version = "0.1.0-dev"

// Agent is a meso agent: create it with New, run it with Serve.
type Agent struct {
	cfg Config
	// tokenKey derives executor tokens; nil unless
	// cfg.AuthenticateHTTPExecutors.
	tokenKey  []byte
	log       *slog.Logger
	cz        containerizer.Containerizer
	fetch     *fetcher.Fetcher
	docker    *docker.Containerizer  // nil unless built by New; closed by Serve
	hosts     *cmdhost.Containerizer // the command executor hosts (wraps the containerizers New builds); nil otherwise
	files     *files.Handler
	logs      *files.Handler // the agent's log as /slave/log; nil without Config.LogFile
	logLevel  *operator.LogLevel
	bounds    *httpbound.Bounds
	resources resources.Resources
	// masterURLs are the link endpoints of the masters in --master, tried
	// in turn by linkLoop; linkConn sends the link's requests.
	masterURLs []*url.URL
	linkConn   *subscribe.Conn
	started    time.Time
	store      *checkpoint.Store
	bootID     string
	recovery   *recovery // set by New, carried out (and cleared) by start

	wake     chan struct{} // pokes the timer loop; cap 1
	outReady chan struct{} // pokes the link sender; cap 1
	relink   chan struct{} // asks the link loop to register again; cap 1
	// commitWake pokes the commit loop (commit.go); cap 1.
	commitWake chan struct{}

	mu         sync.Mutex
	core       *lifecycle.Core          // guarded by mu
	streams    map[execKey]*eventStream // guarded by mu: subscribed executors
	containers map[string]*containerRun // guarded by mu: by container id
	link       linkState                // guarded by mu
	outbox     []*linkpb.AgentCall      // guarded by mu: calls for the master
	info       *mesospb.AgentInfo       // guarded by mu: set by Serve
	// ckpt are the dynamic reservations and volumes (reservations.go);
	// guarded by mu.
	ckpt     resources.Resources
	endpoint string          // guarded by mu: host:port for executors
	runCtx   context.Context // guarded by mu: Serve's context
	// savedAgentID is the agent id in the checkpoints; guarded by mu.
	savedAgentID string
	// The group commit (commit.go), guarded by mu: committer is set while
	// the commit loop runs; commitQueue are the inputs whose effects wait
	// for commitBatch (their checkpoints) or for an earlier input's; the
	// loop is committing a batch taken from them while committing.
	committer   bool
	committing  bool
	inFlight    []pendingInput // the queue being committed
	commitQueue []pendingInput
	commitBatch *checkpoint.Batch
	tasks       sync.WaitGroup // goroutines started by dispatch
}

type execKey struct{ framework, executor string }

type linkState struct {
	id         string   // current session, "" when not registered
	url        *url.URL // the leading master's link endpoint (after redirects)
	masterInfo *mesospb.MasterInfo
	registered time.Time
	version    uint32 // the master's link_version (0: before versions, one call per POST)
	// frames writes the calls on a framed link (link version 3); nil on
	// the HTTP form, whose calls are POSTs.
	frames *frameWriter
}

// containerRun is the shell's record of one executor container.
type containerRun struct {
	frameworkID, executorID string
	sandbox                 string
	launching               bool          // Launch has not returned yet
	launched                chan struct{} // closed when launching becomes false (nil for a recovered run)
	cancelLaunch            context.CancelFunc
	destroyAfterLaunch      bool
	destroying              bool
	dockerTask              bool // a command executor running its task in Docker (docker_task.go)
}

// New validates cfg and returns an agent; nothing runs until Serve.
func New(cfg Config) (*Agent, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	masterURLs, err := linkURLs(cfg.Master)
	if err != nil {
		return nil, err
	}
	bounds, err := httpbound.New(cfg.HTTP)
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	if err := os.MkdirAll(cfg.WorkDir, 0o755); err != nil {
		return nil, fmt.Errorf("agent: work dir: %w", err)
	}
	d := cfg.Detected
	if d == nil {
		found := detect(cfg.WorkDir)
		d = &found
	}
	store, err := checkpoint.New(cfg.WorkDir)
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	bootID, err := checkpoint.BootID()
	if err != nil {
		cfg.Logger.Warn("cannot tell machine reboots apart; recovering whatever the checkpoints hold", "err", err)
	}
	var tokenKey []byte
	if cfg.AuthenticateHTTPExecutors {
		if tokenKey, err = loadExecutorKey(cfg.WorkDir); err != nil {
			return nil, err
		}
	}
	rec, err := planRecovery(cfg, store, bootID)
	if err != nil {
		return nil, err
	}
	cz := cfg.Containerizer
	var dz *docker.Containerizer
	var hosts *cmdhost.Containerizer
	if cz == nil {
		cz, dz, err = newContainerizer(cfg, rec.known())
		if err != nil {
			return nil, err
		}
		// Always wrapped, so that hosted containers of an earlier run
		// are adopted (or killed) even when hosting is now off.
		hosts = cmdhost.New(cmdhost.Config{Inner: cz, Executor: cfg.leanExecutor,
			Enabled: cfg.CommandExecutorHost && cfg.leanExecutor != "" && !cgroupsIsolation(cfg.Isolation),
			Dir:     filepath.Join(cfg.WorkDir, "cmdhosts"), IdleTimeout: cfg.CommandExecutorHostIdle,
			Logger: cfg.Logger.With("component", "cmdhost")})
		cz = hosts
	}
	fetch := cfg.Fetcher
	if fetch == nil {
		cacheDir := cfg.FetcherCacheDir
		if cacheDir == "" {
			cacheDir = filepath.Join(cfg.WorkDir, "fetch")
		}
		fetch, err = fetcher.New(fetcher.Config{CacheDir: cacheDir, CacheSize: cfg.FetcherCacheSize,
			StallTimeout: cfg.FetcherStallTimeout, Logger: cfg.Logger.With("component", "fetcher")})
		if err != nil {
			return nil, fmt.Errorf("agent: %w", err)
		}
	}
	slaves := filepath.Join(cfg.WorkDir, "slaves")
	if err := os.MkdirAll(slaves, 0o755); err != nil {
		return nil, fmt.Errorf("agent: work dir: %w", err)
	}
	var a *Agent
	filesAPI, err := files.New(files.Config{Root: slaves, Logger: cfg.Logger.With("component", "files"),
		Authorize: func(ctx context.Context, rel string) error { return a.authorizeSandbox(ctx, rel) }})
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	var logs *files.Handler
	if cfg.LogFile != "" {
		if logs, err = files.ForLog(logPath, cfg.LogFile, cfg.Logger.With("component", "files")); err != nil {
			return nil, fmt.Errorf("agent: the log file: %w", err)
		}
	}
	a = &Agent{
		logs:       logs,
		tokenKey:   tokenKey,
		cfg:        cfg,
		log:        cfg.Logger,
		cz:         cz,
		fetch:      fetch,
		docker:     dz,
		hosts:      hosts,
		files:      filesAPI,
		logLevel:   operator.NewLogLevel(cfg.LogLevel),
		bounds:     bounds,
		resources:  resources.AgentResources(cfg.Resources, *d),
		masterURLs: masterURLs,
		linkConn:   newLinkConn(&cfg),
		store:      store,
		bootID:     bootID,
		recovery:   rec,
		wake:       make(chan struct{}, 1),
		outReady:   make(chan struct{}, 1),
		relink:     make(chan struct{}, 1),
		commitWake: make(chan struct{}, 1),
		streams:    make(map[execKey]*eventStream),
		containers: make(map[string]*containerRun),
	}
	a.core = lifecycle.New(lifecycle.Config{
		Launcher:                    cfg.Launcher,
		LeanExecutor:                cfg.leanExecutor,
		ExecutorRegistrationTimeout: cfg.ExecutorRegistrationTimeout,
		ExecutorShutdownGracePeriod: cfg.ExecutorShutdownGracePeriod,
		StatusUpdateRetryMin:        cfg.StatusUpdateRetryIntervalMin,
		StatusUpdateRetryMax:        cfg.StatusUpdateRetryIntervalMax,
		NewUUID:                     mesospb.NewUUID,
		NewContainerID:              func() string { return mesospb.UUIDString(mesospb.NewUUID()) },
	})
	if err := a.loadCheckpointedResources(); err != nil {
		return nil, err
	}
	return a, nil
}

// newContainerizer builds the containerizers --containerizers names, in
// order. It returns the Docker one too (nil if not used), to be closed when
// the agent stops. known are the containers the agent recovers: their
// cgroups and Docker containers are kept.
func newContainerizer(cfg Config, known []string) (containerizer.Containerizer, *docker.Containerizer, error) {
	names, err := containerizer.ParseNames(cfg.Containerizers)
	if err != nil {
		return nil, nil, fmt.Errorf("agent: %w", err)
	}
	var (
		list []containerizer.Containerizer
		dz   *docker.Containerizer
	)
	for _, n := range names {
		switch n {
		case containerizer.NameMesos:
			p, err := posix.New(posix.Config{
				Isolation:        posix.ParseIsolation(cfg.Isolation),
				CgroupsRoot:      cfg.CgroupsRoot,
				CgroupsEnableCFS: cfg.CgroupsEnableCFS,
				CgroupsPidsLimit: cfg.CgroupsPidsLimit,
				Recovered:        known,
				Logger:           cfg.Logger.With("component", "posix"),
			})
			if errors.Is(err, containerizer.ErrUnsupported) {
				return nil, nil, fmt.Errorf("agent: --isolation=%s: %w", cfg.Isolation, err)
			}
			if err != nil {
				return nil, nil, fmt.Errorf("agent: %w", err)
			}
			list = append(list, p)
		case containerizer.NameDocker:
			if dz, err = newDocker(cfg, known); err != nil {
				return nil, nil, err
			}
			list = append(list, dz)
		}
	}
	return containerizer.NewComposing(list...), dz, nil
}

// newDocker connects to the Docker daemon, adopts the containers of the
// previous run of this agent that are being recovered (known) and removes
// the others.
func newDocker(cfg Config, known []string) (*docker.Containerizer, error) {
	owner, err := dockerOwner(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dz, err := docker.New(ctx, docker.Config{Socket: cfg.DockerSocket, Owner: owner, CFSQuota: cfg.CgroupsEnableCFS,
		SandboxDirectory: cfg.SandboxDirectory, Logger: cfg.Logger.With("component", "docker")})
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	if _, err := dz.Recover(ctx, known); err != nil { // kills every other container of this owner
		_ = dz.Close()
		return nil, fmt.Errorf("agent: removing containers of an earlier run: %w", err)
	}
	return dz, nil
}

// Serve runs the agent on ln until ctx is done: its HTTP endpoints, the
// link to the master and its executors. It first recovers what the
// checkpoints hold (see New). When ctx ends, every container is destroyed
// (but those of checkpointing frameworks with LeaveExecutorsOnStop) and
// Serve returns nil.
func (a *Agent) Serve(ctx context.Context, ln net.Listener) error {
	defer a.logLevel.Stop()
	if err := a.start(ctx, ln); err != nil {
		return err
	}
	srv := a.bounds.Server(a.Handler())
	srv.BaseContext = func(net.Listener) context.Context { return ctx }
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	a.mu.Lock()
	a.committer = true // from now on checkpoints are group-committed
	a.mu.Unlock()
	var loops sync.WaitGroup
	loops.Go(func() { a.commitLoop(ctx) })
	loops.Go(func() { a.timerLoop(ctx) })
	loops.Go(func() { a.sendLoop(ctx) })
	loops.Go(func() { a.linkLoop(ctx) })

	var err error
	select {
	case <-ctx.Done():
	case err = <-served:
		err = fmt.Errorf("agent: serve: %w", err)
	}
	a.closeStreams()
	_ = srv.Close()
	loops.Wait()
	a.destroyAll()
	a.tasks.Wait()
	if a.docker != nil {
		_ = a.docker.Close()
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// start fixes what depends on the listener: the agent's advertised address
// and the endpoint executors connect to.
func (a *Agent) start(ctx context.Context, ln net.Listener) error {
	host, portText, err := net.SplitHostPort(ln.Addr().String())
	if err != nil {
		return fmt.Errorf("agent: listener address: %w", err)
	}
	port, _ := strconv.Atoi(portText)
	if a.cfg.Port != 0 {
		port = a.cfg.Port
	}
	ip := a.cfg.IP
	if ip == "" {
		ip = host
		if addr := net.ParseIP(host); addr == nil || addr.IsUnspecified() {
			ip = "127.0.0.1"
		}
	}
	hostname := a.cfg.Hostname
	if hostname == "" {
		if h, err := os.Hostname(); err == nil && h != "" {
			hostname = h
		} else {
			hostname = ip
		}
	}
	info := &mesospb.AgentInfo{
		Hostname:   proto.String(hostname),
		Port:       proto.Int32(int32(port)),
		Resources:  a.resources.ToProto("", false),
		Attributes: attributesProto(a.cfg.Attributes),
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.runCtx != nil {
		return errors.New("agent: Serve called twice")
	}
	a.runCtx = ctx
	a.started = time.Now()
	a.info = info
	a.endpoint = net.JoinHostPort(ip, strconv.Itoa(port))
	a.core.SetAgentInfo(info)
	if a.recovery != nil {
		return a.recoverLocked(time.Now())
	}
	return nil
}

// Endpoint returns the host:port executors reach the agent at; empty
// before Serve.
func (a *Agent) Endpoint() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.endpoint
}

// ID returns the agent id the master assigned; empty while unregistered.
func (a *Agent) ID() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.core.AgentID()
}

// Registered reports whether the link to the master is up.
func (a *Agent) Registered() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.link.id != ""
}

// apply runs one input against the core and has its effects carried out
// in the core's order: at once, or after the checkpoints of this and
// earlier inputs are committed (commit.go).
func (a *Agent) apply(what string, input func(now time.Time) ([]lifecycle.Effect, error)) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, err := a.applyInputLocked(what, input)
	return err
}

// applyDurable is apply that returns only once the input's effects are
// carried out, so after its checkpoints are durable: for executor calls,
// answered when what they changed is on disk.
func (a *Agent) applyDurable(what string, input func(now time.Time) ([]lifecycle.Effect, error)) error {
	a.mu.Lock()
	done, err := a.applyInputLocked(what, input)
	ctx := a.runCtx
	a.mu.Unlock()
	if done != nil && ctx != nil {
		select {
		case <-done:
		case <-ctx.Done():
		}
	}
	return err
}

func (a *Agent) applyLocked(what string, input func(now time.Time) ([]lifecycle.Effect, error)) error {
	_, err := a.applyInputLocked(what, input)
	return err
}

func (a *Agent) applyInputLocked(what string, input func(now time.Time) ([]lifecycle.Effect, error)) (<-chan struct{}, error) {
	effs, err := input(time.Now())
	done := a.dispatchLocked(effs)
	if err != nil {
		level := slog.LevelWarn
		if errors.Is(err, lifecycle.ErrIgnored) {
			level = slog.LevelInfo
		}
		a.log.Log(context.Background(), level, what+" not applied", "err", err)
	}
	select {
	case a.wake <- struct{}{}:
	default:
	}
	return done, err
}

// timerLoop calls Tick whenever the core has something due.
func (a *Agent) timerLoop(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		a.mu.Lock()
		next, ok := a.core.NextDeadline()
		a.mu.Unlock()
		wait := time.Hour
		if ok {
			wait = max(time.Until(next), 0)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-a.wake:
		case <-timer.C:
			_ = a.apply("tick", func(now time.Time) ([]lifecycle.Effect, error) { return a.core.Tick(now), nil })
		}
	}
}
