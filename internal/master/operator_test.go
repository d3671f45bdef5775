package master

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/masterpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/internal/master/core"
	"google.golang.org/protobuf/proto"
)

// operatorCall posts an operator call and returns the status, the
// Content-Type and the body.
func operatorCall(t *testing.T, base string, c codec.Codec, call *masterpb.Call) (int, string, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/api/v1", strings.NewReader(string(encode(t, c, call))))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", c.MediaType())
	req.Header.Set("Accept", c.MediaType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), b
}

// query makes a call that must answer 200 with a Response of the codec
// (which checks required fields) and the matching type.
func query(t *testing.T, base string, c codec.Codec, typ masterpb.Call_Type) *masterpb.Response {
	t.Helper()
	status, ctype, body := operatorCall(t, base, c, &masterpb.Call{Type: typ.Enum()})
	if status != http.StatusOK || ctype != c.MediaType() {
		t.Fatalf("%s: %d %q %s", typ, status, ctype, body)
	}
	resp := &masterpb.Response{}
	if err := c.Unmarshal(body, resp); err != nil {
		t.Fatalf("%s: response does not decode: %v", typ, err)
	}
	if want := masterpb.Response_Type_value[typ.String()]; int32(resp.GetType()) != want {
		t.Fatalf("%s: response type %s", typ, resp.GetType())
	}
	return resp
}

// cluster is a master with one fake agent and one framework running task
// t1 (TASK_RUNNING).
type cluster struct {
	base   string
	agent  *fakeAgent
	fw     *framework
	offers []*mesospb.Offer // received while waiting for something else
}

// next returns the framework's next event of type typ, keeping offers
// that come first for later launches.
func (cl *cluster) next(t *testing.T, typ schedulerpb.Event_Type) *schedulerpb.Event {
	t.Helper()
	for {
		ev := cl.fw.events.next()
		switch ev.GetType() {
		case typ:
			return ev
		case schedulerpb.Event_HEARTBEAT, schedulerpb.Event_UPDATE, schedulerpb.Event_RESCIND:
			// updates the test does not wait for (it sent them itself)
		case schedulerpb.Event_OFFERS:
			cl.offers = append(cl.offers, ev.GetOffers().GetOffers()...)
		default:
			t.Fatalf("want %s, got %v", typ, ev)
		}
	}
}

func startCluster(t *testing.T, c codec.Codec, mutate ...func(*Config)) *cluster {
	t.Helper()
	_, base := startMaster(t, append([]func(*Config){func(cfg *Config) { cfg.AllocationInterval = 5 * time.Millisecond }}, mutate...)...)
	cl := &cluster{base: base, agent: registerAgent(t, base, c, "host1", "cpus:4;mem:1024;ports:[31000-31005]")}
	cl.fw = subscribe(t, base, c, fwInfo("web"))
	return cl
}

// launch starts a task on the next offer and reports it RUNNING.
func (cl *cluster) launch(t *testing.T, id string) {
	t.Helper()
	if len(cl.offers) == 0 {
		cl.offers = cl.next(t, schedulerpb.Event_OFFERS).GetOffers().GetOffers()
	}
	offer := cl.offers[0]
	cl.offers = cl.offers[1:]
	task := &mesospb.TaskInfo{
		Name: proto.String(id), TaskId: &mesospb.TaskID{Value: proto.String(id)}, AgentId: offer.GetAgentId(),
		Resources: []*mesospb.Resource{offer.GetResources()[0]},
		Command:   &mesospb.CommandInfo{Value: proto.String("sleep 1")},
	}
	task.Resources[0].Scalar = &mesospb.Value_Scalar{Value: proto.Float64(0.1)}
	cl.fw.mustCall(&schedulerpb.Call{Type: schedulerpb.Call_ACCEPT.Enum(), Accept: &schedulerpb.Call_Accept{
		OfferIds: []*mesospb.OfferID{offer.GetId()},
		Operations: []*mesospb.Offer_Operation{{Type: mesospb.Offer_Operation_LAUNCH.Enum(),
			Launch: &mesospb.Offer_Operation_Launch{TaskInfos: []*mesospb.TaskInfo{task}}}},
		Filters: &mesospb.Filters{RefuseSeconds: proto.Float64(0)},
	}})
	cl.agent.nextOf(linkpb.MasterEvent_RUN_TASK)
	cl.update(t, id, mesospb.TaskState_TASK_RUNNING, "")
	cl.next(t, schedulerpb.Event_UPDATE)
}

