package rdd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"connectrpc.com/connect"

	"github.com/mesoproject/meso/api/rddpb"
	"github.com/mesoproject/meso/api/rddpb/rddpbconnect"
	"github.com/mesoproject/meso/rdd/internal/mesosbackend"
	"github.com/mesoproject/meso/rdd/internal/shuffle"
	"github.com/mesoproject/meso/rdd/internal/shufflenet"
	"github.com/mesoproject/meso/rdd/internal/task"
)

// The environment of an executor process, set by the Mesos backend.
const (
	envDriverURL     = "MESO_RDD_DRIVER_URL"
	envAuthToken     = "MESO_RDD_AUTH_TOKEN" // the application's token: driver calls, shuffle blocks, broadcasts
	envExecutorID    = "MESO_RDD_EXECUTOR_ID"
	envExecutorCores = "MESO_RDD_EXECUTOR_CORES"
	envHostname      = "MESO_RDD_HOSTNAME"
	// envExecutorCPUProfile names a directory where the executor writes a
	// CPU profile of its whole life, <id>.pprof (set it with
	// --conf spark.executorEnv.MESO_RDD_EXECUTOR_CPUPROFILE=DIR).
	envExecutorCPUProfile = "MESO_RDD_EXECUTOR_CPUPROFILE"
	// envDriverCPUProfile names a directory where a driver (rdd.Start,
	// not an executor) writes a CPU profile from Start to Close,
	// driver-<pid>.pprof.
	envDriverCPUProfile = "MESO_RDD_DRIVER_CPUPROFILE"
)

// keyReadHostLocalDisk turns off (false) reading the map outputs of other
// executors on the same host from their directories (Spark's name; on by
// default, as in Spark 3).
const keyReadHostLocalDisk = "spark.shuffle.readHostLocalDisk"

// startCPUProfile starts a CPU profile into path.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	return sync.OnceFunc(func() { pprof.StopCPUProfile(); f.Close() }), nil
}

// driverCPUProfile starts a CPU profile into dir/driver-<pid>.pprof when
// dir is set, and returns what stops it.
func driverCPUProfile(dir string, log *slog.Logger) func() {
	if dir == "" {
		return func() {}
	}
	stop, err := startCPUProfile(filepath.Join(dir, fmt.Sprintf("driver-%d.pprof", os.Getpid())))
	if err != nil {
		log.Warn("no CPU profile of the driver", "err", err)
		return func() {}
	}
	return stop
}

// executorCPUProfile starts a CPU profile into dir/<id>.pprof when dir is
// set, and returns what stops it.
func executorCPUProfile(dir, id string, log *slog.Logger) func() {
	if dir == "" {
		return func() {}
	}
	stop, err := startCPUProfile(filepath.Join(dir, id+".pprof"))
	if err != nil {
		log.Warn("no CPU profile", "err", err)
		return func() {}
	}
	// The agent may kill the executor before it returns: write the
	// profile on SIGTERM too.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	go func() {
		<-sig
		stop()
		os.Exit(0)
	}()
	return stop
}

// driverTimeout is how long an executor keeps trying to reach a driver
// that does not answer before it exits.
const driverTimeout = 10 * time.Second

// ErrRegistry: an executor's Func registry differs from the driver's (the
// executor runs another build of the program).
var ErrRegistry = errors.New("rdd: executor's Func registry differs from the driver's")

// registrySites lists the call sites of the registered Funcs, in order.
func registrySites() []string {
	funcsMu.Lock()
	defer funcsMu.Unlock()
	out := make([]string, len(funcs))
	for i, f := range funcs {
		out[i] = f.site
	}
	return out
}

// compareRegistry returns nil when the executor's registry equals the
// driver's, or an error naming the first Func that differs.
func compareRegistry(driver, executor []string) error {
	for i := range max(len(driver), len(executor)) {
		d, e := "(none)", "(none)"
		if i < len(driver) {
			d = driver[i]
		}
		if i < len(executor) {
			e = executor[i]
		}
		if d != e {
			return fmt.Errorf("%w: Func %d is registered at %s on the driver and at %s on the executor (%d and %d Funcs)",
				ErrRegistry, i, d, e, len(driver), len(executor))
		}
	}
	return nil
}

