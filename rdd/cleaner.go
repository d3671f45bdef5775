package rdd

import "runtime"

// Like Spark's ContextCleaner: when a dataset or a shuffle dependency is no
// longer reachable from user code, its cached blocks, resolution and map
// output files can never be used again. A session watches every dataset and
// shuffle it resolves, and removes what it holds for them once they are
// garbage.

type cleanup struct {
	node    int // cached blocks and resolution of this dataset, or -1
	shuffle int // map outputs of this shuffle, or -1
}

// cleanupNote is what the runtime's cleanup goroutine hands to a session.
type cleanupNote struct {
	queue chan<- cleanup
	c     cleanup
}

// watchLocked arranges for the session to hear when n, and the shuffles it
// reads, are garbage. The handles are stopped when the session closes.
func (s *Session) watchLocked(n *node) {
	s.watches[cleanup{node: n.id, shuffle: -1}] = runtime.AddCleanup(n, enqueueCleanup,
		cleanupNote{s.clean, cleanup{node: n.id, shuffle: -1}})
	for _, d := range n.deps {
		if d.shuffle != nil {
			k := cleanup{node: -1, shuffle: d.shuffle.id}
			if _, ok := s.watches[k]; !ok {
				s.watches[k] = runtime.AddCleanup(d.shuffle, enqueueCleanup, cleanupNote{s.clean, k})
			}
		}
	}
}

// enqueueCleanup runs on the runtime's cleanup goroutine: it only hands the
// work to the session's cleaner, dropping it when the queue is full (the
// files then stay until the session closes).
func enqueueCleanup(n cleanupNote) {
	select {
	case n.queue <- n.c:
	default:
	}
}

// stopWatching cancels the session's pending cleanups (at Close).
func (s *Session) stopWatching() {
	s.resMu.Lock()
	defer s.resMu.Unlock()
	for k, h := range s.watches {
		h.Stop()
		delete(s.watches, k)
	}
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
			s.resMu.Lock()
			delete(s.watches, c)
			if c.node >= 0 {
				delete(s.res, c.node)
			}
			s.resMu.Unlock()
			if c.node >= 0 {
				s.cache.RemoveNode(c.node)
				if s.cluster != nil {
					s.cluster.cached.forget(c.node)
				}
				s.mu.Lock()
				delete(s.prepared, c.node)
				delete(s.prepMu, c.node)
				s.mu.Unlock()
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