// update sends a status update of a task from the agent (no uuid: nothing
// to acknowledge).
func (cl *cluster) update(t *testing.T, id string, s mesospb.TaskState, msg string) {
	t.Helper()
	status, body := cl.agent.send(&linkpb.AgentCall{Type: linkpb.AgentCall_STATUS_UPDATE.Enum(),
		StatusUpdate: &linkpb.AgentCall_StatusUpdate{FrameworkId: &mesospb.FrameworkID{Value: proto.String(cl.fw.id)},
			Status: &mesospb.TaskStatus{TaskId: &mesospb.TaskID{Value: proto.String(id)}, State: s.Enum(),
				Source: mesospb.TaskStatus_SOURCE_EXECUTOR.Enum(), AgentId: &mesospb.AgentID{Value: proto.String(cl.agent.id)},
				Timestamp: proto.Float64(1), Message: proto.String(msg)}}})
	if status != http.StatusAccepted {
		t.Fatalf("status update: %d %s", status, body)
	}
}

// Every implemented call, both codecs: 200, the codec's Content-Type, a
// Response that decodes (required fields present) with the call's data.
func TestOperatorCalls(t *testing.T) {
	for _, c := range codecs {
		t.Run(c.MediaType(), func(t *testing.T) {
			cl := startCluster(t, c, func(cfg *Config) { cfg.Flags = map[string]string{"work_dir": "/m", "port": "5050"} })
			cl.launch(t, "t1")
			base := cl.base

			if !query(t, base, c, masterpb.Call_GET_HEALTH).GetGetHealth().GetHealthy() {
				t.Error("GET_HEALTH: not healthy")
			}
			if f := query(t, base, c, masterpb.Call_GET_FLAGS).GetGetFlags().GetFlags(); len(f) != 2 || f[0].GetName() != "port" ||
				f[1].GetValue() != "/m" {
				t.Errorf("GET_FLAGS: %v", f)
			}
			if v := query(t, base, c, masterpb.Call_GET_VERSION).GetGetVersion().GetVersionInfo().GetVersion(); v != "test" {
				t.Errorf("GET_VERSION: %q", v)
			}
			metrics := map[string]float64{}
			for _, m := range query(t, base, c, masterpb.Call_GET_METRICS).GetGetMetrics().GetMetrics() {
				metrics[m.GetName()] = m.GetValue()
			}
			if metrics["master/tasks_running"] != 1 || metrics["master/slaves_active"] != 1 {
				t.Errorf("GET_METRICS: %v", metrics)
			}
			st := query(t, base, c, masterpb.Call_GET_STATE).GetGetState()
			if tasks := st.GetGetTasks().GetTasks(); len(tasks) != 1 || tasks[0].GetState() != mesospb.TaskState_TASK_RUNNING ||
				len(st.GetGetAgents().GetAgents()) != 1 || len(st.GetGetFrameworks().GetFrameworks()) != 1 {
				t.Errorf("GET_STATE: %v", st)
			}
			if a := query(t, base, c, masterpb.Call_GET_AGENTS).GetGetAgents().GetAgents(); len(a) != 1 ||
				a[0].GetAgentInfo().GetId().GetValue() != cl.agent.id || !a[0].GetActive() || len(a[0].GetAllocatedResources()) == 0 {
				t.Errorf("GET_AGENTS: %v", a)
			}
			if f := query(t, base, c, masterpb.Call_GET_FRAMEWORKS).GetGetFrameworks().GetFrameworks(); len(f) != 1 ||
				f[0].GetFrameworkInfo().GetId().GetValue() != cl.fw.id || !f[0].GetConnected() {
				t.Errorf("GET_FRAMEWORKS: %v", f)
			}
			if e := query(t, base, c, masterpb.Call_GET_EXECUTORS).GetGetExecutors(); len(e.GetExecutors()) != 0 {
				t.Errorf("GET_EXECUTORS (command tasks have none): %v", e)
			}
			if tk := query(t, base, c, masterpb.Call_GET_TASKS).GetGetTasks().GetTasks(); len(tk) != 1 || tk[0].GetTaskId().GetValue() != "t1" {
				t.Errorf("GET_TASKS: %v", tk)
			}
			if r := query(t, base, c, masterpb.Call_GET_ROLES).GetGetRoles().GetRoles(); len(r) != 1 || r[0].GetName() != "*" ||
				r[0].GetWeight() != 1 || len(r[0].GetFrameworks()) != 1 {
				t.Errorf("GET_ROLES: %v", r)
			}
			if w := query(t, base, c, masterpb.Call_GET_WEIGHTS).GetGetWeights().GetWeightInfos(); len(w) != 0 {
				t.Errorf("GET_WEIGHTS before UPDATE_WEIGHTS: %v", w)
			}
			status, _, body := operatorCall(t, base, c, &masterpb.Call{Type: masterpb.Call_UPDATE_WEIGHTS.Enum(),
				UpdateWeights: &masterpb.Call_UpdateWeights{WeightInfos: []*mesospb.WeightInfo{{Weight: proto.Float64(2.5), Role: proto.String("web")}}}})
			if status != http.StatusOK {
				t.Fatalf("UPDATE_WEIGHTS: %d %s", status, body)
			}
			if w := query(t, base, c, masterpb.Call_GET_WEIGHTS).GetGetWeights().GetWeightInfos(); len(w) != 1 || w[0].GetRole() != "web" ||
				w[0].GetWeight() != 2.5 {
				t.Errorf("GET_WEIGHTS: %v", w)
			}
			if r := query(t, base, c, masterpb.Call_GET_ROLES).GetGetRoles().GetRoles(); len(r) != 2 || r[1].GetName() != "web" || r[1].GetWeight() != 2.5 {
				t.Errorf("GET_ROLES with a weighted role: %v", r)
			}
			if m := query(t, base, c, masterpb.Call_GET_MASTER).GetGetMaster(); m.GetMasterInfo().GetId() == "" || m.GetStartTime() == 0 {
				t.Errorf("GET_MASTER: %v", m)
			}
			if ops := query(t, base, c, masterpb.Call_GET_OPERATIONS).GetGetOperations(); len(ops.GetOperations()) != 0 {
				t.Errorf("GET_OPERATIONS: %v", ops)
			}

			if lvl := query(t, base, c, masterpb.Call_GET_LOGGING_LEVEL).GetGetLoggingLevel().GetLevel(); lvl != 0 {
				t.Errorf("GET_LOGGING_LEVEL: %d", lvl)
			}
			status, _, body = operatorCall(t, base, c, &masterpb.Call{Type: masterpb.Call_SET_LOGGING_LEVEL.Enum(),
				SetLoggingLevel: &masterpb.Call_SetLoggingLevel{Level: proto.Uint32(2),
					Duration: &mesospb.DurationInfo{Nanoseconds: proto.Int64(int64(time.Hour))}}})
			if status != http.StatusOK {
				t.Fatalf("SET_LOGGING_LEVEL: %d %s", status, body)
			}
			if lvl := query(t, base, c, masterpb.Call_GET_LOGGING_LEVEL).GetGetLoggingLevel().GetLevel(); lvl != 2 {
				t.Errorf("GET_LOGGING_LEVEL after SET: %d", lvl)
			}

			status, _, body = operatorCall(t, base, c, &masterpb.Call{Type: masterpb.Call_TEARDOWN.Enum(),
				Teardown: &masterpb.Call_Teardown{FrameworkId: &mesospb.FrameworkID{Value: proto.String(cl.fw.id)}}})
			if status != http.StatusOK {
				t.Fatalf("TEARDOWN: %d %s", status, body)
			}
			if ev := cl.agent.nextOf(linkpb.MasterEvent_SHUTDOWN_FRAMEWORK); ev.GetShutdownFramework().GetFrameworkId().GetValue() != cl.fw.id {
				t.Errorf("SHUTDOWN_FRAMEWORK: %v", ev)
			}
			if err := cl.fw.events.ended(); err == nil {
				t.Error("the framework's stream did not end")
			}
			fws := query(t, base, c, masterpb.Call_GET_FRAMEWORKS).GetGetFrameworks()
			if len(fws.GetFrameworks()) != 0 || len(fws.GetCompletedFrameworks()) != 1 {
				t.Errorf("GET_FRAMEWORKS after TEARDOWN: %v", fws)
			}

			agentID := &mesospb.AgentID{Value: proto.String(cl.agent.id)}
			for _, step := range []struct {
				call   *masterpb.Call
				active bool
			}{
				{&masterpb.Call{Type: masterpb.Call_DEACTIVATE_AGENT.Enum(), DeactivateAgent: &masterpb.Call_DeactivateAgent{AgentId: agentID}}, false},
				{&masterpb.Call{Type: masterpb.Call_REACTIVATE_AGENT.Enum(), ReactivateAgent: &masterpb.Call_ReactivateAgent{AgentId: agentID}}, true},
			} {
				if status, _, body = operatorCall(t, base, c, step.call); status != http.StatusOK {
					t.Fatalf("%s: %d %s", step.call.GetType(), status, body)
				}
				if a := query(t, base, c, masterpb.Call_GET_AGENTS).GetGetAgents().GetAgents(); len(a) != 1 || a[0].GetActive() != step.active {
					t.Errorf("GET_AGENTS after %s: %v", step.call.GetType(), a)
				}
			}
			unknown := &masterpb.Call{Type: masterpb.Call_DEACTIVATE_AGENT.Enum(), DeactivateAgent: &masterpb.Call_DeactivateAgent{
				AgentId: &mesospb.AgentID{Value: proto.String("nope")}}}
			if status, _, body = operatorCall(t, base, c, unknown); status != http.StatusNotFound {
				t.Errorf("DEACTIVATE_AGENT of an unknown agent: %d %s", status, body)
			}

			gone := &masterpb.Call{Type: masterpb.Call_MARK_AGENT_GONE.Enum(),
				MarkAgentGone: &masterpb.Call_MarkAgentGone{AgentId: &mesospb.AgentID{Value: proto.String(cl.agent.id)}}}
			if status, _, body = operatorCall(t, base, c, gone); status != http.StatusOK {
				t.Fatalf("MARK_AGENT_GONE: %d %s", status, body)
			}
			cl.agent.nextOf(linkpb.MasterEvent_SHUTDOWN_AGENT)
			if a := query(t, base, c, masterpb.Call_GET_AGENTS).GetGetAgents().GetAgents(); len(a) != 0 {
				t.Errorf("GET_AGENTS after MARK_AGENT_GONE: %v", a)
			}
			if status, _, body = operatorCall(t, base, c, gone); status != http.StatusNotFound {
				t.Errorf("MARK_AGENT_GONE of a gone agent: %d %s", status, body)
			}
		})
	}
}

