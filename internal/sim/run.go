package sim

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/mesoproject/meso/internal/httpbound"
	"github.com/mesoproject/meso/internal/master"
)

// ackGrace bounds the wait, once frameworks saw every task end, for the
// acknowledgements of the last FINISHED updates to reach their agents.
const ackGrace = 10 * time.Second

// runner is one run: the configuration, the clock every figure is read
// on, and the figures.
type runner struct {
	cfg   Config
	log   *slog.Logger
	epoch time.Time
	c     counters
	lat   *latencyBook
	audit *audit // nil unless cfg.Audit
	pool  *agentPool
	// abort ends the run with its cause (a master that cannot serve the
	// run: Config.LinkMux against a master before link version 3).
	abort context.CancelCauseFunc
}

// since is the time since the run began on the monotonic clock, never 0
// (a stamp's "unset").
func (r *runner) since() time.Duration { return time.Since(r.epoch) + 1 }

// Run starts a master (unless cfg.Master names one), registers
// cfg.Agents simulated agents, then runs cfg.Tasks tasks through
// cfg.Frameworks simulated frameworks and returns the figures. When the
// run does not complete (cfg.Timeout, ctx), the error wraps ErrIncomplete
// and the report holds the figures so far.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	rep, _, err := run(ctx, cfg)
	return rep, err
}

func run(ctx context.Context, cfg Config) (*Report, *runner, error) {
	if err := cfg.validate(); err != nil {
		return nil, nil, err
	}
	if cfg.ProfileDir != "" && cfg.Master != "" {
		return nil, nil, fmt.Errorf("%w: --profile profiles the in-process master; it cannot be used with --master", ErrConfig)
	}
	conns := cfg.agentConns() + cfg.Frameworks*(cfg.CallWorkers+1) + 8
	need := uint64(conns + 128)
	if cfg.Master == "" {
		need += uint64(conns) // the master's ends of the connections
	}
	if err := checkOpenFiles(need, cfg.Master == ""); err != nil {
		return nil, nil, err
	}
	r := &runner{cfg: cfg, log: cfg.Logger, epoch: time.Now(), lat: newLatencyBook()}
	if cfg.Audit {
		r.audit = newAudit()
	}
	rep, err := r.run(ctx, conns)
	return rep, r, err
}

func (r *runner) run(parent context.Context, conns int) (*Report, error) {
	cfg := &r.cfg
	rep := &Report{
		Mode: "external", Master: cfg.Master,
		Agents: cfg.Agents, Frameworks: cfg.Frameworks, Tasks: cfg.Tasks,
		TaskDuration: cfg.TaskDuration.Seconds(),
		OfferMode:    cfg.OfferMode, OfferFanout: cfg.OfferFanout,
		DecisionTime: cfg.DecisionTime.Seconds(),
		LoadStart:    loadAverage(),
	}
	ctx, cancel := context.WithTimeout(parent, cfg.Timeout)
	defer cancel()
	ctx, r.abort = context.WithCancelCause(ctx)
	defer r.abort(nil)
	if cfg.Master == "" {
		addr, stop, err := r.startMaster()
		if err != nil {
			return nil, err
		}
		defer stop()
		rep.Mode, rep.Master = "in-process", addr
	}

	tr := cfg.transport(&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}, conns, conns-cfg.Agents)
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	if err := cfg.probeHTTP2(ctx, rep.Master, hc); err != nil {
		return nil, err
	}

	simCtx, stopSim := context.WithCancel(ctx)
	defer stopSim()
	var wg sync.WaitGroup
	r.pool = newAgentPool(r, rep.Master, hc)
	stopRegProfile, err := r.startCPUProfile("register.pprof")
	if err != nil {
		return nil, err
	}
	if cfg.Progress != nil {
		wg.Go(func() { r.progress(simCtx, cfg.Progress) })
	}
	r.pool.start(simCtx, &wg)

	err = r.waitFor(ctx, func() bool { return r.c.registered.Load() == int64(cfg.Agents) })
	regTime := span(&r.c.firstRegister, &r.c.lastRegistered)
	rep.RegistrationTime, rep.RegistrationRate = regTime.Seconds(), rate(int64(cfg.Agents), regTime)
	if perr := stopRegProfile(); perr != nil && err == nil {
		err = perr
	}
	if err == nil {
		err = r.writeHeapProfile("heap-registered.pprof")
	}
	if err != nil {
		stopSim()
		wg.Wait()
		r.fill(rep, nil, 0)
		return rep, fmt.Errorf("%w: %d of %d agents registered: %w", ErrIncomplete, r.c.registered.Load(), cfg.Agents, err)
	}

	// The state queries have a connection of their own, as an operator's
	// client does: over HTTP/2 a query's tens of megabytes sharing the
	// agents' and frameworks' connections held their messages back behind
	// it (head-of-line blocking in the connection, not the master's work).
	str := cfg.transport(&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}, 1, 1)
	defer str.CloseIdleConnections()
	sampleCtx, stopSampling := context.WithCancel(simCtx)
	s := &sampler{r: r, master: rep.Master, client: &http.Client{Transport: str}, done: make(chan struct{})}
	go s.run(sampleCtx)
	stopProfile, err := r.startCPUProfile("cpu.pprof")
	if err != nil {
		stopSampling()
		stopSim()
		wg.Wait()
		return nil, err
	}
	phaseStart := r.since()
	workCtx, stopWork := context.WithCancel(simCtx)
	defer stopWork()
	fws := make([]*simFramework, cfg.Frameworks)
	for i := range fws {
		fws[i] = newFramework(r, i, rep.Master, hc)
		fws[i].start(simCtx, workCtx, &wg)
	}
	err = r.waitTasks(ctx, fws)
	phase := r.since() - phaseStart
	stopSampling()
	<-s.done
	rep.Memory = r.memory(s)
	if perr := stopProfile(); perr != nil && err == nil {
		err = perr
	}
	if perr := r.writeHeapProfile("heap.pprof"); perr != nil && err == nil {
		err = perr
	}
	rep.StateLatency = s.summary()
	rep.LoadEnd = loadAverage()

	stopWork()
	teardown(ctx, fws)
	stopSim()
	wg.Wait()
	r.fill(rep, fws, phase)
	return rep, err
}

