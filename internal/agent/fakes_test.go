package agent

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/executorpb"
	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/recordio"
	"github.com/mesoproject/meso/internal/containerizer"
	"github.com/mesoproject/meso/internal/resources"
)

const waitLimit = 10 * time.Second

// fakeMaster speaks the master's side of the link protocol: it accepts
// REGISTER (answering REGISTERED with agent id "a1" unless told otherwise),
// streams the events tests give it, and records every other call.
type fakeMaster struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	sessions int
	current  *masterSession // guarded by mu
	agentID  string         // guarded by mu
	conflict bool           // guarded by mu: answer 409 to the next call
	ping     float64        // guarded by mu: ping interval announced, seconds
	pings    uint64         // guarded by mu: PINGs sent by sync
	version  uint32         // guarded by mu: link_version announced (2: takes BATCH)
	sizes    []int          // guarded by mu: calls per request taken, in order
	// refuse, when set, may fail a request: it answers status (0: take
	// the request) after taking only the first deliver of its calls, as a
	// master that fails in the middle of a batch. Guarded by mu.
	refuse func(calls []*linkpb.AgentCall) (deliver, status int)
	// hold, when set, blocks every request until it is closed. Guarded
	// by mu.
	hold chan struct{}
	held int // guarded by mu: calls in requests waiting for hold

	stop       chan struct{} // closed when this server instance goes away
	registered chan *masterSession
	calls      chan *linkpb.AgentCall
}

type masterSession struct {
	linkID   string
	register *linkpb.AgentCall
	events   chan *linkpb.MasterEvent
	drop     chan struct{}
}

func newFakeMaster(t *testing.T) *fakeMaster {
	m := &fakeMaster{t: t, agentID: "a1", ping: 15, version: 2,
		registered: make(chan *masterSession, 16), calls: make(chan *linkpb.AgentCall, 1024)}
	m.stop = make(chan struct{})
	m.srv = httptest.NewServer(m.handler(m.stop))
	t.Cleanup(func() {
		close(m.stop)
		m.srv.Close()
	})
	return m
}

// handler serves the link until stop is closed; then it refuses
// everything, as a dead process would.
func (m *fakeMaster) handler(stop chan struct{}) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stop:
			http.Error(w, "down", http.StatusServiceUnavailable)
		default:
			m.serve(w, r, stop)
		}
	})
}

func (m *fakeMaster) addr() string { return m.srv.Listener.Addr().String() }