// Calls meso does not implement answer 501 with a message naming the call;
// malformed calls 400 with a message; the master keeps serving.
func TestOperatorBadAndUnimplementedCalls(t *testing.T) {
	for _, c := range codecs {
		t.Run(c.MediaType(), func(t *testing.T) {
			_, base := startMaster(t)
			for typ := range notBuilt {
				status, _, body := operatorCall(t, base, c, &masterpb.Call{Type: typ.Enum()})
				if status != http.StatusNotImplemented || !strings.Contains(string(body), typ.String()) {
					t.Errorf("%s: %d %s", typ, status, body)
				}
			}
			for name, call := range map[string]*masterpb.Call{
				"no type":                   {},
				"UNKNOWN":                   {Type: masterpb.Call_UNKNOWN.Enum()},
				"SET_LOGGING_LEVEL no body": {Type: masterpb.Call_SET_LOGGING_LEVEL.Enum()},
				"TEARDOWN no body":          {Type: masterpb.Call_TEARDOWN.Enum()},
				"UPDATE_WEIGHTS no body":    {Type: masterpb.Call_UPDATE_WEIGHTS.Enum()},
				"MARK_AGENT_GONE no body":   {Type: masterpb.Call_MARK_AGENT_GONE.Enum()},
				"DEACTIVATE_AGENT no body":  {Type: masterpb.Call_DEACTIVATE_AGENT.Enum()},
				"REACTIVATE_AGENT no body":  {Type: masterpb.Call_REACTIVATE_AGENT.Enum()},
				"UPDATE_WEIGHTS zero weight": {Type: masterpb.Call_UPDATE_WEIGHTS.Enum(), UpdateWeights: &masterpb.Call_UpdateWeights{
					WeightInfos: []*mesospb.WeightInfo{{Weight: proto.Float64(0), Role: proto.String("web")}}}},
				"UPDATE_WEIGHTS bad role": {Type: masterpb.Call_UPDATE_WEIGHTS.Enum(), UpdateWeights: &masterpb.Call_UpdateWeights{
					WeightInfos: []*mesospb.WeightInfo{{Weight: proto.Float64(1), Role: proto.String("a b")}}}},
				"TEARDOWN unknown framework": {Type: masterpb.Call_TEARDOWN.Enum(), Teardown: &masterpb.Call_Teardown{FrameworkId: &mesospb.FrameworkID{Value: proto.String("nope")}}},
				"SET_LOGGING_LEVEL zero duration": {Type: masterpb.Call_SET_LOGGING_LEVEL.Enum(), SetLoggingLevel: &masterpb.Call_SetLoggingLevel{
					Level: proto.Uint32(1), Duration: &mesospb.DurationInfo{Nanoseconds: proto.Int64(0)}}},
			} {
				status, _, body := operatorCall(t, base, c, call)
				if status != http.StatusBadRequest || len(strings.TrimSpace(string(body))) == 0 {
					t.Errorf("%s: %d %q", name, status, body)
				}
			}
			for name, body := range map[string]string{
				"malformed":        "\x0a\xff\xff",
				"missing required": "",
			} {
				raw := body
				if c == codec.JSON {
					raw = map[string]string{"malformed": `{"type":`, "missing required": `{"type":"SET_LOGGING_LEVEL","set_logging_level":{"level":1}}`}[name]
				} else if name == "missing required" {
					raw = string(encodeWithoutRequired(t))
				}
				resp, text := post(t, base+"/api/v1", []byte(raw), map[string]string{"Content-Type": c.MediaType()})
				if resp.StatusCode != http.StatusBadRequest || !strings.Contains(text, "Failed to parse") {
					t.Errorf("%s: %d %q", name, resp.StatusCode, text)
				}
			}
			if !query(t, base, c, masterpb.Call_GET_HEALTH).GetGetHealth().GetHealthy() {
				t.Error("the master stopped serving")
			}
		})
	}
}

