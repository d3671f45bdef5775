package e2e

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/executorpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
)

// execWire is a custom executor that speaks the v1 executor API over plain
// HTTP, with the headers of the Executor HTTP API's examples.
type execWire struct {
	t      testing.TB
	url    string
	mt     string // media type of calls and events
	client *http.Client
	stream *eventStream
	vars   map[string]string
}

func executorEvents() (func() proto.Message, func(proto.Message) string) {
	return func() proto.Message { return &executorpb.Event{} },
		func(m proto.Message) string { return m.(*executorpb.Event).GetType().String() }
}

// call posts an executor call fixture in JSON.
func (e *execWire) call(fixtureName string, more ...string) wireReply {
	e.t.Helper()
	vars := maps.Clone(e.vars)
	for i := 0; i+1 < len(more); i += 2 {
		vars[more[i]] = more[i+1]
	}
	return post(e.t, e.client, e.url, e.encode(fixture(e.t, "executor/"+fixtureName, vars)),
		"Content-Type", e.mt, "Accept", e.mt)
}

func (e *execWire) encode(jsonBody []byte) []byte {
	if e.mt == mtProtobuf {
		return toProtobuf(e.t, jsonBody, &executorpb.Call{})
	}
	return jsonBody
}

// subscribe opens the executor's event stream and checks the answer: 200,
// chunked RecordIO in JSON, and SUBSCRIBED first.
func (e *execWire) subscribe(fixtureName string, more ...string) *wireEvent {
	e.t.Helper()
	vars := maps.Clone(e.vars)
	for i := 0; i+1 < len(more); i += 2 {
		vars[more[i]] = more[i+1]
	}
	resp := open(e.t, e.client, http.MethodPost, e.url, e.encode(fixture(e.t, "executor/"+fixtureName, vars)),
		"Content-Type", e.mt, "Accept", e.mt)
	wantStreamHeaders(e.t, resp, e.mt)
	newMsg, typeOf := executorEvents()
	e.stream = newEventStream(e.t, resp.Body, e.mt, newMsg, typeOf)
	ev := e.stream.take("SUBSCRIBED", nil)
	if ev.seq != 0 {
		e.t.Errorf("SUBSCRIBED is event %d of the executor's stream, want the first", ev.seq)
	}
	return ev
}

// update sends an UPDATE of the task in state with a fresh uuid, expects
// 202 and then the ACKNOWLEDGED event carrying that uuid.
func (e *execWire) update(task, state string) {
	e.t.Helper()
	raw, b64 := newUUID()
	e.call("update.json", "TASK_ID", task, "STATE", state, "UUID", b64).wantStatus(e.t, "executor UPDATE "+state, http.StatusAccepted)
	ev := e.stream.take("ACKNOWLEDGED", func(ev *wireEvent) bool {
		return bytes.Equal(ev.pb.(*executorpb.Event).GetAcknowledged().GetUuid(), raw)
	})
	if got := ev.pb.(*executorpb.Event).GetAcknowledged().GetTaskId().GetValue(); got != task {
		e.t.Errorf("ACKNOWLEDGED for task %q, want %q", got, task)
	}
	if ev.js != nil {
		jid(e.t, ev.js, "acknowledged.task_id")
		if got := jbytes(e.t, ev.js, "acknowledged.uuid"); !bytes.Equal(got, raw) {
			e.t.Errorf("ACKNOWLEDGED uuid %x in JSON, want %x", got, raw)
		}
	}
}

// readEnv waits for the KEY=VALUE file the executor's command writes into
// its sandbox and parses it.
func readEnv(t testing.TB, pattern string) map[string]string {
	t.Helper()
	var env map[string]string
	eventually(t, wireWait, func() error {
		paths, _ := filepath.Glob(pattern)
		if len(paths) != 1 {
			return fmt.Errorf("%d files match %s", len(paths), pattern)
		}
		data, err := os.ReadFile(paths[0])
		if err != nil || !bytes.Contains(data, []byte("MESOS_EXECUTOR_ID=")) {
			return fmt.Errorf("environment file not written yet (%v)", err)
		}
		env = map[string]string{}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), "="); ok {
				env[k] = v
			}
		}
		return nil
	})
	return env
}

