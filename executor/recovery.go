package executor

import (
	"fmt"
	"time"
)

// recovery is Mesos' recovery timer of an executor, as a value driven by
// the times it is given (no clock inside). The timer starts when Run starts
// (no subscription yet) and whenever a subscription breaks; failed attempts
// never restart it; SUBSCRIBED stops it. The executor gives up at the
// moment the timer runs out, whatever an attempt or a backoff is doing, so
// the recovery timeout is honoured to the instant, not to the next retry.
type recovery struct {
	timeout    time.Duration
	checkpoint bool
	lost       time.Time // start of the current disconnection; zero while subscribed
}

// newRecovery starts the timer at now, the start of Run.
func newRecovery(timeout time.Duration, checkpoint bool, now time.Time) recovery {
	return recovery{timeout: timeout, checkpoint: checkpoint, lost: now}
}

// subscribed stops the timer: a SUBSCRIBED arrived.
func (r *recovery) subscribed() { r.lost = time.Time{} }

// deadline is when the current disconnection has lasted the timeout (the
// zero time while subscribed). Every attempt made while disconnected is
// bounded by it.
func (r *recovery) deadline() time.Time {
	if r.lost.IsZero() {
		return time.Time{}
	}
	return r.lost.Add(r.timeout)
}

// next decides what follows a session that ended at now; backoff is the
// delay the backoff policy asks for before the next attempt. It returns the
// time to wait and, when the executor must give up once that wait is over,
// an error wrapping ErrDisconnected (the caller adds the last attempt's
// error). An executor of a framework that does not checkpoint gives up at
// once when a subscription breaks; otherwise the wait never goes past the
// deadline, and reaching the deadline means giving up.
func (r *recovery) next(now time.Time, backoff time.Duration) (time.Duration, error) {
	if r.lost.IsZero() {
		r.lost = now
		if !r.checkpoint {
			return 0, fmt.Errorf("%w (framework does not checkpoint)", ErrDisconnected)
		}
	}
	left := r.deadline().Sub(now)
	if left <= backoff {
		return max(left, 0), fmt.Errorf("%w: no subscription for the recovery timeout (%v)", ErrDisconnected, r.timeout)
	}
	return backoff, nil
}