// encodeWithoutRequired is a protobuf SET_LOGGING_LEVEL whose payload lacks
// the required duration.
func encodeWithoutRequired(t *testing.T) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{AllowPartial: true}.Marshal(&masterpb.Call{Type: masterpb.Call_SET_LOGGING_LEVEL.Enum(),
		SetLoggingLevel: &masterpb.Call_SetLoggingLevel{Level: proto.Uint32(1)}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// operatorSubscribe opens an operator SUBSCRIBE stream and returns it
// after checking the response and the first event.
func operatorSubscribe(t *testing.T, base string, c codec.Codec) (*eventStream[*masterpb.Event], *masterpb.Event) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/api/v1",
		strings.NewReader(string(encode(t, c, &masterpb.Call{Type: masterpb.Call_SUBSCRIBE.Enum()}))))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", c.MediaType())
	req.Header.Set("Accept", c.MediaType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != c.MediaType() || resp.ContentLength != -1 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("SUBSCRIBE: %s %q (length %d): %s", resp.Status, resp.Header.Get("Content-Type"), resp.ContentLength, b)
	}
	s := newEventStream(t, resp, c, func() *masterpb.Event { return &masterpb.Event{} },
		func(e *masterpb.Event) bool { return e.GetType() != masterpb.Event_HEARTBEAT })
	first := s.next()
	if first.GetType() != masterpb.Event_SUBSCRIBED || first.GetSubscribed().GetHeartbeatIntervalSeconds() <= 0 ||
		first.GetSubscribed().GetGetState() == nil {
		t.Fatalf("first event: %v", first)
	}
	return s, first
}