// waitTasks waits until every framework saw every task of its share end,
// then (for at most ackGrace) until the agents got the acknowledgements
// of all the FINISHED updates the frameworks saw.
func (r *runner) waitTasks(ctx context.Context, fws []*simFramework) error {
	for _, f := range fws {
		select {
		case <-f.done:
		case <-ctx.Done():
			return fmt.Errorf("%w: %d of %d tasks ended: %w", ErrIncomplete,
				r.c.finishedSeen.Load()+r.c.failed.Load(), r.cfg.Tasks, ctx.Err())
		}
	}
	gctx, cancel := context.WithTimeout(ctx, ackGrace)
	defer cancel()
	if err := r.waitFor(gctx, func() bool { return r.c.finishedAcked.Load() >= r.c.finishedSeen.Load() }); err != nil {
		return fmt.Errorf("%w: %d FINISHED updates seen, %d acknowledged at agents: %w", ErrIncomplete,
			r.c.finishedSeen.Load(), r.c.finishedAcked.Load(), err)
	}
	return nil
}

// waitFor polls cond until it holds or ctx ends.
func (r *runner) waitFor(ctx context.Context, cond func() bool) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-t.C:
		}
	}
	return nil
}

// fill copies the counters into rep; phase is how long tasks ran.
// Framework goroutines must have ended (their latencies are read).
func (r *runner) fill(rep *Report, fws []*simFramework, phase time.Duration) {
	c := &r.c
	toRunning := span(&c.firstLaunch, &c.lastRunning)
	toFinished := span(&c.firstLaunch, &c.lastFinishedAck)
	rep.RunTime = toFinished.Seconds()
	rep.Offers, rep.OfferRate = c.offers.Load(), rate(c.offers.Load(), phase)
	rep.Launched = c.launched.Load()
	rep.Running, rep.ToRunningRate = c.running.Load(), rate(c.running.Load(), toRunning)
	rep.FinishedAcked, rep.ToFinishedRate = c.finishedAcked.Load(), rate(c.finishedAcked.Load(), toFinished)
	rep.Failed = c.failed.Load()
	rep.Rescinded, rep.Conflicts = c.rescinded.Load(), c.conflicts.Load()
	rep.UpdatesSent, rep.UpdatesRetried, rep.RetriesDropped = c.updatesSent.Load(), c.updatesRetried.Load(), c.retriesDropped.Load()
	rep.UpdatesReceived = c.updatesReceived.Load()
	rep.AcksReceived, rep.UnexpectedAcks = c.acks.Load(), c.unexpectedAcks.Load()
	rep.LinkFailures = c.linkFailures.Load()
	rep.CallErrors = c.callErrors.Load()
	rep.AgentRequests = c.agentRequests.Load()
	var lat []time.Duration
	for _, f := range fws {
		lat = append(lat, f.latencies...)
	}
	rep.UpdateLatency = summarize(lat)
	var place []time.Duration
	var busy time.Duration
	for _, f := range fws {
		place = append(place, f.placeLatencies...)
		busy += f.busy
	}
	rep.OfferToRunning = summarize(place)
	if slots := r.cfg.Agents * fits(r.cfg.AgentResources.Quantities(), r.cfg.TaskResources.Quantities(), math.MaxInt32); r.cfg.LaunchRate == 0 && slots > 0 && toFinished > 0 {
		rep.Utilisation = busy.Seconds() / (float64(slots) * toFinished.Seconds())
	}
	if r.cfg.LaunchRate > 0 {
		var launch, upd []time.Duration
		for _, f := range fws {
			launch = append(launch, f.launchLatencies...)
			upd = append(upd, f.steadyLatencies...)
		}
		n := c.steadyRunning.Load()
		rep.Steady = &Steady{
			LaunchRate: r.cfg.LaunchRate, Duration: r.cfg.SteadyDuration.Seconds(),
			Tasks: int64(r.cfg.steadyTasks()), Running: n,
			ToRunningRate: rate(n, span(&c.steadyStart, &c.lastSteadyRunning)),
			LaunchLatency: summarize(launch), UpdateLatency: summarize(upd),
		}
	}
	var waits []time.Duration
	if r.pool != nil {
		for _, w := range r.pool.waits {
			waits = append(waits, w...)
		}
	}
	rep.QueueWait = summarize(waits)
	if rep.LoadEnd == [3]float64{} {
		rep.LoadEnd = loadAverage()
	}
}

