package rdd

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	"github.com/mesoproject/meso/api/rddpb"
	"github.com/mesoproject/meso/api/rddpb/rddpbconnect"
	"github.com/mesoproject/meso/rdd/internal/exec"
	"github.com/mesoproject/meso/rdd/internal/mesosbackend"
	"github.com/mesoproject/meso/rdd/internal/task"
)

// ErrExecutorLost is wrapped by the error of a task whose executor was lost
// (its process ended, its agent went away, or it stopped polling).
var ErrExecutorLost = errors.New("rdd: executor lost")

// ErrExecutorStart fails every job of a cluster session whose executors
// keep ending before they register with the driver (an unfetchable
// executor binary, a program that cannot run on the agents, ...): the
// error names the last executor's Mesos status.
var ErrExecutorStart = errors.New("rdd: executors cannot start")

// maxStartFailures is how many executors in a row may end before
// registering before the session gives up (ErrExecutorStart). It also
// gives up once every agent executors were launched on saw
// agentStartFailures of them fail to start: the backend does not use such
// an agent again (Spark's per-agent blacklist), so nothing would be
// launched any more.
const (
	maxStartFailures   = 4
	agentStartFailures = 2
)

// heartbeatTimeout is how long an executor may go without polling before
// the driver considers it lost.
const heartbeatTimeout = 15 * time.Second

// pollWait bounds one long poll of an executor.
const pollWait = time.Second

// compressMinBytes is the smallest driver RPC answer that is gzipped.
const compressMinBytes = 64 << 10

// clusterSlots is a cluster session's default parallelism for sources when
// spark.default.parallelism is unset: spark.cores.max when set, else 2
// (fixed at Start, so that a plan never depends on which executors
// happened to have registered).
func clusterSlots(cfg Config) (int, error) {
	if v := cfg.Cluster[mesosbackend.KeyCoresMax]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return 0, fmt.Errorf("%w: %s=%q: want a positive integer", ErrConfig, mesosbackend.KeyCoresMax, v)
		}
		return n, nil
	}
	return 2, nil
}

// cluster is the driver's side of cluster mode: the Mesos framework that
// starts executors, the RPC service they call, and one exec.Executor per
// registered executor in the pool jobs run on.
type cluster struct {
	s        *Session
	backend  *mesosbackend.Backend
	fine     *fineExec // fine-grained mode (spark.mesos.coarse=false) instead of backend
	srv      *http.Server
	url      string
	pool     *exec.Pool
	registry []string
	token    string          // the application's shuffle token, given to its executors
	ctx      context.Context // cancelled with the cause that fails every job (a registry mismatch)
	fail     context.CancelCauseFunc
	done     chan struct{} // closed by stop: ends the watchers
	// broadcastsServed counts broadcast values sent to executors.
	broadcastsServed atomic.Int64
	cached           *cacheBook   // where executors' cached partitions are; driver data served
	resultBytes      atomic.Int64 // result task values received from executors
	values           valueBufs    // buffers of received values, reused once decoded
	// tasksByReport and tasksByPoll count the tasks handed to executors in
	// result reports' answers and in long polls' answers.
	tasksByReport, tasksByPoll atomic.Int64

	mu           sync.Mutex
	execs        map[string]*remoteExec // guarded by mu
	pipeIDs      map[*task.Pipeline]int64
	pipes        map[int64]*rddpb.Pipeline // guarded by mu; encoded once per stage
	pipeErrs     map[int64]error           // guarded by mu
	stopping     bool                      // guarded by mu
	failedStarts int                       // guarded by mu; executors in a row that ended unregistered
	agentStarts  map[string]int            // guarded by mu; agent -> executors launched there that ended unregistered

	dyn *dynAlloc  // spark.dynamicAllocation.enabled, else nil
	ess *essDriver // spark.shuffle.service.enabled, else nil
}

