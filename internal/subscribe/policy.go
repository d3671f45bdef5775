package subscribe

import (
	"math"
	"math/rand/v2"
	"net/url"
	"time"
)

// DefaultMaxRedirects bounds the 307s followed in a row before an attempt
// counts as failed.
const DefaultMaxRedirects = 8

// Backoff yields the delays between attempts: the bound doubles from Min
// up to Max at every delay, and each delay is drawn from [bound/2, bound]
// ([0, bound] with Full). Reset starts again from Min.
type Backoff struct {
	Min, Max time.Duration
	// Full draws from [0, bound] (Mesos' agent registration backoff)
	// instead of [bound/2, bound].
	Full bool
	cur  time.Duration
}

// Next returns the next delay.
func (b *Backoff) Next() time.Duration {
	return b.next(func(n time.Duration) time.Duration { return rand.N(n + 1) })
}

// next is Next with the random draw given: draw(n) is in [0, n].
func (b *Backoff) next(draw func(time.Duration) time.Duration) time.Duration {
	if b.cur == 0 {
		b.cur = b.Min
	} else {
		b.cur = min(2*b.cur, b.Max)
	}
	if b.cur <= 0 {
		return 0
	}
	if b.Full {
		return draw(b.cur)
	}
	half := b.cur / 2
	return half + draw(b.cur-half)
}

// Reset makes the next delay start again from Min.
func (b *Backoff) Reset() { b.cur = 0 }

// Route is where attempts go: the endpoints in order, and the leader a
// 307 named.
type Route struct {
	endpoints    []*url.URL
	maxRedirects int
	next         int      // the endpoint in use
	target       *url.URL // where the next attempt goes
	redirects    int      // 307s followed in a row
}

// NewRoute starts at the first of endpoints (which must not be empty);
// maxRedirects <= 0 means DefaultMaxRedirects.
func NewRoute(endpoints []*url.URL, maxRedirects int) *Route {
	if maxRedirects <= 0 {
		maxRedirects = DefaultMaxRedirects
	}
	return &Route{endpoints: endpoints, maxRedirects: maxRedirects, target: endpoints[0]}
}

// Target is where the next attempt goes.
func (r *Route) Target() *url.URL { return r.target }

// redirect moves to to, unless maxRedirects 307s were followed in a row.
func (r *Route) redirect(to *url.URL) bool {
	if r.redirects >= r.maxRedirects {
		return false
	}
	r.redirects++
	r.target = to
	return true
}

// ended moves on after a session that did not end in a followed 307: a
// session that was up starts again at the endpoint it began from, a failed
// attempt moves to the next endpoint.
func (r *Route) ended(up bool) {
	r.redirects = 0
	if !up {
		r.next = (r.next + 1) % len(r.endpoints)
	}
	r.target = r.endpoints[r.next]
}

// Outcome is how a session ended.
type Outcome struct {
	Up       bool     // it subscribed (SUBSCRIBED, REGISTERED arrived)
	Redirect *url.URL // a 307 named this endpoint
	Now      bool     // the peer asked for a new session at once
}

// Policy decides the attempt that follows a session.
type Policy struct {
	Route   *Route
	Backoff Backoff
}

// Decision is the next attempt.
type Decision struct {
	Target   *url.URL
	Wait     time.Duration
	Redirect bool // following a 307: no wait, not a failure
}

// Next decides what follows a session that ended with o.
func (p *Policy) Next(o Outcome) Decision {
	return p.decide(o, p.Backoff.Next)
}

func (p *Policy) decide(o Outcome, delay func() time.Duration) Decision {
	if o.Redirect != nil && p.Route.redirect(o.Redirect) {
		return Decision{Target: p.Route.target, Redirect: true}
	}
	if o.Up {
		p.Backoff.Reset()
	}
	p.Route.ended(o.Up)
	if o.Now {
		return Decision{Target: p.Route.target}
	}
	return Decision{Target: p.Route.target, Wait: delay()}
}

// Silence is how long a stream may stay silent: misses intervals of
// intervalSecs seconds (0 or less, or NaN: def). It saturates at the
// longest Duration: a huge interval from the peer would otherwise wrap to
// a negative limit and end every session at once.
func Silence(misses int, intervalSecs float64, def time.Duration) time.Duration {
	if !(intervalSecs > 0) {
		intervalSecs = def.Seconds()
	}
	limit := float64(misses) * intervalSecs * float64(time.Second)
	if limit >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(limit)
}