// teardown ends every framework at the master, all at once.
func teardown(ctx context.Context, fws []*simFramework) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, f := range fws {
		wg.Go(func() {
			if err := f.client.Teardown(ctx); err != nil {
				f.r.log.Warn("teardown failed", "framework", f.idx+1, "err", err)
			}
		})
	}
	wg.Wait()
}

// startMaster runs a master in this process on a free loopback port.
func (r *runner) startMaster() (addr string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("sim: master: %w", err)
	}
	m, err := master.New(master.Config{
		AllocationInterval: r.cfg.AllocationInterval,
		OfferMode:          r.cfg.OfferMode,
		OfferFanout:        r.cfg.OfferFanout,
		HTTP:               httpbound.Config{HTTP2Cleartext: r.cfg.HTTP2},
		Version:            r.cfg.Version,
		Logger:             r.log.With("component", "master"),
	})
	if err != nil {
		ln.Close()
		return "", nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Serve(ctx, ln) }()
	return ln.Addr().String(), func() {
		cancel()
		if err := <-done; err != nil {
			r.log.Warn("in-process master", "err", err)
		}
	}, nil
}

// startCPUProfile starts a CPU profile into name in Config.ProfileDir.
func (r *runner) startCPUProfile(name string) (stop func() error, err error) {
	if r.cfg.ProfileDir == "" {
		return func() error { return nil }, nil
	}
	if err := os.MkdirAll(r.cfg.ProfileDir, 0o755); err != nil {
		return nil, fmt.Errorf("sim: --profile: %w", err)
	}
	f, err := os.Create(filepath.Join(r.cfg.ProfileDir, name))
	if err != nil {
		return nil, fmt.Errorf("sim: --profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("sim: --profile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}

// writeHeapProfile writes the live heap, after a GC, into name in
// Config.ProfileDir.
func (r *runner) writeHeapProfile(name string) error {
	if r.cfg.ProfileDir == "" {
		return nil
	}
	f, err := os.Create(filepath.Join(r.cfg.ProfileDir, name))
	if err != nil {
		return fmt.Errorf("sim: --profile: %w", err)
	}
	runtime.GC()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("sim: --profile: %w", err)
	}
	return f.Close()
}

// memory reads the master's memory: this process's in-process, the
// external master's when its pid is known, else nothing.
func (r *runner) memory(s *sampler) *Memory {
	pid, scope := 0, "master+sim"
	if r.cfg.Master != "" {
		if r.cfg.MasterPID == 0 {
			return nil
		}
		pid, scope = r.cfg.MasterPID, "master"
	}
	rss, peak, err := procMemory(pid)
	if err != nil {
		r.log.Warn("reading the master's memory", "err", err)
		return nil
	}
	m := &Memory{Scope: scope, RSSBytes: rss, RSSPeakBytes: peak}
	if pid == 0 {
		m.HeapBytes = heapBytes()
		m.HeapPeakBytes = max(s.heapPeak, m.HeapBytes)
	}
	return m
}

// progress writes a progress line every second, and a last one when ctx
// ends.
func (r *runner) progress(ctx context.Context, w io.Writer) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(w, r.progressLine())
			return
		case <-t.C:
			fmt.Fprintln(w, r.progressLine())
		}
	}
}