func (m *fakeMaster) serve(w http.ResponseWriter, r *http.Request, stop chan struct{}) {
	if r.URL.Path != LinkPath || r.Header.Get("Content-Type") != codec.MediaTypeProtobuf {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	body, _ := io.ReadAll(r.Body)
	call := &linkpb.AgentCall{}
	if err := codec.Protobuf.Unmarshal(body, call); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if call.GetType() != linkpb.AgentCall_REGISTER {
		calls := []*linkpb.AgentCall{call}
		if call.GetType() == linkpb.AgentCall_BATCH {
			calls = call.GetBatch().GetCalls()
			for _, c := range calls {
				if c.LinkId != nil || c.GetType() == linkpb.AgentCall_BATCH {
					http.Error(w, "bad batch", http.StatusBadRequest)
					return
				}
				c.LinkId, c.AgentId = call.LinkId, call.AgentId
			}
		}
		m.mu.Lock()
		hold := m.hold
		if hold != nil {
			m.held += len(calls)
		}
		m.mu.Unlock()
		if hold != nil {
			<-hold
		}
		m.mu.Lock()
		stale := m.current == nil || call.GetLinkId() != m.current.linkID || m.conflict
		m.conflict = false
		deliver, status := len(calls), 0
		if m.refuse != nil && !stale {
			if d, st := m.refuse(calls); st != 0 {
				deliver, status = d, st
			}
		}
		if !stale && status == 0 {
			m.sizes = append(m.sizes, len(calls))
		}
		m.mu.Unlock()
		switch {
		case stale:
			http.Error(w, "stale link", http.StatusConflict)
		case status != 0:
			for _, c := range calls[:deliver] {
				m.calls <- c
			}
			http.Error(w, "refused", status)
		default:
			for _, c := range calls {
				m.calls <- c
			}
			w.WriteHeader(http.StatusAccepted)
		}
		return
	}
	m.mu.Lock()
	m.sessions++
	s := &masterSession{linkID: fmt.Sprintf("L%d", m.sessions), register: call,
		events: make(chan *linkpb.MasterEvent, 64), drop: make(chan struct{})}
	if old := m.current; old != nil {
		close(old.drop)
	}
	m.current = s
	id, ping, version := m.agentID, m.ping, m.version
	m.mu.Unlock()
	w.Header().Set("Content-Type", codec.MediaTypeProtobuf)
	w.WriteHeader(http.StatusOK)
	wr := recordio.NewWriter(w)
	_ = wr.WriteMessage(codec.Protobuf, &linkpb.MasterEvent{
		Type: linkpb.MasterEvent_REGISTERED.Enum(),
		Registered: &linkpb.MasterEvent_Registered{
			AgentId:             &mesospb.AgentID{Value: proto.String(id)},
			LinkId:              proto.String(s.linkID),
			MasterInfo:          &mesospb.MasterInfo{Id: proto.String("m1"), Ip: proto.Uint32(0), Port: proto.Uint32(5050), Hostname: proto.String("master")},
			PingIntervalSeconds: proto.Float64(ping),
			LinkVersion:         proto.Uint32(version),
		},
	})
	m.registered <- s
	for {
		select {
		case ev := <-s.events:
			if err := wr.WriteMessage(codec.Protobuf, ev); err != nil {
				return
			}
		case <-s.drop:
			return
		case <-stop:
			return
		case <-r.Context().Done():
			return
		}
	}
}

// restart stops the server and starts a new one on the same address; the
// new one knows no session.
func (m *fakeMaster) restart() {
	m.t.Helper()
	addr := m.addr()
	m.dropStream()
	close(m.stop)
	m.srv.Close()
	for len(m.registered) > 0 { // registrations with the old server
		<-m.registered
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		m.t.Fatalf("restarting the master on %s: %v", addr, err)
	}
	m.stop = make(chan struct{})
	m.srv = httptest.NewUnstartedServer(m.handler(m.stop))
	m.srv.Listener.Close()
	m.srv.Listener = ln
	m.srv.Start()
}

// session waits for the next registration.
func (m *fakeMaster) session() *masterSession {
	m.t.Helper()
	select {
	case s := <-m.registered:
		return s
	case <-time.After(waitLimit):
		m.t.Fatal("the agent did not register")
		return nil
	}
}

// dropStream ends the current session's stream, as a master restart does.
func (m *fakeMaster) dropStream() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.current != nil {
		close(m.current.drop)
		m.current = nil
	}
}

// call waits for the next call of the given type, skipping others.
func (m *fakeMaster) call(typ linkpb.AgentCall_Type) *linkpb.AgentCall {
	m.t.Helper()
	deadline := time.After(waitLimit)
	for {
		select {
		case c := <-m.calls:
			if c.GetType() == typ {
				return c
			}
		case <-deadline:
			m.t.Fatalf("no %s call from the agent", typ)
			return nil
		}
	}
}

// noCall checks that no call of the given type arrives within d.
func (m *fakeMaster) noCall(typ linkpb.AgentCall_Type, d time.Duration) {
	m.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case c := <-m.calls:
			if c.GetType() == typ {
				m.t.Fatalf("unexpected %s call: %v", typ, c)
			}
		case <-deadline:
			return
		}
	}
}

func (s *masterSession) send(ev *linkpb.MasterEvent) { s.events <- ev }

// sync returns once the agent has applied every event sent so far: the
// agent handles events in order, so the PONG to a fresh PING follows them.
func (m *fakeMaster) sync(s *masterSession) {
	m.t.Helper()
	m.mu.Lock()
	m.pings++
	seq := m.pings
	m.mu.Unlock()
	s.send(&linkpb.MasterEvent{Type: linkpb.MasterEvent_PING.Enum(), Ping: &linkpb.MasterEvent_Ping{Seq: proto.Uint64(seq)}})
	for {
		if m.call(linkpb.AgentCall_PONG).GetPong().GetSeq() == seq {
			return
		}
	}
}

// fakeContainerizer records launches; containers run until the test ends
// them with exit or the agent destroys them.
type fakeContainerizer struct {
	mu        sync.Mutex
	crashed   bool // guarded by mu: Destroy does nothing, as if the agent had died
	running   map[string]chan containerizer.Termination
	failNext  error
	launched  chan containerizer.Spec
	destroyed chan string
	// hold, when set, keeps Launch from returning (the container runs)
	// until it is closed or the launch is canceled: the window between the
	// fork and the agent's checkpoint of the container's handle.
	hold chan struct{}
}

