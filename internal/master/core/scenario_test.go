package core

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/internal/resources"
	"google.golang.org/protobuf/proto"
)

func TestSubscribeAssignsIDAndAnnouncesHeartbeat(t *testing.T) {
	h := newHarness(t)
	stream := "s1"
	call := &schedulerpb.Call{
		Type:      schedulerpb.Call_SUBSCRIBE.Enum(),
		Subscribe: &schedulerpb.Call_Subscribe{FrameworkInfo: fwInfo("web")},
	}
	if err := h.c.Subscribe(h.now, stream, call); err != nil {
		t.Fatal(err)
	}
	h.flush()
	evs := h.events(stream)
	if len(evs) != 1 || evs[0].GetType() != schedulerpb.Event_SUBSCRIBED {
		t.Fatalf("events = %v", evs)
	}
	sub := evs[0].GetSubscribed()
	if got := sub.GetFrameworkId().GetValue(); got != "m1-0000" {
		t.Errorf("framework id = %q, want m1-0000", got)
	}
	if got := sub.GetHeartbeatIntervalSeconds(); got != 15 {
		t.Errorf("heartbeat interval = %v, want 15", got)
	}
	if sub.GetMasterInfo().GetId() != "m1" {
		t.Errorf("master info = %v", sub.GetMasterInfo())
	}
	id2, _ := h.subscribe(fwInfo("batch"))
	if id2 != "m1-0001" {
		t.Errorf("second framework id = %q", id2)
	}
}

func TestAgentRegistersThenFrameworkGetsWholeAgentOffer(t *testing.T) {
	h := newHarness(t)
	agentID, _ := h.register("host1", "cpus:4;mem:1024;ports:[31000-31009]")
	if agentID != "m1-S0" {
		t.Errorf("agent id = %q", agentID)
	}
	_, stream := h.subscribe(fwInfo("web"))
	offers := h.offers(stream)
	if len(offers) != 1 {
		t.Fatalf("offers = %v", offers)
	}
	o := offers[0]
	if o.GetAgentId().GetValue() != agentID || o.GetHostname() != "host1" || o.GetFrameworkId().GetValue() != "m1-0000" {
		t.Errorf("offer = %v", o)
	}
	if got, want := offerRes(t, o), resources.MustParse("cpus:4;mem:1024;ports:[31000-31009]"); !got.Equal(want) {
		t.Errorf("offered %v, want %v", got, want)
	}
	for _, r := range o.GetResources() {
		if r.AllocationInfo != nil {
			t.Errorf("non-MULTI_ROLE framework got allocation_info: %v", r)
		}
		if r.Role == nil || r.GetRole() != "*" {
			t.Errorf("resource role = %v, want \"*\" set explicitly", r.Role)
		}
	}
	if o.AllocationInfo != nil {
		t.Errorf("offer has allocation_info")
	}
	// Nothing more until something changes.
	h.advance(time.Second)
	if evs := h.events(stream); len(evs) != 0 {
		t.Errorf("unexpected events: %v", evs)
	}
}

func TestMultiRoleFrameworkGetsAllocationInfo(t *testing.T) {
	h := newHarness(t)
	h.register("host1", "cpus:2;mem:512;cpus(analytics):1")
	info := fwInfo("multi", mesospb.FrameworkInfo_Capability_MULTI_ROLE)
	info.Roles = []string{"analytics", "web"}
	_, stream := h.subscribe(info)
	offers := h.offers(stream)
	if len(offers) == 0 {
		t.Fatal("no offers")
	}
	for _, o := range offers {
		role := o.GetAllocationInfo().GetRole()
		if role != "analytics" && role != "web" {
			t.Errorf("offer allocation role = %q", role)
		}
		for _, r := range o.GetResources() {
			if r.GetAllocationInfo().GetRole() != role {
				t.Errorf("resource %v lacks allocation_info %q", r, role)
			}
		}
	}
}

func TestLaunchRunTaskUpdateAcknowledge(t *testing.T) {
	h := newHarness(t)
	agentID, link := h.register("host1", "cpus:4;mem:1024")
	fwID, stream := h.subscribe(fwInfo("web"))
	o := h.offers(stream)[0]

	task := commandTask("t1", agentID, res(t, "cpus:1;mem:128"))
	h.mustCall(fwID, stream, acceptCall([]string{o.GetId().GetValue()}, nil, task))
	run := h.message(link, linkpb.MasterEvent_RUN_TASK).GetRunTask()
	if run.GetTask().GetTaskId().GetValue() != "t1" || run.GetFramework().GetId().GetValue() != fwID || run.Executor != nil {
		t.Fatalf("RUN_TASK = %v", run)
	}
	for _, r := range run.GetTask().GetResources() {
		if r.GetAllocationInfo().GetRole() != "*" {
			t.Errorf("launched resource lacks allocation_info: %v", r)
		}
	}
	if evs := h.events(stream); len(evs) != 0 {
		t.Fatalf("master sent %v on launch (Mesos sends no STAGING update)", evs)
	}

	if err := h.agentCall(link, statusCall(fwID, "t1", mesospb.TaskState_TASK_RUNNING, 1)); err != nil {
		t.Fatal(err)
	}
	up := h.update(stream)
	if up.GetState() != mesospb.TaskState_TASK_RUNNING || len(up.GetUuid()) != 16 {
		t.Fatalf("update = %v", up)
	}
	h.mustCall(fwID, stream, ackCall(agentID, "t1", 1))
	ack := h.message(link, linkpb.MasterEvent_ACKNOWLEDGE).GetAcknowledge()
	if ack.GetTaskId().GetValue() != "t1" || string(ack.GetUuid()) != string(uuidBytes(1)) || ack.GetFrameworkId().GetValue() != fwID {
		t.Fatalf("ACKNOWLEDGE = %v", ack)
	}

	// The rest of the offer came back with the default 5 s filter.
	h.advance(time.Second)
	if evs := h.events(stream); len(evs) != 0 {
		t.Fatalf("offer inside the default filter: %v", evs)
	}
	h.advance(5 * time.Second)
	if got, want := offerRes(t, h.offers(stream)[0]), resources.MustParse("cpus:3;mem:896"); !got.Equal(want) {
		t.Fatalf("offered %v, want %v", got, want)
	}

	// A terminal update frees the task's resources at once.
	if err := h.agentCall(link, statusCall(fwID, "t1", mesospb.TaskState_TASK_FINISHED, 2)); err != nil {
		t.Fatal(err)
	}
	if up := h.update(stream); up.GetState() != mesospb.TaskState_TASK_FINISHED {
		t.Fatalf("update = %v", up)
	}
	st := h.c.State(h.now, "v", nil)
	if got := st.Frameworks[0].Tasks; len(got) != 1 || got[0].State != "TASK_FINISHED" {
		t.Fatalf("tasks before ack = %+v", got)
	}
	h.mustCall(fwID, stream, ackCall(agentID, "t1", 2))
	st = h.c.State(h.now, "v", nil)
	if len(st.Frameworks[0].Tasks) != 0 || len(st.Frameworks[0].CompletedTasks) != 1 {
		t.Fatalf("after ack: tasks %+v completed %+v", st.Frameworks[0].Tasks, st.Frameworks[0].CompletedTasks)
	}
	m := h.c.Metrics(h.now)
	if m["master/tasks_finished"] != 1 || m["master/tasks_running"] != 0 {
		t.Errorf("metrics: finished %v running %v", m["master/tasks_finished"], m["master/tasks_running"])
	}
}

