package master

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/mesoproject/meso/internal/master/core"
)

// errStopped: the master is shutting down (503).
var errStopped = errors.New("master: shutting down")

// errNotLeading: the master stopped leading while a request was on its way
// (503; the client retries and is redirected).
var errNotLeading = errors.New("master: not the leader")

// input is a unit of work for the loop: it runs on the loop goroutine with
// the core and the current time.
type input func(l *loop, now time.Time)

// job is an input in the inbox; ran, when set, is signalled once the
// input has run (do waits on it).
type job struct {
	f   input
	ran chan struct{}
}

// run applies the job and signals its waiter.
func (j job) run(l *loop, now time.Time) {
	j.f(l, now)
	if j.ran != nil {
		j.ran <- struct{}{}
	}
}

// ranPool recycles the signal channels of do (capacity 1, so the loop
// never blocks on a waiter that went away).
var ranPool = sync.Pool{New: func() any { return make(chan struct{}, 1) }}

// maxBatch bounds the inputs taken at once before the core ticks and
// outputs are routed.
const maxBatch = 256

// loop owns the core: one goroutine (run) applies inputs and timer ticks to
// it, one at a time, and routes its outputs to the stream outboxes. Only
// that goroutine touches core, streams, links and lastAllocation.
type loop struct {
	core  *core.Core
	log   *slog.Logger
	inbox chan job      // written by HTTP handlers, read by run
	done  chan struct{} // closed when run returns

	streams map[string]*outbox  // framework streams by Mesos-Stream-Id; owned by run
	links   map[string]linkSink // agent links by link id; owned by run
	// operators are the operator SUBSCRIBE streams by subscriber id, once
	// their SUBSCRIBED was routed; pendingOperators wait for it. Owned by run.
	operators, pendingOperators map[string]*outbox
	// leading: core is the leader's (false: a standby core of a master
	// that does not lead, which takes no subscription or registration);
	// owned by run.
	leading bool
	// flush, when set, commits the registry writes of a step (see
	// coreregistry.Batch) before the step's outputs are routed; on an
	// error the outputs are dropped and flushFailed runs. Owned by run.
	flush       func() error
	flushFailed func(l *loop, err error)
	// committed are the answers of this step's inputs that wait for its
	// registry commit (doCommitted); owned by run.
	committed []chan<- error
	// issued holds the secrets issued in this step, by link, for their
	// REGISTERED (issueAgentSecret); emptied by every routing pass.
	issued map[string]string
	// lastAllocation is the wall time of the latest tick that allocated.
	// linkVersion is the link version REGISTERED announces (LinkVersion,
	// or 2 with Config.NoFramedLink); read-only.
	linkVersion    uint32
	lastAllocation time.Duration
	allocations    uint64
}

func newLoop(c *core.Core, log *slog.Logger) *loop {
	return &loop{
		core: c, log: log,
		inbox:   make(chan job, 1024),
		done:    make(chan struct{}),
		streams: map[string]*outbox{},
		links:   map[string]linkSink{},

		operators:        map[string]*outbox{},
		pendingOperators: map[string]*outbox{},
		leading:          true,
		linkVersion:      LinkVersion,
	}
}

// run drives the core until ctx is done, then closes every stream.
func (l *loop) run(ctx context.Context) {
	defer close(l.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		timer.Reset(max(time.Until(l.core.NextTick()), 0))
		select {
		case <-ctx.Done():
			l.closeAll()
			return
		case in := <-l.inbox:
			in.run(l, time.Now())
			l.drain()
		case <-timer.C:
		}
		if now := time.Now(); !l.core.NextTick().After(now) {
			start := time.Now()
			if l.core.Tick(now) {
				l.lastAllocation = time.Since(start)
				l.allocations++
			}
		}
		r := l.core.Ready()
		if l.flush != nil {
			if err := l.flush(); err != nil {
				// Nothing the step decided may go out: a new leader
				// would not know it.
				clear(l.issued)
				l.flushFailed(l, err)
				l.answer(fmt.Errorf("%w: the registry did not commit the change: %w", errNotLeading, err))
				continue
			}
		}
		l.route(r)
		l.answer(nil)
	}
}

