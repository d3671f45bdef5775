package finegrained

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/internal/resources"
	"github.com/mesoproject/meso/rdd/internal/relay"
	"github.com/mesoproject/meso/scheduler"
)

// ErrConnect: no SUBSCRIBED arrived in time.
var ErrConnect = errors.New("finegrained: cannot subscribe to the master")

const callTimeout = 10 * time.Second

// Config configures Start.
type Config struct {
	Master    []string
	Framework *mesospb.FrameworkInfo
	// Header is sent with every scheduler call (the principal's
	// credentials).
	Header   http.Header
	Settings Settings
	// Executor returns the ExecutorInfo of a new executor incarnation (its
	// resources are added by the backend) on the offer's host.
	Executor func(id, hostname string) *mesospb.ExecutorInfo
	// OnEnd receives every task's terminal update; OnGone every executor
	// incarnation that ended. Both are called on one goroutine, in order,
	// never on the backend's loop (they may call Submit).
	OnEnd  func(End)
	OnGone func(executor string)
	// OnExhausted says why no waiting task can launch any more (every
	// agent offered is blacklisted); called once, like OnEnd.
	OnExhausted func(why string)
	// ConnectTimeout bounds the wait for SUBSCRIBED.
	ConnectTimeout time.Duration
	Logger         *slog.Logger
}

// Backend runs a Core against a master.
type Backend struct {
	cfg    Config
	log    *slog.Logger
	client *scheduler.Client
	cancel context.CancelFunc
	core   *Core
	cmds   chan func()
	done   chan struct{} // closed when the loop ended

	offers map[string]*mesospb.Offer        // loop only: the batch being decided
	execs  map[string]*mesospb.ExecutorInfo // loop only: the ExecutorInfo of each incarnation
	data   map[string][]byte                // loop only: task data until launched

	callbacks *relay.Relay[func()] // OnEnd and OnGone calls not yet made
}

// Start subscribes and returns once SUBSCRIBED arrived.
func Start(ctx context.Context, cfg Config) (*Backend, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	b := &Backend{cfg: cfg, log: cfg.Logger, core: NewCore(cfg.Settings), cmds: make(chan func()), done: make(chan struct{}),
		execs: map[string]*mesospb.ExecutorInfo{}, data: map[string][]byte{}, callbacks: relay.New[func()]()}
	b.client = scheduler.New(scheduler.Config{Master: strings.Join(cfg.Master, ","), Framework: cfg.Framework,
		Header: cfg.Header, Logger: cfg.Logger.With("component", "scheduler")})
	runCtx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	subscribed := make(chan struct{})
	runErr := make(chan error, 1)
	go func() { runErr <- b.client.Run(runCtx) }()
	go b.loop(subscribed)
	go b.callbacks.Run(b.done, func(f func()) { f() })
	t := time.NewTimer(cfg.ConnectTimeout)
	defer t.Stop()
	select {
	case <-subscribed:
		return b, nil
	case <-t.C:
	case <-ctx.Done():
	case <-b.done: // the master refused the framework
		cancel()
		return nil, fmt.Errorf("%w: %s: %w", ErrConnect, strings.Join(cfg.Master, ","), <-runErr)
	}
	cancel()
	return nil, fmt.Errorf("%w: %s within %v", ErrConnect, strings.Join(cfg.Master, ","), cfg.ConnectTimeout)
}

// FrameworkID is the id the master gave.
func (b *Backend) FrameworkID() string { return b.client.FrameworkID().GetValue() }

func (b *Backend) do(f func()) {
	select {
	case b.cmds <- f:
	case <-b.done:
	}
}

// Submit queues a task with its data (TaskInfo.data).
func (b *Backend) Submit(id string, data []byte) {
	b.do(func() { b.data[id] = data; b.core.Submit(id) })
}

// Kill kills a task (pending or running); its End follows.
func (b *Backend) Kill(id string) { b.do(func() { b.core.Kill(id) }) }

// Stop withdraws pending tasks, tears the framework down (the master kills
// its tasks and executors) and ends the subscription.
func (b *Backend) Stop(ctx context.Context) error {
	b.do(func() { b.core.Stop() })
	tctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	err := b.client.Teardown(tctx)
	b.cancel()
	<-b.done
	if errors.Is(err, scheduler.ErrNotSubscribed) {
		err = nil
	}
	return err
}