func TestLaunchValidation(t *testing.T) {
	ok := func(agentID string) *mesospb.TaskInfo { return commandTask("good", agentID, nil) }
	cases := []struct {
		name   string
		task   func(t *testing.T, agentID string) *mesospb.TaskInfo
		reason mesospb.TaskStatus_Reason
		msg    string
	}{
		{"too many resources", func(t *testing.T, a string) *mesospb.TaskInfo {
			return commandTask("t", a, res(t, "cpus:5"))
		}, mesospb.TaskStatus_REASON_TASK_INVALID, "more resources"},
		{"resource the agent lacks", func(t *testing.T, a string) *mesospb.TaskInfo {
			return commandTask("t", a, res(t, "gpus:1"))
		}, mesospb.TaskStatus_REASON_TASK_INVALID, "more resources"},
		{"no resources", func(t *testing.T, a string) *mesospb.TaskInfo {
			return commandTask("t", a, nil)
		}, mesospb.TaskStatus_REASON_TASK_INVALID, "no resources"},
		{"both command and executor", func(t *testing.T, a string) *mesospb.TaskInfo {
			ti := commandTask("t", a, res(t, "cpus:1"))
			ti.Executor = &mesospb.ExecutorInfo{ExecutorId: &mesospb.ExecutorID{Value: proto.String("e")}}
			return ti
		}, mesospb.TaskStatus_REASON_TASK_INVALID, "at most one"},
		{"neither command nor executor", func(t *testing.T, a string) *mesospb.TaskInfo {
			ti := commandTask("t", a, res(t, "cpus:1"))
			ti.Command = nil
			return ti
		}, mesospb.TaskStatus_REASON_TASK_INVALID, "neither"},
		{"custom executor without a command", func(t *testing.T, a string) *mesospb.TaskInfo {
			ti := commandTask("t", a, res(t, "cpus:1"))
			ti.Command = nil
			ti.Executor = &mesospb.ExecutorInfo{ExecutorId: &mesospb.ExecutorID{Value: proto.String("e")},
				Type: mesospb.ExecutorInfo_CUSTOM.Enum()}
			return ti
		}, mesospb.TaskStatus_REASON_TASK_INVALID, "must be set for 'CUSTOM'"},
		{"default executor with a command", func(t *testing.T, a string) *mesospb.TaskInfo {
			ti := commandTask("t", a, res(t, "cpus:1"))
			ti.Command = nil
			ti.Executor = &mesospb.ExecutorInfo{ExecutorId: &mesospb.ExecutorID{Value: proto.String("e")},
				Type: mesospb.ExecutorInfo_DEFAULT.Enum(), Command: &mesospb.CommandInfo{Value: proto.String("x")}}
			return ti
		}, mesospb.TaskStatus_REASON_TASK_INVALID, "must not be set for 'DEFAULT'"},
		{"wrong agent", func(t *testing.T, a string) *mesospb.TaskInfo {
			return commandTask("t", "other-agent", res(t, "cpus:1"))
		}, mesospb.TaskStatus_REASON_TASK_INVALID, "agent"},
		{"invalid task id", func(t *testing.T, a string) *mesospb.TaskInfo {
			return commandTask("a/b", a, res(t, "cpus:1"))
		}, mesospb.TaskStatus_REASON_TASK_INVALID, "Task ID is invalid"},
		{"bad resource", func(t *testing.T, a string) *mesospb.TaskInfo {
			return commandTask("t", a, []*mesospb.Resource{{Name: proto.String("cpus"), Type: mesospb.Value_SCALAR.Enum()}})
		}, mesospb.TaskStatus_REASON_TASK_INVALID, "scalar"},
		{"allocation role of another role", func(t *testing.T, a string) *mesospb.TaskInfo {
			return commandTask("t", a, withAllocationRole(res(t, "cpus:1"), "other"))
		}, mesospb.TaskStatus_REASON_TASK_INVALID, "role"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			agentID, link := h.register("host1", "cpus:4;mem:1024")
			fwID, stream := h.subscribe(fwInfo("web"))
			o := h.offers(stream)[0]
			bad := tc.task(t, agentID)
			h.mustCall(fwID, stream, acceptCall([]string{o.GetId().GetValue()}, nil, bad))
			up := h.update(stream)
			if up.GetState() != mesospb.TaskState_TASK_ERROR || up.GetReason() != tc.reason ||
				up.GetSource() != mesospb.TaskStatus_SOURCE_MASTER || up.Uuid != nil {
				t.Fatalf("update = %v", up)
			}
			if !strings.Contains(up.GetMessage(), tc.msg) {
				t.Errorf("message %q does not mention %q", up.GetMessage(), tc.msg)
			}
			if ms := h.messages(link); len(ms) != 0 {
				t.Errorf("agent got %v", ms)
			}
			_ = ok
		})
	}
}