// remoteExec is a registered executor process (exec.Executor).
type remoteExec struct {
	c     *cluster
	id    string
	addr  string // its shuffle server
	slots int
	pid   int
	// service is the external shuffle service holding its outputs
	// (guarded by c.mu; "" when none).
	service string
	wake    chan struct{} // cap 1: a task was queued or the executor was lost
	// told is closed once a poll told the executor to stop.
	told     chan struct{}
	tellOnce sync.Once

	// guarded by c.mu
	queue    []*rddpb.Task
	sent     map[int64]bool
	running  map[task.ID]running
	lastSeen time.Time
	gone     bool
	// reports counts result reports waiting for their jobs to act on them
	// (posted to /results with want_tasks): while there are any, the long poll
	// leaves the queue to them.
	reports int
}

type running struct {
	d    *task.Desc
	done func(task.Result)
	stop func() bool // unlinks the cancellation watch; false: the cancellation won and calls done
}

func startCluster(s *Session, masters []string) (*cluster, error) {
	conf := map[string]string{}
	env := map[string]string{}
	for k, v := range s.cfg.Cluster {
		switch {
		case strings.HasPrefix(k, "spark.executorEnv."):
			env[strings.TrimPrefix(k, "spark.executorEnv.")] = v
		case k == "spark.driver.host", strings.HasPrefix(k, "spark.reducer."), strings.HasPrefix(k, "spark.shuffle.io."),
			k == "spark.network.timeout", k == keyReadHostLocalDisk:
		default:
			conf[k] = v
		}
	}
	if s.ui != nil && conf[mesosbackend.KeyWebUIURL] == "" {
		conf[mesosbackend.KeyWebUIURL] = s.ui.url // the framework's webui_url: the driver UI
	}
	settings, err := mesosbackend.ParseSettings(conf)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	dcfg, dynOn, err := dynAllocConfig(s.cfg.Cluster)
	if err != nil {
		return nil, err
	}
	essOn, err := boolSetting(s.cfg.Cluster, keyShuffleService)
	if err != nil {
		return nil, err
	}
	if _, err := boolSetting(s.cfg.Cluster, keyReadHostLocalDisk); err != nil {
		return nil, err
	}
	host := s.cfg.Cluster["spark.driver.host"]
	if host == "" {
		host = "127.0.0.1"
	}
	c, mux, err := newCluster(s, host)
	if err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		c.srv.Close()
		return nil, fmt.Errorf("rdd: cluster mode: finding this program's executable: %w", err)
	}
	base := filepath.Base(self)
	mux.HandleFunc("GET /executable/"+base, func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, self) })
	env[envAuthToken] = c.token // every call to the driver must carry it
	cmd := executorCommand(settings, self, c.url, env)
	hostname, _ := os.Hostname()
	if conf[keyCoarse] == "false" {
		if dynOn || essOn { // as Spark: both need coarse-grained executors
			c.srv.Close()
			return nil, fmt.Errorf("%w: %s and %s need coarse-grained mode (%s=false given)", ErrConfig,
				"spark.dynamicAllocation.enabled", keyShuffleService, keyCoarse)
		}
		if err := c.startFine(conf, settings, cmd, masters, hostname); err != nil {
			c.srv.Close()
			return nil, err
		}
		go c.watchHeartbeats()
		s.log.Info("cluster mode, fine-grained", "masters", masters, "framework", c.fine.backend.FrameworkID(), "driver", c.url)
		return c, nil
	}
	b, err := mesosbackend.Start(context.Background(), mesosbackend.Config{
		Master: masters, Name: s.cfg.AppName, Hostname: hostname, Settings: settings, Command: cmd,
		DriverURL: c.url, Logger: s.log.With("component", "mesos"),
	})
	if err != nil {
		c.srv.Close()
		return nil, err
	}
	c.backend = b
	if essOn {
		if c.ess, err = newESSDriver(s.cfg.Cluster, b.FrameworkID(), c.token, s.log); err != nil {
			b.Stop(context.Background())
			c.srv.Close()
			return nil, err
		}
		go c.ess.run(c.done)
	}
	if dynOn {
		c.dyn = newDynAlloc(dcfg, b, s.log)
		s.AddListener(c.dyn.event)
		go c.dyn.run(c.done)
	}
	go c.watchBackend()
	go c.watchHeartbeats()
	s.log.Info("cluster mode", "masters", masters, "framework", b.FrameworkID(), "driver", c.url)
	return c, nil
}