// replica applies an operator stream to its SUBSCRIBED snapshot.
type replica struct {
	tasks  map[string]mesospb.TaskState
	agents map[string]bool
	fws    map[string]bool
}

func newReplica(gs *masterpb.Response_GetState) *replica {
	r := &replica{tasks: map[string]mesospb.TaskState{}, agents: map[string]bool{}, fws: map[string]bool{}}
	tk := gs.GetGetTasks()
	for _, list := range [][]*mesospb.Task{tk.GetTasks(), tk.GetUnreachableTasks(), tk.GetCompletedTasks()} {
		for _, task := range list {
			r.tasks[task.GetTaskId().GetValue()] = task.GetState()
		}
	}
	for _, a := range gs.GetGetAgents().GetAgents() {
		r.agents[a.GetAgentInfo().GetId().GetValue()] = true
	}
	for _, f := range gs.GetGetFrameworks().GetFrameworks() {
		r.fws[f.GetFrameworkInfo().GetId().GetValue()] = true
	}
	return r
}

// apply applies e; it returns what is wrong with e, or "".
func (r *replica) apply(e *masterpb.Event) string {
	switch e.GetType() {
	case masterpb.Event_TASK_ADDED:
		r.tasks[e.GetTaskAdded().GetTask().GetTaskId().GetValue()] = e.GetTaskAdded().GetTask().GetState()
	case masterpb.Event_TASK_UPDATED:
		id := e.GetTaskUpdated().GetStatus().GetTaskId().GetValue()
		if _, ok := r.tasks[id]; !ok {
			return fmt.Sprintf("TASK_UPDATED before TASK_ADDED: %v", e)
		}
		r.tasks[id] = e.GetTaskUpdated().GetState()
	case masterpb.Event_AGENT_ADDED:
		r.agents[e.GetAgentAdded().GetAgent().GetAgentInfo().GetId().GetValue()] = true
	case masterpb.Event_AGENT_REMOVED:
		delete(r.agents, e.GetAgentRemoved().GetAgentId().GetValue())
	case masterpb.Event_FRAMEWORK_ADDED:
		r.fws[e.GetFrameworkAdded().GetFramework().GetFrameworkInfo().GetId().GetValue()] = true
	case masterpb.Event_FRAMEWORK_REMOVED:
		delete(r.fws, e.GetFrameworkRemoved().GetFrameworkInfo().GetId().GetValue())
	}
	return ""
}