func TestLaunchDuplicateTaskIDs(t *testing.T) {
	h := newHarness(t)
	agentID, link := h.register("host1", "cpus:4;mem:1024")
	fwID, stream := h.subscribe(fwInfo("web"))
	o := h.offers(stream)[0]
	a := commandTask("same", agentID, res(t, "cpus:1"))
	b := commandTask("same", agentID, res(t, "cpus:1"))
	h.mustCall(fwID, stream, acceptCall([]string{o.GetId().GetValue()}, nil, a, b))
	if up := h.update(stream); up.GetState() != mesospb.TaskState_TASK_ERROR || !strings.Contains(up.GetMessage(), "duplicate") {
		t.Fatalf("update = %v", up)
	}
	h.message(link, linkpb.MasterEvent_RUN_TASK) // the first one runs

	// A live task's id cannot be reused either.
	h.advance(6 * time.Second)
	o = h.offers(stream)[0]
	h.mustCall(fwID, stream, acceptCall([]string{o.GetId().GetValue()}, nil, commandTask("same", agentID, res(t, "cpus:1"))))
	if up := h.update(stream); up.GetState() != mesospb.TaskState_TASK_ERROR {
		t.Fatalf("update = %v", up)
	}
}

func TestInvalidOffersDropOrLoseTasks(t *testing.T) {
	for _, pa := range []bool{false, true} {
		h := newHarness(t)
		agentID, link := h.register("host1", "cpus:4;mem:1024")
		info := fwInfo("web")
		want := mesospb.TaskState_TASK_LOST
		if pa {
			info = fwInfo("web", mesospb.FrameworkInfo_Capability_PARTITION_AWARE)
			want = mesospb.TaskState_TASK_DROPPED
		}
		fwID, stream := h.subscribe(info)
		o := h.offers(stream)[0]
		// Using an offer twice: the second time it is no longer valid.
		h.mustCall(fwID, stream, acceptCall([]string{o.GetId().GetValue()}, nil, commandTask("t1", agentID, res(t, "cpus:1"))))
		h.message(link, linkpb.MasterEvent_RUN_TASK)
		h.mustCall(fwID, stream, acceptCall([]string{o.GetId().GetValue()}, nil, commandTask("t2", agentID, res(t, "cpus:1"))))
		up := h.update(stream)
		if up.GetState() != want || up.GetReason() != mesospb.TaskStatus_REASON_INVALID_OFFERS ||
			up.GetSource() != mesospb.TaskStatus_SOURCE_MASTER || up.Uuid != nil {
			t.Fatalf("partition aware %v: update = %v", pa, up)
		}
		if ms := h.messages(link); len(ms) != 0 {
			t.Errorf("agent got %v", ms)
		}
	}
}

func TestInvalidOffersReturnValidOnes(t *testing.T) {
	h := newHarness(t)
	h.register("host1", "cpus:4;mem:1024")
	fwID, stream := h.subscribe(fwInfo("web"))
	o := h.offers(stream)[0]
	// One good offer and one bogus id: nothing launches, the good offer's
	// resources return without a filter and are offered again at once.
	h.mustCall(fwID, stream, acceptCall([]string{o.GetId().GetValue(), "bogus"}, nil))
	h.advance(time.Second)
	if got := offerRes(t, h.offers(stream)[0]); !got.Equal(resources.MustParse("cpus:4;mem:1024")) {
		t.Fatalf("re-offered %v", got)
	}
}

func TestDeclineFilters(t *testing.T) {
	h := newHarness(t)
	h.register("host1", "cpus:4;mem:1024")
	fwID, stream := h.subscribe(fwInfo("web"))
	o := h.offers(stream)[0]
	h.mustCall(fwID, stream, declineCall(o.GetId().GetValue(), proto.Float64(30)))
	h.advance(29 * time.Second)
	if evs := h.events(stream); len(evs) != 0 {
		t.Fatalf("offered inside the 30 s filter: %v", evs)
	}
	h.advance(2 * time.Second)
	o = h.offers(stream)[0]

	// Without filters the refusal lasts the default 5 s.
	h.mustCall(fwID, stream, declineCall(o.GetId().GetValue(), nil))
	h.advance(4 * time.Second)
	if evs := h.events(stream); len(evs) != 0 {
		t.Fatalf("offered inside the default filter: %v", evs)
	}
	h.advance(2 * time.Second)
	o = h.offers(stream)[0]

	// ACCEPT without operations is a decline, with the call's filter.
	h.mustCall(fwID, stream, acceptCall([]string{o.GetId().GetValue()}, &mesospb.Filters{RefuseSeconds: proto.Float64(0)}))
	h.advance(time.Second)
	h.offers(stream)
}

func TestSuppressAndRevive(t *testing.T) {
	h := newHarness(t)
	h.register("host1", "cpus:4;mem:1024")
	fwID, stream := h.subscribe(fwInfo("web"))
	o := h.offers(stream)[0]
	h.mustCall(fwID, stream, simpleCall(schedulerpb.Call_SUPPRESS))
	h.mustCall(fwID, stream, declineCall(o.GetId().GetValue(), proto.Float64(0)))
	h.advance(time.Minute)
	if evs := h.events(stream); len(evs) != 0 {
		t.Fatalf("suppressed framework got %v", evs)
	}
	h.mustCall(fwID, stream, simpleCall(schedulerpb.Call_REVIVE))
	h.offers(stream)

	// Suppressing a role the framework does not have is a bad request.
	err := h.call(fwID, stream, &schedulerpb.Call{Type: schedulerpb.Call_SUPPRESS.Enum(),
		Suppress: &schedulerpb.Call_Suppress{Roles: []string{"nope"}}})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v", err)
	}
}

func TestReviveClearsFilters(t *testing.T) {
	h := newHarness(t)
	h.register("host1", "cpus:4;mem:1024")
	fwID, stream := h.subscribe(fwInfo("web"))
	o := h.offers(stream)[0]
	h.mustCall(fwID, stream, declineCall(o.GetId().GetValue(), proto.Float64(3600)))
	h.mustCall(fwID, stream, simpleCall(schedulerpb.Call_REVIVE))
	h.offers(stream)
}

// launched sets up one agent, one framework and one running task t1.
func launched(t *testing.T, info *mesospb.FrameworkInfo, mutate ...func(*Config)) (h *harness, agentID, link, fwID, stream string) {
	t.Helper()
	h = newHarness(t, mutate...)
	agentID, link = h.register("host1", "cpus:4;mem:1024")
	fwID, stream = h.subscribe(info)
	o := h.offers(stream)[0]
	h.mustCall(fwID, stream, acceptCall([]string{o.GetId().GetValue()}, &mesospb.Filters{RefuseSeconds: proto.Float64(0)},
		commandTask("t1", agentID, res(t, "cpus:1;mem:128"))))
	h.message(link, linkpb.MasterEvent_RUN_TASK)
	if err := h.agentCall(link, statusCall(fwID, "t1", mesospb.TaskState_TASK_RUNNING, 1)); err != nil {
		t.Fatal(err)
	}
	h.mustCall(fwID, stream, ackCall(agentID, "t1", 1))
	h.message(link, linkpb.MasterEvent_ACKNOWLEDGE)
	h.events(stream)
	return h, agentID, link, fwID, stream
}