// executorCommand is what an executor task runs: this program with the
// driver's arguments (so flags parsed before rdd.Start see the same values
// there), fetched from the driver or spark.executor.uri. With a Docker
// image and no spark.executor.uri the program is in the image (in
// spark.mesos.executor.home, by default this program's own directory) and
// runs without a shell, so an image FROM scratch holding a static build
// works.
func executorCommand(settings mesosbackend.Settings, self, driverURL string, env map[string]string) mesosbackend.Command {
	cmd := mesosbackend.Command{Env: env}
	base := filepath.Base(self)
	if settings.DockerImage != "" && settings.ExecutorURI == "" {
		home := settings.ExecutorHome
		if home == "" {
			home = filepath.Dir(self)
		}
		cmd.Value = path.Join(home, base)
		cmd.Args = append([]string{cmd.Value}, os.Args[1:]...)
		return cmd
	}
	prog := "./" + base
	if settings.ExecutorURI != "" {
		prog = "./" + filepath.Base(settings.ExecutorURI)
	} else {
		cmd.URIs = []mesosbackend.URI{{Value: driverURL + "/executable/" + base, Executable: true}}
	}
	words := []string{shellQuote(prog)}
	for _, a := range os.Args[1:] {
		words = append(words, shellQuote(a))
	}
	cmd.Value = "exec " + strings.Join(words, " ")
	return cmd
}

// newCluster starts the driver's RPC service on host (no executors yet:
// the Mesos backend, or a test, starts them) and returns its mux for more
// handlers.
func newCluster(s *Session, host string) (*cluster, *http.ServeMux, error) {
	ctx, fail := context.WithCancelCause(context.Background())
	c := &cluster{s: s, pool: exec.NewPool(), registry: registrySites(), ctx: ctx, fail: fail, done: make(chan struct{}),
		execs: map[string]*remoteExec{}, pipeIDs: map[*task.Pipeline]int64{}, pipes: map[int64]*rddpb.Pipeline{},
		pipeErrs: map[int64]error{}, agentStarts: map[string]int{}, cached: newCacheBook()}
	c.token = rand.Text()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: driver listener: %v", ErrConfig, err)
	}
	c.url = "http://" + ln.Addr().String()
	mux := http.NewServeMux()
	// Task feeds and acknowledgements are small and cross loopback or a
	// LAN: gzip on every one cost more CPU than it saved bytes (flate's
	// per-message reset showed in the executors' profiles). Only large
	// answers (a first feed carrying pipelines) are compressed.
	// Only the application's executors may call the driver: they got the
	// token in their environment (MESO_RDD_AUTH_TOKEN), not over the wire.
	rpcPath, rpc := rddpbconnect.NewDriverServiceHandler(c, connect.WithCompressMinBytes(compressMinBytes))
	mux.Handle(rpcPath, tokenOnly(c.token, rpc))
	mux.Handle("POST "+resultsPath, tokenOnly(c.token, http.HandlerFunc(c.serveResults)))
	mux.Handle("GET /broadcast/{id}", tokenOnly(c.token, http.HandlerFunc(c.serveBroadcast)))
	mux.Handle("GET /data/{node}/{part}", tokenOnly(c.token, http.HandlerFunc(c.serveData)))
	mux.Handle("GET /cache-locations/{node}/{part}", tokenOnly(c.token, http.HandlerFunc(c.serveCacheLocations)))
	mux.Handle("POST /shuffle-service/{exec}", tokenOnly(c.token, http.HandlerFunc(c.serveShuffleService)))
	c.srv = &http.Server{Handler: mux, Protocols: h2c(true)}
	go c.srv.Serve(ln)
	return c, mux, nil
}

// serveBroadcast sends a broadcast variable's value (gob) to an executor,
// which keeps it: each executor asks once per variable.
func (c *cluster) serveBroadcast(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		http.Error(w, "bad broadcast id", http.StatusBadRequest)
		return
	}
	c.s.mu.Lock()
	enc := c.s.broadcasts[id]
	c.s.mu.Unlock()
	if enc == nil {
		http.Error(w, fmt.Sprintf("no broadcast %d in this session", id), http.StatusNotFound)
		return
	}
	b, err := enc()
	if err != nil {
		http.Error(w, fmt.Sprintf("encoding broadcast %d: %v", id, err), http.StatusInternalServerError)
		return
	}
	c.broadcastsServed.Add(1)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// watchBackend turns executor exits into executor losses.
