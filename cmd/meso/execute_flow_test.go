package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/recordio"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/internal/resources"
)

// flowMaster is a scripted master for meso execute: it offers two offers
// (one too small), answers ACCEPT and KILL with scripted task states, and
// serves /master/state naming the flow agent.
type flowMaster struct {
	t         *testing.T
	agentAddr string
	offerURL  bool // put the agent's address in Offer.url
	onAccept  []mesospb.TaskState
	onKill    []mesospb.TaskState
	events    chan *schedulerpb.Event

	mu    sync.Mutex
	calls []*schedulerpb.Call // guarded by mu
}

func (m *flowMaster) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/master/state" {
		json.NewEncoder(w).Encode(map[string]any{"slaves": []map[string]any{{"id": "a1", "pid": "slave(1)@" + m.agentAddr}}})
		return
	}
	c, err := codec.ForContentType(r.Header.Get("Content-Type"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnsupportedMediaType)
		return
	}
	body, _ := io.ReadAll(r.Body)
	call := &schedulerpb.Call{}
	if err := c.Unmarshal(body, call); err != nil {
		m.t.Errorf("flow master: %v", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if call.GetType() == schedulerpb.Call_SUBSCRIBE {
		m.stream(w, r, c)
		return
	}
	if r.Header.Get("Mesos-Stream-Id") != "s-1" {
		m.t.Errorf("flow master: %s without the stream id", call.GetType())
	}
	m.mu.Lock()
	m.calls = append(m.calls, call)
	m.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
	switch call.GetType() {
	case schedulerpb.Call_ACCEPT:
		m.updates(m.onAccept)
	case schedulerpb.Call_KILL:
		m.updates(m.onKill)
	case schedulerpb.Call_TEARDOWN:
		close(m.events)
	}
}

func (m *flowMaster) updates(states []mesospb.TaskState) {
	for i, s := range states {
		st := &mesospb.TaskStatus{
			TaskId:  &mesospb.TaskID{Value: proto.String("hello")},
			State:   s.Enum(),
			Source:  mesospb.TaskStatus_SOURCE_EXECUTOR.Enum(),
			AgentId: &mesospb.AgentID{Value: proto.String("a1")},
			Uuid:    []byte("uuid-" + strconv.Itoa(i) + "-" + s.String()),
		}
		switch s {
		case mesospb.TaskState_TASK_FAILED:
			st.Message = proto.String("Command exited with status 3")
		case mesospb.TaskState_TASK_KILLED:
			st.Message = proto.String("Command terminated with signal Terminated")
		}
		m.events <- &schedulerpb.Event{Type: schedulerpb.Event_UPDATE.Enum(), Update: &schedulerpb.Event_Update{Status: st}}
	}
}

func (m *flowMaster) stream(w http.ResponseWriter, r *http.Request, c codec.Codec) {
	w.Header().Set("Content-Type", c.MediaType())
	w.Header().Set("Mesos-Stream-Id", "s-1")
	w.WriteHeader(http.StatusOK)
	rw := recordio.NewWriter(w)
	offer := func(id, spec string) *mesospb.Offer {
		o := &mesospb.Offer{
			Id:          &mesospb.OfferID{Value: proto.String(id)},
			FrameworkId: &mesospb.FrameworkID{Value: proto.String("fw-1")},
			AgentId:     &mesospb.AgentID{Value: proto.String("a1")},
			Hostname:    proto.String("localhost"),
			Resources:   resources.MustParse(spec).ToProto("", false),
		}
		if m.offerURL {
			host, port, _ := net.SplitHostPort(m.agentAddr)
			p, _ := strconv.Atoi(port)
			o.Url = &mesospb.URL{Scheme: proto.String("http"), Address: &mesospb.Address{Ip: proto.String(host), Port: proto.Int32(int32(p))}}
		}
		return o
	}
	first := []*schedulerpb.Event{
		{Type: schedulerpb.Event_SUBSCRIBED.Enum(), Subscribed: &schedulerpb.Event_Subscribed{
			FrameworkId: &mesospb.FrameworkID{Value: proto.String("fw-1")}, HeartbeatIntervalSeconds: proto.Float64(15)}},
		{Type: schedulerpb.Event_OFFERS.Enum(), Offers: &schedulerpb.Event_Offers{Offers: []*mesospb.Offer{
			offer("o-small", "cpus:0.05;mem:1024"), offer("o-big", "cpus:2;mem:256;ports:[31000-32000]"),
		}}},
	}
	for _, ev := range first {
		if rw.WriteMessage(c, ev) != nil {
			return
		}
	}
	for {
		select {
		case ev, ok := <-m.events:
			if !ok {
				return
			}
			if rw.WriteMessage(c, ev) != nil {
				return
			}
		case <-r.Context().Done():
			return
		}
	}
}

func (m *flowMaster) callsOf(typ schedulerpb.Call_Type) []*schedulerpb.Call {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*schedulerpb.Call
	for _, c := range m.calls {
		if c.GetType() == typ {
			out = append(out, c)
		}
	}
	return out
}

// flowAgent serves /state and /files/read for the task's sandbox.
func flowAgent(t *testing.T) *httptest.Server {
	files := map[string]string{"/sandbox/hello/stdout": "hello\n", "/sandbox/hello/stderr": "oops"}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/state":
			json.NewEncoder(w).Encode(map[string]any{"frameworks": []map[string]any{{
				"id":                  "fw-1",
				"completed_executors": []map[string]any{{"id": "hello", "directory": "/sandbox/hello"}},
			}}})
		case "/files/read":
			data, ok := files[r.URL.Query().Get("path")]
			if !ok {
				http.NotFound(w, r)
				return
			}
			off, _ := strconv.Atoi(r.URL.Query().Get("offset"))
			json.NewEncoder(w).Encode(map[string]any{"data": data[min(off, len(data)):], "offset": off})
		default:
			t.Errorf("flow agent: unexpected %s", r.URL)
			http.NotFound(w, r)
		}
	}))
}