func (b *Backend) loop(subscribed chan struct{}) {
	defer close(b.done)
	first := true
	for {
		select {
		case ev, ok := <-b.client.Events():
			if !ok {
				b.core.Abandon("the framework's subscription ended")
				b.flush()
				return
			}
			if ev.GetType() == schedulerpb.Event_SUBSCRIBED && first {
				first = false
				close(subscribed)
			}
			b.handle(ev)
		case f := <-b.cmds:
			f()
		}
		b.flush()
	}
}

func (b *Backend) handle(ev *schedulerpb.Event) {
	switch ev.GetType() {
	case schedulerpb.Event_SUBSCRIBED:
		b.log.Info("subscribed", "framework", ev.GetSubscribed().GetFrameworkId().GetValue())
		b.core.Subscribed()
	case schedulerpb.Event_OFFERS:
		b.offers = map[string]*mesospb.Offer{}
		var batch []Offer
		for _, o := range ev.GetOffers().GetOffers() {
			b.offers[o.GetId().GetValue()] = o
			cpus, mem := scalar(o.GetResources(), "cpus"), scalar(o.GetResources(), "mem")
			batch = append(batch, Offer{ID: o.GetId().GetValue(), Agent: o.GetAgentId().GetValue(), Hostname: o.GetHostname(),
				CPUs: cpus, MemMiB: mem, Attributes: resources.AttributesFromProto(o.GetAttributes())})
		}
		b.core.Offers(batch)
	case schedulerpb.Event_UPDATE:
		st := ev.GetUpdate().GetStatus()
		b.core.Update(Status{TaskID: st.GetTaskId().GetValue(), State: st.GetState(), Reason: st.GetReason(),
			Message: st.GetMessage(), Data: st.GetData(), Executor: st.GetExecutorId().GetValue()})
		if len(st.GetUuid()) > 0 {
			b.call("ACKNOWLEDGE", func(ctx context.Context) error { return b.client.Acknowledge(ctx, st) })
		}
	case schedulerpb.Event_FAILURE:
		f := ev.GetFailure()
		switch {
		case f.ExecutorId == nil:
		case f.GetStatus() != 0: // it exited with an error or a signal
			b.log.Info("executor failed", "executor", f.GetExecutorId().GetValue(), "agent", f.GetAgentId().GetValue(), "status", f.GetStatus())
			b.core.ExecutorFailed(f.GetAgentId().GetValue(), f.GetExecutorId().GetValue())
		default:
			b.core.ExecutorGone(f.GetAgentId().GetValue(), f.GetExecutorId().GetValue())
		}
	}
}

// usable: scalar, non-revocable, not a disk or shared resource.
func usable(r *mesospb.Resource) bool {
	return r.GetType() == mesospb.Value_SCALAR && r.Revocable == nil && r.Disk == nil && r.Shared == nil
}

func scalar(rs []*mesospb.Resource, name string) float64 {
	n := 0.0
	for _, r := range rs {
		if r.GetName() == name && usable(r) {
			n += r.GetScalar().GetValue()
		}
	}
	return n
}

// take carves amount of name out of left (copies keep role, reservations
// and allocation info, so the master recognises them).
func take(left []*mesospb.Resource, name string, amount float64) []*mesospb.Resource {
	var out []*mesospb.Resource
	for _, r := range left {
		have := r.GetScalar().GetValue()
		if amount <= 0 || r.GetName() != name || !usable(r) || have <= 0 {
			continue
		}
		n := min(have, amount)
		part := proto.CloneOf(r)
		part.Scalar = &mesospb.Value_Scalar{Value: proto.Float64(round(n))}
		r.Scalar = &mesospb.Value_Scalar{Value: proto.Float64(round(have - n))}
		amount -= n
		out = append(out, part)
	}
	return out
}

