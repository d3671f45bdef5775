package mesosbackend

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os/user"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/internal/resources"
	"github.com/mesoproject/meso/rdd/internal/relay"
	"github.com/mesoproject/meso/scheduler"
)

// Errors callers branch on.
var (
	// ErrConnect: no SUBSCRIBED arrived within Settings.ConnectTimeout.
	ErrConnect = errors.New("mesosbackend: cannot subscribe to the master")
	// ErrConfig: the Config cannot work.
	ErrConfig = errors.New("mesosbackend: invalid config")
	// ErrStopped: the backend was stopped (or its subscription ended).
	ErrStopped = errors.New("mesosbackend: stopped")
)

const (
	tickInterval = time.Second
	callTimeout  = 10 * time.Second
	probeTimeout = time.Second
)

// Config configures Start.
type Config struct {
	// Master lists masters as "host:port" (or http(s) URLs), tried in order;
	// redirects to the leader are followed.
	Master []string
	// Name is the framework's name (default "rdd"); User the user executors
	// run as (default: the current user); Hostname the framework's host
	// (optional).
	Name, User, Hostname string
	// Settings come from ParseSettings.
	Settings Settings
	// Command is what every executor task runs.
	Command Command
	// DriverURL is given to executors as MESO_RDD_DRIVER_URL.
	DriverURL string
	// Logger receives the backend's log lines (default: discarded).
	Logger *slog.Logger
	// HTTPClient sends the scheduler calls (default: one on
	// http.DefaultTransport).
	HTTPClient *http.Client
	// ShortageInterval is how long no offer must have been big enough
	// before an EventShortage (and a warning) is given, and how often it
	// repeats (default: Settings.ShortageInterval).
	ShortageInterval time.Duration
}

// Backend is a running coarse-grained framework. Its methods are safe for
// concurrent use.
type Backend struct {
	cfg    Config
	log    *slog.Logger
	client *scheduler.Client
	cancel context.CancelFunc // ends the subscription

	cmds      chan func(now time.Time) // run by the loop, which owns core
	loopDone  chan struct{}            // closed when the loop has ended
	drained   chan struct{}            // closed once, when stopped and no executor is alive
	subscribe chan struct{}            // closed at the first SUBSCRIBED

	core *Core // owned by the loop goroutine
	// offers holds the wire offers of the batch being decided (loop only).
	offers map[string]*mesospb.Offer

	out     chan Event
	events  *relay.Relay[Event] // events not yet handed to out
	mu      sync.Mutex
	runErr  error // guarded by mu; what scheduler.Client.Run returned
	stopped bool  // guarded by mu
}

// Start subscribes to the master and returns once SUBSCRIBED arrived, with
// offers already being handled. It fails with ErrConnect when no master
// answers within cfg.Settings.ConnectTimeout (the error says what dialing
// each master gave), with the master's refusal when it rejects the
// framework, or when ctx ends first. ctx bounds only this wait: the
// backend then runs until Stop.
func Start(ctx context.Context, cfg Config) (*Backend, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	b := &Backend{
		cfg:       cfg,
		log:       cfg.Logger,
		cmds:      make(chan func(time.Time)),
		loopDone:  make(chan struct{}),
		drained:   make(chan struct{}),
		subscribe: make(chan struct{}),
		core:      NewCore(cfg.Settings),
		out:       make(chan Event),
		events:    relay.New[Event](),
	}
	b.core.SetShortageInterval(cmp.Or(cfg.ShortageInterval, cfg.Settings.ShortageInterval))
	b.client = scheduler.New(scheduler.Config{
		Master:     strings.Join(cfg.Master, ","),
		Framework:  b.frameworkInfo(),
		HTTPClient: cfg.HTTPClient,
		Header:     AuthHeader(cfg.Settings),
		Logger:     cfg.Logger.With("component", "scheduler"),
	})
	runCtx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	runDone := make(chan struct{})
	go func() {
		err := b.client.Run(runCtx)
		b.mu.Lock()
		b.runErr = err
		b.mu.Unlock()
		close(runDone)
	}()
	go b.loop()
	go func() {
		// Events is closed once the loop has ended and all was delivered.
		defer close(b.out)
		b.events.Run(b.loopDone, func(ev Event) { b.out <- ev })
	}()
	if err := b.awaitSubscribed(ctx, runDone); err != nil {
		return nil, err
	}
	return b, nil
}

