package master

import (
	"sync"

	"google.golang.org/protobuf/proto"
)

// maxQueued bounds the events waiting for one slow stream; past it the
// stream is closed (the client reconnects and resubscribes).
const maxQueued = 1 << 16

// outbox queues the messages of one stream between the loop (producer) and
// the stream's HTTP handler (consumer).
type outbox struct {
	mu     sync.Mutex
	queue  []proto.Message // guarded by mu
	closed bool            // guarded by mu
	// wake has room for one signal: "something changed, look again".
	wake chan struct{}
}

func newOutbox() *outbox { return &outbox{wake: make(chan struct{}, 1)} }

// push queues m (dropping it when the outbox is closed). It reports false
// when this push overflowed the queue, which closes the outbox.
func (o *outbox) push(m proto.Message) bool {
	o.mu.Lock()
	ok := true
	if !o.closed {
		o.queue = append(o.queue, m)
		if len(o.queue) > maxQueued {
			o.closed, ok = true, false
		}
	}
	o.mu.Unlock()
	o.signal()
	return ok
}

// close ends the stream once the queued messages are written.
func (o *outbox) close() {
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
	o.signal()
}

func (o *outbox) signal() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// take returns the queued messages and whether the outbox is closed.
func (o *outbox) take() ([]proto.Message, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	q := o.queue
	o.queue = nil
	return q, o.closed
}