func (c *cluster) watchBackend() {
	for {
		select {
		case <-c.done:
			return
		case ev, ok := <-c.backend.Events():
			if !ok {
				return
			}
			switch ev.Type {
			case mesosbackend.EventLaunched:
				c.mu.Lock()
				if _, ok := c.agentStarts[ev.Executor.Agent]; !ok {
					c.agentStarts[ev.Executor.Agent] = 0
				}
				c.mu.Unlock()
			case mesosbackend.EventExited:
				why := strings.Join(slices.DeleteFunc([]string{ev.State, ev.Reason, ev.Message}, func(s string) bool { return s == "" }), " ")
				c.startFailed(ev.Executor, why)
				c.lose(ev.Executor.ID, why)
			case mesosbackend.EventShortage:
				c.s.log.Warn("no offer is big enough for an executor", "shortage", ev.Shortage.String())
			}
		}
	}
}

// watchHeartbeats loses executors that stopped polling.
func (c *cluster) watchHeartbeats() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case now := <-t.C:
			c.mu.Lock()
			var late []string
			for id, e := range c.execs {
				if !e.gone && now.Sub(e.lastSeen) > heartbeatTimeout {
					late = append(late, id)
				}
			}
			c.mu.Unlock()
			for _, id := range late {
				c.lose(id, fmt.Sprintf("no heartbeat for %v", heartbeatTimeout))
			}
		}
	}
}

// startFailed counts an executor that ended without having registered,
// and fails the session's jobs after maxStartFailures in a row.
func (c *cluster) startFailed(e mesosbackend.Executor, why string) {
	c.mu.Lock()
	if c.execs[e.ID] != nil || c.stopping {
		c.mu.Unlock()
		return
	}
	c.failedStarts++
	n := c.failedStarts
	c.agentStarts[e.Agent]++
	allBad := true
	for _, f := range c.agentStarts {
		allBad = allBad && f >= agentStartFailures
	}
	agents := len(c.agentStarts)
	c.mu.Unlock()
	c.s.log.Warn("executor ended before registering with the driver", "executor", e.ID, "agent", e.Agent, "status", why, "in_a_row", n)
	switch {
	case n >= maxStartFailures:
		c.fail(fmt.Errorf("%w: %d executors in a row ended before registering with the driver; the last, %s: %s",
			ErrExecutorStart, n, e.ID, why))
	case allBad:
		c.fail(fmt.Errorf("%w: on each of the %d agents tried, %d executors ended before registering with the driver, so none is used again; the last, %s: %s",
			ErrExecutorStart, agents, agentStartFailures, e.ID, why))
	}
}

