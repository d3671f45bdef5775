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
	limit  int // the most messages queued; one more closes the outbox
	mu     sync.Mutex
	queue  []proto.Message // guarded by mu
	closed bool            // guarded by mu
	// wake has room for one signal: "something changed, look again".
	wake chan struct{}
	// overflowed is closed when a push overflowed the queue.
	overflowed chan struct{}
}

// linkSink is where the loop routes an agent link's messages: an outbox
// read by the link's streaming handler (the HTTP form) or a session of a
// framed link connection.
type linkSink interface {
	push(m proto.Message) bool // false: the sink overflowed and closed
	close()                    // the link is over once its messages are out
}

func newOutbox() *outbox { return newBoundedOutbox(maxQueued) }

// newBoundedOutbox makes an outbox holding at most limit messages
// (maxQueued when limit <= 0).
func newBoundedOutbox(limit int) *outbox {
	if limit <= 0 {
		limit = maxQueued
	}
	return &outbox{limit: limit, wake: make(chan struct{}, 1), overflowed: make(chan struct{})}
}

// push queues m (dropping it when the outbox is closed). It reports false
// when this push overflowed the queue, which closes the outbox.
func (o *outbox) push(m proto.Message) bool {
	o.mu.Lock()
	ok := true
	if !o.closed {
		o.queue = append(o.queue, m)
		if len(o.queue) > o.limit {
			o.closed, ok = true, false
			close(o.overflowed)
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
