package subscribe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"
)

// ErrAgain, wrapped by a session's error, asks for the next session at
// once, without a backoff (the peer asked to start over).
var ErrAgain = errors.New("subscribe again")

// Loop keeps a subscription up: one session after another, where and when
// Policy says.
type Loop struct {
	Policy *Policy
	// Session makes one attempt at target and reads it until it breaks;
	// up reports whether it subscribed. A *Redirect error (from Open) is
	// followed; an error wrapping ErrAgain retries at once.
	Session func(ctx context.Context, target *url.URL) (up bool, err error)
	// End, when set, is asked after every session; stop ends Run with err.
	End func(up bool, err error) (stop bool, ret error)
	// Gate, when set, sees every wait the policy chose, at now, and may
	// change it; a non-nil giveUp ends Run once the wait is over, with an
	// error wrapping giveUp and the session's error.
	Gate func(now time.Time, up bool, wait time.Duration) (time.Duration, error)
	// Stop, when closed, ends a wait and Run (with nil).
	Stop <-chan struct{}
	Log  *slog.Logger
}

// Run runs sessions until ctx is done (it returns nil) or End or Gate
// end it.
func (l *Loop) Run(ctx context.Context) error {
	log := l.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	target := l.Policy.Route.Target()
	for {
		up, err := l.Session(ctx, target)
		if ctx.Err() != nil {
			return nil
		}
		if l.End != nil {
			if stop, ret := l.End(up, err); stop {
				return ret
			}
		}
		o := Outcome{Up: up, Now: errors.Is(err, ErrAgain)}
		if rd, ok := errors.AsType[*Redirect](err); ok {
			o.Redirect = rd.To
		}
		d := l.Policy.Next(o)
		if d.Redirect {
			log.Info("following redirect to the leader", "from", target.String(), "to", d.Target.String())
			target = d.Target
			continue
		}
		var giveUp error
		if l.Gate != nil {
			d.Wait, giveUp = l.Gate(time.Now(), up, d.Wait)
		}
		if giveUp != nil {
			log.Warn("subscription lost; giving up after the wait", "err", err, "in", d.Wait)
		} else {
			log.Warn("subscription lost; retrying", "err", err, "retry_in", d.Wait.Round(time.Millisecond), "at", d.Target.String())
		}
		if !sleep(ctx, l.Stop, d.Wait) {
			return nil
		}
		if giveUp != nil {
			return fmt.Errorf("%w: %w", giveUp, err)
		}
		target = d.Target
	}
}

// sleep waits d, or until ctx is done or stop is closed; it reports
// whether d elapsed.
func sleep(ctx context.Context, stop <-chan struct{}, d time.Duration) bool {
	if d <= 0 {
		select {
		case <-stop:
			return false
		default:
			return ctx.Err() == nil
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-stop:
		return false
	}
}