func (r *replica) equal(o *replica) bool {
	return fmt.Sprint(r.tasks) == fmt.Sprint(o.tasks) && fmt.Sprint(r.agents) == fmt.Sprint(o.agents) &&
		fmt.Sprint(r.fws) == fmt.Sprint(o.fws)
}

// While tasks launch and finish (a task launched between each pair of
// calls, updates from the agent concurrently), a subscriber that applies
// the stream to SUBSCRIBED ends up equal to a later GET_STATE; it saw
// TASK_ADDED and TASK_UPDATED for each task.
func TestOperatorSubscribeConsistentUnderLoad(t *testing.T) {
	for _, c := range codecs {
		t.Run(c.MediaType(), func(t *testing.T) {
			cl := startCluster(t, c)
			cl.launch(t, "before")
			stream, first := operatorSubscribe(t, cl.base, c)
			rep := newReplica(first.GetSubscribed().GetGetState())
			if rep.tasks["before"] != mesospb.TaskState_TASK_RUNNING {
				t.Fatalf("snapshot lacks the running task: %v", rep.tasks)
			}
			added, updated := map[string]bool{}, map[string]int{}
			const n = 30
			done := make(chan struct{})
			go func() {
				defer close(done)
				for e := range stream.events {
					if msg := rep.apply(e); msg != "" {
						t.Error(msg)
						return
					}
					switch e.GetType() {
					case masterpb.Event_TASK_ADDED:
						added[e.GetTaskAdded().GetTask().GetTaskId().GetValue()] = true
					case masterpb.Event_TASK_UPDATED:
						updated[e.GetTaskUpdated().GetStatus().GetTaskId().GetValue()]++
					}
					if len(added) == n && updated[fmt.Sprintf("t%d", n-1)] == 2 {
						return
					}
				}
			}()
			for i := range n {
				id := fmt.Sprintf("t%d", i)
				cl.launch(t, id)
				if i%3 != 2 {
					cl.update(t, id, mesospb.TaskState_TASK_FINISHED, "done")
				}
			}
			cl.update(t, fmt.Sprintf("t%d", n-1), mesospb.TaskState_TASK_FINISHED, "done") // the last one, left running above
			select {
			case <-done:
			case <-time.After(waitFor):
				t.Fatalf("the stream did not deliver every task: added %d, updated %v", len(added), updated)
			}
			want := newReplica(query(t, cl.base, c, masterpb.Call_GET_STATE).GetGetState())
			if !rep.equal(want) {
				t.Fatalf("stream replica\n%v\nGET_STATE\n%v", rep.tasks, want.tasks)
			}
			for i := range n {
				if id := fmt.Sprintf("t%d", i); !added[id] || updated[id] == 0 {
					t.Errorf("task %s: added %v, updated %d times", id, added[id], updated[id])
				}
			}
		})
	}
}