// h2c returns the HTTP protocols of the driver<->executor RPC: HTTP/2
// without TLS (and HTTP/1 for the executable download).
func h2c(http1 bool) *http.Protocols {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	p.SetHTTP1(http1)
	return &p
}

// runExecutorMain runs this process as a cluster executor and exits it:
// rdd.Start calls it when the process was started by the driver.
func runExecutorMain(driverURL string) {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("executor", os.Getenv(envExecutorID))
	slots, _ := strconv.Atoi(os.Getenv(envExecutorCores))
	stopProfile := executorCPUProfile(os.Getenv(envExecutorCPUProfile), os.Getenv(envExecutorID), log)
	err := runExecutor(context.Background(), driverURL, os.Getenv(envAuthToken), os.Getenv(envExecutorID), slots, os.Getenv(envHostname), log)
	stopProfile()
	if err != nil {
		log.Error("executor failed", "err", err)
		os.Exit(1)
	}
	log.Info("executor done")
	os.Exit(0)
}

// executor is the state of an executor process.
type executor struct {
	id     string
	s      *Session // the local session whose store, cache and config tasks use
	client rddpbconnect.DriverServiceClient
	// results posts result reports (results.go); fail stops the executor
	// with its error (a report that could not be delivered).
	results *http.Client
	fail    context.CancelCauseFunc
	addr    string // the shuffle server's host:port
	log     *slog.Logger
	http    *http.Client // fetches single blocks from other executors
	batch   *shufflenet.Fetcher
	token   string // the application's shuffle token
	// bufs holds result buffers free for the next task (run): one per
	// report that may be in flight and per slot, so that a slot whose last
	// results are still on their way does not grow a fresh buffer from
	// nothing (growslice's copies and page faults: ~0.1 s of CPU per
	// executor in the demo's reduce stage).
	bufs chan []byte

	// Tasks from the driver waiting for a slot, in the order they came
	// (start), and the slots free.
	qmu   sync.Mutex
	ready []*rddpb.Task // guarded by qmu
	free  int           // guarded by qmu

	// Results not reported yet (finished): reporting reports are on their
	// way, at most maxReports.
	rmu                   sync.Mutex
	unsent                []*rddpb.TaskResult // guarded by rmu
	unsentBufs            [][]byte            // guarded by rmu
	reporting, maxReports int                 // guarded by rmu

	mu        sync.Mutex
	pipelines map[int64]*rebuiltStage // guarded by mu; by pipeline id
	// pipeAdded is closed (and replaced) when a pipeline is added: a task
	// can arrive before its pipeline, which the driver sends once per
	// executor in whichever answer (poll or report) takes the first of its
	// tasks, and two answers are read concurrently.
	pipeAdded chan struct{}     // guarded by mu
	rebuilt   map[int64]Dataset // guarded by mu; the driver's invocation id -> its rebuilt lineage, built once
	proxies   map[int]Dataset   // guarded by mu; stand-ins of driver data (Parallelize handles) by the driver's id
	bcasts    map[int64][]byte  // guarded by mu; broadcast values fetched from the driver, by id

	driverURL string
}

// broadcast returns broadcast id's encoded value, fetched from the driver
// the first time (e.mu is held: the fetch is once per executor).
func (e *executor) broadcast(id int64) ([]byte, error) {
	if b, ok := e.bcasts[id]; ok {
		return b, nil
	}
	b, err := e.get(fmt.Sprintf("%s/broadcast/%d", e.driverURL, id))
	if err != nil {
		return nil, fmt.Errorf("fetching from the driver: %w", err)
	}
	e.bcasts[id] = b
	return b, nil
}

// rebuiltStage is one stage's pipeline as this executor rebuilt it.
type rebuiltStage struct {
	p       *task.Pipeline
	ix      *pipelineIndex
	target  *node
	written *shuffleDep
	err     error
}