// withDefaults checks cfg and fills in its defaults.
func (cfg Config) withDefaults() (Config, error) {
	switch {
	case len(cfg.Master) == 0:
		return cfg, fmt.Errorf("%w: no master given", ErrConfig)
	case cfg.Settings.ExecutorMemoryMiB <= 0 || cfg.Settings.ConnectTimeout <= 0:
		return cfg, fmt.Errorf("%w: Settings must come from ParseSettings or DefaultSettings", ErrConfig)
	case cfg.Command.Value == "":
		return cfg, fmt.Errorf("%w: no executor command", ErrConfig)
	}
	if cfg.Name == "" {
		cfg.Name = "rdd"
	}
	if cfg.User == "" {
		u, err := user.Current()
		if err != nil {
			return cfg, fmt.Errorf("%w: no User and the current user is unknown: %w", ErrConfig, err)
		}
		cfg.User = u.Username
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg, nil
}

// awaitSubscribed waits for the first SUBSCRIBED; on failure it ends the
// subscription attempts and waits for the loop to end.
func (b *Backend) awaitSubscribed(ctx context.Context, runDone <-chan struct{}) error {
	timeout := b.cfg.Settings.ConnectTimeout
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-b.subscribe:
		return nil
	case <-b.loopDone:
		<-runDone
		err := b.Err()
		if err == nil {
			err = ErrStopped
		}
		return fmt.Errorf("%w: %w", ErrConnect, err)
	case <-timer.C:
		b.cancel()
		<-b.loopDone
		return fmt.Errorf("%w: no answer from %s within %s (%s)", ErrConnect,
			strings.Join(b.cfg.Master, ","), timeout, probe(b.cfg.Master))
	case <-ctx.Done():
		b.cancel()
		<-b.loopDone
		return fmt.Errorf("%w: %w", ErrConnect, ctx.Err())
	}
}

// probe dials each master once to say why none answered.
func probe(masters []string) string {
	var parts []string
	for _, m := range masters {
		host := m
		if u, err := url.Parse(m); err == nil && u.Host != "" {
			host = u.Host
		}
		conn, err := net.DialTimeout("tcp", host, probeTimeout)
		if err != nil {
			parts = append(parts, fmt.Sprintf("%s: %v", m, err))
			continue
		}
		conn.Close()
		parts = append(parts, m+": connects but does not subscribe us")
	}
	return strings.Join(parts, "; ")
}

func (b *Backend) frameworkInfo() *mesospb.FrameworkInfo {
	return FrameworkInfo(b.cfg.Settings, b.cfg.Name, b.cfg.User, b.cfg.Hostname)
}

// FrameworkInfo is the framework both modes subscribe: name, user, role,
// principal, failover timeout, checkpointing, framework id, web UI and
// labels from s (hostname optional).
func FrameworkInfo(s Settings, name, user, hostname string) *mesospb.FrameworkInfo {
	fi := &mesospb.FrameworkInfo{
		User:            proto.String(user),
		Name:            proto.String(name),
		Role:            proto.String(s.Role),
		FailoverTimeout: proto.Float64(s.FailoverTimeout.Seconds()),
		Checkpoint:      proto.Bool(s.Checkpoint),
	}
	if s.Principal != "" {
		fi.Principal = proto.String(s.Principal)
	}
	if s.FrameworkID != "" {
		fi.Id = &mesospb.FrameworkID{Value: proto.String(s.FrameworkID)}
	}
	if s.WebUIURL != "" {
		fi.WebuiUrl = proto.String(s.WebUIURL)
	}
	if hostname != "" {
		fi.Hostname = proto.String(hostname)
	}
	fi.Labels = labelsProto(s.DriverLabels)
	return fi
}

// AuthHeader is the HTTP basic authentication of spark.mesos.principal and
// spark.mesos.secret (nil without a secret).
func AuthHeader(s Settings) http.Header {
	if s.Secret == "" {
		return nil
	}
	return http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(s.Principal+":"+s.Secret))}}
}

// Events delivers executor events (and shortage reports) in order. It is
// closed once every event was delivered after Stop, or after the
// subscription ended for good (the master rejected or removed the
// framework: Err says why). Read it until it is closed.
func (b *Backend) Events() <-chan Event { return b.out }

// FrameworkID returns the id the master gave the framework.
func (b *Backend) FrameworkID() string { return b.client.FrameworkID().GetValue() }

// Leader returns the base URL of the master the backend is subscribed with
// ("" while not subscribed).
func (b *Backend) Leader() string { return b.client.Leader() }

// Err returns what ended the subscription (nil while it runs or after a
// clean Stop).
func (b *Backend) Err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.runErr
}