func TestKill(t *testing.T) {
	h, agentID, link, fwID, stream := launched(t, fwInfo("web"))
	h.mustCall(fwID, stream, &schedulerpb.Call{Type: schedulerpb.Call_KILL.Enum(),
		Kill: &schedulerpb.Call_Kill{TaskId: &mesospb.TaskID{Value: proto.String("t1")}}})
	kill := h.message(link, linkpb.MasterEvent_KILL_TASK).GetKillTask()
	if kill.GetTaskId().GetValue() != "t1" || kill.GetFrameworkId().GetValue() != fwID {
		t.Fatalf("KILL_TASK = %v", kill)
	}
	// Killing an unknown task answers with reconciliation.
	h.mustCall(fwID, stream, &schedulerpb.Call{Type: schedulerpb.Call_KILL.Enum(),
		Kill: &schedulerpb.Call_Kill{TaskId: &mesospb.TaskID{Value: proto.String("ghost")},
			AgentId: &mesospb.AgentID{Value: proto.String(agentID)}}})
	up := h.update(stream)
	if up.GetState() != mesospb.TaskState_TASK_LOST || up.GetReason() != mesospb.TaskStatus_REASON_RECONCILIATION {
		t.Fatalf("update = %v", up)
	}
}

func TestReconcile(t *testing.T) {
	h, agentID, _, fwID, stream := launched(t, fwInfo("web", mesospb.FrameworkInfo_Capability_PARTITION_AWARE))
	// Implicit: every known task.
	h.mustCall(fwID, stream, &schedulerpb.Call{Type: schedulerpb.Call_RECONCILE.Enum(), Reconcile: &schedulerpb.Call_Reconcile{}})
	up := h.update(stream)
	if up.GetTaskId().GetValue() != "t1" || up.GetState() != mesospb.TaskState_TASK_RUNNING ||
		up.GetReason() != mesospb.TaskStatus_REASON_RECONCILIATION || up.Uuid != nil ||
		up.GetAgentId().GetValue() != agentID {
		t.Fatalf("implicit = %v", up)
	}
	// Explicit, partition-aware answers for unknown tasks.
	rt := func(task, agent string) *schedulerpb.Call_Reconcile_Task {
		r := &schedulerpb.Call_Reconcile_Task{TaskId: &mesospb.TaskID{Value: proto.String(task)}}
		if agent != "" {
			r.AgentId = &mesospb.AgentID{Value: proto.String(agent)}
		}
		return r
	}
	h.mustCall(fwID, stream, &schedulerpb.Call{Type: schedulerpb.Call_RECONCILE.Enum(), Reconcile: &schedulerpb.Call_Reconcile{
		Tasks: []*schedulerpb.Call_Reconcile_Task{rt("t1", ""), rt("x", agentID), rt("y", "nowhere"), rt("z", "")}}})
	evs := h.events(stream)
	want := []mesospb.TaskState{mesospb.TaskState_TASK_RUNNING, mesospb.TaskState_TASK_GONE,
		mesospb.TaskState_TASK_UNKNOWN, mesospb.TaskState_TASK_UNKNOWN}
	if len(evs) != len(want) {
		t.Fatalf("events = %v", evs)
	}
	for i, ev := range evs {
		if got := ev.GetUpdate().GetStatus().GetState(); got != want[i] {
			t.Errorf("answer %d = %v, want %v", i, got, want[i])
		}
	}
}

func TestReconcileUsesLastForwardedState(t *testing.T) {
	h, _, link, fwID, stream := launched(t, fwInfo("web"))
	// The agent reports RUNNING while it already knows the task finished.
	call := statusCall(fwID, "t1", mesospb.TaskState_TASK_RUNNING, 3)
	call.StatusUpdate.LatestState = mesospb.TaskState_TASK_FINISHED.Enum()
	if err := h.agentCall(link, call); err != nil {
		t.Fatal(err)
	}
	h.events(stream)
	h.mustCall(fwID, stream, &schedulerpb.Call{Type: schedulerpb.Call_RECONCILE.Enum(), Reconcile: &schedulerpb.Call_Reconcile{}})
	if up := h.update(stream); up.GetState() != mesospb.TaskState_TASK_RUNNING {
		t.Fatalf("reconcile = %v", up)
	}
	// Its resources are free already (Mesos frees on the latest state).
	if m := h.c.Metrics(h.now); m["master/cpus_used"] != 0 {
		t.Errorf("cpus_used = %v", m["master/cpus_used"])
	}
}