// runExecutor runs executor id with slots task slots, its shuffle server
// listening on host, until the driver at driverURL stops it.
func runExecutor(ctx context.Context, driverURL, token, id string, slots int, host string, log *slog.Logger) error {
	slots = max(slots, 1)
	if host == "" {
		host = "127.0.0.1"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return fmt.Errorf("rdd: executor %s: shuffle server: %w", id, err)
	}
	hc := &http.Client{Transport: withToken{token, &http.Transport{Protocols: h2c(false)}}}
	ctx, fail := context.WithCancelCause(ctx)
	defer fail(nil)
	e := &executor{id: id, addr: ln.Addr().String(), log: log, free: slots, maxReports: slots,
		client: rddpbconnect.NewDriverServiceClient(hc, driverURL), fail: fail,
		http:      &http.Client{Timeout: 30 * time.Second},
		pipelines: map[int64]*rebuiltStage{}, rebuilt: map[int64]Dataset{}, proxies: map[int]Dataset{}, bcasts: map[int64][]byte{}, driverURL: driverURL}
	if dir := os.Getenv("MESO_RDD_PID_DIR"); dir != "" { // lets tests check that executors are gone
		// Written whole then renamed: a reader never sees an empty file.
		tmp := filepath.Join(dir, id+".pid.tmp")
		if os.WriteFile(tmp, []byte(strconv.Itoa(os.Getpid())), 0o644) == nil {
			os.Rename(tmp, filepath.Join(dir, id+".pid"))
		}
	}
	hostname, _ := os.Hostname()
	reg, err := e.client.Register(ctx, connect.NewRequest(&rddpb.RegisterRequest{ExecutorId: id, ShuffleAddress: e.addr,
		Slots: int32(slots), Registry: registrySites(), Pid: int32(os.Getpid()), Hostname: hostname}))
	if err != nil {
		ln.Close()
		return fmt.Errorf("rdd: executor %s: register with the driver at %s: %w", id, driverURL, err)
	}
	conf := reg.Msg.GetConf()
	// With prefetched tasks (spark.rdd.taskPrefetch, the driver's
	// effective value) each task held may have its report in flight: the
	// next result goes out at once rather than a round trip later.
	if n, err := strconv.Atoi(conf[keyTaskPrefetch]); err == nil && n > 0 {
		e.maxReports = slots * (1 + n)
	}
	e.results = resultsClient(token, e.maxReports)
	e.bufs = make(chan []byte, e.maxReports+slots)
	cfg := Config{Master: fmt.Sprintf("local[%d]", slots), AppName: "executor-" + id, Logger: log}
	for _, k := range []string{"spark.shuffle.memory", "spark.storage.memory"} {
		if v, ok := conf[k]; ok {
			if err := cfg.Set(k, v); err != nil {
				ln.Close()
				return fmt.Errorf("rdd: executor %s: the driver's %w", id, err)
			}
		}
	}
	fc, err := fetcherConfig(conf)
	if err != nil {
		ln.Close()
		return fmt.Errorf("rdd: executor %s: the driver's %w", id, err)
	}
	s, err := start(cfg)
	if err != nil {
		ln.Close()
		return err
	}
	defer s.Close()
	e.s = s
	// Map outputs: batches for other executors' fetchers (shufflenet, with
	// the application's token), single blocks for the fallback path.
	// The token came with the environment; Register does not hand it out.
	// The marker lets reducers on this host that can read the directory
	// read its files directly (spark.shuffle.readHostLocalDisk).
	scfg := shufflenet.ServerConfig{Token: token, Logger: log}
	if ann, err := shufflenet.WriteMarker(s.store.Dir(), hostname); err != nil {
		log.Warn("no host-local shuffle reads of this executor's outputs", "err", err)
	} else {
		scfg.Announce = &ann
	}
	mux := http.NewServeMux()
	mux.Handle(shufflenet.PathPrefix, shufflenet.NewServer(s.store, scfg))
	mux.Handle("/block/", tokenOnly(token, shufflenet.BlockHandler(s.store)))
	mux.Handle("GET /cache/{node}/{part}", tokenOnly(token, cacheHandler(s.cache)))
	big := &fineResults{m: map[string][]byte{}}
	mux.Handle("GET /result/{task}", tokenOnly(token, big))
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer srv.Close()
	e.token = token
	fc.Token, fc.LocalAddr, fc.Local = token, e.addr, s.store
	fc.OnPeer = func(addr string, disk bool, why string) {
		log.Info("shuffle blocks of a peer", "peer", addr, "from_disk", disk, "why", why)
	}
	e.batch = shufflenet.NewFetcher(fc)
	defer func() {
		st := e.batch.Stats()
		log.Info("shuffle blocks read", "local", st.Local, "host_local", st.HostLocal, "remote", st.Remote, "fallbacks", st.Fallbacks)
		e.batch.Close()
	}()
	if on, _ := strconv.ParseBool(conf[keyShuffleService]); on {
		if err := e.useShuffleService(ctx, conf, reg.Msg.GetAppId(), s.dir, host); err != nil {
			return err
		}
		s.keepShuffle.Store(true) // the service deletes it when the application ends
	}
	log.Info("registered", "driver", driverURL, "slots", slots, "shuffle", e.addr)
	lastOK := time.Now()
	var wg sync.WaitGroup
	defer wg.Wait()
	if fineMode() { // tasks come from the agent; the poll below is the heartbeat
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer cancel()
			if err := e.runMesos(ctx, big); err != nil {
				log.Warn("mesos executor ended", "err", err)
			}
		}()
	}
	for {
		resp, err := e.client.PollTasks(ctx, connect.NewRequest(&rddpb.PollTasksRequest{ExecutorId: id}))
		if ctx.Err() != nil {
			if cause := context.Cause(ctx); !errors.Is(cause, context.Canceled) {
				return cause // e.fail: a result could not be reported
			}
			return nil // the agent shut the fine-grained executor down
		}
		if err != nil {
			if time.Since(lastOK) > driverTimeout {
				return fmt.Errorf("rdd: executor %s: driver unreachable for %v: %w", id, driverTimeout, err)
			}
			time.Sleep(200 * time.Millisecond) // retry pacing, not a wait for an event
			continue
		}
		lastOK = time.Now()
		if resp.Msg.GetStop() {
			return nil
		}
		e.start(ctx, &wg, resp.Msg.GetPipelines(), resp.Msg.GetTasks())
	}
}