func runFlow(t *testing.T, m *flowMaster, extra ...string) (int, string, string) {
	t.Helper()
	agent := flowAgent(t)
	defer agent.Close()
	m.t, m.agentAddr, m.events = t, agent.Listener.Addr().String(), make(chan *schedulerpb.Event, 16)
	master := httptest.NewServer(m)
	defer master.Close()

	f := &executeFlags{}
	cmd := newExecuteCmdWith(f)
	args := append([]string{"--master", master.Listener.Addr().String(), "--name", "hello",
		"--command", "echo hello; exit 3", "--resources", "cpus:0.1;mem:32"}, extra...)
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code, err := runExecute(ctx, f, &stdout, &stderr)
	if err != nil {
		t.Fatalf("runExecute: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	return code, stdout.String(), stderr.String()
}

// TestExecuteFlow drives meso execute against a scripted master and agent:
// decline the offer that does not fit, launch on the one that does, print
// and acknowledge every update, print the sandbox, tear down, and exit with
// the task's status.
func TestExecuteFlow(t *testing.T) {
	for _, viaURL := range []bool{false, true} {
		t.Run("offer_url="+strconv.FormatBool(viaURL), func(t *testing.T) {
			m := &flowMaster{offerURL: viaURL, onAccept: []mesospb.TaskState{
				mesospb.TaskState_TASK_STARTING, mesospb.TaskState_TASK_RUNNING, mesospb.TaskState_TASK_FAILED,
			}}
			code, stdout, stderr := runFlow(t, m)
			if code != 3 {
				t.Errorf("exit code %d, want 3", code)
			}
			wantOut := `Subscribed with ID fw-1
Submitted task 'hello' to agent 'a1'
Received status update TASK_STARTING for task 'hello'
  source: SOURCE_EXECUTOR
Received status update TASK_RUNNING for task 'hello'
  source: SOURCE_EXECUTOR
Received status update TASK_FAILED for task 'hello'
  message: 'Command exited with status 3'
  source: SOURCE_EXECUTOR
==> stdout of task 'hello' <==
hello
`
			if stdout != wantOut {
				t.Errorf("stdout:\n%s\nwant:\n%s", stdout, wantOut)
			}
			if stderr != "==> stderr of task 'hello' <==\noops\n" {
				t.Errorf("stderr:\n%s", stderr)
			}
			dec := m.callsOf(schedulerpb.Call_DECLINE)
			if len(dec) != 1 || dec[0].GetDecline().GetOfferIds()[0].GetValue() != "o-small" ||
				dec[0].GetDecline().GetFilters().GetRefuseSeconds() > 5 {
				t.Errorf("DECLINE calls = %v, want one short decline of o-small", dec)
			}
			acc := m.callsOf(schedulerpb.Call_ACCEPT)
			if len(acc) != 1 || acc[0].GetAccept().GetOfferIds()[0].GetValue() != "o-big" {
				t.Fatalf("ACCEPT calls = %v", acc)
			}
			task := acc[0].GetAccept().GetOperations()[0].GetLaunch().GetTaskInfos()[0]
			res, _ := resources.FromProto(task.GetResources())
			if task.GetAgentId().GetValue() != "a1" || !res.Equal(resources.MustParse("cpus:0.1;mem:32")) {
				t.Errorf("launched task = %v", task)
			}
			if acks := m.callsOf(schedulerpb.Call_ACKNOWLEDGE); len(acks) != 3 {
				t.Errorf("%d ACKNOWLEDGE calls, want 3", len(acks))
			}
			if len(m.callsOf(schedulerpb.Call_TEARDOWN)) != 1 {
				t.Errorf("no TEARDOWN")
			}
		})
	}
}

// TestExecuteKillAfter: --kill_after kills the running task; TASK_KILLED
// by SIGTERM exits 143.
func TestExecuteKillAfter(t *testing.T) {
	m := &flowMaster{
		onAccept: []mesospb.TaskState{mesospb.TaskState_TASK_STARTING, mesospb.TaskState_TASK_RUNNING},
		onKill:   []mesospb.TaskState{mesospb.TaskState_TASK_KILLING, mesospb.TaskState_TASK_KILLED},
	}
	code, stdout, _ := runFlow(t, m, "--kill_after", "10ms", "--content_type", "json")
	if code != 143 {
		t.Errorf("exit code %d, want 143", code)
	}
	if !strings.Contains(stdout, "Asked to kill task 'hello' on agent 'a1'\n") ||
		!strings.Contains(stdout, "Received status update TASK_KILLED for task 'hello'") {
		t.Errorf("stdout:\n%s", stdout)
	}
	if kills := m.callsOf(schedulerpb.Call_KILL); len(kills) != 1 || kills[0].GetKill().GetAgentId().GetValue() != "a1" {
		t.Errorf("KILL calls = %v", kills)
	}
}
