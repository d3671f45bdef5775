package master

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/recordio"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/internal/resources"
	"google.golang.org/protobuf/proto"
)

// waitFor bounds every wait in these tests; nothing sleeps.
const waitFor = 10 * time.Second

var codecs = []codec.Codec{codec.JSON, codec.Protobuf}

// startMaster serves a master on a loopback port until the test ends.
func startMaster(t testing.TB, mutate ...func(*Config)) (*Master, string) {
	t.Helper()
	cfg := Config{Version: "test", HeartbeatInterval: time.Hour}
	for _, f := range mutate {
		f(&cfg)
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(waitFor):
			t.Error("Serve did not return")
		}
	})
	return m, "http://" + ln.Addr().String()
}

// eventStream reads a RecordIO stream of messages in the background and
// decodes each with the codec (which enforces proto2 required fields).
type eventStream[M proto.Message] struct {
	t      *testing.T
	resp   *http.Response
	events chan M
	errs   chan error
	// keep, when set, is called on the reading goroutine; messages it
	// refuses are not delivered.
	keep func(M) bool
}

func newEventStream[M proto.Message](t *testing.T, resp *http.Response, c codec.Codec, newMsg func() M, keep func(M) bool) *eventStream[M] {
	s := &eventStream[M]{t: t, resp: resp, events: make(chan M, 1024), errs: make(chan error, 1), keep: keep}
	go func() {
		r := recordio.NewReader(resp.Body, recordio.DefaultMaxRecordSize)
		for {
			m := newMsg()
			if err := r.ReadMessage(c, m); err != nil {
				s.errs <- err
				close(s.events)
				return
			}
			if s.keep == nil || s.keep(m) {
				s.events <- m
			}
		}
	}()
	t.Cleanup(func() { resp.Body.Close() })
	return s
}

// next returns the next message, failing the test after waitFor.
func (s *eventStream[M]) next() M {
	s.t.Helper()
	select {
	case m, ok := <-s.events:
		if !ok {
			s.t.Fatalf("stream ended: %v", <-s.errs)
		}
		return m
	case <-time.After(waitFor):
		s.t.Fatal("no message within the deadline")
	}
	var zero M
	return zero
}

// ended waits for the stream to end and returns the read error.
func (s *eventStream[M]) ended() error {
	s.t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case _, ok := <-s.events:
			if !ok {
				return <-s.errs
			}
		case <-deadline:
			s.t.Fatal("stream did not end")
			return nil
		}
	}
}