func (b *Backend) flush() {
	for {
		r := b.core.Ready()
		if len(r.Launch)+len(r.Decline)+len(r.Kill)+len(r.Ended)+len(r.Gone)+len(r.Reconcile) == 0 && !r.Suppress && !r.Revive &&
			r.Exhausted == "" {
			b.offers = nil
			return
		}
		for _, l := range r.Launch {
			b.launch(l)
		}
		for _, d := range r.Decline {
			var f *mesospb.Filters
			if d.Filter > 0 {
				f = &mesospb.Filters{RefuseSeconds: proto.Float64(d.Filter.Seconds())}
			}
			ids := []*mesospb.OfferID{{Value: proto.String(d.OfferID)}}
			b.call("DECLINE", func(ctx context.Context) error { return b.client.Decline(ctx, ids, f) })
		}
		for _, k := range r.Kill {
			b.call("KILL", func(ctx context.Context) error {
				return b.client.Kill(ctx, &mesospb.TaskID{Value: proto.String(k.Task)}, &mesospb.AgentID{Value: proto.String(k.Agent)})
			})
		}
		if len(r.Reconcile) > 0 {
			var tasks []*schedulerpb.Call_Reconcile_Task
			for _, t := range r.Reconcile {
				tasks = append(tasks, &schedulerpb.Call_Reconcile_Task{TaskId: &mesospb.TaskID{Value: proto.String(t.Task)},
					AgentId: &mesospb.AgentID{Value: proto.String(t.Agent)}})
			}
			b.log.Info("reconciling running tasks", "tasks", len(tasks))
			b.call("RECONCILE", func(ctx context.Context) error { return b.client.Reconcile(ctx, tasks...) })
		}
		if r.Suppress {
			b.call("SUPPRESS", func(ctx context.Context) error { return b.client.Suppress(ctx) })
		}
		if r.Revive {
			b.call("REVIVE", func(ctx context.Context) error { return b.client.Revive(ctx) })
		}
		for _, g := range r.Gone {
			delete(b.execs, g)
			if b.cfg.OnGone != nil {
				b.callbacks.Post(func() { b.cfg.OnGone(g) })
			}
		}
		for _, e := range r.Ended {
			delete(b.data, e.Task)
			if b.cfg.OnEnd != nil {
				b.callbacks.Post(func() { b.cfg.OnEnd(e) })
			}
		}
		if r.Exhausted != "" {
			b.log.Warn("no task can launch", "why", r.Exhausted)
			if b.cfg.OnExhausted != nil {
				b.callbacks.Post(func() { b.cfg.OnExhausted(r.Exhausted) })
			}
		}
	}
}

func (b *Backend) launch(l Launch) {
	offer := b.offers[l.OfferID]
	if offer == nil {
		b.core.LaunchFailed(l)
		return
	}
	left := make([]*mesospb.Resource, 0, len(offer.GetResources()))
	for _, r := range offer.GetResources() {
		left = append(left, proto.CloneOf(r))
	}
	ei := b.execs[l.Executor]
	if l.NewExecutor || ei == nil {
		ei = b.cfg.Executor(l.Executor, l.Hostname)
		ei.ExecutorId = &mesospb.ExecutorID{Value: proto.String(l.Executor)}
		ei.Resources = append(take(left, "cpus", b.cfg.Settings.ExecutorCPUs), take(left, "mem", b.cfg.Settings.ExecutorMemMiB)...)
		b.execs[l.Executor] = ei
	}
	var tasks []*mesospb.TaskInfo
	for _, id := range l.Tasks {
		tasks = append(tasks, &mesospb.TaskInfo{
			Name: proto.String("rdd task " + id), TaskId: &mesospb.TaskID{Value: proto.String(id)},
			AgentId: offer.GetAgentId(), Resources: take(left, "cpus", b.cfg.Settings.TaskCPUs),
			Executor: ei, Data: b.data[id],
		})
	}
	op := &mesospb.Offer_Operation{Type: mesospb.Offer_Operation_LAUNCH.Enum(),
		Launch: &mesospb.Offer_Operation_Launch{TaskInfos: tasks}}
	// The rest of the offer goes back with no filter: other tasks may want
	// it at once.
	err := b.call("ACCEPT", func(ctx context.Context) error {
		return b.client.Accept(ctx, []*mesospb.OfferID{offer.GetId()}, []*mesospb.Offer_Operation{op},
			&mesospb.Filters{RefuseSeconds: proto.Float64(0)})
	})
	if err != nil {
		if l.NewExecutor {
			delete(b.execs, l.Executor)
		}
		b.core.LaunchFailed(l)
	}
}

func (b *Backend) call(what string, f func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	err := f(ctx)
	if err != nil {
		b.log.Warn("scheduler call failed", "call", what, "err", err)
	}
	return err
}
