package executor

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/executorpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/recordio"
)

// fakeAgent is an agent double for the executor API: it checks the wire form
// of calls and lets the test drive the event stream.
type fakeAgent struct {
	t     *testing.T
	subs  chan *subscription
	calls chan *call
	quit  chan struct{}

	mu        sync.Mutex
	subStatus []int // guarded by mu: statuses for the next SUBSCRIBEs; 200 when empty
}

// statusHang in subStatus makes the fake agent never answer that SUBSCRIBE.
const statusHang = -1

type subscription struct {
	call   *executorpb.Call
	header http.Header
	events chan *executorpb.Event // closing it ends the stream
	gone   chan struct{}
}

type call struct {
	msg    *executorpb.Call
	header http.Header
}

func newFakeAgent(t *testing.T) *fakeAgent {
	return &fakeAgent{t: t, subs: make(chan *subscription, 16), calls: make(chan *call, 64), quit: make(chan struct{})}
}

func (a *fakeAgent) serveHTTPTest() string {
	srv := httptest.NewServer(a)
	a.t.Cleanup(func() {
		close(a.quit)
		srv.Close()
	})
	return srv.Listener.Addr().String()
}

func (a *fakeAgent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/api/v1/executor" {
		a.t.Errorf("fake agent: %s %s, want POST /api/v1/executor", r.Method, r.URL.Path)
		http.NotFound(w, r)
		return
	}
	in, err := codec.ForContentType(r.Header.Get("Content-Type"))
	if err != nil {
		a.t.Errorf("fake agent: %v", err)
		http.Error(w, err.Error(), http.StatusUnsupportedMediaType)
		return
	}
	out, err := codec.Negotiate(r.Header.Get("Accept"), nil)
	if err != nil || out.MediaType() != in.MediaType() {
		a.t.Errorf("fake agent: Accept %q with Content-Type %q", r.Header.Get("Accept"), r.Header.Get("Content-Type"))
	}
	body, _ := io.ReadAll(r.Body)
	msg := &executorpb.Call{}
	if err := in.Unmarshal(body, msg); err != nil {
		a.t.Errorf("fake agent: decoding call: %v", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if msg.GetExecutorId().GetValue() != "ex-1" || msg.GetFrameworkId().GetValue() != "fw-1" {
		a.t.Errorf("fake agent: %s call with executor %q framework %q", msg.GetType(),
			msg.GetExecutorId().GetValue(), msg.GetFrameworkId().GetValue())
	}
	if msg.GetType() == executorpb.Call_SUBSCRIBE {
		a.subscribe(w, r, msg, in)
		return
	}
	a.calls <- &call{msg: msg, header: r.Header.Clone()}
	w.WriteHeader(http.StatusAccepted)
}

func (a *fakeAgent) subscribe(w http.ResponseWriter, r *http.Request, msg *executorpb.Call, out codec.Codec) {
	a.mu.Lock()
	status := http.StatusOK
	if len(a.subStatus) > 0 {
		status, a.subStatus = a.subStatus[0], a.subStatus[1:]
	}
	a.mu.Unlock()
	if status == statusHang { // an agent that accepted the connection and froze
		select {
		case <-r.Context().Done():
		case <-a.quit:
		}
		return
	}
	if status != http.StatusOK {
		http.Error(w, "not now", status)
		return
	}
	sub := &subscription{call: msg, header: r.Header.Clone(), events: make(chan *executorpb.Event), gone: make(chan struct{})}
	defer close(sub.gone)
	w.Header().Set("Content-Type", out.MediaType())
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
	a.subs <- sub
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
		case <-a.quit:
			return
		}
	}
}

func (s *subscription) send(t *testing.T, ev *executorpb.Event) {
	t.Helper()
	select {
	case s.events <- ev:
	case <-s.gone:
		t.Fatalf("stream gone; cannot send %s", ev.GetType())
	}
}

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

func recvEvent(t *testing.T, c *Client, want executorpb.Event_Type) *executorpb.Event {
	t.Helper()
	ev := recv(t, c.Events(), "event "+want.String())
	if ev.GetType() != want {
		t.Fatalf("got event %v, want %s", ev.GetType(), want)
	}
	return ev
}

func subscribedEvent() *executorpb.Event {
	return &executorpb.Event{
		Type: executorpb.Event_SUBSCRIBED.Enum(),
		Subscribed: &executorpb.Event_Subscribed{
			ExecutorInfo:  &mesospb.ExecutorInfo{ExecutorId: &mesospb.ExecutorID{Value: proto.String("ex-1")}},
			FrameworkInfo: &mesospb.FrameworkInfo{User: proto.String("u"), Name: proto.String("f")},
			AgentInfo:     &mesospb.AgentInfo{Hostname: proto.String("host-1"), Id: &mesospb.AgentID{Value: proto.String("agent-1")}},
		},
	}
}

func launchEvent(id string) *executorpb.Event {
	return &executorpb.Event{
		Type: executorpb.Event_LAUNCH.Enum(),
		Launch: &executorpb.Event_Launch{Task: &mesospb.TaskInfo{
			Name:    proto.String(id),
			TaskId:  &mesospb.TaskID{Value: proto.String(id)},
			AgentId: &mesospb.AgentID{Value: proto.String("agent-1")},
			Command: &mesospb.CommandInfo{Value: proto.String("true")},
		}},
	}
}

func ackEvent(u *executorpb.Call_Update) *executorpb.Event {
	return &executorpb.Event{
		Type: executorpb.Event_ACKNOWLEDGED.Enum(),
		Acknowledged: &executorpb.Event_Acknowledged{
			TaskId: u.GetStatus().GetTaskId(),
			Uuid:   u.GetStatus().GetUuid(),
		},
	}
}

func status(task string, state mesospb.TaskState) *mesospb.TaskStatus {
	return &mesospb.TaskStatus{TaskId: &mesospb.TaskID{Value: proto.String(task)}, State: state.Enum()}
}

func testConfig(endpoint string) Config {
	return Config{
		AgentEndpoint: endpoint,
		FrameworkID:   &mesospb.FrameworkID{Value: proto.String("fw-1")},
		ExecutorID:    &mesospb.ExecutorID{Value: proto.String("ex-1")},
		BackoffMin:    time.Millisecond,
		BackoffMax:    2 * time.Millisecond,
	}
}

func runClient(ctx context.Context, c *Client) <-chan error {
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	return done
}