func TestCallErrors(t *testing.T) {
	h := newHarness(t)
	fwID, stream := h.subscribe(fwInfo("web"))
	cases := []struct {
		name   string
		fw     string
		stream string
		call   *schedulerpb.Call
		want   error
	}{
		{"unknown framework", "nope", stream, simpleCall(schedulerpb.Call_REVIVE), ErrForbidden},
		{"missing stream id", fwID, "", simpleCall(schedulerpb.Call_REVIVE), ErrStream},
		{"other stream id", fwID, "other", simpleCall(schedulerpb.Call_REVIVE), ErrStream},
		{"no type", fwID, stream, &schedulerpb.Call{}, ErrInvalid},
		{"unknown type", fwID, stream, simpleCall(schedulerpb.Call_UNKNOWN), ErrInvalid},
		{"accept without accept", fwID, stream, simpleCall(schedulerpb.Call_ACCEPT), ErrInvalid},
		{"bad ack uuid", fwID, stream, &schedulerpb.Call{Type: schedulerpb.Call_ACKNOWLEDGE.Enum(),
			Acknowledge: &schedulerpb.Call_Acknowledge{AgentId: &mesospb.AgentID{Value: proto.String("a")},
				TaskId: &mesospb.TaskID{Value: proto.String("t")}, Uuid: []byte("short")}}, ErrInvalid},
		{"subscribe as a call", fwID, stream, &schedulerpb.Call{Type: schedulerpb.Call_SUBSCRIBE.Enum(),
			Subscribe: &schedulerpb.Call_Subscribe{FrameworkInfo: fwInfo("x")}}, ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.call.FrameworkId = &mesospb.FrameworkID{Value: proto.String(tc.fw)}
			if err := h.c.Call(h.now, tc.stream, tc.call); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSubscribeValidation(t *testing.T) {
	h := newHarness(t)
	bad := fwInfo("bad")
	bad.Roles = []string{"web"} // roles without MULTI_ROLE
	stream := "s-bad"
	err := h.c.Subscribe(h.now, stream, &schedulerpb.Call{Type: schedulerpb.Call_SUBSCRIBE.Enum(),
		Subscribe: &schedulerpb.Call_Subscribe{FrameworkInfo: bad}})
	if err != nil {
		t.Fatal(err)
	}
	h.flush()
	evs := h.events(stream)
	if len(evs) != 1 || evs[0].GetType() != schedulerpb.Event_ERROR || !h.closedStream[stream] {
		t.Fatalf("events = %v closed = %v", evs, h.closedStream[stream])
	}
	// A framework id in the call that differs from the FrameworkInfo's is
	// a malformed call.
	err = h.c.Subscribe(h.now, "s2", &schedulerpb.Call{Type: schedulerpb.Call_SUBSCRIBE.Enum(),
		FrameworkId: &mesospb.FrameworkID{Value: proto.String("x")},
		Subscribe:   &schedulerpb.Call_Subscribe{FrameworkInfo: fwInfo("a")}})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v", err)
	}
}

func TestResubscribeReplacesStream(t *testing.T) {
	h := newHarness(t)
	h.register("host1", "cpus:4;mem:1024")
	info := fwInfo("web")
	info.FailoverTimeout = proto.Float64(60)
	fwID, old := h.subscribe(info)
	o := h.offers(old)[0]
	info.Id = &mesospb.FrameworkID{Value: proto.String(fwID)}
	id2, fresh := h.subscribe(info)
	if id2 != fwID {
		t.Fatalf("resubscribed as %s", id2)
	}
	evs := h.events(old)
	if len(evs) != 1 || evs[0].GetType() != schedulerpb.Event_ERROR || !h.closedStream[old] {
		t.Fatalf("old stream: %v closed %v", evs, h.closedStream[old])
	}
	// The old stream's offer is rescinded on the new stream, then the
	// resources are offered again.
	evs = h.events(fresh)
	if len(evs) != 2 || evs[0].GetRescind().GetOfferId().GetValue() != o.GetId().GetValue() ||
		evs[1].GetType() != schedulerpb.Event_OFFERS {
		t.Fatalf("new stream: %v", evs)
	}
	// The old stream closing later changes nothing.
	h.c.StreamClosed(h.now, old)
	h.flush()
	if err := h.call(fwID, fresh, simpleCall(schedulerpb.Call_REVIVE)); err != nil {
		t.Fatal(err)
	}
	if err := h.call(fwID, old, simpleCall(schedulerpb.Call_REVIVE)); !errors.Is(err, ErrStream) {
		t.Fatalf("old stream call: %v", err)
	}
}

func TestFrameworkFailoverKeepsTasks(t *testing.T) {
	info := fwInfo("web")
	info.FailoverTimeout = proto.Float64(60)
	h, _, link, fwID, stream := launched(t, info)
	h.c.StreamClosed(h.now, stream)
	h.flush()
	if err := h.call(fwID, stream, simpleCall(schedulerpb.Call_REVIVE)); !errors.Is(err, ErrForbidden) {
		t.Fatalf("call while disconnected: %v", err)
	}
	h.advance(59 * time.Second)
	if ms := h.messages(link); len(ms) != 0 && ms[0].GetType() == linkpb.MasterEvent_SHUTDOWN_FRAMEWORK {
		t.Fatalf("framework shut down early")
	}
	info.Id = &mesospb.FrameworkID{Value: proto.String(fwID)}
	_, stream = h.subscribe(info)
	h.events(stream)
	h.mustCall(fwID, stream, &schedulerpb.Call{Type: schedulerpb.Call_RECONCILE.Enum(), Reconcile: &schedulerpb.Call_Reconcile{}})
	if up := h.update(stream); up.GetState() != mesospb.TaskState_TASK_RUNNING {
		t.Fatalf("reconcile after failover = %v", up)
	}
	h.advance(2 * time.Minute)
	for _, m := range h.messages(link) {
		if m.GetType() == linkpb.MasterEvent_SHUTDOWN_FRAMEWORK {
			t.Fatal("framework shut down after it resubscribed")
		}
	}
}

func TestFrameworkFailoverTimeoutKillsTasks(t *testing.T) {
	info := fwInfo("web")
	info.FailoverTimeout = proto.Float64(60)
	h, _, link, fwID, stream := launched(t, info)
	h.c.StreamClosed(h.now, stream)
	h.flush()
	h.advance(60 * time.Second)
	var shutdown bool
	for _, m := range h.messages(link) {
		if m.GetType() == linkpb.MasterEvent_SHUTDOWN_FRAMEWORK && m.GetShutdownFramework().GetFrameworkId().GetValue() == fwID {
			shutdown = true
		}
	}
	if !shutdown {
		t.Fatal("no SHUTDOWN_FRAMEWORK after the failover timeout")
	}
	if m := h.c.Metrics(h.now); m["master/cpus_used"] != 0 || m["master/tasks_killed"] != 1 {
		t.Errorf("cpus_used %v tasks_killed %v", m["master/cpus_used"], m["master/tasks_killed"])
	}
	// The id is gone for good.
	info.Id = &mesospb.FrameworkID{Value: proto.String(fwID)}
	stream2 := "again"
	if err := h.c.Subscribe(h.now, stream2, &schedulerpb.Call{Type: schedulerpb.Call_SUBSCRIBE.Enum(),
		Subscribe: &schedulerpb.Call_Subscribe{FrameworkInfo: info}}); err != nil {
		t.Fatal(err)
	}
	h.flush()
	if evs := h.events(stream2); len(evs) != 1 || !strings.Contains(evs[0].GetError().GetMessage(), "removed") {
		t.Fatalf("resubscribe after removal: %v", evs)
	}
}

func TestZeroFailoverTimeoutRemovesAtOnce(t *testing.T) {
	h, _, link, _, stream := launched(t, fwInfo("web"))
	h.c.StreamClosed(h.now, stream)
	h.flush()
	h.message(link, linkpb.MasterEvent_SHUTDOWN_FRAMEWORK)
	if st := h.c.State(h.now, "", nil); len(st.Frameworks) != 0 || len(st.CompletedFrameworks) != 1 {
		t.Fatalf("frameworks %v completed %v", st.Frameworks, st.CompletedFrameworks)
	}
}

func TestTeardown(t *testing.T) {
	h, _, link, fwID, stream := launched(t, fwInfo("web"))
	h.mustCall(fwID, stream, simpleCall(schedulerpb.Call_TEARDOWN))
	h.message(link, linkpb.MasterEvent_SHUTDOWN_FRAMEWORK)
	if !h.closedStream[stream] {
		t.Error("stream not closed on teardown")
	}
}

func TestAgentLost(t *testing.T) {
	for _, pa := range []bool{false, true} {
		info, want := fwInfo("web"), mesospb.TaskState_TASK_LOST
		if pa {
			info, want = fwInfo("web", mesospb.FrameworkInfo_Capability_PARTITION_AWARE), mesospb.TaskState_TASK_UNREACHABLE
		}
		h, agentID, link, fwID, stream := launched(t, info)
		// Another agent that answers pings stays.
		_, link2 := h.register("host2", "cpus:1;mem:64")
		h.offers(stream)
		// The first round pings; each later one counts a miss.
		for i := 0; i <= DefaultMaxAgentPingTimeouts; i++ {
			if evs := h.events(stream); len(evs) != 0 {
				t.Fatalf("round %d: agent lost early: %v", i, evs)
			}
			h.advance(DefaultAgentPingTimeout)
			if ms := h.messages(link2); len(ms) != 1 || ms[0].GetType() != linkpb.MasterEvent_PING {
				t.Fatalf("agent 2 messages: %v", ms)
			}
			pong := &linkpb.AgentCall{Type: linkpb.AgentCall_PONG.Enum(), Pong: &linkpb.AgentCall_Pong{Seq: proto.Uint64(1)}}
			if err := h.agentCall(link2, pong); err != nil {
				t.Fatal(err)
			}
		}
		// The outstanding offer on the lost agent is rescinded first.
		evs := h.events(stream)
		if len(evs) != 3 || evs[0].GetType() != schedulerpb.Event_RESCIND {
			t.Fatalf("events = %v", evs)
		}
		evs = evs[1:]
		up := evs[0].GetUpdate().GetStatus()
		if up.GetState() != want || up.GetReason() != mesospb.TaskStatus_REASON_AGENT_REMOVED ||
			up.GetSource() != mesospb.TaskStatus_SOURCE_MASTER || len(up.GetUuid()) != 16 {
			t.Fatalf("update = %v", up)
		}
		if pa != (up.UnreachableTime != nil) {
			t.Errorf("unreachable_time = %v", up.UnreachableTime)
		}
		if evs[1].GetType() != schedulerpb.Event_FAILURE || evs[1].GetFailure().GetAgentId().GetValue() != agentID {
			t.Fatalf("failure = %v", evs[1])
		}
		if !h.closedLink[link] {
			t.Error("lost agent's link not closed")
		}
		st := h.c.State(h.now, "", nil)
		if len(st.Slaves) != 1 {
			t.Errorf("slaves = %v", st.Slaves)
		}
		// The lost agent comes back with its old id: an unreachable agent
		// re-registers (with no tasks: the master forgot none it knows).
		call := &linkpb.AgentCall{Type: linkpb.AgentCall_REGISTER.Enum(), Register: &linkpb.AgentCall_Register{
			AgentInfo: &mesospb.AgentInfo{Hostname: proto.String("host1"), Id: &mesospb.AgentID{Value: proto.String(agentID)}}}}
		if err := h.c.RegisterAgent(h.now, "link-back", call); err != nil {
			t.Fatal(err)
		}
		h.flush()
		if ms := h.messages("link-back"); len(ms) != 1 || ms[0].GetType() != linkpb.MasterEvent_REGISTERED ||
			ms[0].GetRegistered().GetAgentId().GetValue() != agentID || h.closedLink["link-back"] {
			t.Fatalf("returning agent got %v", ms)
		}
		_ = fwID
	}
}

func TestAgentDisconnectRescindsOffers(t *testing.T) {
	h := newHarness(t)
	_, link := h.register("host1", "cpus:4;mem:1024")
	_, stream := h.subscribe(fwInfo("web"))
	o := h.offers(stream)[0]
	h.c.LinkClosed(h.now, link)
	h.flush()
	evs := h.events(stream)
	if len(evs) != 1 || evs[0].GetRescind().GetOfferId().GetValue() != o.GetId().GetValue() {
		t.Fatalf("events = %v", evs)
	}
	h.advance(time.Second)
	if evs := h.events(stream); len(evs) != 0 {
		t.Fatalf("disconnected agent offered: %v", evs)
	}
}

func TestAgentReregistersAfterMasterRestart(t *testing.T) {
	h := newHarness(t)
	fwID := "old-0000"
	task := &mesospb.Task{
		Name: proto.String("t1"), TaskId: &mesospb.TaskID{Value: proto.String("t1")},
		FrameworkId: &mesospb.FrameworkID{Value: proto.String(fwID)},
		AgentId:     &mesospb.AgentID{Value: proto.String("old-S3")},
		State:       mesospb.TaskState_TASK_RUNNING.Enum(),
		Resources:   withAllocationRole(res(t, "cpus:1;mem:128"), "*"),
	}
	info := fwInfo("web")
	info.Id = &mesospb.FrameworkID{Value: proto.String(fwID)}
	info.FailoverTimeout = proto.Float64(60)
	call := &linkpb.AgentCall{Type: linkpb.AgentCall_REGISTER.Enum(), Register: &linkpb.AgentCall_Register{
		AgentInfo: &mesospb.AgentInfo{Hostname: proto.String("host1"), Id: &mesospb.AgentID{Value: proto.String("old-S3")},
			Resources: res(t, "cpus:4;mem:1024")},
		Frameworks: []*mesospb.FrameworkInfo{info},
		Tasks:      []*mesospb.Task{task},
	}}
	if err := h.c.RegisterAgent(h.now, "l1", call); err != nil {
		t.Fatal(err)
	}
	h.settle()
	if m := h.message("l1", linkpb.MasterEvent_REGISTERED); m.GetRegistered().GetAgentId().GetValue() != "old-S3" {
		t.Fatalf("REGISTERED = %v", m)
	}
	_, stream := h.subscribe(info)
	// The offer excludes what the adopted task uses.
	if got := offerRes(t, h.offers(stream)[0]); !got.Equal(resources.MustParse("cpus:3;mem:896")) {
		t.Fatalf("offered %v", got)
	}
	h.mustCall(fwID, stream, &schedulerpb.Call{Type: schedulerpb.Call_RECONCILE.Enum(), Reconcile: &schedulerpb.Call_Reconcile{}})
	if up := h.update(stream); up.GetState() != mesospb.TaskState_TASK_RUNNING || up.GetTaskId().GetValue() != "t1" {
		t.Fatalf("reconcile = %v", up)
	}
}

func TestAgentReregisterDropsUnreportedTasks(t *testing.T) {
	h, agentID, link, _, stream := launched(t, fwInfo("web"))
	call := &linkpb.AgentCall{Type: linkpb.AgentCall_REGISTER.Enum(), Register: &linkpb.AgentCall_Register{
		AgentInfo: &mesospb.AgentInfo{Hostname: proto.String("host1"), Id: &mesospb.AgentID{Value: proto.String(agentID)},
			Resources: res(t, "cpus:4;mem:1024")}}}
	if err := h.c.RegisterAgent(h.now, "l2", call); err != nil {
		t.Fatal(err)
	}
	h.settle()
	if !h.closedLink[link] {
		t.Error("old link not closed")
	}
	evs := h.events(stream)
	if len(evs) < 1 || evs[0].GetUpdate().GetStatus().GetState() != mesospb.TaskState_TASK_LOST ||
		evs[0].GetUpdate().GetStatus().GetReason() != mesospb.TaskStatus_REASON_AGENT_REREGISTERED {
		t.Fatalf("events = %v", evs)
	}
}

func TestExecutorsInOffersAndExecutorExited(t *testing.T) {
	h := newHarness(t)
	agentID, link := h.register("host1", "cpus:4;mem:1024")
	fwID, stream := h.subscribe(fwInfo("web"))
	o := h.offers(stream)[0]
	ti := commandTask("t1", agentID, res(t, "cpus:1;mem:128"))
	ti.Command = nil
	ti.Executor = &mesospb.ExecutorInfo{
		ExecutorId: &mesospb.ExecutorID{Value: proto.String("ex1")},
		Command:    &mesospb.CommandInfo{Value: proto.String("./executor")},
		Resources:  res(t, "cpus:0.5;mem:32"),
	}
	h.mustCall(fwID, stream, acceptCall([]string{o.GetId().GetValue()}, &mesospb.Filters{RefuseSeconds: proto.Float64(0)}, ti))
	run := h.message(link, linkpb.MasterEvent_RUN_TASK).GetRunTask()
	if run.GetExecutor().GetExecutorId().GetValue() != "ex1" || run.GetExecutor().GetFrameworkId().GetValue() != fwID {
		t.Fatalf("RUN_TASK executor = %v", run.GetExecutor())
	}
	h.advance(time.Second)
	o = h.offers(stream)[0]
	if ids := o.GetExecutorIds(); len(ids) != 1 || ids[0].GetValue() != "ex1" {
		t.Fatalf("executor_ids = %v", ids)
	}
	if got := offerRes(t, o); !got.Equal(resources.MustParse("cpus:2.5;mem:864")) {
		t.Fatalf("offered %v", got)
	}
	// A second task on the running executor does not pay for it again,
	// and must give the same ExecutorInfo.
	ti2 := proto.Clone(ti).(*mesospb.TaskInfo)
	ti2.TaskId = &mesospb.TaskID{Value: proto.String("t2")}
	ti3 := proto.Clone(ti2).(*mesospb.TaskInfo)
	ti3.TaskId = &mesospb.TaskID{Value: proto.String("t3")}
	ti3.Executor.Command = &mesospb.CommandInfo{Value: proto.String("./other")}
	h.mustCall(fwID, stream, acceptCall([]string{o.GetId().GetValue()}, &mesospb.Filters{RefuseSeconds: proto.Float64(0)}, ti2, ti3))
	h.message(link, linkpb.MasterEvent_RUN_TASK)
	if up := h.update(stream); up.GetTaskId().GetValue() != "t3" || !strings.Contains(up.GetMessage(), "not compatible") {
		t.Fatalf("update = %v", up)
	}
	exited := &linkpb.AgentCall{Type: linkpb.AgentCall_EXECUTOR_EXITED.Enum(), ExecutorExited: &linkpb.AgentCall_ExecutorExited{
		FrameworkId: &mesospb.FrameworkID{Value: proto.String(fwID)},
		ExecutorId:  &mesospb.ExecutorID{Value: proto.String("ex1")}, Status: proto.Int32(256)}}
	if err := h.agentCall(link, exited); err != nil {
		t.Fatal(err)
	}
	evs := h.events(stream)
	if len(evs) < 1 || evs[0].GetType() != schedulerpb.Event_FAILURE {
		t.Fatalf("events = %v", evs)
	}
	f := evs[0].GetFailure()
	if f.GetExecutorId().GetValue() != "ex1" || f.GetAgentId().GetValue() != agentID || f.GetStatus() != 256 {
		t.Fatalf("failure = %v", f)
	}
}

func TestLaunchGroup(t *testing.T) {
	h := newHarness(t)
	agentID, link := h.register("host1", "cpus:4;mem:1024")
	fwID, stream := h.subscribe(fwInfo("web"))
	o := h.offers(stream)[0]
	ex := &mesospb.ExecutorInfo{
		Type:       mesospb.ExecutorInfo_DEFAULT.Enum(),
		ExecutorId: &mesospb.ExecutorID{Value: proto.String("default")},
		Resources:  res(t, "cpus:0.1;mem:32"),
	}
	t1 := commandTask("g1", agentID, res(t, "cpus:1;mem:64"))
	t2 := commandTask("g2", agentID, res(t, "cpus:1;mem:64"))
	call := acceptCall([]string{o.GetId().GetValue()}, nil)
	call.Accept.Operations = []*mesospb.Offer_Operation{{
		Type:        mesospb.Offer_Operation_LAUNCH_GROUP.Enum(),
		LaunchGroup: &mesospb.Offer_Operation_LaunchGroup{Executor: ex, TaskGroup: &mesospb.TaskGroupInfo{Tasks: []*mesospb.TaskInfo{t1, t2}}},
	}}
	h.mustCall(fwID, stream, call)
	rg := h.message(link, linkpb.MasterEvent_RUN_TASK_GROUP).GetRunTaskGroup()
	if len(rg.GetTaskGroup().GetTasks()) != 2 || rg.GetExecutor().GetExecutorId().GetValue() != "default" {
		t.Fatalf("RUN_TASK_GROUP = %v", rg)
	}

	// An invalid group: every task gets TASK_ERROR with the group reason.
	h.advance(6 * time.Second)
	o = h.offers(stream)[0]
	bad := commandTask("g3", agentID, res(t, "cpus:100"))
	call = acceptCall([]string{o.GetId().GetValue()}, nil)
	call.Accept.Operations = []*mesospb.Offer_Operation{{
		Type: mesospb.Offer_Operation_LAUNCH_GROUP.Enum(),
		LaunchGroup: &mesospb.Offer_Operation_LaunchGroup{Executor: ex,
			TaskGroup: &mesospb.TaskGroupInfo{Tasks: []*mesospb.TaskInfo{bad, commandTask("g4", agentID, res(t, "cpus:1"))}}},
	}}
	h.mustCall(fwID, stream, call)
	evs := h.events(stream)
	if len(evs) != 2 {
		t.Fatalf("events = %v", evs)
	}
	for _, ev := range evs {
		if s := ev.GetUpdate().GetStatus(); s.GetState() != mesospb.TaskState_TASK_ERROR || s.GetReason() != mesospb.TaskStatus_REASON_TASK_GROUP_INVALID {
			t.Errorf("update = %v", s)
		}
	}
}

func TestMessagesBothWays(t *testing.T) {
	h, agentID, link, fwID, stream := launched(t, fwInfo("web"))
	h.mustCall(fwID, stream, &schedulerpb.Call{Type: schedulerpb.Call_MESSAGE.Enum(), Message: &schedulerpb.Call_Message{
		AgentId: &mesospb.AgentID{Value: proto.String(agentID)}, ExecutorId: &mesospb.ExecutorID{Value: proto.String("t1")},
		Data: []byte("hi")}})
	if m := h.message(link, linkpb.MasterEvent_FRAMEWORK_MESSAGE).GetFrameworkMessage(); string(m.GetData()) != "hi" {
		t.Fatalf("FRAMEWORK_MESSAGE = %v", m)
	}
	err := h.agentCall(link, &linkpb.AgentCall{Type: linkpb.AgentCall_FRAMEWORK_MESSAGE.Enum(), FrameworkMessage: &linkpb.AgentCall_FrameworkMessage{
		FrameworkId: &mesospb.FrameworkID{Value: proto.String(fwID)}, ExecutorId: &mesospb.ExecutorID{Value: proto.String("t1")},
		Data: []byte("back")}})
	if err != nil {
		t.Fatal(err)
	}
	evs := h.events(stream)
	if len(evs) != 1 || string(evs[0].GetMessage().GetData()) != "back" || evs[0].GetMessage().GetAgentId().GetValue() != agentID {
		t.Fatalf("events = %v", evs)
	}
	h.mustCall(fwID, stream, &schedulerpb.Call{Type: schedulerpb.Call_SHUTDOWN.Enum(), Shutdown: &schedulerpb.Call_Shutdown{
		AgentId: &mesospb.AgentID{Value: proto.String(agentID)}, ExecutorId: &mesospb.ExecutorID{Value: proto.String("t1")}}})
	h.message(link, linkpb.MasterEvent_SHUTDOWN_EXECUTOR)
}

func TestStaleLink(t *testing.T) {
	h := newHarness(t)
	h.register("host1", "cpus:1;mem:64")
	err := h.agentCall("nope", &linkpb.AgentCall{Type: linkpb.AgentCall_PONG.Enum(), Pong: &linkpb.AgentCall_Pong{Seq: proto.Uint64(1)}})
	if !errors.Is(err, ErrStaleLink) {
		t.Fatalf("err = %v", err)
	}
}

func TestOfferTimeout(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.OfferTimeout = 10 * time.Second })
	h.register("host1", "cpus:1;mem:64")
	_, stream := h.subscribe(fwInfo("web"))
	o := h.offers(stream)[0]
	if next := h.c.NextTick(); next.After(h.now.Add(10 * time.Second)) {
		t.Errorf("next tick %v is after the offer expires", next)
	}
	h.advance(10 * time.Second)
	evs := h.events(stream)
	if len(evs) != 2 || evs[0].GetRescind().GetOfferId().GetValue() != o.GetId().GetValue() || evs[1].GetType() != schedulerpb.Event_OFFERS {
		t.Fatalf("events = %v", evs)
	}
}