// lose takes an executor out of the pool, forgets its map outputs, and
// fails its running tasks as lost (the jobs requeue them).
func (c *cluster) lose(id, why string) {
	c.mu.Lock()
	e := c.execs[id]
	if e == nil || e.gone {
		c.mu.Unlock()
		return
	}
	e.gone = true
	runs := e.running
	e.running = map[task.ID]running{}
	stopping := c.stopping
	c.mu.Unlock()
	if c.dyn != nil {
		why = c.dyn.executorRemoved(id, why)
	}
	c.pool.Remove(id)
	c.cached.lose(id)
	c.s.mu.Lock()
	n := c.s.books.ExecutorLost(id)
	c.s.mu.Unlock()
	if stopping {
		// The driver's own teardown: expected, not worth a warning.
		c.s.log.Debug("executor stopped", "executor", id, "why", why)
	} else {
		c.s.log.Warn("executor lost", "executor", id, "why", why, "map_outputs_lost", n, "tasks", len(runs))
	}
	c.s.emit(Event{Kind: ExecutorRemoved, Executor: id, Reason: why, Shuffle: -1})
	err := fmt.Errorf("%w: %s: %s", ErrExecutorLost, id, why)
	for _, r := range runs {
		if r.stop() {
			r.done(task.Result{ID: r.d.ID, Executor: id, Err: err})
		}
	}
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// stop ends cluster mode: executors are told to stop, the framework kills
// what is left and tears down, then the RPC server closes.
func (c *cluster) stop() error {
	c.mu.Lock()
	if c.stopping {
		c.mu.Unlock()
		return nil
	}
	c.stopping = true
	for _, e := range c.execs {
		select {
		case e.wake <- struct{}{}:
		default:
		}
	}
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var err error
	switch {
	case c.backend != nil:
		err = c.backend.Stop(ctx)
	case c.fine != nil:
		err = c.fine.backend.Stop(ctx)
	default:
		// No framework to kill them: executors stop when their next poll
		// says so (within pollWait).
		c.mu.Lock()
		var execs []*remoteExec
		for _, e := range c.execs {
			if !e.gone {
				execs = append(execs, e)
			}
		}
		c.mu.Unlock()
		wait := time.NewTimer(10 * pollWait)
		defer wait.Stop()
		for _, e := range execs {
			select {
			case <-e.told:
			case <-wait.C:
			}
		}
	}
	close(c.done)
	if c.ess != nil {
		c.ess.stop()
	}
	// Let the answers in flight (the stop of the last polls) reach the
	// executors before the connections close.
	sctx, scancel := context.WithTimeout(context.Background(), 2*pollWait)
	if c.srv.Shutdown(sctx) != nil {
		c.srv.Close()
	}
	scancel()
	c.fail(ErrClosed)
	return err
}

// Register admits an executor whose Func registry equals the driver's.
func (c *cluster) Register(ctx context.Context, req *connect.Request[rddpb.RegisterRequest]) (*connect.Response[rddpb.RegisterResponse], error) {
	m := req.Msg
	if err := compareRegistry(c.registry, m.GetRegistry()); err != nil {
		err = fmt.Errorf("executor %s: %w", m.GetExecutorId(), err)
		c.s.log.Error("executor refused", "err", err)
		c.fail(err)
		return nil, connect.NewError(connect.CodeFailedPrecondition, err)
	}
	e := &remoteExec{c: c, id: m.GetExecutorId(), addr: m.GetShuffleAddress(), slots: max(int(m.GetSlots()), 1),
		pid: int(m.GetPid()), wake: make(chan struct{}, 1), told: make(chan struct{}), sent: map[int64]bool{}, running: map[task.ID]running{},
		lastSeen: time.Now()}
	c.mu.Lock()
	if old := c.execs[e.id]; old != nil && !old.gone || c.stopping {
		c.mu.Unlock()
		return nil, connect.NewError(connect.CodeAlreadyExists, fmt.Errorf("rdd: executor %s already registered or driver stopping", e.id))
	}
	c.execs[e.id] = e
	c.failedStarts = 0
	c.mu.Unlock()
	if c.dyn != nil {
		c.dyn.executorAdded(e.id)
	}
	if c.fine == nil { // a fine-grained executor gets its tasks from Mesos
		c.pool.Add(e)
	}
	c.s.log.Info("executor registered", "executor", e.id, "slots", e.slots, "shuffle", e.addr, "pid", e.pid)
	c.s.emit(Event{Kind: ExecutorAdded, Executor: e.id, Host: e.addr, Cores: e.slots, Shuffle: -1})
	appID := "local"
	if c.backend != nil {
		appID = c.backend.FrameworkID()
	} else if c.fine != nil {
		appID = c.fine.backend.FrameworkID()
	}
	return connect.NewResponse(&rddpb.RegisterResponse{AppId: appID, Conf: c.executorConf()}), nil
}

// executorConf is what executors take from the driver's settings.
func (c *cluster) executorConf() map[string]string {
	cfg := c.s.cfg
	out := map[string]string{
		"spark.shuffle.memory": fmt.Sprint(cfg.ShuffleMemory),
		"spark.storage.memory": fmt.Sprint(cfg.StorageMemory),
		keyTaskPrefetch:        fmt.Sprint(c.s.prefetch()),
	}
	for k, v := range cfg.Cluster {
		if strings.HasPrefix(k, "spark.reducer.") || strings.HasPrefix(k, "spark.shuffle.io.") || k == "spark.network.timeout" ||
			strings.HasPrefix(k, "spark.shuffle.service.") || k == keyReadHostLocalDisk {
			out[k] = v
		}
	}
	return out
}

// PollTasks hands an executor its queued tasks, waiting up to pollWait.
func (c *cluster) PollTasks(ctx context.Context, req *connect.Request[rddpb.PollTasksRequest]) (*connect.Response[rddpb.PollTasksResponse], error) {
	c.mu.Lock()
	e := c.execs[req.Msg.GetExecutorId()]
	c.mu.Unlock()
	if e == nil {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("rdd: executor %s is not registered", req.Msg.GetExecutorId()))
	}
	t := time.NewTimer(pollWait)
	defer t.Stop()
	for {
		c.mu.Lock()
		e.lastSeen = time.Now()
		if e.gone || c.stopping {
			c.mu.Unlock()
			e.tellOnce.Do(func() { close(e.told) })
			return connect.NewResponse(&rddpb.PollTasksResponse{Stop: true}), nil
		}
		if len(e.queue) > 0 && e.reports == 0 {
			out := &rddpb.PollTasksResponse{}
			out.Tasks, out.Pipelines = c.takeLocked(e)
			c.mu.Unlock()
			c.tasksByPoll.Add(int64(len(out.Tasks)))
			return connect.NewResponse(out), nil
		}
		c.mu.Unlock()
		select {
		case <-e.wake:
		case <-t.C:
			return connect.NewResponse(&rddpb.PollTasksResponse{}), nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// takeLocked empties e's queue: its tasks, and the pipelines of theirs
// not sent to e before.
func (c *cluster) takeLocked(e *remoteExec) ([]*rddpb.Task, []*rddpb.Pipeline) {
	tasks := e.queue
	e.queue = nil
	var pipes []*rddpb.Pipeline
	for _, tk := range tasks {
		if id := tk.GetPipeline(); !e.sent[id] {
			e.sent[id] = true
			pipes = append(pipes, c.pipes[id])
		}
	}
	return tasks, pipes
}

// report completes tasks with an executor's results (posted to /results,
// serveResults). A report that wants tasks is answered once the jobs have
// acted on its results (at most pollWait later), with the tasks queued for
// the executor by then: the slot the results freed gets its next task
// without waiting on the long poll's own answer. A result of a task the
// executor no longer runs for the driver (already reported, cancelled, or
// the executor was lost) is ignored.
func (c *cluster) report(ctx context.Context, req *rddpb.ReportResultsRequest) *rddpb.ReportResultsResponse {
	id := req.GetExecutorId()
	c.mu.Lock()
	e := c.execs[id]
	want := req.GetWantTasks() && e != nil && !e.gone && !c.stopping
	if want {
		e.reports++
		e.lastSeen = time.Now()
	}
	c.mu.Unlock()
	var handled chan struct{}
	var signal func()
	if want {
		handled = make(chan struct{}, len(req.GetResults()))
		signal = func() { handled <- struct{}{} }
	}
	waits := 0
	for _, pr := range req.GetResults() {
		res := resultFromProto(id, pr)
		c.resultBytes.Add(int64(len(pr.GetValue())))
		c.mu.Lock()
		var r running
		ok := false
		if e != nil {
			if r, ok = e.running[res.ID]; ok {
				delete(e.running, res.ID)
			}
		}
		c.mu.Unlock()
		if !ok || !r.stop() {
			continue // the executor was lost, or the job cancelled the task
		}
		if want {
			waits++
		}
		c.finish(id, r, res, signal)
	}
	out := &rddpb.ReportResultsResponse{}
	if !want {
		return out
	}
	t := time.NewTimer(pollWait)
	defer t.Stop()
wait:
	for ; waits > 0; waits-- {
		select {
		case <-handled:
		case <-t.C:
			break wait
		case <-ctx.Done():
			break wait
		}
	}
	c.mu.Lock()
	e.reports--
	if !e.gone && !c.stopping && ctx.Err() == nil {
		out.Tasks, out.Pipelines = c.takeLocked(e)
	}
	left := len(e.queue) > 0 || e.gone || c.stopping
	c.mu.Unlock()
	c.tasksByReport.Add(int64(len(out.Tasks)))
	if left { // the long poll takes them, or says stop
		select {
		case e.wake <- struct{}{}:
		default:
		}
	}
	return out
}

// finish completes a task executor id ran with its result; handled, when
// set, is called once the job acted on it (task.Result.Handled).
func (c *cluster) finish(id string, r running, res task.Result, handled func()) {
	if res.Err == nil {
		c.cached.add(id, res.Cached)
		if c.dyn != nil && len(res.Cached) > 0 {
			c.dyn.cachedBlocks(id)
		}
	}
	if res.Err == nil && res.ID.Shuffle < 0 {
		res = c.s.finishResult(r.d, res, c.values.put)
	}
	c.s.explainRebuild(r.d, res.Err, id)
	res.Handled = handled
	r.done(res)
}

// pendingResult is a result task's value the driver is still decoding
// (finishResult).
type pendingResult struct {
	done chan struct{} // closed once v or err is set
	v    any
	err  error
}

// resolved returns v, or the value p stands for once decoded.
func resolved(v any) (any, error) {
	p, ok := v.(*pendingResult)
	if !ok {
		return v, nil
	}
	<-p.done
	return p.v, p.err
}

func (e *remoteExec) ID() string { return e.id }
func (e *remoteExec) Slots() int { return e.slots }

// Launch queues d for the executor's next poll.
func (e *remoteExec) Launch(ctx context.Context, d *task.Desc, done func(task.Result)) {
	c := e.c
	fail := func(err error) { go done(task.Result{ID: d.ID, Executor: e.id, Err: err}) }
	pt := &rddpb.Task{Id: idToProto(d.ID)}
	locs := c.mapLocations(d)
	c.mu.Lock()
	defer c.mu.Unlock()
	pt.Locations = c.addressesLocked(locs)
	pid, err := c.pipelineLocked(d)
	if err != nil {
		fail(err)
		return
	}
	pt.Pipeline = pid
	if e.gone {
		fail(fmt.Errorf("%w: %s", ErrExecutorLost, e.id))
		return
	}
	// Exactly one of the cancellation below and the holder of r (a result,
	// the executor's loss) calls done: whoever stops the other first. A
	// holder whose r.stop() reports false leaves done to the cancellation,
	// which therefore calls it whether or not r is still in e.running (a
	// result or a loss may have taken it out just before).
	r := running{d: d, done: done}
	cancelled := context.AfterFunc(ctx, func() {
		c.mu.Lock()
		delete(e.running, d.ID)
		// Not sent yet (a prefetched task waits for a report's answer):
		// it is not sent at all.
		e.queue = slices.DeleteFunc(e.queue, func(t *rddpb.Task) bool { return t == pt })
		c.mu.Unlock()
		done(task.Result{ID: d.ID, Executor: e.id, Err: ctx.Err()})
	})
	r.stop = cancelled
	e.running[d.ID] = r
	e.queue = append(e.queue, pt)
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// mapLocations says where each map output of the shuffles d's stage reads
// is, by executor id (addressesLocked turns them into addresses).
func (c *cluster) mapLocations(d *task.Desc) []mapLocs {
	var locs []mapLocs
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	for _, sh := range d.Pipeline.Shuffles {
		if sh.ID == d.Pipeline.Shuffle {
			continue
		}
		ml := mapLocs{&rddpb.MapLocations{Shuffle: int64(sh.ID), Sizes: make([]int64, sh.Maps)}, make([]string, sh.Maps)}
		c.s.books.Column(sh.ID, d.Partition, ml.execs, ml.Sizes)
		locs = append(locs, ml)
	}
	return locs
}

// mapLocs is a shuffle's MapLocations being built: the executor holding
// each map output ("" when missing).
type mapLocs struct {
	*rddpb.MapLocations
	execs []string
}

// addressesLocked fills in the servers of the executors holding the map
// outputs (outputAddrLocked), each distinct address once.
func (c *cluster) addressesLocked(locs []mapLocs) []*rddpb.MapLocations {
	out := make([]*rddpb.MapLocations, 0, len(locs))
	for _, ml := range locs {
		ml.Server = make([]int32, len(ml.execs))
		server := map[string]int32{} // by executor: ml.Server's value for its outputs, each looked up once
		last, lastK := "", int32(0)  // consecutive outputs are often one executor's
		for i, ex := range ml.execs {
			if ex == "" {
				continue
			}
			if ex == last {
				ml.Server[i] = lastK
				continue
			}
			k, ok := server[ex]
			if !ok {
				if addr := c.outputAddrLocked(ex); addr != "" {
					j := slices.Index(ml.Servers, addr)
					if j < 0 {
						j = len(ml.Servers)
						ml.Servers = append(ml.Servers, addr)
					}
					k = int32(j + 1)
				}
				server[ex] = k
			}
			ml.Server[i], last, lastK = k, ex, k
		}
		out = append(out, ml.MapLocations)
	}
	return out
}

// mapAddresses returns the address of each map output in l ("" when
// missing), or false when l does not parse.
func mapAddresses(l *rddpb.MapLocations) ([]string, bool) {
	servers := l.GetServers()
	out := make([]string, len(l.GetServer()))
	for m, k := range l.GetServer() {
		if k < 0 || int(k) > len(servers) {
			return nil, false
		}
		if k > 0 {
			out[m] = servers[k-1]
		}
	}
	return out, true
}

// pipelineLocked returns the id of d's pipeline, encoding it the first
// time.
func (c *cluster) pipelineLocked(d *task.Desc) (int64, error) {
	pid, ok := c.pipeIDs[d.Pipeline]
	if !ok {
		pid = int64(len(c.pipeIDs) + 1)
		c.pipeIDs[d.Pipeline] = pid
		c.pipes[pid], c.pipeErrs[pid] = pipelineToProto(pid, d.Pipeline)
	}
	return pid, c.pipeErrs[pid]
}

// finishResult turns a remote executor's value for a result task into the
// partition's result: a count, an action's decoded partial result, or, for
// jobs that return records (Collect, Take), the engine's partition function
// run over the records the executor sent. With later set, the decoding runs
// on a goroutine of its own and the result's Value is its *pendingResult:
// the job launches the executor's next task meanwhile, and the action's
// merge waits for the value (a value that cannot be decoded fails the job,
// as in Spark); later then gets the value's bytes back once decoded.
func (s *Session) finishResult(d *task.Desc, res task.Result, later func([]byte)) task.Result {
	recs, _ := res.Value.([]byte)
	if d.Pipeline.Result == task.ResultCount { // the executor counted
		n, k := binary.Uvarint(recs)
		if k <= 0 {
			return task.Result{ID: d.ID, Executor: res.Executor, Err: fmt.Errorf("rdd: executor %s sent a bad count for %v", res.Executor, d.ID)}
		}
		res.Value = int64(n)
		return res
	}
	if later != nil {
		p := &pendingResult{done: make(chan struct{})}
		sent := res // res itself changes below
		go func() {
			defer close(p.done)
			out := s.finishResult(d, sent, nil)
			p.v, p.err = out.Value, out.Err
			later(recs) // decoded: nothing refers to the bytes
		}()
		res.Value = p
		return res
	}
	if recs == nil {
		recs = []byte{}
	}
	s.mu.Lock()
	jt := s.jobTasks[d.Job]
	s.mu.Unlock()
	if jt == nil {
		return task.Result{ID: d.ID, Executor: res.Executor, Err: fmt.Errorf("rdd: internal error: result of unknown job %d", d.Job)}
	}
	if d.Pipeline.Result != resultRecords { // the executor ran the action's partition function
		v, err := jt.decode(recs)
		if err != nil {
			return task.Result{ID: d.ID, Executor: res.Executor, Err: err}
		}
		res.Value = v
		return res
	}
	tc := &TaskContext{ctx: s.ctx, sess: s, pipe: jt.index[d.Pipeline], job: d.Job, stage: d.Stage,
		partition: d.Partition, attempt: d.Attempt, fed: recs, fedNode: d.Pipeline.Target.ID}
	out := runTask(tc, d, func(tc *TaskContext) (any, error) { return jt.result(tc, d.Partition) })
	out.Metrics, out.Accums = res.Metrics, res.Accums
	return out
}