func newFakeContainerizer() *fakeContainerizer {
	return &fakeContainerizer{running: map[string]chan containerizer.Termination{},
		launched: make(chan containerizer.Spec, 64), destroyed: make(chan string, 64)}
}

func (f *fakeContainerizer) Launch(ctx context.Context, spec containerizer.Spec) error {
	f.mu.Lock()
	if err := f.failNext; err != nil {
		f.failNext = nil
		f.mu.Unlock()
		return err
	}
	f.running[spec.ContainerID] = make(chan containerizer.Termination, 1)
	f.launched <- spec
	hold := f.hold
	f.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (f *fakeContainerizer) Wait(ctx context.Context, id string) (containerizer.Termination, error) {
	f.mu.Lock()
	ch := f.running[id]
	f.mu.Unlock()
	if ch == nil {
		return containerizer.Termination{}, containerizer.ErrUnknownContainer
	}
	select {
	case t := <-ch:
		ch <- t
		return t, nil
	case <-ctx.Done():
		return containerizer.Termination{}, ctx.Err()
	}
}

func (f *fakeContainerizer) Kill(string, syscall.Signal) error { return nil }

func (f *fakeContainerizer) exit(id string, t containerizer.Termination) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ch := f.running[id]; ch != nil && len(ch) == 0 {
		ch <- t
	}
}

// Handle and Adopt make it a containerizer.Adopter: a container that
// still runs can be adopted by the next agent.
func (f *fakeContainerizer) Handle(id string) (containerizer.Handle, error) {
	return containerizer.Handle{ContainerID: id, Kind: "fake", Pid: 1}, nil
}

func (f *fakeContainerizer) Adopt(_ context.Context, h containerizer.Handle) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ch := f.running[h.ContainerID]; ch == nil || len(ch) > 0 {
		return containerizer.ErrUnknownContainer
	}
	return nil
}

// crash makes the agent's end leave every container running.
func (f *fakeContainerizer) crash(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.crashed = on
}

func (f *fakeContainerizer) Destroy(_ context.Context, id string, _ time.Duration) error {
	f.mu.Lock()
	if f.crashed {
		f.mu.Unlock()
		return nil
	}
	ch := f.running[id]
	delete(f.running, id)
	f.mu.Unlock()
	if ch == nil {
		return containerizer.ErrUnknownContainer
	}
	if len(ch) == 0 {
		ch <- containerizer.Termination{Status: int(syscall.SIGKILL), Message: "Command terminated with signal Killed"}
		f.destroyed <- id
	}
	return nil
}

