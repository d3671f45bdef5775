package scheduler

import (
	"context"
	"net/http"
	"testing"
	"testing/synctest"
	"time"
)

// These tests run in a synctest bubble over an in-memory network, so the
// heartbeat and backoff timers run on the bubble's fake clock.

// TestHeartbeatLoss: events keep the subscription alive; HeartbeatMisses
// intervals without any make the client drop the connection and subscribe
// again, with the framework id.
func TestHeartbeatLoss(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newFakeMaster(t)
		hc, stop := m.serveMem()
		defer stop()
		const interval = 10 * time.Second
		c := New(Config{Master: "master.test:5050", Framework: framework(), HTTPClient: hc,
			BackoffMin: time.Second, BackoffMax: time.Second})
		ctx, cancel := context.WithCancel(t.Context())
		done := runClient(ctx, c)

		sub := <-m.subs
		sub.send(t, subscribedEvent("fw-1", interval.Seconds()))
		<-c.Events()

		// Heartbeats on time for a long while: no resubscription.
		for range 20 {
			time.Sleep(interval)
			sub.send(t, heartbeatEvent())
			<-c.Events()
		}
		synctest.Wait()
		if len(m.subs) != 0 {
			t.Fatalf("client resubscribed although heartbeats arrived")
		}

		// Silence: just short of 5 intervals nothing happens ...
		lastEvent := time.Now()
		time.Sleep(DefaultHeartbeatMisses*interval - time.Millisecond)
		synctest.Wait()
		select {
		case <-sub.gone:
			t.Fatalf("stream dropped after %v of silence, before %d intervals", time.Since(lastEvent), DefaultHeartbeatMisses)
		default:
		}
		// ... then the client drops the stream and subscribes again after
		// its backoff.
		<-sub.gone
		if d := time.Since(lastEvent); d != DefaultHeartbeatMisses*interval {
			t.Errorf("stream dropped after %v of silence, want %v", d, DefaultHeartbeatMisses*interval)
		}
		again := <-m.subs
		if d := time.Since(lastEvent); d < DefaultHeartbeatMisses*interval+time.Second/2 {
			t.Errorf("resubscribed %v after the last event: no backoff", d)
		}
		if got := again.call.GetFrameworkId().GetValue(); got != "fw-1" {
			t.Errorf("resubscribe framework_id = %q, want fw-1", got)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
}

// TestBackoffGrowsAndResets: refused subscriptions are retried after delays
// that double (within jitter) up to the maximum, and a SUBSCRIBED resets
// the delay.
func TestBackoffGrowsAndResets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newFakeMaster(t)
		hc, stop := m.serveMem()
		defer stop()
		m.queueSubscribeStatus(503, 503, 503, 503, 503, 503)
		c := New(Config{Master: "master.test:5050", Framework: framework(), HTTPClient: hc,
			BackoffMin: time.Second, BackoffMax: 8 * time.Second})
		ctx, cancel := context.WithCancel(t.Context())
		done := runClient(ctx, c)

		start := time.Now()
		sub := <-m.subs // after six 503s
		elapsed := time.Since(start)
		// Delays drawn from [d/2, d] for d = 1, 2, 4, 8, 8, 8 seconds.
		if lo, hi := 15500*time.Millisecond, 31*time.Second; elapsed < lo || elapsed > hi {
			t.Errorf("six retries took %v, want within [%v, %v]", elapsed, lo, hi)
		}
		sub.send(t, subscribedEvent("fw-1", 15))
		<-c.Events()
		m.queueSubscribeStatus(http.StatusServiceUnavailable)
		close(sub.events)
		start = time.Now()
		<-m.subs
		// After a SUBSCRIBED the delays start again from BackoffMin.
		if elapsed := time.Since(start); elapsed > 3*time.Second {
			t.Errorf("retries after a reset took %v, want at most 1s+2s", elapsed)
		}
		cancel()
		<-done
	})
}

func TestSilenceLimit(t *testing.T) {
	c := New(Config{Master: "m:1", Framework: framework(), HeartbeatMisses: 3})
	if got := c.silenceLimit(0); got != 45*time.Second {
		t.Errorf("silenceLimit(default) = %v, want 45s", got)
	}
	if got := c.silenceLimit(0.5); got != 1500*time.Millisecond {
		t.Errorf("silenceLimit(0.5) = %v, want 1.5s", got)
	}
}
