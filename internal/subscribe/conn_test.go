package subscribe

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/recordio"
)

// recordingTransport counts the requests it carries: the caller's
// RoundTripper is the one used.
type recordingTransport struct{ n atomic.Int32 }

func (rt *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rt.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

func endpoint(t *testing.T, srv *httptest.Server) *url.URL {
	t.Helper()
	u, err := ParseEndpoint(srv.URL, apiPath)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// streamOf writes msgs as a RecordIO stream, then holds the answer open
// until the request ends when hold is set.
func streamOf(hold bool, msgs ...proto.Message) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", codec.MediaTypeProtobuf)
		w.WriteHeader(http.StatusOK)
		wr := recordio.NewWriter(w)
		for _, m := range msgs {
			_ = wr.WriteMessage(codec.Protobuf, m)
		}
		w.(http.Flusher).Flush()
		if hold {
			<-r.Context().Done()
		}
	}
}

// TestOpenUsesCallersClientAndHeaderHook: the caller's Transport carries
// the request, the header hook runs on it, and the protocol's headers win.
func TestOpenUsesCallersClientAndHeaderHook(t *testing.T) {
	headers := make(chan http.Header, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		headers <- r.Header.Clone()
		streamOf(false, &mesospb.TaskID{Value: proto.String("t1")})(w, r)
	}))
	defer srv.Close()
	rt := &recordingTransport{}
	c := NewConn(Options{
		HTTPClient: &http.Client{Transport: rt},
		Header: func(h http.Header) {
			h.Set("Authorization", "Basic YWdlbnQ6c2VjcmV0")
			h.Set("Content-Type", "text/plain")
		},
		Path: apiPath,
	})
	s, err := c.Open(t.Context(), endpoint(t, srv), []byte("x"), http.Header{"Mesos-Stream-Id": {"s1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	id := &mesospb.TaskID{}
	if err := s.Next(id); err != nil || id.GetValue() != "t1" {
		t.Fatalf("Next = %v, %v", id, err)
	}
	if err := s.Next(id); !errors.Is(err, ErrEnded) {
		t.Fatalf("Next at the end = %v, want ErrEnded", err)
	}
	if rt.n.Load() != 1 {
		t.Errorf("caller's transport carried %d requests, want 1", rt.n.Load())
	}
	got := <-headers
	if got.Get("Authorization") != "Basic YWdlbnQ6c2VjcmV0" || got.Get("Content-Type") != codec.MediaTypeProtobuf ||
		got.Get("Accept") != codec.MediaTypeProtobuf || got.Get("Mesos-Stream-Id") != "s1" {
		t.Errorf("request headers %v", got)
	}
}

// TestOpenAnswers: 307 names the leader (scheme-relative Location), other
// statuses are StatusErrors with the body.
func TestOpenAnswers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("a") {
		case "redirect":
			w.Header().Set("Location", "//leader.test:5050")
			w.WriteHeader(http.StatusTemporaryRedirect)
		case "bad":
			w.Header().Set("Location", "mailto:x@y")
			w.WriteHeader(http.StatusTemporaryRedirect)
		default:
			http.Error(w, "No leader elected", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	c := NewConn(Options{Path: apiPath})
	at := func(a string) *url.URL {
		u := endpoint(t, srv)
		u.RawQuery = "a=" + a
		return u
	}
	_, err := c.Open(t.Context(), at("redirect"), nil, nil)
	if rd, ok := errors.AsType[*Redirect](err); !ok || rd.To.String() != "http://leader.test:5050"+apiPath {
		t.Errorf("307: %v", err)
	}
	_, err = c.Open(t.Context(), at("bad"), nil, nil)
	if se, ok := errors.AsType[*StatusError](err); !ok || se.Status != 307 {
		t.Errorf("307 with a bad Location: %v", err)
	}
	_, err = c.Open(t.Context(), at("none"), nil, nil)
	if se, ok := errors.AsType[*StatusError](err); !ok || se.Status != 503 || se.Body != "No leader elected" {
		t.Errorf("503: %v", err)
	}
	if err := c.Send(t.Context(), at("none"), nil, nil); err == nil {
		t.Error("Send got 503 and reported success")
	}
}

// TestSendFollowsRedirects: a call answered 307 lands at the Location; a
// loop of 307s ends after MaxRedirects.
func TestSendFollowsRedirects(t *testing.T) {
	var leaderCalls atomic.Int32
	leader := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b, _ := io.ReadAll(r.Body); string(b) != "call" {
			http.Error(w, "lost body", http.StatusBadRequest)
			return
		}
		leaderCalls.Add(1)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer leader.Close()
	var hops atomic.Int32
	follower := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hops.Add(1)
		if r.URL.Query().Get("loop") != "" {
			w.Header().Set("Location", r.URL.RequestURI())
		} else {
			w.Header().Set("Location", "//"+leader.Listener.Addr().String()+apiPath)
		}
		w.WriteHeader(http.StatusTemporaryRedirect)
	}))
	defer follower.Close()
	c := NewConn(Options{Path: apiPath, MaxRedirects: 3})
	if err := c.Send(t.Context(), endpoint(t, follower), []byte("call"), nil); err != nil || leaderCalls.Load() != 1 {
		t.Fatalf("Send through a follower: %v, leader got %d", err, leaderCalls.Load())
	}
	hops.Store(0)
	loop := endpoint(t, follower)
	loop.RawQuery = "loop=1"
	err := c.Send(t.Context(), loop, []byte("call"), nil)
	if se, ok := errors.AsType[*StatusError](err); !ok || se.Status != 307 || hops.Load() != 4 {
		t.Fatalf("Send in a redirect loop: %v after %d requests, want a 307 StatusError after 4", err, hops.Load())
	}
}