func encode(t *testing.T, c codec.Codec, m proto.Message) []byte {
	t.Helper()
	b, err := c.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// post sends a body with headers and returns the response (body read).
func post(t *testing.T, url string, body []byte, headers map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// framework is a scheduler talking to the master over HTTP.
type framework struct {
	t      *testing.T
	base   string
	c      codec.Codec
	id     string
	stream string
	events *eventStream[*schedulerpb.Event]
}

func subscribeReq(t *testing.T, base string, c codec.Codec, info *mesospb.FrameworkInfo) *http.Response {
	t.Helper()
	call := &schedulerpb.Call{Type: schedulerpb.Call_SUBSCRIBE.Enum(),
		Subscribe: &schedulerpb.Call_Subscribe{FrameworkInfo: info}}
	req, err := http.NewRequest(http.MethodPost, base+"/api/v1/scheduler", bytes.NewReader(encode(t, c, call)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", c.MediaType())
	req.Header.Set("Accept", c.MediaType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// subscribe subscribes and checks the stream's response and first event.
func subscribe(t *testing.T, base string, c codec.Codec, info *mesospb.FrameworkInfo) *framework {
	t.Helper()
	resp := subscribeReq(t, base, c, info)
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("subscribe: %s: %s", resp.Status, b)
	}
	f := &framework{t: t, base: base, c: c, stream: resp.Header.Get(StreamIDHeader)}
	f.events = newEventStream(t, resp, c, func() *schedulerpb.Event { return &schedulerpb.Event{} }, nil)
	ev := f.events.next()
	if ev.GetType() != schedulerpb.Event_SUBSCRIBED {
		t.Fatalf("first event = %v", ev)
	}
	f.id = ev.GetSubscribed().GetFrameworkId().GetValue()
	return f
}

// call posts a call on the framework's stream and returns the status.
func (f *framework) call(call *schedulerpb.Call) (int, string) {
	f.t.Helper()
	call.FrameworkId = &mesospb.FrameworkID{Value: proto.String(f.id)}
	resp, body := post(f.t, f.base+"/api/v1/scheduler", encode(f.t, f.c, call), map[string]string{
		"Content-Type": f.c.MediaType(), StreamIDHeader: f.stream})
	return resp.StatusCode, body
}

func (f *framework) mustCall(call *schedulerpb.Call) {
	f.t.Helper()
	if status, body := f.call(call); status != http.StatusAccepted {
		f.t.Fatalf("%s: %d %s", call.GetType(), status, body)
	}
}

// nextOf skips heartbeats and returns the next event, which must be of the
// given type.
func (f *framework) nextOf(typ schedulerpb.Event_Type) *schedulerpb.Event {
	f.t.Helper()
	for {
		ev := f.events.next()
		if ev.GetType() == schedulerpb.Event_HEARTBEAT && typ != schedulerpb.Event_HEARTBEAT {
			continue
		}
		if ev.GetType() != typ {
			f.t.Fatalf("want %s, got %v", typ, ev)
		}
		return ev
	}
}

// fakeAgent speaks the link protocol like a real agent would.
type fakeAgent struct {
	// pong (set at first) makes the agent answer PINGs on its reading
	// goroutine instead of delivering them.
	pong   atomic.Bool
	t      *testing.T
	base   string
	c      codec.Codec
	id     string
	secret string // issued in REGISTERED (or presented in REGISTER)
	link   string
	events *eventStream[*linkpb.MasterEvent]
}

func registerAgent(t *testing.T, base string, c codec.Codec, hostname, res string) *fakeAgent {
	t.Helper()
	r := resources.MustParse(res)
	call := &linkpb.AgentCall{Type: linkpb.AgentCall_REGISTER.Enum(), Register: &linkpb.AgentCall_Register{
		AgentInfo: &mesospb.AgentInfo{Hostname: proto.String(hostname), Port: proto.Int32(5051), Resources: r.ToProto("", false)},
		Version:   proto.String("test")}}
	return registerWith(t, base, c, call)
}

// registerWith opens a link with a REGISTER call and checks that
// REGISTERED comes first.
func registerWith(t *testing.T, base string, c codec.Codec, call *linkpb.AgentCall) *fakeAgent {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/internal/v1/link", bytes.NewReader(encode(t, c, call)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", c.MediaType())
	req.Header.Set("Accept", c.MediaType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("register: %s: %s", resp.Status, b)
	}
	a := &fakeAgent{t: t, base: base, c: c, link: resp.Header.Get(LinkIDHeader)}
	a.pong.Store(true)
	a.events = newEventStream(t, resp, c, func() *linkpb.MasterEvent { return &linkpb.MasterEvent{} }, a.answerPing)
	ev := a.events.next()
	if ev.GetType() != linkpb.MasterEvent_REGISTERED || ev.GetRegistered().GetLinkId() != a.link {
		t.Fatalf("first link event = %v (link header %q)", ev, a.link)
	}
	a.id = ev.GetRegistered().GetAgentId().GetValue()
	a.secret = cmp.Or(ev.GetRegistered().GetAgentSecret(), call.GetRegister().GetSecret())
	return a
}

// answerPing answers a PING when a.pong is set (errors ignored: the test
// notices a silent agent).
func (a *fakeAgent) answerPing(ev *linkpb.MasterEvent) bool {
	if ev.GetType() != linkpb.MasterEvent_PING || !a.pong.Load() {
		return true
	}
	call := &linkpb.AgentCall{Type: linkpb.AgentCall_PONG.Enum(), LinkId: proto.String(a.link),
		Pong: &linkpb.AgentCall_Pong{Seq: proto.Uint64(ev.GetPing().GetSeq())}}
	if body, err := a.c.Marshal(call); err == nil {
		if resp, err := http.Post(a.base+"/internal/v1/link", a.c.MediaType(), bytes.NewReader(body)); err == nil {
			resp.Body.Close()
		}
	}
	return false
}

func (a *fakeAgent) send(call *linkpb.AgentCall) (int, string) {
	a.t.Helper()
	if call.LinkId == nil {
		call.LinkId = proto.String(a.link)
	}
	resp, body := post(a.t, a.base+"/internal/v1/link", encode(a.t, a.c, call), map[string]string{"Content-Type": a.c.MediaType()})
	return resp.StatusCode, body
}

// nextOf skips pings and returns the next message of the given type.
func (a *fakeAgent) nextOf(typ linkpb.MasterEvent_Type) *linkpb.MasterEvent {
	a.t.Helper()
	for {
		ev := a.events.next()
		if ev.GetType() == linkpb.MasterEvent_PING && typ != linkpb.MasterEvent_PING {
			continue
		}
		if ev.GetType() != typ {
			a.t.Fatalf("want %s, got %v", typ, ev)
		}
		return ev
	}
}

func fwInfo(name string) *mesospb.FrameworkInfo {
	return &mesospb.FrameworkInfo{User: proto.String("alice"), Name: proto.String(name)}
}

func isEOF(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "closed")
}