func (r *runner) progressLine() string {
	c := &r.c
	return fmt.Sprintf("[%4.0fs] agents %s/%s registered | tasks launched %s, running %s, finished %s (acked %s) of %s, failed %s | offers %s | agent calls queued %s",
		time.Since(r.epoch).Seconds(),
		formatNumber(float64(c.registered.Load())), formatNumber(float64(r.cfg.Agents)),
		formatNumber(float64(c.launched.Load())), formatNumber(float64(c.active.Load())),
		formatNumber(float64(c.finishedSeen.Load())), formatNumber(float64(c.finishedAcked.Load())),
		formatNumber(float64(r.cfg.Tasks)), formatNumber(float64(c.failed.Load())),
		formatNumber(float64(c.offers.Load())), formatNumber(float64(r.pool.out.len())))
}

// sampler queries the state (Config.StateQuery) and reads memory while
// tasks run, one StateInterval after the previous query ended.
type sampler struct {
	r      *runner
	master string // host:port
	client *http.Client
	done   chan struct{} // closed when run returns

	// Owned by run until done is closed.
	state    []time.Duration
	errors   int
	heapPeak int64
}

func (s *sampler) run(ctx context.Context) {
	defer close(s.done)
	pause := s.r.cfg.StateInterval
	if pause < 0 {
		pause = DefaultStateInterval // memory only
	}
	t := time.NewTimer(pause)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if s.r.cfg.Master == "" {
			s.heapPeak = max(s.heapPeak, heapBytes())
		}
		// With a steady phase (Config.LaunchRate), queries run in it only.
		if s.r.cfg.StateInterval > 0 && (s.r.cfg.LaunchRate <= 0 || s.r.c.steadyStart.get() != 0) {
			d, err := s.query(ctx)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				s.errors++
				s.r.log.Warn("querying the state", "query", s.r.cfg.StateQuery, "err", err)
			} else {
				s.state = append(s.state, d)
			}
		}
		t.Reset(pause)
	}
}

func (s *sampler) query(ctx context.Context) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.master+"/master/state", nil)
	if s.r.cfg.StateQuery == StateQueryOperator {
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, "http://"+s.master+"/api/v1", strings.NewReader(`{"type":"GET_STATE"}`))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json")
		}
	}
	if err != nil {
		return 0, err
	}
	start := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("sim: the %s query answered %s", s.r.cfg.StateQuery, resp.Status)
	}
	return d, nil
}

func (s *sampler) summary() StateLatency {
	l := summarize(s.state)
	return StateLatency{Queries: len(s.state), Errors: s.errors, P50: l.P50, P99: l.P99, Max: l.Max}
}

// agentConns is how many connections the agents' links and senders take.
func (cfg *Config) agentConns() int {
	if cfg.LinkMux > 0 {
		return (cfg.Agents+cfg.LinkMux-1)/cfg.LinkMux + 1
	}
	if cfg.HTTP2 {
		streams := cfg.Agents + cfg.Senders
		return (streams+httpbound.MaxStreams-1)/httpbound.MaxStreams + 1
	}
	return cfg.Agents + cfg.Senders
}

// transport is the agents' (and frameworks') HTTP transport: at most
// conns connections to a master, idle ones kept for the senders; over
// HTTP/2 without TLS only when cfg.HTTP2 (the Transport then opens another
// connection when one carries as many streams as the master allows).
//
// Over HTTP/2 every connection may be kept (idle is ignored): net/http
// shares an HTTP/2 connection only while it sits in the idle pool, so
// with a pool too small for the connections (run passes conns − agents,
// negative then) every request dialed a connection of its own and closed
// it after one stream (4,879 dials for 5,000 agents).
func (cfg *Config) transport(dialer *net.Dialer, conns, idle int) *http.Transport {
	if cfg.HTTP2 {
		idle = conns
	}
	tr := &http.Transport{
		DialContext:         dialer.DialContext,
		MaxConnsPerHost:     conns,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: idle,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	if cfg.HTTP2 {
		tr.Protocols = new(http.Protocols)
		tr.Protocols.SetUnencryptedHTTP2(true)
	}
	return tr
}

// probeHTTP2 checks, with cfg.HTTP2, that the master at addr speaks HTTP/2
// without TLS, so that a master started without --http2_cleartext is a
// clear error at once rather than agents that never register.
func (cfg *Config) probeHTTP2(ctx context.Context, addr string, hc *http.Client) error {
	if !cfg.HTTP2 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/health", nil)
	if err != nil {
		return fmt.Errorf("%w: --master %q: %v", ErrConfig, addr, err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%w: --http2: the master at %s does not answer HTTP/2 without TLS (start it with --http2_cleartext): %v", ErrConfig, addr, err)
	}
	resp.Body.Close()
	return nil
}