// start runs tasks from the driver (after adding the pipelines that came
// with them) in free slots, each slot on a goroutine of its own: the poll
// loop, which is the heartbeat, never waits for a slot. The driver gives
// an executor more tasks than it has slots (spark.rdd.taskPrefetch): those
// wait here, in the order they came, and a slot whose task has run takes
// the next at once while the result is being reported (finished). A
// report asks for tasks, and those its answer carries start the same way,
// so that a slot's next tasks need no other round trip to the driver.
func (e *executor) start(ctx context.Context, wg *sync.WaitGroup, pipes []*rddpb.Pipeline, tasks []*rddpb.Task) {
	for _, p := range pipes {
		e.addPipeline(p)
	}
	e.qmu.Lock()
	defer e.qmu.Unlock()
	for _, t := range tasks {
		if e.free == 0 {
			e.ready = append(e.ready, t)
			continue
		}
		e.free--
		wg.Add(1)
		go e.slot(ctx, wg, t)
	}
}

// slot runs t, then the tasks waiting for a slot, until none waits.
func (e *executor) slot(ctx context.Context, wg *sync.WaitGroup, t *rddpb.Task) {
	defer wg.Done()
	for t != nil && ctx.Err() == nil {
		// A result buffer (records) of a task whose result was sent,
		// reused.
		var buf []byte
		select {
		case buf = <-e.bufs:
		default:
		}
		res := e.run(ctx, t, &buf)
		e.qmu.Lock()
		t = nil
		if len(e.ready) > 0 {
			t = e.ready[0]
			e.ready = e.ready[1:]
		} else {
			e.free++
		}
		e.qmu.Unlock()
		e.finished(ctx, wg, res, buf)
	}
}

// finished reports a task's result: at once when fewer than maxReports
// reports are on their way to the driver (one per task the driver gives
// the executor at a time, slots*(1+spark.rdd.taskPrefetch)), else with the
// next report one of those sends once answered, together with every other
// result finished by then (several jobs' tasks at once can be more). buf
// is the task's result buffer, reused once the result was sent.
func (e *executor) finished(ctx context.Context, wg *sync.WaitGroup, res task.Result, buf []byte) {
	pr := resultToProto(res)
	e.rmu.Lock()
	defer e.rmu.Unlock()
	e.unsent = append(e.unsent, pr)
	if buf != nil {
		e.unsentBufs = append(e.unsentBufs, buf)
	}
	if e.reporting >= e.maxReports {
		return
	}
	e.reporting++
	wg.Add(1)
	go e.reportLoop(ctx, wg)
}