// do runs f on the loop goroutine and waits for it; ErrStopped when the
// loop has ended.
func (b *Backend) do(f func(now time.Time)) error {
	done := make(chan struct{})
	select {
	case b.cmds <- func(now time.Time) { f(now); close(done) }:
		<-done
		return nil
	case <-b.loopDone:
		return ErrStopped
	}
}

// SetTarget sets how many executors are wanted (Unlimited: as many as
// spark.cores.max allows, the default). Lowering it kills nothing; Kill the
// executors to drop.
func (b *Backend) SetTarget(n int) error {
	return b.do(func(time.Time) { b.core.SetTarget(n) })
}

// Kill asks Mesos to kill one executor; its Exited event follows.
func (b *Backend) Kill(executorID string) error {
	var err error
	if e := b.do(func(now time.Time) { err = b.core.Kill(now, executorID) }); e != nil {
		return e
	}
	return err
}

// Executors returns the live executors.
func (b *Backend) Executors() []Executor {
	var out []Executor
	_ = b.do(func(time.Time) { out = b.core.Executors() })
	return out
}

// Stop kills every executor, waits until each has reported a terminal state
// (at most Settings.ShutdownTimeout, or until ctx ends), then tears the
// framework down (the master kills whatever is left) and ends the
// subscription. Events is closed afterwards.
func (b *Backend) Stop(ctx context.Context) error {
	b.mu.Lock()
	if b.stopped {
		b.mu.Unlock()
		return ErrStopped
	}
	b.stopped = true
	b.mu.Unlock()
	defer b.cancel()
	if err := b.do(func(now time.Time) { b.core.Stop(now) }); err != nil {
		return b.Err()
	}
	timer := time.NewTimer(b.cfg.Settings.ShutdownTimeout)
	defer timer.Stop()
	var errs []error
	select {
	case <-b.drained:
	case <-timer.C:
		n := len(b.Executors())
		b.log.Warn("executors did not end within the shutdown timeout; tearing down",
			"executors", n, "timeout", b.cfg.Settings.ShutdownTimeout)
	case <-ctx.Done():
		errs = append(errs, ctx.Err())
	}
	// Tear down even when ctx has ended: the master then kills what is left.
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	defer cancel()
	if err := b.client.Teardown(tctx); err != nil && !errors.Is(err, scheduler.ErrNotSubscribed) {
		errs = append(errs, fmt.Errorf("mesosbackend: teardown: %w", err))
	}
	b.cancel()
	select {
	case <-b.loopDone:
	case <-ctx.Done():
		errs = append(errs, ctx.Err())
	}
	return errors.Join(errs...)
}

// loop owns the core: it feeds it scheduler events, commands and ticks, and
// carries out what it decides.
func (b *Backend) loop() {
	defer close(b.loopDone)
	ticker := time.NewTicker(tickInterval)
	defer ticker.Stop()
	subscribed, drained := false, false
	for {
		select {
		case ev, ok := <-b.client.Events():
			if !ok {
				return
			}
			if ev.GetType() == schedulerpb.Event_SUBSCRIBED && !subscribed {
				subscribed = true
				close(b.subscribe)
			}
			b.handle(ev)
		case f := <-b.cmds:
			f(time.Now())
		case now := <-ticker.C:
			b.core.Tick(now)
		}
		b.flush()
		if !drained && b.core.Done() {
			drained = true
			close(b.drained)
		}
	}
}

func (b *Backend) handle(ev *schedulerpb.Event) {
	now := time.Now()
	switch ev.GetType() {
	case schedulerpb.Event_SUBSCRIBED:
		b.log.Info("subscribed", "framework", ev.GetSubscribed().GetFrameworkId().GetValue())
		b.core.Subscribed()
	case schedulerpb.Event_OFFERS:
		offers := ev.GetOffers().GetOffers()
		b.offers = make(map[string]*mesospb.Offer, len(offers))
		batch := make([]Offer, 0, len(offers))
		for _, o := range offers {
			cpus, mem := offerTotals(o)
			b.offers[o.GetId().GetValue()] = o
			batch = append(batch, Offer{
				ID: o.GetId().GetValue(), Agent: o.GetAgentId().GetValue(), Hostname: o.GetHostname(),
				CPUs: cpus, MemMiB: mem, Attributes: resources.AttributesFromProto(o.GetAttributes()),
			})
		}
		b.core.Offers(now, batch)
	case schedulerpb.Event_UPDATE:
		st := ev.GetUpdate().GetStatus()
		b.log.Debug("status update", "executor", st.GetTaskId().GetValue(), "state", st.GetState(),
			"reason", st.GetReason(), "message", st.GetMessage())
		b.core.Update(now, Status{
			ExecutorID: st.GetTaskId().GetValue(), Agent: st.GetAgentId().GetValue(), State: st.GetState(),
			Reason: reasonName(st), Message: st.GetMessage(),
		})
		b.call("ACKNOWLEDGE", func(ctx context.Context) error { return b.client.Acknowledge(ctx, st) })
	case schedulerpb.Event_FAILURE:
		f := ev.GetFailure()
		b.log.Info("failure", "agent", f.GetAgentId().GetValue(), "executor", f.GetExecutorId().GetValue())
	}
}

