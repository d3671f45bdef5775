package exec

import "sync"

// Pool is a changing set of executors shared by a session's jobs: cluster
// executors join when they register and leave when they are lost. Every
// running job sees every change, in order. Safe for concurrent use.
type Pool struct {
	mu    sync.Mutex
	execs map[string]Executor   // guarded by mu
	subs  map[*watcher]struct{} // guarded by mu
}

// change is one executor joining (e set) or leaving (id only).
type change struct {
	id string
	e  Executor
}

// watcher is one job's view of the pool: the changes it has not applied.
type watcher struct {
	mu      sync.Mutex
	pending []change // guarded by mu
	wake    chan struct{}
}

// NewPool returns a pool holding execs.
func NewPool(execs ...Executor) *Pool {
	p := &Pool{execs: map[string]Executor{}, subs: map[*watcher]struct{}{}}
	for _, e := range execs {
		p.execs[e.ID()] = e
	}
	return p
}

// Add adds (or replaces) an executor.
func (p *Pool) Add(e Executor) { p.publish(change{id: e.ID(), e: e}) }

// Remove takes executor id out of the pool. Jobs learn it before any
// result the executor reports after Remove returned, so its running tasks
// are requeued as lost, not counted as failures.
func (p *Pool) Remove(id string) { p.publish(change{id: id}) }

// Len returns the number of executors.
func (p *Pool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.execs)
}

func (p *Pool) publish(c change) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.e != nil {
		p.execs[c.id] = c.e
	} else {
		if _, ok := p.execs[c.id]; !ok {
			return
		}
		delete(p.execs, c.id)
	}
	for w := range p.subs {
		w.mu.Lock()
		w.pending = append(w.pending, c)
		w.mu.Unlock()
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// watch returns the current executors and a watcher of later changes.
func (p *Pool) watch() ([]Executor, *watcher) {
	p.mu.Lock()
	defer p.mu.Unlock()
	w := &watcher{wake: make(chan struct{}, 1)}
	p.subs[w] = struct{}{}
	var out []Executor
	for _, e := range p.execs {
		out = append(out, e)
	}
	return out, w
}

func (p *Pool) unwatch(w *watcher) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.subs, w)
}

// take returns and clears the pending changes.
func (w *watcher) take() []change {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.pending
	w.pending = nil
	return c
}
