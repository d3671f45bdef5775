package exec

import (
	"context"
	"sync"
	"time"

	"github.com/mesoproject/meso/rdd/internal/job"
	"github.com/mesoproject/meso/rdd/internal/task"
)

// Executor runs task descriptors.
type Executor interface {
	// ID names the executor to the job core (task.Desc.Executor).
	ID() string
	// Slots is how many tasks it runs at once.
	Slots() int
	// Launch starts d; done is called exactly once with its result, from any
	// goroutine. A cancelled ctx makes the task fail soon.
	Launch(ctx context.Context, d *task.Desc, done func(task.Result))
}

// Runner computes a task in this process.
type Runner interface {
	Run(ctx context.Context, d *task.Desc) task.Result
}

// Local runs tasks on goroutines of this process, at most its slots at once.
type Local struct {
	id  string
	sem chan struct{}
	run Runner
}

// NewLocal returns a local executor with slots task slots.
func NewLocal(id string, slots int, run Runner) *Local {
	return &Local{id: id, sem: make(chan struct{}, slots), run: run}
}

func (l *Local) ID() string { return l.id }
func (l *Local) Slots() int { return cap(l.sem) }

// Launch runs d on a new goroutine once a slot is free (slots are shared by
// the jobs running at once).
func (l *Local) Launch(ctx context.Context, d *task.Desc, done func(task.Result)) {
	go func() {
		select {
		case l.sem <- struct{}{}:
		case <-ctx.Done():
			done(task.Result{ID: d.ID, Executor: l.id, Err: ctx.Err()})
			return
		}
		res := func() task.Result {
			defer func() { <-l.sem }()
			return l.run.Run(ctx, d)
		}()
		done(res)
	}()
}

// Job is one job to run: its core and what the caller does with its
// reports. Every callback must be set; they are called from Run's
// goroutine, never with Mu held.
type Job struct {
	Core *job.Job
	// Mu guards the state the core shares with the session's other jobs
	// (job.Books); Run holds it while it calls the core.
	Mu sync.Locker
	// Executors is a fixed set of executors; Pool, when set, is a changing
	// one (and Executors is ignored).
	Executors []Executor
	Pool      *Pool
	// TickEvery is the period of the core's clock input; 0: 1 s.
	TickEvery time.Duration
	// OnLaunch is called before a task starts.
	OnLaunch func(d *task.Desc)
	// OnTaskEnd is called with every result before the core sees it
	// (metrics, accumulator updates); an error fails the job.
	OnTaskEnd func(r *task.Result) error
	// OnResult merges a partition's result for the action; an error fails
	// the job.
	OnResult func(part int, v any) error
	// OnEvents reports the core's stage events.
	OnEvents func([]job.Event)
}

type loop struct {
	Job
	ctx      context.Context
	execs    map[string]Executor
	results  chan task.Result
	pmu      sync.Mutex
	pending  []task.Result // guarded by pmu; results waiting for room in results
	watch    *watcher
	inflight int
	done     bool
	err      error
	// handled is the Handled of the result being reported, called (once)
	// as soon as the tasks started in answer were launched: before the
	// action merges the result.
	handled func()
}

// Run runs the job until it ends and every task it started has returned.
func Run(ctx context.Context, j Job) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	l := &loop{Job: j, ctx: ctx, execs: map[string]Executor{}}
	execs := j.Executors
	var wake <-chan struct{}
	if j.Pool != nil {
		execs, l.watch = j.Pool.watch()
		defer j.Pool.unwatch(l.watch)
		wake = l.watch.wake
	}
	for _, e := range execs {
		l.execs[e.ID()] = e
	}
	// Results never block an executor: Launch's done callbacks queue them.
	l.results = make(chan task.Result, 1)
	every := j.TickEvery
	if every <= 0 {
		every = time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for _, e := range execs {
		l.core(func() job.Ready { return j.Core.ExecutorAdded(e.ID(), e.Slots()) })
	}
	l.core(j.Core.Start)
	for !l.done {
		select {
		case <-wake:
			l.applyChanges()
		case r := <-l.queue():
			l.inflight--
			l.applyChanges() // a loss published before this result comes first
			l.handled = r.Handled
			l.report(r)
			l.ack()
		case <-ctx.Done():
			l.core(func() job.Ready { return j.Core.Abort(ctx.Err()) })
		case now := <-tick.C:
			l.core(func() job.Ready { return j.Core.Tick(now) })
		}
	}
	// Never leave a task of this job running after it returns.
	cancel()
	for ; l.inflight > 0; l.inflight-- {
		if r := <-l.queue(); r.Handled != nil {
			r.Handled()
		}
	}
	return l.err
}

// ack tells the sender of the result being reported that the loop acted
// on it.
func (l *loop) ack() {
	if h := l.handled; h != nil {
		l.handled = nil
		h()
	}
}

// queue returns the channel of the next result: results are buffered in
// l.pending so that done callbacks never block.
func (l *loop) queue() <-chan task.Result {
	l.pmu.Lock()
	defer l.pmu.Unlock()
	if len(l.pending) > 0 && len(l.results) == 0 {
		l.results <- l.pending[0]
		l.pending = l.pending[1:]
	}
	return l.results
}

func (l *loop) deliver(r task.Result) {
	l.pmu.Lock()
	defer l.pmu.Unlock()
	select {
	case l.results <- r:
	default:
		l.pending = append(l.pending, r)
	}
}

// applyChanges feeds the core the pool's joins and losses.
func (l *loop) applyChanges() {
	if l.watch == nil {
		return
	}
	for _, c := range l.watch.take() {
		if c.e != nil {
			l.execs[c.id] = c.e
			l.core(func() job.Ready { return l.Core.ExecutorAdded(c.id, c.e.Slots()) })
			continue
		}
		delete(l.execs, c.id)
		l.core(func() job.Ready { return l.Core.ExecutorLost(c.id) })
	}
}

// core calls the core under Mu and acts on its Ready: the stage events,
// the tasks to launch, then the results to merge (a slow merge does not
// hold back the next tasks).
func (l *loop) core(f func() job.Ready) {
	l.Mu.Lock()
	r := f()
	l.Mu.Unlock()
	if l.done {
		return
	}
	l.OnEvents(r.Events)
	if !r.Done {
		for _, d := range r.Launch {
			e := l.execs[d.Executor]
			l.inflight++
			l.OnLaunch(d)
			e.Launch(l.ctx, d, l.deliver)
		}
	}
	l.ack()
	for _, o := range r.Results {
		if err := l.OnResult(o.Partition, o.Value); err != nil {
			l.abort(err)
			return
		}
	}
	if r.Done {
		l.done, l.err = true, r.Err
	}
}

func (l *loop) abort(err error) {
	l.done, l.err = true, err
	l.Mu.Lock()
	l.Core.Abort(err)
	l.Mu.Unlock()
}

// report hands a task's result to the core.
func (l *loop) report(r task.Result) {
	if l.done {
		return
	}
	if err := l.OnTaskEnd(&r); err != nil {
		l.abort(err)
		return
	}
	switch {
	case r.Err == nil:
		l.core(func() job.Ready { return l.Core.TaskSucceededAt(r.ID, r.Executor, r.Value) })
	case l.ctx.Err() != nil:
		l.core(func() job.Ready { return l.Core.Abort(l.ctx.Err()) })
	case r.Fetch != nil:
		l.core(func() job.Ready { return l.Core.FetchFailed(r.ID, r.Fetch.Shuffle, r.Fetch.Maps) })
	default:
		l.core(func() job.Ready { return l.Core.TaskFailed(r.ID, r.Err) })
	}
}
