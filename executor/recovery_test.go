package executor

import (
	"errors"
	"testing"
	"time"
)

// The recovery timer as a pure value: the times in, the decisions out.
func TestRecoveryTimer(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	const timeout = 10 * time.Second

	type step struct {
		subscribed bool          // a SUBSCRIBED arrived before the session ended
		now        time.Duration // when the session ended, from t0
		backoff    time.Duration
		wait       time.Duration
		giveUp     bool
	}
	for _, c := range []struct {
		name       string
		checkpoint bool
		steps      []step
	}{
		{"never subscribed: retries until the timeout from Run's start", false, []step{
			{now: 0, backoff: time.Second, wait: time.Second},
			{now: 9 * time.Second, backoff: 500 * time.Millisecond, wait: 500 * time.Millisecond},
			{now: 9500 * time.Millisecond, backoff: 2 * time.Second, wait: 500 * time.Millisecond, giveUp: true},
		}},
		{"never subscribed, attempt abandoned at the deadline", true, []step{
			{now: timeout, backoff: time.Second, wait: 0, giveUp: true},
		}},
		{"no checkpointing: a broken subscription gives up at once", false, []step{
			{subscribed: true, now: time.Hour, backoff: time.Second, wait: 0, giveUp: true},
		}},
		{"checkpointing: the timer starts at the break, not at Run's start", true, []step{
			{subscribed: true, now: time.Hour, backoff: time.Second, wait: time.Second},
			{now: time.Hour + 5*time.Second, backoff: 2 * time.Second, wait: 2 * time.Second},
			// failed attempts do not restart the timer
			{now: time.Hour + 8*time.Second, backoff: 2 * time.Second, wait: 2 * time.Second, giveUp: true},
		}},
		{"checkpointing: a new subscription stops the timer, the next break restarts it", true, []step{
			{subscribed: true, now: 0, backoff: time.Second, wait: time.Second},
			{now: 5 * time.Second, backoff: time.Second, wait: time.Second},
			{subscribed: true, now: 30 * time.Second, backoff: time.Second, wait: time.Second},
			{now: 35 * time.Second, backoff: time.Second, wait: time.Second},
		}},
		{"an attempt overrunning the deadline gives up at once", true, []step{
			{subscribed: true, now: 0, backoff: time.Second, wait: time.Second},
			{now: time.Minute, backoff: time.Second, wait: 0, giveUp: true},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRecovery(timeout, c.checkpoint, t0)
			for i, s := range c.steps {
				if s.subscribed {
					r.subscribed()
					if !r.deadline().IsZero() {
						t.Fatalf("step %d: deadline %v while subscribed, want none", i, r.deadline())
					}
				}
				wait, err := r.next(at(s.now), s.backoff)
				if wait != s.wait || (err != nil) != s.giveUp {
					t.Fatalf("step %d: next(%v, %v) = %v, %v; want %v, give up %v", i, s.now, s.backoff, wait, err, s.wait, s.giveUp)
				}
				if err != nil && !errors.Is(err, ErrDisconnected) {
					t.Errorf("step %d: %v does not wrap ErrDisconnected", i, err)
				}
			}
		})
	}
}

// The deadline of a disconnection is its start plus the timeout.
func TestRecoveryDeadline(t *testing.T) {
	t0 := time.Unix(1000, 0)
	r := newRecovery(time.Minute, true, t0)
	if got := r.deadline(); !got.Equal(t0.Add(time.Minute)) {
		t.Errorf("deadline at Run's start = %v, want %v", got, t0.Add(time.Minute))
	}
	r.subscribed()
	r.next(t0.Add(time.Hour), time.Second)
	if got := r.deadline(); !got.Equal(t0.Add(time.Hour + time.Minute)) {
		t.Errorf("deadline after a break at 1h = %v, want 1h1m after start", got)
	}
}