// reportLoop posts the unsent results until none is left.
func (e *executor) reportLoop(ctx context.Context, wg *sync.WaitGroup) {
	defer wg.Done()
	e.rmu.Lock()
	for {
		results, bufs := e.unsent, e.unsentBufs
		e.unsent, e.unsentBufs = nil, nil
		if len(results) == 0 {
			e.reporting--
			e.rmu.Unlock()
			return
		}
		e.rmu.Unlock()
		resp, err := e.report(ctx, &rddpb.ReportResultsRequest{ExecutorId: e.id, Results: results, WantTasks: true})
		if err != nil {
			if ctx.Err() == nil {
				// The results are lost with the report: the executor
				// stops, and the driver runs the tasks again once it
				// sees the executor lost.
				e.fail(fmt.Errorf("rdd: executor %s: reporting the results of %d tasks (%v first): %w",
					e.id, len(results), idFromProto(results[0].GetId()), err))
			}
			e.rmu.Lock()
			e.reporting--
			e.rmu.Unlock()
			return
		}
		for _, b := range bufs {
			select {
			case e.bufs <- b:
			default:
			}
		}
		e.start(ctx, wg, resp.GetPipelines(), resp.GetTasks())
		e.rmu.Lock()
	}
}

// addPipeline rebuilds a stage's lineage (once per Func invocation) and
// indexes its datasets and shuffles by the rebuilt nodes.
func (e *executor) addPipeline(pp *rddpb.Pipeline) {
	p, err := pipelineFromProto(pp)
	st := &rebuiltStage{p: p, err: err}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.pipelines[pp.GetId()] = st
	if e.pipeAdded != nil {
		close(e.pipeAdded)
		e.pipeAdded = nil
	}
	if err != nil {
		st.p = &task.Pipeline{Name: pp.GetName()}
		return
	}
	key := p.Invocation.ID
	ds := e.rebuilt[key]
	if ds == nil {
		ds, st.err = rebuild(*p.Invocation, e.broadcast, e.handle, nil)
		if st.err != nil {
			return
		}
		e.rebuilt[key] = ds
	}
	if got := fingerprintEntries(ds.lineage()); p.Fingerprint != "" && digestEntries(got) != p.Fingerprint {
		st.err = &RebuildError{Func: funcSite(p.Invocation.Func), Stage: p.Name, Inv: key, Rebuilt: got}
		return
	}
	st.ix, st.target, st.written, st.err = indexRebuilt(e.lookupLocked, p)
}

// lookupLocked finds a pipeline's dataset among the lineages this executor
// rebuilt (e.mu is held): by its invocation and local index, or a driver
// data stand-in by the driver's id.
func (e *executor) lookupLocked(r task.NodeRef) *node {
	if r.Inv == 0 {
		if ds := e.proxies[r.ID]; ds != nil {
			return ds.lineage()
		}
		return nil
	}
	ds := e.rebuilt[r.Inv]
	if ds == nil {
		return nil
	}
	return byLocal(ds.lineage(), r.Local)
}

// funcSite returns the call site of registry entry i.
func funcSite(i int) string {
	funcsMu.Lock()
	defer funcsMu.Unlock()
	if i >= 0 && i < len(funcs) {
		return funcs[i].site
	}
	return fmt.Sprintf("Func %d", i)
}

