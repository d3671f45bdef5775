package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/agentpb"
	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/masterpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/resources"
)

// runCLI runs the meso root command with args and returns its stdout and
// error (main turns an error into its message and exit status 1).
func runCLI(t *testing.T, ctx context.Context, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(io.Discard)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	return out.String(), err
}

// leaderStub answers GET_AGENTS with one agent, checking the credentials
// and the call; it counts the calls it saw.
type leaderStub struct {
	mu    sync.Mutex
	calls int // guarded by mu
}

func (s *leaderStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	if !ok || user != "ops" || pass != "s3cret" {
		http.Error(w, "no credentials", http.StatusUnauthorized)
		return
	}
	body, _ := io.ReadAll(r.Body)
	call := &masterpb.Call{}
	if err := codec.JSON.Unmarshal(body, call); err != nil || r.URL.Path != "/api/v1" {
		http.Error(w, "bad call", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.calls++
	s.mu.Unlock()
	resp := &masterpb.Response{Type: masterpb.Response_GET_AGENTS.Enum(), GetAgents: &masterpb.Response_GetAgents{
		Agents: []*masterpb.Response_GetAgents_Agent{{
			AgentInfo:          &mesospb.AgentInfo{Hostname: proto.String("node-7"), Id: &mesospb.AgentID{Value: proto.String("S7")}},
			Active:             proto.Bool(true),
			Version:            proto.String("1.2.3"),
			Pid:                proto.String("slave(1)@127.0.0.1:5051"),
			TotalResources:     resources.MustParse("cpus:4;mem:1024").ToProto("", false),
			AllocatedResources: resources.MustParse("cpus:1.5;mem:256").ToProto("", false),
		}}}}
	data, _ := codec.JSON.Marshal(resp)
	w.Header().Set("Content-Type", "application/json")
	w.Write(data)
}

// A non-leading master's 307 is followed with the body and the Basic
// credentials; an unreachable master and one without a leader (503) make
// the CLI try the next of the list.
func TestOperatorCallFindsTheLeader(t *testing.T) {
	leader := &leaderStub{}
	ls := httptest.NewServer(leader)
	defer ls.Close()
	follower := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "//"+strings.TrimPrefix(ls.URL, "http://")+r.URL.RequestURI())
		w.WriteHeader(http.StatusTemporaryRedirect)
	}))
	defer follower.Close()
	noLeader := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no leader", http.StatusServiceUnavailable)
	}))
	defer noLeader.Close()
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t.Setenv("MESOS_PRINCIPAL", "ops")
	t.Setenv("MESOS_SECRET", "s3cret")
	masters := strings.Join([]string{deadAddr, strings.TrimPrefix(noLeader.URL, "http://"), follower.URL}, ",")
	out, err := runCLI(t, ctx, "agents", "--master", masters)
	if err != nil {
		t.Fatal(err)
	}
	ls2 := strings.Split(strings.TrimSpace(out), "\n")
	if len(ls2) != 2 || !strings.Contains(ls2[1], "node-7") || !strings.Contains(ls2[1], "1.5/4") ||
		!strings.Contains(ls2[1], "256/1024") || !strings.Contains(ls2[1], "127.0.0.1:5051") {
		t.Fatalf("meso agents:\n%s", out)
	}
	leader.mu.Lock()
	calls := leader.calls
	leader.mu.Unlock()
	if calls != 1 {
		t.Fatalf("the leader saw %d calls, want 1", calls)
	}

	// Wrong credentials from the flags (they beat the environment): 401
	// is an error naming the flags.
	_, err = runCLI(t, ctx, "agents", "--master", ls.URL, "--principal", "ops", "--secret", "wrong")
	if !errors.Is(err, errRefused) || !strings.Contains(err.Error(), "--principal") {
		t.Fatalf("wrong secret: %v", err)
	}
	// MESOS_MASTER is the default master.
	t.Setenv("MESOS_MASTER", ls.URL)
	if out, err := runCLI(t, ctx, "agents", "-o", "json"); err != nil || !strings.Contains(out, `"hostname": "node-7"`) {
		t.Fatalf("MESOS_MASTER, -o json: %v\n%s", err, out)
	}
}

// Bad inputs are errors (exit 1) with a message, before any call.
func TestOperatorBadInput(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"tasks", "-o", "yaml"}, `-o/--output must be table or json, got "yaml"`},
		{[]string{"tasks", "--master", "ftp://x"}, "--master"},
		{[]string{"agents", "--master", deadAddr}, "no master answered"},
		{[]string{"agents", "--master", deadAddr, "--secret", "x"}, "--secret given without --principal"},
		{[]string{"cat", "--master", deadAddr, "t", "/etc/passwd"}, "inside the sandbox"},
		{[]string{"tail", "--master", deadAddr, "-n", "-1", "t"}, "-n must be 0 or more"},
		{[]string{"reserve", "--master", deadAddr, "S1", "--resources", "cpus:1"}, "names no role"},
		{[]string{"reserve", "--master", deadAddr, "S1"}, "--resources is required"},
		{[]string{"teardown", "--master", deadAddr}, "accepts 1 arg"},
	} {
		_, err := runCLI(t, ctx, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("meso %s: %v; want an error with %q", strings.Join(tc.args, " "), err, tc.msg)
		}
	}
}