// A subscriber that does not read is disconnected once its bounded queue
// overflows; the framework's calls and events go on meanwhile.
func TestOperatorSlowSubscriberDisconnected(t *testing.T) {
	c := codec.JSON
	logs := &lockedBuffer{}
	cl := startCluster(t, c, func(cfg *Config) {
		cfg.MaxOperatorEvents = 16
		cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	cl.launch(t, "t1")

	// A raw connection with a tiny receive buffer that never reads.
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 2048) })
	}}
	conn, err := d.DialContext(context.Background(), "tcp", strings.TrimPrefix(cl.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"type":"SUBSCRIBE"}`
	fmt.Fprintf(conn, "POST /api/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	waitMetric(t, cl.base, "master/operator_subscribers", 1)

	big := strings.Repeat("x", 8<<10)
	for i := 0; ; i++ {
		cl.update(t, "t1", mesospb.TaskState_TASK_RUNNING, big) // each a TASK_UPDATED of ~8 KiB
		if metric(t, cl.base, "master/operator_subscribers") == 0 {
			break
		}
		if i > 2000 {
			t.Fatal("the slow subscriber was never disconnected")
		}
	}
	// The framework was served throughout: its stream still carries events.
	cl.update(t, "t1", mesospb.TaskState_TASK_FINISHED, "done")
	for {
		if ev := cl.next(t, schedulerpb.Event_UPDATE); ev.GetUpdate().GetStatus().GetState() == mesospb.TaskState_TASK_FINISHED {
			break
		}
	}
	// The handler was cut loose while the client still did not read.
	deadline := time.Now().Add(waitFor)
	for !strings.Contains(logs.String(), "operator subscriber disconnected") {
		if time.Now().After(deadline) {
			t.Fatalf("the stream's handler is still blocked on the slow client:\n%s", logs.String())
		}
		runtime.Gosched()
	}
	// The slow client's connection ends: after what was buffered, EOF or a
	// reset.
	_ = conn.SetReadDeadline(time.Now().Add(waitFor))
	if _, err := io.Copy(io.Discard, bufio.NewReader(conn)); err != nil && !isEOF(err) && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("slow connection: %v", err)
	}
}

func metric(t *testing.T, base, name string) float64 {
	t.Helper()
	var snap map[string]float64
	getJSON(t, base+"/metrics/snapshot", &snap)
	return snap[name]
}

func waitMetric(t *testing.T, base, name string, want float64) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for metric(t, base, name) != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s never became %v", name, want)
		}
		runtime.Gosched()
	}
}

// The loop routes a SUBSCRIBED to its subscriber only, broadcasts later
// events to subscribed streams only, and drops a subscriber (closing its
// outbox, telling the core) when its bounded outbox overflows.
func TestRouteOperatorEvents(t *testing.T) {
	c, err := core.New(core.Config{MasterInfo: &mesospb.MasterInfo{Id: proto.String("m"), Ip: proto.Uint32(0),
		Port: proto.Uint32(5050), Hostname: proto.String("h")}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	l := newLoop(c, slog.New(slog.DiscardHandler))
	early, late := newBoundedOutbox(3), newBoundedOutbox(3)
	l.pendingOperators["early"] = early
	if err := c.OperatorSubscribe("early"); err != nil {
		t.Fatal(err)
	}
	hb := &masterpb.Event{Type: masterpb.Event_HEARTBEAT.Enum()}
	r := c.Ready()
	r.Operator = append(r.Operator, core.OperatorEvent{Event: hb})
	l.pendingOperators["late"] = late
	if err := c.OperatorSubscribe("late"); err != nil {
		t.Fatal(err)
	}
	r.Operator = append(r.Operator, c.Ready().Operator...) // late's SUBSCRIBED after the broadcast
	l.route(r)
	if msgs, _ := early.take(); len(msgs) != 2 || msgs[0].(*masterpb.Event).GetType() != masterpb.Event_SUBSCRIBED {
		t.Fatalf("early subscriber got %v", msgs)
	}
	if msgs, _ := late.take(); len(msgs) != 1 || msgs[0].(*masterpb.Event).GetType() != masterpb.Event_SUBSCRIBED {
		t.Fatalf("late subscriber got %v (a broadcast made before its snapshot?)", msgs)
	}
	l.route(core.Ready{Operator: []core.OperatorEvent{{Event: hb}, {Event: hb}, {Event: hb}, {Event: hb}}})
	select {
	case <-early.overflowed:
	default:
		t.Fatal("overflow not signalled")
	}
	if _, closed := early.take(); !closed || l.operators["early"] != nil || l.operators["late"] != nil ||
		c.OperatorSubscribers() != 0 {
		t.Fatalf("overflowing subscribers kept: closed %v, loop %v, core %d", closed, l.operators, c.OperatorSubscribers())
	}
}

// lockedBuffer is a bytes.Buffer safe for a logger and a reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A framework may subscribe with failover_timeout +Inf (never remove it, as
// Mesos accepts): the operator API's JSON then carries it as "Infinity",
// the proto3 JSON spelling, instead of failing every GET_STATE, and it
// decodes back to +Inf.
func TestOperatorStateWithInfiniteFailoverTimeout(t *testing.T) {
	_, base := startMaster(t)
	info := fwInfo("forever")
	info.FailoverTimeout = proto.Float64(math.Inf(1))
	subscribe(t, base, codec.Protobuf, info)
	status, _, body := operatorCall(t, base, codec.JSON, &masterpb.Call{Type: masterpb.Call_GET_FRAMEWORKS.Enum()})
	if status != http.StatusOK || !strings.Contains(string(body), `"failover_timeout":"Infinity"`) {
		t.Fatalf("GET_FRAMEWORKS: %d %s", status, body)
	}
	for _, c := range codecs {
		resp := query(t, base, c, masterpb.Call_GET_STATE)
		fws := resp.GetGetState().GetGetFrameworks().GetFrameworks()
		if len(fws) != 1 || !math.IsInf(fws[0].GetFrameworkInfo().GetFailoverTimeout(), 1) {
			t.Fatalf("%s: GET_STATE frameworks %v", c.MediaType(), fws)
		}
	}
}