// indexRebuilt finds a pipeline's datasets and shuffles in the rebuilt
// lineages (lookup): the stage's target and, for a map stage, the shuffle
// it writes. Each dataset takes the driver's storage level.
func indexRebuilt(lookup func(task.NodeRef) *node, p *task.Pipeline) (*pipelineIndex, *node, *shuffleDep, error) {
	ix := &pipelineIndex{p: p, nodes: map[int]*task.Node{}, shuffles: map[int]*task.Shuffle{}}
	for i := range p.Nodes {
		n := lookup(p.Nodes[i].NodeRef)
		if n == nil {
			return nil, nil, nil, fmt.Errorf("%w: no dataset %d in the rebuilt lineage of stage %s", ErrNotPortable, p.Nodes[i].Local, p.Name)
		}
		ix.nodes[n.id] = &p.Nodes[i]
		if p.Nodes[i].Inv != 0 {
			n.level.Store(int32(p.Nodes[i].Level))
		}
	}
	var written *shuffleDep
	for i := range p.Shuffles {
		sh := &p.Shuffles[i]
		red := lookup(sh.Reduce)
		if red == nil {
			return nil, nil, nil, fmt.Errorf("%w: no dataset %d in the rebuilt lineage of stage %s", ErrNotPortable, sh.Reduce.Local, p.Name)
		}
		for _, dep := range red.deps {
			if dep.shuffle != nil && dep.shuffle.mapNode == lookup(sh.Map) {
				ix.shuffles[dep.shuffle.id] = sh
				if sh.ID == p.Shuffle {
					written = dep.shuffle
				}
			}
		}
	}
	if p.Shuffle >= 0 && written == nil {
		return nil, nil, nil, fmt.Errorf("%w: shuffle %d not in the rebuilt lineage of stage %s", ErrNotPortable, p.Shuffle, p.Name)
	}
	target := lookup(p.Target)
	if target == nil {
		return nil, nil, nil, fmt.Errorf("%w: no target dataset %d in the rebuilt lineage of stage %s", ErrNotPortable, p.Target.Local, p.Name)
	}
	return ix, target, written, nil
}

// pipelineWait bounds how long a task waits for its pipeline to arrive in
// the other answer that carries it (milliseconds in practice).
const pipelineWait = 30 * time.Second

// pipeline returns pipeline id, waiting for it if the answer that carries
// it is still being read: a task of a pipeline new to this executor may
// come in a report's answer while the poll's answer holding the pipeline
// is read on another goroutine.
func (e *executor) pipeline(ctx context.Context, id int64) (*rebuiltStage, error) {
	timeout := time.NewTimer(pipelineWait)
	defer timeout.Stop()
	e.mu.Lock()
	defer e.mu.Unlock()
	for {
		if st := e.pipelines[id]; st != nil {
			return st, nil
		}
		if e.pipeAdded == nil {
			e.pipeAdded = make(chan struct{})
		}
		added := e.pipeAdded
		e.mu.Unlock()
		select {
		case <-added:
		case <-ctx.Done():
			e.mu.Lock()
			return nil, ctx.Err()
		case <-timeout.C:
			e.mu.Lock()
			return nil, fmt.Errorf("rdd: internal error: pipeline %d did not arrive within %v of its task", id, pipelineWait)
		}
		e.mu.Lock()
	}
}

// run runs one task from the driver.
//
// A task returning records encodes them into *buf and leaves the bytes
// there for the slot's next task, to be reused once this result was sent;
// buf may be nil.
func (e *executor) run(ctx context.Context, t *rddpb.Task, buf *[]byte) task.Result {
	id := idFromProto(t.GetId())
	st, err := e.pipeline(ctx, t.GetPipeline())
	d := &task.Desc{ID: id, Executor: e.id}
	if err != nil {
		return task.Result{ID: id, Executor: e.id, Err: err}
	}
	d.Pipeline = st.p
	if st.err != nil {
		return task.Result{ID: id, Executor: e.id, Err: st.err}
	}
	locs := map[int]taskLocs{}
	for _, l := range t.GetLocations() {
		if addrs, ok := mapAddresses(l); ok { // otherwise: no location, a fetch failure
			locs[int(l.GetShuffle())] = taskLocs{addrs, l.GetSizes()}
		}
	}
	tc := &TaskContext{ctx: ctx, sess: e.s, pipe: st.ix, job: id.Job, stage: id.Stage, partition: id.Partition,
		attempt: id.Attempt, fetch: &netFetcher{e: e, locs: locs, part: id.Partition}, remoteBlock: e.remoteBlock}
	records := st.written == nil && st.p.Result == resultRecords && buf != nil
	if records {
		tc.resultBuf = *buf
	}
	res := runTask(tc, d, func(tc *TaskContext) (any, error) {
		if st.written != nil {
			return st.written.writeMap(tc, id.Partition)
		}
		return st.target.runResult(tc, id.Partition, st.p)
	})
	if b, ok := res.Value.([]byte); ok && records && cap(b) > cap(*buf) {
		*buf = b
	}
	return res
}