// fakeAgentFile serves READ_FILE of one growing file, answering the first
// call 503 with Retry-After as a busy files API does.
type fakeAgentFile struct {
	mu   sync.Mutex
	data []byte // guarded by mu
	busy int    // guarded by mu; calls still to answer 503
}

func (f *fakeAgentFile) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	call := &agentpb.Call{}
	if err := codec.JSON.Unmarshal(body, call); err != nil || call.GetType() != agentpb.Call_READ_FILE {
		http.Error(w, "bad call", http.StatusBadRequest)
		return
	}
	if user, pass, _ := r.BasicAuth(); user != "ops" || pass != "s3cret" {
		http.Error(w, "no credentials", http.StatusUnauthorized)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.busy > 0 {
		f.busy--
		w.Header().Set("Retry-After", "0")
		http.Error(w, "too many requests", http.StatusServiceUnavailable)
		return
	}
	off := min(int(call.GetReadFile().GetOffset()), len(f.data))
	end := min(off+int(call.GetReadFile().GetLength()), len(f.data))
	resp := &agentpb.Response{Type: agentpb.Response_READ_FILE.Enum(), ReadFile: &agentpb.Response_ReadFile{
		Size: proto.Uint64(uint64(len(f.data))), Data: f.data[off:end]}}
	out, _ := codec.JSON.Marshal(resp)
	w.Write(out)
}

func (f *fakeAgentFile) append(s string) {
	f.mu.Lock()
	f.data = append(f.data, s...)
	f.mu.Unlock()
}

// syncWriter collects what follow writes while the test reads it.
type syncWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// tail prints the last n lines (reading back past its first window when
// lines are long), waits out a 503, and follow prints what is appended;
// the agent gets the credentials too.
func TestSandboxTailAndFollow(t *testing.T) {
	f := &fakeAgentFile{busy: 1}
	long := strings.Repeat("x", 10<<10) // longer than tail's first window
	f.append("one\ntwo\n" + long + "\nthree\n")
	srv := httptest.NewServer(f)
	defer srv.Close()
	c, err := (&opFlags{master: "127.0.0.1:1", principal: "ops", secret: "s3cret", timeout: 5 * time.Second}).client()
	if err != nil {
		t.Fatal(err)
	}
	sb := &sandboxFile{c: c, agent: srv.URL, path: "/sandbox/stdout"}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var out bytes.Buffer
	off, err := sb.tail(ctx, &out, 3)
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	whole := string(f.data)
	f.mu.Unlock()
	if want := "two\n" + long + "\nthree\n"; out.String() != want || off != int64(len(whole)) {
		t.Fatalf("tail -n 3: %d bytes to offset %d, want %d bytes", out.Len(), off, len(want))
	}
	out.Reset()
	if _, err := sb.tail(ctx, &out, 0); err != nil || out.Len() != 0 {
		t.Fatalf("tail -n 0: %q %v", out.String(), err)
	}
	out.Reset()
	if _, err := sb.copy(ctx, &out, 0, -1); err != nil || out.String() != whole {
		t.Fatalf("cat: %v", err)
	}

	fctx, fcancel := context.WithCancel(ctx)
	var followed syncWriter
	done := make(chan error, 1)
	go func() { done <- sb.follow(fctx, &followed, off) }()
	f.append("four\n")
	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for followed.String() != "four\n" {
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("follow printed %q, want the appended line", followed.String())
		}
	}
	// A truncated file is followed from its start again.
	f.mu.Lock()
	f.data = []byte("new\n")
	f.mu.Unlock()
	for followed.String() != "four\nnew\n" {
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("after truncation follow printed %q", followed.String())
		}
	}
	fcancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("follow ended with %v", err)
	}
}

// stubMaster answers each call type with a canned response.
type stubMaster map[masterpb.Call_Type]*masterpb.Response

func (s stubMaster) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	call := &masterpb.Call{}
	if err := codec.JSON.Unmarshal(body, call); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	resp, ok := s[call.GetType()]
	if !ok {
		http.Error(w, call.GetType().String()+" is not implemented by the stub", http.StatusNotImplemented)
		return
	}
	data, _ := codec.JSON.Marshal(resp)
	w.Write(data)
}

