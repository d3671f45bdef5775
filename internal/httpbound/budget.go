package httpbound

import (
	"context"
	"sync"
)

// budget is a FIFO semaphore of bytes: the memory request bodies may hold.
type budget struct {
	capacity int64

	mu      sync.Mutex
	free    int64     // guarded by mu
	waiters []*waiter // guarded by mu: in arrival order
}

type waiter struct {
	n     int64
	ready chan struct{} // closed once n bytes are granted
}

func newBudget(capacity int64) *budget {
	return &budget{capacity: capacity, free: capacity}
}

// acquire takes n bytes (at most the whole budget), waiting behind earlier
// callers until ctx is done. It returns what it took, for release.
func (b *budget) acquire(ctx context.Context, n int64) (int64, error) {
	n = min(n, b.capacity)
	b.mu.Lock()
	if len(b.waiters) == 0 && b.free >= n {
		b.free -= n
		b.mu.Unlock()
		return n, nil
	}
	w := &waiter{n: n, ready: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()

	select {
	case <-w.ready:
		return n, nil
	case <-ctx.Done():
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-w.ready: // granted meanwhile: give it back
		b.free += n
	default:
		for i, o := range b.waiters {
			if o == w {
				b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
				break
			}
		}
	}
	b.grantLocked() // the head may have changed
	return 0, ctx.Err()
}

// release returns n bytes taken by acquire.
func (b *budget) release(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.free += n
	b.grantLocked()
}

// grantLocked wakes waiters from the head while their bytes are free.
func (b *budget) grantLocked() {
	for len(b.waiters) > 0 && b.free >= b.waiters[0].n {
		w := b.waiters[0]
		b.waiters = b.waiters[1:]
		b.free -= w.n
		close(w.ready)
	}
}