// TestConformanceExecutorAPI acts as a custom executor: a framework
// launches a task with an ExecutorInfo whose command only records its
// environment and sleeps, and the test speaks the Executor HTTP API for it
// with raw HTTP, at the address the agent gave it in the environment.
func TestConformanceExecutorAPI(t *testing.T) {
	cl := newCluster(t, 0, agentRes, conformanceMasterFlags...)
	cl.addAgent(agentRes, "--executor_shutdown_grace_period=500ms")
	cl.waitAgents(1)
	s := subscribeWire(t, cl.master, mtJSON, "subscribe.json", schedVars(t, "CHECKPOINT", "true"))
	const exID, task = "conform-executor", "conform-executor-task"
	taskData := []byte("task data for the executor")
	o, _ := s.offer()
	agentID := o.GetAgentId().GetValue()
	s.vars["AGENT_ID"] = agentID
	s.vars["EXECUTOR_ID"] = exID
	s.launch("accept_launch_executor.json", o, task, "env > executor.env; exec sleep 60",
		"REFUSE", "0", "DATA", base64.StdEncoding.EncodeToString(taskData))

	// "Executor Environment Variables": what a custom executor needs to
	// find the agent and name itself.
	env := readEnv(t, filepath.Join(cl.dir, "agent1", "slaves", "*", "frameworks", s.fwID,
		"executors", exID, "runs", "latest", "executor.env"))
	// The framework checkpoints, so the recovery variables are set too.
	want := map[string]string{"MESOS_FRAMEWORK_ID": s.fwID, "MESOS_EXECUTOR_ID": exID,
		"MESOS_AGENT_ENDPOINT": cl.agents[0].addr, "MESOS_CHECKPOINT": "1"}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s=%q, want %q", k, env[k], v)
		}
	}
	if d := env["MESOS_DIRECTORY"]; !filepath.IsAbs(d) || env["MESOS_SANDBOX"] != d {
		t.Errorf("MESOS_DIRECTORY=%q MESOS_SANDBOX=%q, want the same absolute sandbox path", d, env["MESOS_SANDBOX"])
	}
	mesosDuration := regexp.MustCompile(`^[0-9.]+(ns|us|ms|secs|mins|hrs|days|weeks)$`)
	for _, k := range []string{"MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD", "MESOS_RECOVERY_TIMEOUT", "MESOS_SUBSCRIPTION_BACKOFF_MAX"} {
		if !mesosDuration.MatchString(env[k]) {
			t.Errorf("%s=%q is not a Mesos duration", k, env[k])
		}
	}

	e := &execWire{t: t, url: "http://" + env["MESOS_AGENT_ENDPOINT"] + "/api/v1/executor", mt: mtJSON,
		client: newHTTPClient(t, true),
		vars: map[string]string{"FRAMEWORK_ID": s.fwID, "EXECUTOR_ID": exID, "STATUS_EXECUTOR_ID": exID,
			"SOURCE": "SOURCE_EXECUTOR", "AGENT_ID": agentID}}
	executorBadRequests(t, e)

	// SUBSCRIBE: SUBSCRIBED with the executor's, the framework's and the
	// agent's info (the documentation's example shows "agent_id" beside
	// them; the Subscribed message has it as agent_info.id), then LAUNCH
	// with the task, its data intact.
	sub := e.subscribe("subscribe.json")
	if got := jid(t, sub.js, "subscribed.executor_info.executor_id"); got != exID {
		t.Errorf("SUBSCRIBED for executor %q, want %q", got, exID)
	}
	jstr(t, sub.js, "subscribed.executor_info.command.value")
	if got := jid(t, sub.js, "subscribed.executor_info.framework_id"); got != s.fwID {
		t.Errorf("SUBSCRIBED executor_info.framework_id %q, want %q", got, s.fwID)
	}
	jid(t, sub.js, "subscribed.container_id")
	if got := jid(t, sub.js, "subscribed.framework_info.id"); got != s.fwID {
		t.Errorf("SUBSCRIBED framework_info.id %q, want %q", got, s.fwID)
	}
	jstr(t, sub.js, "subscribed.framework_info.user")
	jstr(t, sub.js, "subscribed.framework_info.name")
	if got := jid(t, sub.js, "subscribed.agent_info.id"); got != agentID {
		t.Errorf("SUBSCRIBED agent_info.id %q, want %q", got, agentID)
	}
	jstr(t, sub.js, "subscribed.agent_info.hostname")
	jint(t, sub.js, "subscribed.agent_info.port")
	launch := e.stream.take("LAUNCH", nil)
	if got := jid(t, launch.js, "launch.task.task_id"); got != task {
		t.Errorf("LAUNCH of %q, want %q", got, task)
	}
	jstr(t, launch.js, "launch.task.name")
	jid(t, launch.js, "launch.task.agent_id")
	if got := jbytes(t, launch.js, "launch.task.data"); !bytes.Equal(got, taskData) {
		t.Errorf("LAUNCH task.data %q, want %q", got, taskData)
	}
	// The documentation's LAUNCH example also shows framework_info; the
	// Launch message has only the task (the framework's info came with
	// SUBSCRIBED).

	// UPDATE: 202, ACKNOWLEDGED to the executor, and UPDATE to the
	// scheduler with the agent and executor filled in.
	e.update(task, "TASK_RUNNING")
	st, js := s.ackedUpdate(task, mesospb.TaskState_TASK_RUNNING)
	checkUpdateJSON(t, js, task, "TASK_RUNNING", "SOURCE_EXECUTOR", true)
	if st.GetExecutorId().GetValue() != exID || st.GetAgentId().GetValue() != agentID {
		t.Errorf("scheduler's update names executor %q agent %q", st.GetExecutorId().GetValue(), st.GetAgentId().GetValue())
	}

	// Executor MESSAGE: 202, and the scheduler's MESSAGE event names the
	// agent and executor with the data intact.
	fromExec := []byte{0, 1, 2, 0xfe, 0xff, 'x'}
	e.call("message.json", "DATA", base64.StdEncoding.EncodeToString(fromExec)).wantStatus(t, "executor MESSAGE", http.StatusAccepted)
	_, js = s.event(schedulerpb.Event_MESSAGE, nil)
	if got := jid(t, js, "message.agent_id"); got != agentID {
		t.Errorf("MESSAGE agent_id %q", got)
	}
	if got := jid(t, js, "message.executor_id"); got != exID {
		t.Errorf("MESSAGE executor_id %q", got)
	}
	if got := jbytes(t, js, "message.data"); !bytes.Equal(got, fromExec) {
		t.Errorf("MESSAGE data %x, want %x", got, fromExec)
	}

	// Scheduler MESSAGE: the executor gets a MESSAGE event with the data.
	toExec := []byte("for the executor \x00\x01")
	s.accepted("message.json", "DATA", base64.StdEncoding.EncodeToString(toExec))
	msg := e.stream.take("MESSAGE", nil)
	if got := jbytes(t, msg.js, "message.data"); !bytes.Equal(got, toExec) {
		t.Errorf("executor MESSAGE data %q, want %q", got, toExec)
	}

	// Updates the agent must refuse (400), now that the executor is
	// subscribed: the validation of the executor API's UPDATE.
	_, u := newUUID()
	for _, bad := range []struct{ what, k, v string }{
		{"TASK_STAGING from an executor", "STATE", "TASK_STAGING"},
		{"a uuid that is not 16 bytes", "UUID", "AAAAAAAAAAA="},
		{"a source other than SOURCE_EXECUTOR", "SOURCE", "SOURCE_MASTER"},
		{"another executor id in the status", "STATUS_EXECUTOR_ID", exID + "-other"},
	} {
		args := []string{"TASK_ID", task, "STATE", "TASK_RUNNING", "UUID", u, bad.k, bad.v}
		e.call("update.json", args...).wantStatus(t, "UPDATE with "+bad.what, http.StatusBadRequest)
	}

	// KILL from the scheduler reaches the custom executor, which answers
	// with TASK_KILLED.
	s.accepted("kill.json", "TASK_ID", task)
	kill := e.stream.take("KILL", nil)
	if got := jid(t, kill.js, "kill.task_id"); got != task {
		t.Errorf("KILL of %q, want %q", got, task)
	}
	e.update(task, "TASK_KILLED")
	s.ackedUpdate(task, mesospb.TaskState_TASK_KILLED)

	// The executor keeps running; offers of its agent list it in
	// executor_ids, and a second task goes to the same executor.
	o2, js := s.event(schedulerpb.Event_OFFERS, func(ev *schedulerpb.Event) bool {
		return len(ev.GetOffers().GetOffers()[0].GetExecutorIds()) > 0
	})
	if got := jid(t, js, "offers.offers[0].executor_ids[0]"); got != exID {
		t.Errorf("offer lists executor %q, want %q", got, exID)
	}
	offer2 := o2.GetOffers().GetOffers()[0]
	const task2 = "conform-executor-task-2"
	s.launch("accept_launch_executor.json", offer2, task2, "env > executor.env; exec sleep 60",
		"REFUSE", "0", "DATA", base64.StdEncoding.EncodeToString(taskData))
	launch2 := e.stream.take("LAUNCH", nil)
	if got := jid(t, launch2.js, "launch.task.task_id"); got != task2 {
		t.Errorf("second LAUNCH of %q, want %q", got, task2)
	}

	// Disconnections: the executor drops its stream before the agent
	// acknowledged its update and subscribes again on a new connection,
	// listing the unacknowledged task and update as the SUBSCRIBE section
	// describes. The agent takes the update: the scheduler gets it. This
	// time the executor speaks protobuf.
	e.stream.close()
	e.mt = mtProtobuf
	rawUUID, b64 := newUUID()
	sub = e.subscribe("resubscribe.json", "TASK_ID", task2, "STATE", "TASK_RUNNING", "UUID", b64)
	if got := sub.pb.(*executorpb.Event).GetSubscribed().GetExecutorInfo().GetExecutorId().GetValue(); got != exID {
		t.Errorf("protobuf SUBSCRIBED for executor %q", got)
	}
	st, _ = s.ackedUpdate(task2, mesospb.TaskState_TASK_RUNNING)
	if !bytes.Equal(st.GetUuid(), rawUUID) {
		t.Logf("note: the scheduler's update has uuid %x, the executor sent %x", st.GetUuid(), rawUUID)
	}

	// SHUTDOWN from the scheduler: the executor gets SHUTDOWN; as it does
	// not exit, the agent destroys its container after the grace period,
	// its task ends, and the scheduler gets FAILURE for the executor with
	// its exit status.
	s.accepted("shutdown.json")
	e.stream.take("SHUTDOWN", nil)
	_, js = s.event(schedulerpb.Event_FAILURE, nil)
	if got := jid(t, js, "failure.executor_id"); got != exID {
		t.Errorf("FAILURE executor_id %q, want %q", got, exID)
	}
	if got := jid(t, js, "failure.agent_id"); got != agentID {
		t.Errorf("FAILURE agent_id %q, want %q", got, agentID)
	}
	jint(t, js, "failure.status")
	end, _ := s.event(schedulerpb.Event_UPDATE, func(ev *schedulerpb.Event) bool {
		st := ev.GetUpdate().GetStatus()
		return st.GetTaskId().GetValue() == task2 && isTerminalState(st.GetState())
	})
	if src := end.GetUpdate().GetStatus().GetSource(); src != mesospb.TaskStatus_SOURCE_AGENT {
		t.Errorf("the shut-down executor's task ended with source %s, want SOURCE_AGENT", src)
	}

	// "Task State Reasons": a task killed while its executor has not
	// subscribed yet never reaches it: TASK_KILLED from the agent with
	// REASON_TASK_KILLED_DURING_LAUNCH.
	o3, _ := s.offer()
	s.vars["EXECUTOR_ID"] = "never-subscribing"
	s.launch("accept_launch_executor.json", o3, "killed-in-launch", "sleep 60", "REFUSE", "0", "DATA", "")
	s.accepted("kill.json", "TASK_ID", "killed-in-launch")
	wantReason(t, "task killed before its executor subscribed", s.terminal("killed-in-launch"), mesospb.TaskState_TASK_KILLED,
		mesospb.TaskStatus_REASON_TASK_KILLED_DURING_LAUNCH, mesospb.TaskStatus_SOURCE_AGENT)
}