// fetcherConfig maps the network-shuffle settings onto shufflenet's.
func fetcherConfig(conf map[string]string) (shufflenet.Config, error) {
	fc := shufflenet.Config{HostLocal: true}
	var err error
	if v, ok := conf[keyReadHostLocalDisk]; ok {
		if fc.HostLocal, err = strconv.ParseBool(strings.TrimSpace(v)); err != nil {
			return fc, fmt.Errorf("%w: %s=%q: want true or false", ErrConfig, keyReadHostLocalDisk, v)
		}
	}
	if v, ok := conf["spark.reducer.maxSizeInFlight"]; ok {
		if fc.MaxBytesInFlight, err = mesosbackend.ParseSize(v, 1<<20); err != nil || fc.MaxBytesInFlight <= 0 {
			return fc, fmt.Errorf("%w: spark.reducer.maxSizeInFlight=%q: want a positive size", ErrConfig, v)
		}
	}
	if v, ok := conf["spark.shuffle.io.maxRetries"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fc, fmt.Errorf("%w: spark.shuffle.io.maxRetries=%q: want a count", ErrConfig, v)
		}
		fc.MaxRetries = n
		if n == 0 {
			fc.MaxRetries = -1 // none
		}
	}
	for _, d := range []struct {
		key  string
		to   *time.Duration
		unit time.Duration
	}{{"spark.shuffle.io.retryWait", &fc.RetryWait, time.Second}, {"spark.network.timeout", &fc.Timeout, time.Second}} {
		if v, ok := conf[d.key]; ok {
			if *d.to, err = mesosbackend.ParseDuration(v, d.unit); err != nil || *d.to <= 0 {
				return fc, fmt.Errorf("%w: %s=%q: want a positive duration", ErrConfig, d.key, v)
			}
		}
	}
	return fc, nil
}

// withToken sends the application's token on every request.
type withToken struct {
	token string
	next  http.RoundTripper
}

func (t withToken) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(shufflenet.TokenHeader, t.token)
	return t.next.RoundTrip(r)
}

// tokenOnly refuses requests without the application's token.
func tokenOnly(token string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(shufflenet.TokenHeader) != token {
			http.Error(w, "bad application token", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// netFetcher fetches a task's blocks from the executors holding them: the
// blocks of the task's own reducer partition in batches (shufflenet, within
// spark.reducer.maxSizeInFlight), any other block one per request (the
// local store serves this executor's own).
type netFetcher struct {
	e    *executor
	locs map[int]taskLocs
	part int
}

// taskLocs is a shuffle's MapLocations as a task reads them: the address
// of each map output ("" when missing) and its block's size.
type taskLocs struct {
	addrs []string
	sizes []int64
}

// wants returns the batched fetcher's wants for reducer r of shuffle sh,
// or false when their sizes are not known (r is not the task's partition).
func (f *netFetcher) wants(sh, r int) ([]shufflenet.Want, bool) {
	l, ok := f.locs[sh]
	if !ok || r != f.part || len(l.sizes) != len(l.addrs) {
		return nil, false
	}
	out := make([]shufflenet.Want, 0, len(l.addrs))
	for m, addr := range l.addrs {
		size := l.sizes[m]
		if addr == "" || size < 0 {
			return nil, false
		}
		if size > 0 {
			out = append(out, shufflenet.Want{Map: m, Reduce: r, Addr: addr, Size: size})
		}
	}
	return out, true
}

func (f *netFetcher) Fetch(b shuffle.BlockID) ([]byte, func(), error) {
	addrs := f.locs[b.Shuffle].addrs
	if b.Map >= len(addrs) || addrs[b.Map] == "" {
		return nil, nil, &shuffle.FetchError{Block: b, Err: errors.New("no location for the map output")}
	}
	if addrs[b.Map] == f.e.addr {
		return f.e.s.store.Fetch(b)
	}
	url := fmt.Sprintf("http://%s/block/%d/%d/%d", addrs[b.Map], b.Shuffle, b.Map, b.Reduce)
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, nil, &shuffle.FetchError{Block: b, Err: err}
	}
	req.Header.Set(shufflenet.TokenHeader, f.e.token)
	resp, err := f.e.http.Do(req)
	if err != nil {
		return nil, nil, &shuffle.FetchError{Block: b, Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(data)))
	}
	if err != nil {
		return nil, nil, &shuffle.FetchError{Block: b, Err: fmt.Errorf("from %s: %w", addrs[b.Map], err)}
	}
	return data, func() {}, nil
}
