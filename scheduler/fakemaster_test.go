package scheduler

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/recordio"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/internal/memnet"
)

// fakeMaster is a Mesos master double: it checks the wire form of what the
// client sends (method, path, headers, codec) and lets the test drive each
// subscription's event stream and answer each call.
type fakeMaster struct {
	t *testing.T

	subs  chan *subscription // one per accepted SUBSCRIBE
	calls chan *call         // one per non-SUBSCRIBE call that got past the checks
	quit  chan struct{}      // closed at cleanup: open streams end

	mu         sync.Mutex
	seq        int
	stream     string   // guarded by mu: id of the newest stream
	subStatus  []int    // guarded by mu: statuses for the next SUBSCRIBEs (popped); 200 when empty
	redirectTo string   // guarded by mu: when set, every request gets 307 to it
	callAnswer []answer // guarded by mu: answers for the next calls (popped); 202 when empty
}

type answer struct {
	status   int
	body     string
	location string
	hold     chan struct{} // if set, the answer waits until it is closed
}

// subscription is one open SUBSCRIBE stream.
type subscription struct {
	call     *schedulerpb.Call
	header   http.Header
	streamID string
	events   chan *schedulerpb.Event // the test writes; closing it ends the stream
	gone     chan struct{}           // closed when the handler returned
}

// call is one call the master received.
type call struct {
	msg    *schedulerpb.Call
	header http.Header
}

func newFakeMaster(t *testing.T) *fakeMaster {
	m := &fakeMaster{
		t:     t,
		subs:  make(chan *subscription, 16),
		calls: make(chan *call, 64),
		quit:  make(chan struct{}),
	}
	return m
}

// serveHTTPTest serves m on a loopback httptest server and returns its
// host:port.
func (m *fakeMaster) serveHTTPTest() string {
	srv := httptest.NewServer(m)
	m.t.Cleanup(func() {
		close(m.quit)
		srv.Close()
	})
	return srv.Listener.Addr().String()
}

func (m *fakeMaster) setRedirect(loc string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.redirectTo = loc
}

func (m *fakeMaster) queueSubscribeStatus(codes ...int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.subStatus = append(m.subStatus, codes...)
}

func (m *fakeMaster) queueCallAnswer(a answer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.callAnswer = append(m.callAnswer, a)
}

func (m *fakeMaster) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	redirect := m.redirectTo
	m.mu.Unlock()
	if redirect != "" {
		w.Header().Set("Location", redirect)
		w.WriteHeader(http.StatusTemporaryRedirect)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/api/v1/scheduler" {
		m.t.Errorf("fake master: %s %s, want POST /api/v1/scheduler", r.Method, r.URL.Path)
		http.Error(w, "wrong endpoint", http.StatusNotFound)
		return
	}
	in, err := codec.ForContentType(r.Header.Get("Content-Type"))
	if err != nil {
		m.t.Errorf("fake master: Content-Type %q: %v", r.Header.Get("Content-Type"), err)
		http.Error(w, err.Error(), http.StatusUnsupportedMediaType)
		return
	}
	out, err := codec.Negotiate(r.Header.Get("Accept"), nil)
	if err != nil || r.Header.Get("Accept") == "" {
		m.t.Errorf("fake master: Accept %q: %v", r.Header.Get("Accept"), err)
		http.Error(w, "bad Accept", http.StatusNotAcceptable)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	msg := &schedulerpb.Call{}
	if err := in.Unmarshal(body, msg); err != nil {
		m.t.Errorf("fake master: decoding call: %v", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if msg.GetType() == schedulerpb.Call_SUBSCRIBE {
		m.subscribe(w, r, msg, out)
		return
	}
	m.call(w, r, msg)
}

func (m *fakeMaster) subscribe(w http.ResponseWriter, r *http.Request, msg *schedulerpb.Call, out codec.Codec) {
	m.mu.Lock()
	status := http.StatusOK
	if len(m.subStatus) > 0 {
		status, m.subStatus = m.subStatus[0], m.subStatus[1:]
	}
	m.seq++
	id := fmt.Sprintf("stream-%d", m.seq)
	if status == http.StatusOK {
		m.stream = id
	}
	m.mu.Unlock()
	if status != http.StatusOK {
		http.Error(w, "not now", status)
		return
	}
	sub := &subscription{
		call: msg, header: r.Header.Clone(), streamID: id,
		events: make(chan *schedulerpb.Event), gone: make(chan struct{}),
	}
	defer close(sub.gone)
	w.Header().Set("Content-Type", out.MediaType())
	w.Header().Set(streamIDHeader, id)
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
	m.subs <- sub
	rw := recordio.NewWriter(w)
	for {
		select {
		case ev, ok := <-sub.events:
			if !ok {
				return
			}
			if err := rw.WriteMessage(out, ev); err != nil {
				return
			}
		case <-r.Context().Done():
			return
		case <-m.quit:
			return
		}
	}
}

func (m *fakeMaster) call(w http.ResponseWriter, r *http.Request, msg *schedulerpb.Call) {
	m.mu.Lock()
	stream := m.stream
	a := answer{status: http.StatusAccepted}
	if len(m.callAnswer) > 0 {
		a, m.callAnswer = m.callAnswer[0], m.callAnswer[1:]
	}
	m.mu.Unlock()
	if got := r.Header.Get(streamIDHeader); got != stream {
		m.t.Errorf("fake master: %s call with %s %q, want %q", msg.GetType(), streamIDHeader, got, stream)
		http.Error(w, "wrong stream id", http.StatusBadRequest)
		return
	}
	m.calls <- &call{msg: msg, header: r.Header.Clone()}
	if a.hold != nil {
		<-a.hold
	}
	if a.location != "" {
		w.Header().Set("Location", a.location)
	}
	w.WriteHeader(a.status)
	io.WriteString(w, a.body)
}

// send writes ev on the subscription's stream.
func (s *subscription) send(t *testing.T, ev *schedulerpb.Event) {
	t.Helper()
	select {
	case s.events <- ev:
	case <-s.gone:
		t.Fatalf("stream %s is gone; cannot send %s", s.streamID, ev.GetType())
	}
}

// waitTimeout bounds every wait on the client in loopback tests.
const waitTimeout = 10 * time.Second

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatalf("timed out waiting for %s", what)
	}
	var zero T
	return zero
}