// executorBadRequests checks the executor endpoint's refusals before the
// executor subscribed: method, media types, malformed bodies, unknown
// framework or executor (400) and calls of an executor that has not
// subscribed yet (403).
func executorBadRequests(t *testing.T, e *execWire) {
	t.Helper()
	sub := fixture(t, "executor/subscribe.json", e.vars)
	resp := open(t, e.client, http.MethodGet, e.url, nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET executor API: %s, want 405", resp.Status)
	}
	post(t, e.client, e.url, sub).wantStatus(t, "executor call without Content-Type", http.StatusBadRequest)
	post(t, e.client, e.url, sub, "Content-Type", "text/plain").
		wantStatus(t, "executor call in text/plain", http.StatusUnsupportedMediaType)
	post(t, e.client, e.url, sub, "Content-Type", mtJSON, "Accept", "text/html").
		wantStatus(t, "executor SUBSCRIBE accepting only text/html", http.StatusNotAcceptable)
	post(t, e.client, e.url, []byte(`{"type": "SUBSCRIBE",`), "Content-Type", mtJSON).
		wantStatus(t, "malformed executor call", http.StatusBadRequest)
	post(t, e.client, e.url, fixture(t, "executor/subscribe.json", map[string]string{
		"FRAMEWORK_ID": e.vars["FRAMEWORK_ID"] + "-unknown", "EXECUTOR_ID": e.vars["EXECUTOR_ID"]}), "Content-Type", mtJSON).
		wantStatus(t, "SUBSCRIBE of an unknown framework", http.StatusBadRequest)
	post(t, e.client, e.url, fixture(t, "executor/subscribe.json", map[string]string{
		"FRAMEWORK_ID": e.vars["FRAMEWORK_ID"], "EXECUTOR_ID": "no-such-executor"}), "Content-Type", mtJSON).
		wantStatus(t, "SUBSCRIBE of an unknown executor", http.StatusBadRequest)
	_, u := newUUID()
	e.call("update.json", "TASK_ID", "conform-executor-task", "STATE", "TASK_RUNNING", "UUID", u).
		wantStatus(t, "UPDATE before SUBSCRIBE", http.StatusForbidden)
	e.call("message.json", "DATA", "AA==").wantStatus(t, "MESSAGE before SUBSCRIBE", http.StatusForbidden)
}
