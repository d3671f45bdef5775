package relay

import "sync"

// Relay is an unbounded first-in, first-out queue with one consumer. The
// zero value is not usable: call New.
type Relay[T any] struct {
	mu    sync.Mutex
	queue []T // guarded by mu: values not yet delivered
	wake  chan struct{}
}

// New returns an empty relay.
func New[T any]() *Relay[T] { return &Relay[T]{wake: make(chan struct{}, 1)} }

// Post queues v; it never blocks.
func (r *Relay[T]) Post(v T) {
	r.mu.Lock()
	r.queue = append(r.queue, v)
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run calls deliver with every posted value, in order, on the caller's
// goroutine, and returns once done is closed and nothing is left to
// deliver (values posted before done was closed are all delivered).
func (r *Relay[T]) Run(done <-chan struct{}, deliver func(T)) {
	for {
		r.mu.Lock()
		batch := r.queue
		r.queue = nil
		r.mu.Unlock()
		for _, v := range batch {
			deliver(v)
		}
		if len(batch) > 0 {
			continue
		}
		select {
		case <-r.wake:
		case <-done:
			r.mu.Lock()
			n := len(r.queue)
			r.mu.Unlock()
			if n == 0 {
				return
			}
		}
	}
}