// TestWatchdog: a peer that sends nothing for the limit cuts the stream
// with the caller's cause; without Watch the same stream waits for ctx.
func TestWatchdog(t *testing.T) {
	srv := httptest.NewServer(streamOf(true, &mesospb.TaskID{Value: proto.String("t1")}))
	defer srv.Close()
	c := NewConn(Options{})
	errSilent := errors.New("silent peer")

	s, err := c.Open(t.Context(), endpoint(t, srv), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Watch(time.Hour, func() error { return errors.New("wrong limit") })
	if err := s.Next(&mesospb.TaskID{}); err != nil {
		t.Fatal(err)
	}
	s.Watch(20*time.Millisecond, func() error { return errSilent })
	if err := s.Next(&mesospb.TaskID{}); !errors.Is(err, errSilent) {
		t.Fatalf("Next on a silent stream = %v, want the watchdog's cause", err)
	}
	s.Close()

	ctx, cancel := context.WithCancelCause(t.Context())
	s, err = c.Open(ctx, endpoint(t, srv), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Next(&mesospb.TaskID{}); err != nil {
		t.Fatal(err)
	}
	errStop := errors.New("stop")
	go cancel(errStop)
	if err := s.Next(&mesospb.TaskID{}); !errors.Is(err, errStop) {
		t.Fatalf("Next after cancel = %v, want its cause", err)
	}
}

// TestLoopFollowsLeader: a follower's 307 is followed at once to the
// leader; when the leader's stream ends, the next attempt starts again at
// the follower in the list; End stops the loop.
func TestLoopFollowsLeader(t *testing.T) {
	var leaderSessions atomic.Int32
	leader := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaderSessions.Add(1)
		streamOf(false, &mesospb.TaskID{Value: proto.String("subscribed")})(w, r)
	}))
	defer leader.Close()
	follower := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "//"+leader.Listener.Addr().String()+apiPath)
		w.WriteHeader(http.StatusTemporaryRedirect)
	}))
	defer follower.Close()
	c := NewConn(Options{Path: apiPath})
	var targets []string
	l := Loop{
		Policy: &Policy{Route: NewRoute([]*url.URL{endpoint(t, follower)}, 0),
			Backoff: Backoff{Min: time.Millisecond, Max: time.Millisecond}},
		Session: func(ctx context.Context, target *url.URL) (bool, error) {
			targets = append(targets, target.Host)
			s, err := c.Open(ctx, target, nil, nil)
			if err != nil {
				return false, err
			}
			defer s.Close()
			up := false
			for {
				if err := s.Next(&mesospb.TaskID{}); err != nil {
					return up, err
				}
				up = true
			}
		},
		End: func(up bool, err error) (bool, error) {
			if leaderSessions.Load() == 2 {
				return true, err
			}
			return false, nil
		},
	}
	if err := l.Run(t.Context()); !errors.Is(err, ErrEnded) {
		t.Fatalf("Run = %v, want the last session's end", err)
	}
	f, ld := follower.Listener.Addr().String(), leader.Listener.Addr().String()
	want := []string{f, ld, f, ld}
	if len(targets) != len(want) {
		t.Fatalf("sessions at %v, want %v", targets, want)
	}
	for i := range want {
		if targets[i] != want[i] {
			t.Fatalf("sessions at %v, want %v", targets, want)
		}
	}
}

// TestSendReusesConnections: without a Transport of the caller's, a Conn
// keeps enough idle connections that calls in flight together reuse them
// instead of opening new ones (http.DefaultTransport keeps 2 per host),
// and a 2xx answer's body does not keep a connection from its reuse.
func TestSendReusesConnections(t *testing.T) {
	var opened atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Content-Type") != codec.MediaTypeJSON || r.Header.Get("Accept") != codec.MediaTypeJSON {
			t.Errorf("Content-Type %q, Accept %q", r.Header.Get("Content-Type"), r.Header.Get("Accept"))
		}
		w.WriteHeader(http.StatusAccepted)
		if r.URL.Query().Get("body") != "" {
			_, _ = io.WriteString(w, "accepted")
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	for _, client := range []*http.Client{nil, {Timeout: time.Minute}} {
		opened.Store(0)
		c := NewConn(Options{HTTPClient: client, Codec: codec.JSON, Header: func(h http.Header) {
			h.Set("Content-Type", "text/plain") // the protocol's own win
		}})
		const workers, rounds = 16, 100
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				target := endpoint(t, srv)
				if w%2 == 0 {
					target.RawQuery = "body=1"
				}
				for range rounds {
					if err := c.Send(context.Background(), target, []byte("{}"), nil); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		// At most one connection per worker, give or take the dials that
		// race a connection's return to the pool.
		if n := opened.Load(); n > 2*workers {
			t.Errorf("client %v: %d calls opened %d connections, want at most %d", client, workers*rounds, n, 2*workers)
		}
	}
	DefaultTransport.(*http.Transport).CloseIdleConnections()
}
