package subscribe

import (
	"math"
	"net/url"
	"testing"
	"time"
)

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestBackoffDraws: the bound doubles from Min to Max; half jitter draws
// from [d/2, d], full jitter from [0, d]; Reset starts again from Min.
func TestBackoffDraws(t *testing.T) {
	top := func(n time.Duration) time.Duration { return n }
	bottom := func(time.Duration) time.Duration { return 0 }
	for _, c := range []struct {
		name string
		full bool
		draw func(time.Duration) time.Duration
		want []time.Duration // in milliseconds
	}{
		{"half, top", false, top, []time.Duration{1000, 2000, 4000, 8000, 10000, 10000}},
		{"half, bottom", false, bottom, []time.Duration{500, 1000, 2000, 4000, 5000, 5000}},
		{"full, top", true, top, []time.Duration{1000, 2000, 4000, 8000, 10000, 10000}},
		{"full, bottom", true, bottom, []time.Duration{0, 0, 0, 0, 0, 0}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := Backoff{Min: time.Second, Max: 10 * time.Second, Full: c.full}
			for i, w := range c.want {
				want := w * time.Millisecond
				if got := b.next(c.draw); got != want {
					t.Errorf("delay %d = %v, want %v", i, got, want)
				}
			}
			b.Reset()
			if got, want := b.next(top), time.Second; got != want {
				t.Errorf("after Reset: %v, want %v", got, want)
			}
		})
	}
}

// TestPolicy: where the next attempt goes and after how long, for each way
// a session can end.
func TestPolicy(t *testing.T) {
	m1, m2, m3 := mustURL(t, "http://m1/x"), mustURL(t, "http://m2/x"), mustURL(t, "http://m3/x")
	leader := mustURL(t, "http://leader/x")
	const delay = 7 * time.Second
	type step struct {
		o        Outcome
		target   *url.URL
		wait     time.Duration
		redirect bool
	}
	for _, c := range []struct {
		name  string
		max   int
		steps []step
	}{
		{"failed attempts go through the list in order", 0, []step{
			{Outcome{}, m2, delay, false},
			{Outcome{}, m3, delay, false},
			{Outcome{}, m1, delay, false},
		}},
		{"a 307 is followed at once; a broken session starts again where it began", 0, []step{
			{Outcome{Redirect: leader}, leader, 0, true},
			{Outcome{Up: true}, m1, delay, false},
			{Outcome{Redirect: leader}, leader, 0, true},
			{Outcome{}, m2, delay, false},
		}},
		{"redirects in a row are bounded", 2, []step{
			{Outcome{Redirect: leader}, leader, 0, true},
			{Outcome{Redirect: m3}, m3, 0, true},
			{Outcome{Redirect: leader}, m2, delay, false},
			{Outcome{Redirect: leader}, leader, 0, true},
		}},
		{"asked to start over: at once, same endpoint after a session that was up", 0, []step{
			{Outcome{Up: true, Now: true}, m1, 0, false},
			{Outcome{Now: true}, m2, 0, false},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := Policy{Route: NewRoute([]*url.URL{m1, m2, m3}, c.max)}
			if p.Route.Target() != m1 {
				t.Fatalf("first target %v", p.Route.Target())
			}
			for i, s := range c.steps {
				d := p.decide(s.o, func() time.Duration { return delay })
				if d.Target != s.target || d.Wait != s.wait || d.Redirect != s.redirect {
					t.Fatalf("step %d: after %+v: %v in %v (redirect %v), want %v in %v (redirect %v)",
						i, s.o, d.Target, d.Wait, d.Redirect, s.target, s.wait, s.redirect)
				}
				if p.Route.Target() != d.Target {
					t.Fatalf("step %d: Target() = %v, decision %v", i, p.Route.Target(), d.Target)
				}
			}
		})
	}
}

// TestPolicyResetsBackoff: a session that was up starts the delays again
// from Min; failed attempts keep doubling them.
func TestPolicyResetsBackoff(t *testing.T) {
	p := Policy{Route: NewRoute([]*url.URL{mustURL(t, "http://m1/x")}, 0),
		Backoff: Backoff{Min: time.Second, Max: time.Minute, Full: true}}
	top := func() time.Duration { return p.Backoff.next(func(n time.Duration) time.Duration { return n }) }
	for i, want := range []time.Duration{1, 2, 4} {
		if d := p.decide(Outcome{}, top); d.Wait != want*time.Second {
			t.Fatalf("failure %d: wait %v, want %vs", i, d.Wait, want)
		}
	}
	if d := p.decide(Outcome{Up: true}, top); d.Wait != time.Second {
		t.Fatalf("after a session that was up: wait %v, want 1s", d.Wait)
	}
	if d := p.decide(Outcome{Now: true}, top); d.Wait != 0 {
		t.Fatalf("asked to start over: wait %v", d.Wait)
	}
	if d := p.decide(Outcome{}, top); d.Wait != 2*time.Second {
		t.Fatalf("a start-over does not count as a failure: wait %v, want 2s", d.Wait)
	}
}

func TestSilence(t *testing.T) {
	for _, c := range []struct {
		misses int
		secs   float64
		want   time.Duration
	}{
		{5, 0, 75 * time.Second},
		{5, -1, 75 * time.Second},
		{5, math.NaN(), 75 * time.Second},
		{3, 0.5, 1500 * time.Millisecond},
		{5, 1e300, math.MaxInt64},
		{5, math.Inf(1), math.MaxInt64},
		{5, 2e9, math.MaxInt64},
	} {
		if got := Silence(c.misses, c.secs, 15*time.Second); got != c.want {
			t.Errorf("Silence(%d, %g) = %v, want %v", c.misses, c.secs, got, c.want)
		}
	}
}
