package rdd

import (
	"runtime"
	"sync"
)

// Like Spark's ContextCleaner: when a dataset or a shuffle dependency is no
// longer reachable from user code, its cached blocks or map output files
// can never be used again, and every session removes them.

// sessions is the set of open sessions (*Session -> struct{}).
var sessions sync.Map

type cleanup struct {
	node    int // cached blocks of this dataset, or -1
	shuffle int // map outputs of this shuffle, or -1
}

// watchNode arranges for n's cached blocks to be removed once n is garbage.
func watchNode(n *node) {
	runtime.AddCleanup(n, enqueueCleanup, cleanup{node: n.id, shuffle: -1})
}

// watchShuffle arranges for d's map outputs to be removed once d is garbage.
func watchShuffle(d *shuffleDep) {
	runtime.AddCleanup(d, enqueueCleanup, cleanup{node: -1, shuffle: d.id})
}

// enqueueCleanup runs on the runtime's cleanup goroutine: it only hands the
// work to each session's cleaner, dropping it when a queue is full (the
// files then stay until the session closes).
func enqueueCleanup(c cleanup) {
	sessions.Range(func(k, _ any) bool {
		s := k.(*Session)
		select {
		case s.clean <- c:
		default:
		}
		return true
	})
}

// cleaner removes unreachable datasets' blocks and shuffles' files until the
// session closes.
func (s *Session) cleaner() {
	defer close(s.done)
	for {
		select {
		case <-s.ctx.Done():
			return
		case c := <-s.clean:
			if c.node >= 0 {
				s.cache.removeNode(c.node)
				s.mu.Lock()
				delete(s.prepared, c.node)
				delete(s.prepMu, c.node)
				s.mu.Unlock()
				s.resMu.Lock()
				delete(s.res, c.node)
				s.resMu.Unlock()
			}
			if c.shuffle >= 0 {
				s.removeShuffle(c.shuffle)
			}
		}
	}
}

// removeShuffle forgets a shuffle's map outputs and deletes their files.
// The store unmaps each file once no task reads a block of it.
func (s *Session) removeShuffle(sh int) {
	s.mu.Lock()
	maps := s.books.RemoveShuffle(sh)
	s.mu.Unlock()
	if maps == 0 {
		return
	}
	s.store.RemoveShuffle(sh, maps)
	s.log.Debug("removed unreachable shuffle", "shuffle", sh, "maps", maps)
}