func (f *fakeContainerizer) Containers() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for id := range f.running {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

func (f *fakeContainerizer) launch(t *testing.T) containerizer.Spec {
	t.Helper()
	select {
	case s := <-f.launched:
		return s
	case <-time.After(waitLimit):
		t.Fatal("no container launched")
		return containerizer.Spec{}
	}
}

func (f *fakeContainerizer) destroyedOne(t *testing.T) string {
	t.Helper()
	select {
	case id := <-f.destroyed:
		return id
	case <-time.After(waitLimit):
		t.Fatal("no container destroyed")
		return ""
	}
}

// testAgent runs an agent against m with a fake containerizer.
type testAgent struct {
	*Agent
	cz     *fakeContainerizer
	url    string
	cancel context.CancelFunc
	done   chan error
}

func startAgent(t *testing.T, m *fakeMaster, tune func(*Config)) *testAgent {
	t.Helper()
	cfg, err := startAgentErr(t, m, tune)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// startAgentErr is startAgent returning New's error.
func startAgentErr(t *testing.T, m *fakeMaster, tune func(*Config)) (*testAgent, error) {
	t.Helper()
	cz := newFakeContainerizer()
	cfg := Config{
		Master:                       m.addr(),
		WorkDir:                      t.TempDir(),
		Hostname:                     "agent-host",
		Resources:                    resources.MustParse("cpus:2;mem:1024"),
		Attributes:                   resources.Attributes{{Name: "rack", Kind: resources.KindText, Text: "r1"}},
		Launcher:                     "/usr/local/bin/meso",
		Containerizer:                cz,
		Detected:                     &resources.Detected{CPUs: 8, MemBytes: 16 << 30, DiskBytes: 100 << 30},
		StatusUpdateRetryIntervalMin: time.Hour,
		RegistrationBackoffFactor:    10 * time.Millisecond,
		RegistrationBackoffMax:       50 * time.Millisecond,
		Logger:                       slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if tune != nil {
		tune(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if fz, ok := cfg.Containerizer.(*fakeContainerizer); ok {
		cz = fz
	}
	ctx, cancel := context.WithCancel(context.Background())
	ta := &testAgent{Agent: a, cz: cz, url: "http://" + ln.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	go func() { ta.done <- a.Serve(ctx, ln) }()
	t.Cleanup(ta.stop)
	return ta, nil
}

func (ta *testAgent) stop() {
	ta.cancel()
	<-ta.done
	ta.done <- nil // keep stop idempotent
}

// The executor side, in raw HTTP.

type execClient struct {
	t          *testing.T
	url        string
	c          codec.Codec
	fw, ex     string
	token      string // sent as Authorization: Bearer when set
	events     *recordio.Reader
	body       io.Closer
	eventCodec codec.Codec
}

func newExecClient(t *testing.T, url string, c codec.Codec, fw, ex string) *execClient {
	return &execClient{t: t, url: url + ExecutorAPIPath, c: c, fw: fw, ex: ex}
}

func (e *execClient) newCall(typ executorpb.Call_Type) *executorpb.Call {
	return &executorpb.Call{
		Type:        typ.Enum(),
		FrameworkId: &mesospb.FrameworkID{Value: proto.String(e.fw)},
		ExecutorId:  &mesospb.ExecutorID{Value: proto.String(e.ex)},
	}
}

// post sends a call and returns the response.
func (e *execClient) post(call *executorpb.Call, accept string) *http.Response {
	e.t.Helper()
	body, err := e.c.Marshal(call)
	if err != nil {
		e.t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, e.url, bytes.NewReader(body))
	req.Header.Set("Content-Type", e.c.MediaType())
	if e.token != "" {
		req.Header.Set("Authorization", "Bearer "+e.token)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

// subscribe subscribes, retrying a 503 (the container is still launching)
// as the executor client does.
func (e *execClient) subscribe() {
	e.t.Helper()
	resp := e.post(e.newCall(executorpb.Call_SUBSCRIBE), e.c.MediaType())
	deadline := time.Now().Add(waitLimit)
	for resp.StatusCode == http.StatusServiceUnavailable && time.Now().Before(deadline) {
		resp.Body.Close()
		<-time.After(5 * time.Millisecond) // the executor client's back-off
		resp = e.post(e.newCall(executorpb.Call_SUBSCRIBE), e.c.MediaType())
	}
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		e.t.Fatalf("SUBSCRIBE: %s: %s", resp.Status, msg)
	}
	if ct := resp.Header.Get("Content-Type"); ct != e.c.MediaType() {
		e.t.Fatalf("SUBSCRIBE Content-Type %q, want %q", ct, e.c.MediaType())
	}
	e.events = recordio.NewReader(resp.Body, recordio.DefaultMaxRecordSize)
	e.body = resp.Body
	e.t.Cleanup(func() { resp.Body.Close() })
}

// event reads the next event, failing after waitLimit.
func (e *execClient) event() *executorpb.Event {
	e.t.Helper()
	type result struct {
		ev  *executorpb.Event
		err error
	}
	ch := make(chan result, 1)
	go func() {
		ev := &executorpb.Event{}
		err := e.events.ReadMessage(e.c, ev)
		ch <- result{ev, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			e.t.Fatalf("reading executor event: %v", r.err)
		}
		return r.ev
	case <-time.After(waitLimit):
		e.t.Fatal("no executor event")
		return nil
	}
}

func (e *execClient) update(taskID string, state mesospb.TaskState, uuid []byte) int {
	e.t.Helper()
	call := e.newCall(executorpb.Call_UPDATE)
	call.Update = &executorpb.Call_Update{Status: &mesospb.TaskStatus{
		TaskId: &mesospb.TaskID{Value: proto.String(taskID)},
		State:  state.Enum(),
		Source: mesospb.TaskStatus_SOURCE_EXECUTOR.Enum(),
		Uuid:   uuid,
	}}
	resp := e.post(call, "")
	resp.Body.Close()
	return resp.StatusCode
}