func testStubMaster() stubMaster {
	fw := func(id, name string) *masterpb.Response_GetFrameworks_Framework {
		return &masterpb.Response_GetFrameworks_Framework{
			FrameworkInfo: &mesospb.FrameworkInfo{Id: &mesospb.FrameworkID{Value: proto.String(id)}, Name: proto.String(name),
				User: proto.String("alice"), Roles: []string{"web", "batch"}},
			Active: proto.Bool(true), Connected: proto.Bool(true), Recovered: proto.Bool(false),
			AllocatedResources: resources.MustParse("cpus:0.5;mem:64").ToProto("", false),
		}
	}
	task := func(id string, state mesospb.TaskState) *mesospb.Task {
		return &mesospb.Task{Name: proto.String(id), TaskId: &mesospb.TaskID{Value: proto.String(id)},
			FrameworkId: &mesospb.FrameworkID{Value: proto.String("F1")}, AgentId: &mesospb.AgentID{Value: proto.String("S1")},
			State: state.Enum(), Resources: resources.MustParse("cpus:0.25;mem:32").ToProto("", false)}
	}
	return stubMaster{
		masterpb.Call_GET_AGENTS: {Type: masterpb.Response_GET_AGENTS.Enum(), GetAgents: &masterpb.Response_GetAgents{
			Agents: []*masterpb.Response_GetAgents_Agent{{AgentInfo: &mesospb.AgentInfo{Hostname: proto.String("node-1"),
				Id: &mesospb.AgentID{Value: proto.String("S1")}}, Active: proto.Bool(true), Version: proto.String("1")}}}},
		masterpb.Call_GET_FRAMEWORKS: {Type: masterpb.Response_GET_FRAMEWORKS.Enum(), GetFrameworks: &masterpb.Response_GetFrameworks{
			Frameworks: []*masterpb.Response_GetFrameworks_Framework{fw("F1", "spark")}, CompletedFrameworks: []*masterpb.Response_GetFrameworks_Framework{fw("F0", "old")}}},
		masterpb.Call_GET_TASKS: {Type: masterpb.Response_GET_TASKS.Enum(), GetTasks: &masterpb.Response_GetTasks{
			Tasks:          []*mesospb.Task{task("t-run", mesospb.TaskState_TASK_RUNNING), task("t-stage", mesospb.TaskState_TASK_STAGING)},
			CompletedTasks: []*mesospb.Task{task("t-done", mesospb.TaskState_TASK_FINISHED)}}},
	}
}

// The tables: tasks name their agent's host, frameworks count their live
// tasks and show their roles; --all adds the completed ones.
func TestOperatorTables(t *testing.T) {
	srv := httptest.NewServer(testStubMaster())
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, tc := range []struct {
		args []string
		want []string // a substring of each line, header first
	}{
		{[]string{"tasks"}, []string{"ID  ", "t-run  ", "t-stage  "}},
		{[]string{"tasks", "-a"}, []string{"HOST", "node-1", "TASK_STAGING", "t-done"}},
		{[]string{"frameworks"}, []string{"TASKS", "F1  spark  alice  web,batch  active  2      0.5   64   0"}},
		{[]string{"frameworks", "--all"}, []string{"ROLES", "spark", "completed"}},
	} {
		out, err := runCLI(t, ctx, append(tc.args, "--master", srv.URL)...)
		got := strings.Split(strings.TrimSpace(out), "\n")
		if err != nil || len(got) != len(tc.want) {
			t.Errorf("meso %v: %v\n%s", tc.args, err, out)
			continue
		}
		for i, w := range tc.want {
			if !strings.Contains(got[i], w) {
				t.Errorf("meso %v: line %d is %q, want %q in it", tc.args, i, got[i], w)
			}
		}
	}
	// A refused call prints the master's message.
	_, err := runCLI(t, ctx, "drain", "S1", "--master", srv.URL)
	if !errors.Is(err, errRefused) || !strings.Contains(err.Error(), "DRAIN_AGENT is not implemented by the stub") {
		t.Errorf("drain: %v", err)
	}
}

// Shell completion offers the ids the master lists.
func TestOperatorCompletion(t *testing.T) {
	srv := httptest.NewServer(testStubMaster())
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for cmd, want := range map[string]string{"cat": "t-done", "tail": "t-run", "teardown": "F1", "drain": "S1"} {
		out, err := runCLI(t, ctx, "__complete", cmd, "--master", srv.URL, "")
		if err != nil || !strings.Contains(out, want+"\n") {
			t.Errorf("completing meso %s: %v\n%s", cmd, err, out)
		}
	}
	if out, err := runCLI(t, ctx, "completion", "bash"); err != nil || !strings.Contains(out, "bash completion") {
		t.Errorf("meso completion bash: %v", err)
	}
}