func TestDRFSharesBetweenFrameworks(t *testing.T) {
	h := newHarness(t)
	h.register("a1", "cpus:4;mem:1024")
	h.register("a2", "cpus:4;mem:1024")
	_, s1 := h.subscribe(fwInfo("one"))
	if n := len(h.offers(s1)); n != 2 {
		t.Fatalf("first framework got %d offers", n)
	}
	f2, s2 := h.subscribe(fwInfo("two"))
	if evs := h.events(s2); len(evs) != 0 {
		t.Fatalf("nothing left, yet %v", evs)
	}
	_ = f2
}

func TestUpdateFrameworkChangesRoles(t *testing.T) {
	h := newHarness(t)
	h.register("host1", "cpus:2;mem:512;cpus(batch):1")
	info := fwInfo("multi", mesospb.FrameworkInfo_Capability_MULTI_ROLE)
	info.Roles = []string{"web"}
	fwID, stream := h.subscribe(info)
	o := h.offers(stream)[0]
	if got := offerRes(t, o); got.Scalar("cpus") != resources.Units(2) {
		t.Fatalf("web offer = %v", got)
	}
	info.Id = &mesospb.FrameworkID{Value: proto.String(fwID)}
	info.Roles = []string{"batch"}
	h.mustCall(fwID, stream, &schedulerpb.Call{Type: schedulerpb.Call_UPDATE_FRAMEWORK.Enum(),
		UpdateFramework: &schedulerpb.Call_UpdateFramework{FrameworkInfo: info}})
	evs := h.events(stream)
	if len(evs) != 2 || evs[0].GetRescind().GetOfferId().GetValue() != o.GetId().GetValue() {
		t.Fatalf("events = %v", evs)
	}
	offer := evs[1].GetOffers().GetOffers()[0]
	if offer.GetAllocationInfo().GetRole() != "batch" || !offerRes(t, offer).Equal(resources.MustParse("cpus:2;mem:512;cpus(batch):1")) {
		t.Fatalf("batch offer = %v", offer)
	}
}