func recvEvent(t *testing.T, c *Client, want schedulerpb.Event_Type) *schedulerpb.Event {
	t.Helper()
	ev, ok := recvOK(t, c.Events(), "event "+want.String())
	if !ok {
		t.Fatalf("events closed while waiting for %s", want)
	}
	if ev.GetType() != want {
		t.Fatalf("got event %s, want %s", ev.GetType(), want)
	}
	return ev
}

func recvOK[T any](t *testing.T, ch <-chan T, what string) (T, bool) {
	t.Helper()
	select {
	case v, ok := <-ch:
		return v, ok
	case <-time.After(waitTimeout):
		t.Fatalf("timed out waiting for %s", what)
	}
	var zero T
	return zero, false
}

// Event constructors.

func subscribedEvent(fid string, heartbeat float64) *schedulerpb.Event {
	return &schedulerpb.Event{
		Type: schedulerpb.Event_SUBSCRIBED.Enum(),
		Subscribed: &schedulerpb.Event_Subscribed{
			FrameworkId:              &mesospb.FrameworkID{Value: proto.String(fid)},
			HeartbeatIntervalSeconds: proto.Float64(heartbeat),
		},
	}
}

func heartbeatEvent() *schedulerpb.Event {
	return &schedulerpb.Event{Type: schedulerpb.Event_HEARTBEAT.Enum()}
}

func offersEvent(fid string, ids ...string) *schedulerpb.Event {
	ev := &schedulerpb.Event{Type: schedulerpb.Event_OFFERS.Enum(), Offers: &schedulerpb.Event_Offers{}}
	for _, id := range ids {
		ev.Offers.Offers = append(ev.Offers.Offers, &mesospb.Offer{
			Id:          &mesospb.OfferID{Value: proto.String(id)},
			FrameworkId: &mesospb.FrameworkID{Value: proto.String(fid)},
			AgentId:     &mesospb.AgentID{Value: proto.String("agent-1")},
			Hostname:    proto.String("host-1"),
			Resources: []*mesospb.Resource{{
				Name:   proto.String("cpus"),
				Type:   mesospb.Value_SCALAR.Enum(),
				Scalar: &mesospb.Value_Scalar{Value: proto.Float64(2)},
			}},
		})
	}
	return ev
}

func framework() *mesospb.FrameworkInfo {
	return &mesospb.FrameworkInfo{User: proto.String("tester"), Name: proto.String("scheduler-test")}
}

// runClient starts c.Run and returns a channel with its result.
func runClient(ctx context.Context, c *Client) <-chan error {
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	return done
}

// serveMem serves m on an in-memory listener and returns an HTTP client that
// reaches it at any address. Call from inside a synctest bubble; the returned
// stop must run before the bubble ends.
func (m *fakeMaster) serveMem() (hc *http.Client, stop func()) {
	ln := memnet.Listen("master.test:5050")
	srv := &http.Server{Handler: m}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln)
	}()
	tr := &http.Transport{DialContext: ln.Dial}
	return &http.Client{Transport: tr}, func() {
		close(m.quit)
		srv.Close()
		<-served
		tr.CloseIdleConnections()
	}
}