// answer tells the inputs waiting in doCommitted how their step's registry
// commit went.
func (l *loop) answer(err error) {
	for _, c := range l.committed {
		c <- err
	}
	clear(l.committed)
	l.committed = l.committed[:0]
}

// drain applies the inputs already queued, up to maxBatch, so that a burst
// of calls costs one tick and one routing pass.
func (l *loop) drain() {
	for range maxBatch {
		select {
		case in := <-l.inbox:
			in.run(l, time.Now())
		default:
			return
		}
	}
}

// route delivers the core's outputs to the outboxes, in order.
func (l *loop) route(r core.Ready) {
	for _, e := range r.Events {
		if ob := l.streams[e.Stream]; ob != nil && !ob.push(e.Event) {
			l.log.Warn("framework stream closed: too many queued events", "stream", e.Stream)
		}
	}
	for _, m := range r.Messages {
		if ob := l.links[m.Link]; ob != nil && !ob.push(l.withIssuedSecret(m.Link, m.Event)) {
			l.log.Warn("agent link closed: too many queued messages", "link", m.Link)
		}
	}
	clear(l.issued)
	l.routeOperator(r.Operator)
	for _, s := range r.CloseStreams {
		if ob := l.streams[s]; ob != nil {
			ob.close()
			delete(l.streams, s)
		}
	}
	for _, s := range r.CloseLinks {
		if ob := l.links[s]; ob != nil {
			ob.close()
			delete(l.links, s)
		}
	}
}

// routeOperator delivers operator events: a SUBSCRIBED to its subscriber,
// which from then on receives the broadcasts. A subscriber whose outbox
// overflows is dropped (its handler sees the outbox closed).
func (l *loop) routeOperator(evs []core.OperatorEvent) {
	for _, e := range evs {
		if e.To != "" {
			if ob := l.pendingOperators[e.To]; ob != nil {
				delete(l.pendingOperators, e.To)
				l.operators[e.To] = ob
				ob.push(e.Event)
			}
			continue
		}
		for id, ob := range l.operators {
			if !ob.push(e.Event) {
				l.log.Warn("operator stream closed: too many queued events", "subscriber", id)
				delete(l.operators, id)
				l.core.OperatorUnsubscribe(id)
			}
		}
	}
}

func (l *loop) closeAll() {
	for id, ob := range l.operators {
		ob.close()
		delete(l.operators, id)
	}
	for id, ob := range l.pendingOperators {
		ob.close()
		delete(l.pendingOperators, id)
	}
	for id, ob := range l.streams {
		ob.close()
		delete(l.streams, id)
	}
	for id, ob := range l.links {
		ob.close()
		delete(l.links, id)
	}
}

// do runs f on the loop and waits until it has run. It fails only when the
// master is stopping or ctx ends before f was queued.
func (l *loop) do(ctx context.Context, f input) error {
	ran := ranPool.Get().(chan struct{})
	select {
	case l.inbox <- job{f: f, ran: ran}:
	case <-ctx.Done():
		ranPool.Put(ran)
		return ctx.Err()
	case <-l.done:
		ranPool.Put(ran)
		return errStopped
	}
	select {
	case <-ran:
		ranPool.Put(ran)
		return nil
	case <-l.done:
		select {
		case <-ran:
			ranPool.Put(ran)
			return nil
		default:
			// The job may still be signalled: the channel is not reused.
			return errStopped
		}
	}
}

// doCommitted runs f on the loop and waits until the registry writes of
// its step are committed (or the commit failed: errNotLeading), so that
// an answer never tells of a change a new leader would not know. Without
// a registry it returns once the step's outputs are routed.
func (l *loop) doCommitted(ctx context.Context, f input) error {
	res := make(chan error, 1)
	if err := l.do(ctx, func(l *loop, now time.Time) {
		f(l, now)
		l.committed = append(l.committed, res)
	}); err != nil {
		return err
	}
	select {
	case err := <-res:
		return err
	case <-l.done:
		select {
		case err := <-res:
			return err
		default:
			return errStopped
		}
	}
}

// post queues f without waiting (for notifications such as a closed
// stream); it is dropped when the master is stopping.
func (l *loop) post(f input) {
	select {
	case l.inbox <- job{f: f}:
	case <-l.done:
	}
}