func reasonName(st *mesospb.TaskStatus) string {
	if st.Reason == nil {
		return ""
	}
	return st.GetReason().String()
}

// flush carries out the core's decisions until it has none left (a failed
// ACCEPT gives more).
func (b *Backend) flush() {
	for {
		r := b.core.Ready()
		if isEmpty(r) {
			b.offers = nil
			return
		}
		b.carryOut(r)
	}
}

func isEmpty(r Ready) bool {
	return len(r.Launch) == 0 && len(r.Decline) == 0 && len(r.Kill) == 0 && !r.Suppress && !r.Revive &&
		len(r.Events) == 0 && r.Shortage == nil
}

func (b *Backend) carryOut(r Ready) {
	for _, l := range r.Launch {
		b.launch(l)
	}
	byFilter := map[time.Duration][]*mesospb.OfferID{}
	var filters []time.Duration
	for _, d := range r.Decline {
		if _, ok := byFilter[d.Filter]; !ok {
			filters = append(filters, d.Filter)
		}
		byFilter[d.Filter] = append(byFilter[d.Filter], &mesospb.OfferID{Value: proto.String(d.OfferID)})
		b.log.Debug("declining offer", "offer", d.OfferID, "reason", d.Reason, "filter", d.Filter)
	}
	for _, f := range filters {
		var fl *mesospb.Filters
		if f > 0 {
			fl = &mesospb.Filters{RefuseSeconds: proto.Float64(f.Seconds())}
		}
		ids := byFilter[f]
		b.call("DECLINE", func(ctx context.Context) error { return b.client.Decline(ctx, ids, fl) })
	}
	for _, k := range r.Kill {
		b.log.Info("killing executor", "executor", k.ExecutorID, "agent", k.Agent)
		b.call("KILL", func(ctx context.Context) error {
			return b.client.Kill(ctx, &mesospb.TaskID{Value: proto.String(k.ExecutorID)},
				&mesospb.AgentID{Value: proto.String(k.Agent)})
		})
	}
	if r.Suppress {
		b.log.Info("suppressing offers", "executors", len(b.core.Executors()), "cores", b.core.CoresInUse())
		b.call("SUPPRESS", func(ctx context.Context) error { return b.client.Suppress(ctx) })
	}
	if r.Revive {
		b.log.Info("reviving offers", "executors", len(b.core.Executors()), "cores", b.core.CoresInUse())
		b.call("REVIVE", func(ctx context.Context) error { return b.client.Revive(ctx) })
	}
	for _, ev := range r.Events {
		b.events.Post(ev)
	}
	if sh := r.Shortage; sh != nil {
		b.log.Warn(sh.String())
		b.events.Post(Event{Type: EventShortage, Shortage: sh})
	}
}

func (b *Backend) launch(l Launch) {
	offer := b.offers[l.OfferID]
	if offer == nil {
		for _, e := range l.Executors {
			b.core.LaunchFailed(e.ID, "offer "+l.OfferID+" unknown")
		}
		return
	}
	left := newOfferScalars(offer)
	tasks := make([]*mesospb.TaskInfo, 0, len(l.Executors))
	for _, e := range l.Executors {
		tasks = append(tasks, b.taskInfo(offer, left, e))
		b.log.Info("launching executor", "executor", e.ID, "agent", e.Agent, "host", e.Hostname,
			"cpus", e.CPUs, "mem", e.MemMiB)
	}
	err := b.call("ACCEPT", func(ctx context.Context) error { return b.client.Launch(ctx, offer, tasks...) })
	if err != nil {
		for _, e := range l.Executors {
			b.core.LaunchFailed(e.ID, err.Error())
		}
	}
}

// call sends one scheduler call with a bound; failures are logged (the
// master re-offers, the agent re-sends unacknowledged updates, and kills
// are retried by the core).
func (b *Backend) call(what string, f func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	err := f(ctx)
	if err != nil {
		b.log.Warn("scheduler call failed", "call", what, "err", err)
	}
	return err
}
