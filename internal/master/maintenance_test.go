package master

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/maintenancepb"
	"github.com/mesoproject/meso/api/masterpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/internal/present"
	"github.com/mesoproject/meso/internal/registry"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

func machine(host, ip string) *mesospb.MachineID {
	id := &mesospb.MachineID{}
	if host != "" {
		id.Hostname = proto.String(host)
	}
	if ip != "" {
		id.Ip = proto.String(ip)
	}
	return id
}

func window(startNs, durNs int64, ids ...*mesospb.MachineID) *maintenancepb.Window {
	return &maintenancepb.Window{MachineIds: ids, Unavailability: &mesospb.Unavailability{
		Start:    &mesospb.TimeInfo{Nanoseconds: proto.Int64(startNs)},
		Duration: &mesospb.DurationInfo{Nanoseconds: proto.Int64(durNs)}}}
}

func updateSchedule(ws ...*maintenancepb.Window) *masterpb.Call {
	return &masterpb.Call{Type: masterpb.Call_UPDATE_MAINTENANCE_SCHEDULE.Enum(),
		UpdateMaintenanceSchedule: &masterpb.Call_UpdateMaintenanceSchedule{Schedule: &maintenancepb.Schedule{Windows: ws}}}
}

func startMaint(ids ...*mesospb.MachineID) *masterpb.Call {
	return &masterpb.Call{Type: masterpb.Call_START_MAINTENANCE.Enum(),
		StartMaintenance: &masterpb.Call_StartMaintenance{Machines: ids}}
}

func stopMaint(ids ...*mesospb.MachineID) *masterpb.Call {
	return &masterpb.Call{Type: masterpb.Call_STOP_MAINTENANCE.Enum(),
		StopMaintenance: &masterpb.Call_StopMaintenance{Machines: ids}}
}

func mustOK(t *testing.T, base string, c codec.Codec, call *masterpb.Call) {
	t.Helper()
	if status, _, body := operatorCall(t, base, c, call); status != http.StatusOK {
		t.Fatalf("%s: %d %s", call.GetType(), status, body)
	}
}

// maintenanceModes reads GET_MAINTENANCE_STATUS as hostname -> mode.
func maintenanceModes(t *testing.T, base string, c codec.Codec) map[string]string {
	t.Helper()
	st := query(t, base, c, masterpb.Call_GET_MAINTENANCE_STATUS).GetGetMaintenanceStatus().GetStatus()
	out := map[string]string{}
	for _, d := range st.GetDrainingMachines() {
		out[d.GetId().GetHostname()+"/"+d.GetId().GetIp()] = "DRAINING"
	}
	for _, id := range st.GetDownMachines() {
		out[id.GetHostname()+"/"+id.GetIp()] = "DOWN"
	}
	return out
}

// TestOperatorMaintenance walks a machine through Mesos' maintenance
// modes over real HTTP in both codecs: scheduled (DRAINING), START (DOWN:
// its agent is shut down and removed, its task ends, a new registration
// from it is refused), STOP (UP, out of the schedule), with
// GET_MAINTENANCE_SCHEDULE and GET_MAINTENANCE_STATUS at each step.
func TestOperatorMaintenance(t *testing.T) {
	for _, c := range codecs {
		t.Run(c.MediaType(), func(t *testing.T) {
			cl := startCluster(t, c)
			cl.launch(t, "t1")
			other := registerAgent(t, cl.base, c, "host2", "cpus:1;mem:64")

			if got := query(t, cl.base, c, masterpb.Call_GET_MAINTENANCE_SCHEDULE).GetGetMaintenanceSchedule().GetSchedule(); len(got.GetWindows()) != 0 {
				t.Fatalf("initial schedule = %v; want empty", got)
			}
			start := time.Now().Add(time.Hour).UnixNano()
			mustOK(t, cl.base, c, updateSchedule(window(start, int64(time.Hour), machine("HOST1", "")), window(start, 0, machine("", "10.0.0.9"))))
			sched := query(t, cl.base, c, masterpb.Call_GET_MAINTENANCE_SCHEDULE).GetGetMaintenanceSchedule().GetSchedule()
			if len(sched.GetWindows()) != 2 || sched.GetWindows()[0].GetMachineIds()[0].GetHostname() != "HOST1" ||
				sched.GetWindows()[0].GetUnavailability().GetStart().GetNanoseconds() != start {
				t.Fatalf("schedule = %v", sched)
			}
			if got := maintenanceModes(t, cl.base, c); len(got) != 2 || got["HOST1/"] != "DRAINING" || got["/10.0.0.9"] != "DRAINING" {
				t.Fatalf("status = %v; want both DRAINING", got)
			}
			// The framework with a task on host1 is asked to leave it; its
			// DECLINE shows in the status.
			io := cl.next(t, schedulerpb.Event_INVERSE_OFFERS).GetInverseOffers().GetInverseOffers()
			if len(io) != 1 || io[0].GetAgentId().GetValue() != cl.agent.id || io[0].GetUnavailability().GetStart().GetNanoseconds() != start {
				t.Fatalf("INVERSE_OFFERS = %v", io)
			}
			cl.fw.mustCall(&schedulerpb.Call{Type: schedulerpb.Call_DECLINE_INVERSE_OFFERS.Enum(),
				DeclineInverseOffers: &schedulerpb.Call_DeclineInverseOffers{InverseOfferIds: []*mesospb.OfferID{io[0].GetId()}}})
			st := query(t, cl.base, c, masterpb.Call_GET_MAINTENANCE_STATUS).GetGetMaintenanceStatus().GetStatus()
			if d := st.GetDrainingMachines(); len(d) != 2 || len(d[0].GetStatuses()) != 1 ||
				d[0].GetStatuses()[0].GetStatus() != maintenancepb.InverseOfferStatus_DECLINE || d[0].GetStatuses()[0].GetFrameworkId().GetValue() != cl.fw.id {
				t.Fatalf("status after DECLINE_INVERSE_OFFERS = %v", st)
			}

			mustOK(t, cl.base, c, startMaint(machine("host1", "")))
			if got := maintenanceModes(t, cl.base, c); got["HOST1/"] != "DOWN" || got["/10.0.0.9"] != "DRAINING" {
				t.Fatalf("status after START = %v", got)
			}
			if ev := cl.agent.nextOf(linkpb.MasterEvent_SHUTDOWN_AGENT); !strings.Contains(ev.GetShutdownAgent().GetMessage(), "Machine DOWN") {
				t.Fatalf("SHUTDOWN_AGENT = %v", ev)
			}
			agents := query(t, cl.base, c, masterpb.Call_GET_AGENTS).GetGetAgents().GetAgents()
			if len(agents) != 1 || agents[0].GetAgentInfo().GetHostname() != "host2" {
				t.Fatalf("GET_AGENTS after START = %v; want host2 only", agents)
			}
			if st := cl.next(t, schedulerpb.Event_UPDATE).GetUpdate().GetStatus(); st.GetTaskId().GetValue() != "t1" ||
				st.GetState() != mesospb.TaskState_TASK_LOST || !strings.Contains(st.GetMessage(), "Machine DOWN") {
				t.Fatalf("update of the DOWN agent's task = %v; want TASK_LOST (not partition aware)", st)
			}
			refused := registerRefused(t, cl.base, c, "host1")
			if !strings.Contains(refused, "maintenance") {
				t.Fatalf("registration from a DOWN machine: %q", refused)
			}

			// A DOWN machine cannot leave the schedule by an update.
			if status, _, body := operatorCall(t, cl.base, c, updateSchedule(window(start, 0, machine("", "10.0.0.9")))); status != http.StatusBadRequest ||
				!strings.Contains(string(body), "is deactivated and cannot be removed from the schedule") {
				t.Fatalf("dropping a DOWN machine: %d %s", status, body)
			}
			mustOK(t, cl.base, c, stopMaint(machine("host1", "")))
			sched = query(t, cl.base, c, masterpb.Call_GET_MAINTENANCE_SCHEDULE).GetGetMaintenanceSchedule().GetSchedule()
			if len(sched.GetWindows()) != 1 || sched.GetWindows()[0].GetMachineIds()[0].GetIp() != "10.0.0.9" {
				t.Fatalf("schedule after STOP = %v; want the 10.0.0.9 window only", sched)
			}
			if got := maintenanceModes(t, cl.base, c); len(got) != 1 || got["/10.0.0.9"] != "DRAINING" {
				t.Fatalf("status after STOP = %v", got)
			}
			registerAgent(t, cl.base, c, "host1", "cpus:1;mem:64") // UP again: admitted
			_ = other
		})
	}
}

// registerRefused opens a link that the master answers with
// SHUTDOWN_AGENT, and returns its message.
func registerRefused(t *testing.T, base string, c codec.Codec, hostname string) string {
	t.Helper()
	r := &linkpb.AgentCall{Type: linkpb.AgentCall_REGISTER.Enum(), Register: &linkpb.AgentCall_Register{
		AgentInfo: &mesospb.AgentInfo{Hostname: proto.String(hostname), Port: proto.Int32(5051)},
		Version:   proto.String("test")}}
	req, err := http.NewRequest(http.MethodPost, base+"/internal/v1/link", strings.NewReader(string(encode(t, c, r))))
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
		t.Fatalf("register: %s", resp.Status)
	}
	s := newEventStream(t, resp, c, func() *linkpb.MasterEvent { return &linkpb.MasterEvent{} }, nil)
	ev := s.next()
	if ev.GetType() != linkpb.MasterEvent_SHUTDOWN_AGENT {
		t.Fatalf("first link event = %v; want SHUTDOWN_AGENT", ev)
	}
	return ev.GetShutdownAgent().GetMessage()
}

// TestMaintenanceBadInput: each call's malformed or refused input is 400
// with Mesos' message, and the master keeps serving.
func TestMaintenanceBadInput(t *testing.T) {
	for _, c := range codecs {
		t.Run(c.MediaType(), func(t *testing.T) {
			_, base := startMaster(t)
			mustOK(t, base, c, updateSchedule(window(1, 0, machine("a", "")), window(1, 0, machine("b", ""))))
			mustOK(t, base, c, startMaint(machine("b", "")))
			cases := []struct {
				call *masterpb.Call
				want string
			}{
				{&masterpb.Call{Type: masterpb.Call_UPDATE_MAINTENANCE_SCHEDULE.Enum()}, "update_maintenance_schedule"},
				{updateSchedule(window(1, 0)), "List of machines in the maintenance window is empty"},
				{updateSchedule(window(1, -1, machine("b", ""))), "Unavailability 'duration' is negative"},
				{updateSchedule(window(1, 0, machine("", ""))), "Both 'hostname' and 'ip' for a machine are empty"},
				{updateSchedule(window(1, 0, machine("b", "300.1.1.1"))), "not an IPv4 address"},
				{updateSchedule(window(1, 0, machine("b", "")), window(1, 0, machine("B", ""))), "appears more than once in the schedule"},
				{updateSchedule(window(1, 0, machine("a", ""))), "is deactivated and cannot be removed from the schedule"},
				{&masterpb.Call{Type: masterpb.Call_START_MAINTENANCE.Enum()}, "start_maintenance"},
				{startMaint(), "List of machines is empty"},
				{startMaint(machine("c", "")), "is not part of a maintenance schedule"},
				{startMaint(machine("b", "")), "is not in DRAINING mode and cannot be brought down"},
				{startMaint(machine("a", ""), machine("a", "")), "appears more than once"},
				{&masterpb.Call{Type: masterpb.Call_STOP_MAINTENANCE.Enum()}, "stop_maintenance"},
				{stopMaint(), "List of machines is empty"},
				{stopMaint(machine("c", "")), "is not part of a maintenance schedule"},
				{stopMaint(machine("a", "")), "is not in DOWN mode and cannot be brought up"},
				{stopMaint(machine("", "x")), "not an IPv4 address"},
			}
			for _, tc := range cases {
				status, _, body := operatorCall(t, base, c, tc.call)
				if status != http.StatusBadRequest || !strings.Contains(string(body), tc.want) {
					t.Errorf("%s %v: %d %s; want 400 with %q", tc.call.GetType(), tc.call, status, body, tc.want)
				}
			}
			if c == codec.JSON { // the codec will not encode a window without its required unavailability
				resp, body := post(t, base+"/api/v1", []byte(`{"type":"UPDATE_MAINTENANCE_SCHEDULE","update_maintenance_schedule":{"schedule":{"windows":[{"machine_ids":[{"hostname":"b"}]}]}}}`),
					map[string]string{"Content-Type": c.MediaType()})
				if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "unavailability") {
					t.Errorf("window without unavailability: %s %s", resp.Status, body)
				}
			}
			if got := maintenanceModes(t, base, c); len(got) != 2 || got["a/"] != "DRAINING" || got["b/"] != "DOWN" {
				t.Fatalf("status after refused calls = %v; want unchanged", got)
			}
		})
	}
}

// TestMaintenanceACLs: the five maintenance calls ask Mesos' ACLs; eve is
// refused each (403 naming the ACL), ops may.
func TestMaintenanceACLs(t *testing.T) {
	var rules []string
	for _, a := range []string{"update_maintenance_schedules", "get_maintenance_schedules", "start_maintenances", "stop_maintenances", "get_maintenance_statuses"} {
		rules = append(rules, `"`+a+`": [{"principals": {"values": ["ops"]}, "machines": {"type": "ANY"}},
		  {"principals": {"type": "ANY"}, "machines": {"type": "NONE"}}]`)
	}
	_, base := startMaster(t, withOps(t), withACLs(t, "{"+strings.Join(rules, ",")+"}"))
	eve, ops := basic{"eve", "e-secret"}, basic{"ops", "o-secret"}
	calls := []struct {
		call *masterpb.Call
		acl  string
		ok   int // ops' status
	}{
		{updateSchedule(window(1, 0, machine("a", ""))), "update_maintenance_schedules", http.StatusOK},
		{&masterpb.Call{Type: masterpb.Call_GET_MAINTENANCE_SCHEDULE.Enum()}, "get_maintenance_schedules", http.StatusOK},
		{&masterpb.Call{Type: masterpb.Call_GET_MAINTENANCE_STATUS.Enum()}, "get_maintenance_statuses", http.StatusOK},
		{startMaint(machine("a", "")), "start_maintenances", http.StatusOK},
		{stopMaint(machine("a", "")), "stop_maintenances", http.StatusOK},
	}
	for _, tc := range calls {
		if status, body := operatorAs(t, base, tc.call, eve); status != http.StatusForbidden || !strings.Contains(string(body), tc.acl) {
			t.Errorf("eve's %s: %d %s; want 403 naming %s", tc.call.GetType(), status, body, tc.acl)
		}
		if status, body := operatorAs(t, base, tc.call, ops); status != tc.ok {
			t.Errorf("ops' %s: %d %s", tc.call.GetType(), status, body)
		}
	}
}

// TestMaintenanceSurvivesRestart: the schedule and the DOWN machines are
// in the registry; the master restarted on the same work dir recovers
// them, and still refuses the DOWN machine's agent.
func TestMaintenanceSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	rep := func() *Replicated { return fastRaft(&Replicated{Dir: dir, Bind: "127.0.0.1:0"}) }
	first := serveHA(t, listen(t), rep())
	waitLeading(t, first)
	c := codec.Protobuf
	mustOK(t, first.base, c, updateSchedule(window(5, 7, machine("a", "10.0.0.1")), window(9, 0, machine("b", ""))))
	mustOK(t, first.base, c, startMaint(machine("a", "10.0.0.1")))
	want := query(t, first.base, c, masterpb.Call_GET_MAINTENANCE_SCHEDULE).GetGetMaintenanceSchedule().GetSchedule()
	first.stop()

	second := serveHA(t, listen(t), rep())
	waitLeading(t, second)
	got := query(t, second.base, c, masterpb.Call_GET_MAINTENANCE_SCHEDULE).GetGetMaintenanceSchedule().GetSchedule()
	if !proto.Equal(got, want) {
		t.Fatalf("schedule after restart = %v; want %v", got, want)
	}
	if modes := maintenanceModes(t, second.base, c); len(modes) != 2 || modes["a/10.0.0.1"] != "DOWN" || modes["b/"] != "DRAINING" {
		t.Fatalf("status after restart = %v", modes)
	}
	mustOK(t, second.base, c, stopMaint(machine("a", "10.0.0.1")))
	if modes := maintenanceModes(t, second.base, c); len(modes) != 1 || modes["b/"] != "DRAINING" {
		t.Fatalf("status after STOP on the new leader = %v", modes)
	}
}

// TestOperatorAnswerFollowsCommit: an operator change is answered only
// after the registry commit of its loop step. The flush of that step
// holds the commit until the answer arrives or a bound passes: an answer
// sent before the commit is seen while the commit is still held.
func TestOperatorAnswerFollowsCommit(t *testing.T) {
	m, err := New(Config{Version: "test", HeartbeatInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.setup(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5050}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go m.loop.run(ctx)
	srv := httptest.NewServer(m.routes())
	t.Cleanup(func() {
		srv.Close()
		cancel()
		<-m.loop.done
	})
	base := srv.URL
	answered := make(chan struct{})
	var early, committed bool
	fail := errors.New("disk full")
	failNext := false
	if err := m.loop.do(context.Background(), func(l *loop, _ time.Time) {
		l.flush = func() error {
			if len(l.committed) == 0 {
				return nil
			}
			if failNext {
				return fail
			}
			select {
			case <-answered:
				early = true
			case <-time.After(300 * time.Millisecond): // the answer must not come while the commit is held
			}
			committed = true
			return nil
		}
		l.flushFailed = func(*loop, error) {}
	}); err != nil {
		t.Fatal(err)
	}
	status, _, body := operatorCall(t, base, codec.JSON, updateSchedule(window(1, 0, machine("a", ""))))
	close(answered)
	if status != http.StatusOK {
		t.Fatalf("UPDATE_MAINTENANCE_SCHEDULE: %d %s", status, body)
	}
	var e, c bool
	_ = m.loop.do(context.Background(), func(*loop, time.Time) { e, c = early, committed })
	if e || !c {
		t.Fatalf("answer before the commit (early=%v committed=%v)", e, c)
	}

	// A commit that fails is not answered 200: the change may be lost.
	_ = m.loop.do(context.Background(), func(*loop, time.Time) { failNext = true })
	status, _, body = operatorCall(t, base, codec.JSON, updateSchedule(window(1, 0, machine("b", ""))))
	if status != http.StatusServiceUnavailable || !strings.Contains(string(body), "disk full") {
		t.Fatalf("UPDATE_MAINTENANCE_SCHEDULE with a failing commit: %d %s; want 503", status, body)
	}
}

func drainCall(agentID string, grace time.Duration, markGone bool) *masterpb.Call {
	d := &masterpb.Call_DrainAgent{AgentId: &mesospb.AgentID{Value: proto.String(agentID)}}
	if grace != 0 {
		d.MaxGracePeriod = durationpb.New(grace)
	}
	if markGone {
		d.MarkGone = proto.Bool(true)
	}
	return &masterpb.Call{Type: masterpb.Call_DRAIN_AGENT.Enum(), DrainAgent: d}
}

// agentView is an agent in GET_AGENTS (nil if absent).
func agentView(t *testing.T, base string, c codec.Codec, id string) *masterpb.Response_GetAgents_Agent {
	t.Helper()
	for _, a := range query(t, base, c, masterpb.Call_GET_AGENTS).GetGetAgents().GetAgents() {
		if a.GetAgentInfo().GetId().GetValue() == id {
			return a
		}
	}
	return nil
}

// TestOperatorDrainAgent over real HTTP in both codecs: DRAIN_AGENT
// deactivates the agent and kills its task with the capped grace period;
// the agent is DRAINING until the task is gone, then DRAINED; REACTIVATE
// ends the drain. mark_gone removes a drained agent for good. Bad input is
// 400 (404 for an unknown agent).
func TestOperatorDrainAgent(t *testing.T) {
	for _, c := range codecs {
		t.Run(c.MediaType(), func(t *testing.T) {
			cl := startCluster(t, c)
			cl.launch(t, "t1")
			mustOK(t, cl.base, c, drainCall(cl.agent.id, 3*time.Second, false))
			kill := cl.agent.nextOf(linkpb.MasterEvent_KILL_TASK).GetKillTask()
			if kill.GetTaskId().GetValue() != "t1" || kill.GetKillPolicy().GetGracePeriod().GetNanoseconds() != int64(3*time.Second) {
				t.Fatalf("KILL_TASK = %v; want t1 with a 3s grace period", kill)
			}
			a := agentView(t, cl.base, c, cl.agent.id)
			if a.GetActive() || !a.GetDeactivated() || a.GetDrainInfo().GetState() != mesospb.DrainState_DRAINING ||
				a.GetDrainInfo().GetConfig().GetMaxGracePeriod().GetNanoseconds() != int64(3*time.Second) {
				t.Fatalf("agent while draining = %v", a)
			}
			if st := masterStateAgents(t, cl.base); len(st) != 1 || !st[cl.agent.id].Deactivated || st[cl.agent.id].DrainInfo == nil ||
				st[cl.agent.id].DrainInfo.State != "DRAINING" || st[cl.agent.id].DrainInfo.Config.MaxGracePeriod.Nanoseconds != int64(3*time.Second) {
				t.Fatalf("/master/state slaves while draining = %+v", st)
			}
			cl.update(t, "t1", mesospb.TaskState_TASK_KILLED, "drained")
			deadline := time.Now().Add(waitFor)
			for agentView(t, cl.base, c, cl.agent.id).GetDrainInfo().GetState() != mesospb.DrainState_DRAINED {
				if time.Now().After(deadline) {
					t.Fatal("the agent never became DRAINED")
				}
				runtime.Gosched()
			}
			mustOK(t, cl.base, c, &masterpb.Call{Type: masterpb.Call_REACTIVATE_AGENT.Enum(),
				ReactivateAgent: &masterpb.Call_ReactivateAgent{AgentId: &mesospb.AgentID{Value: proto.String(cl.agent.id)}}})
			if a := agentView(t, cl.base, c, cl.agent.id); !a.GetActive() || a.GetDeactivated() || a.DrainInfo != nil {
				t.Fatalf("agent after REACTIVATE = %v", a)
			}

			other := registerAgent(t, cl.base, c, "host2", "cpus:1;mem:64")
			mustOK(t, cl.base, c, drainCall(other.id, 0, true))
			other.nextOf(linkpb.MasterEvent_SHUTDOWN_AGENT)
			if a := agentView(t, cl.base, c, other.id); a != nil {
				t.Fatalf("agent drained with mark_gone still listed: %v", a)
			}

			for _, tc := range []struct {
				call   *masterpb.Call
				status int
				want   string
			}{
				{&masterpb.Call{Type: masterpb.Call_DRAIN_AGENT.Enum()}, http.StatusBadRequest, "drain_agent"},
				{drainCall(cl.agent.id, -time.Second, false), http.StatusBadRequest, "max_grace_period must not be negative"},
				{drainCall("no-such-agent", 0, false), http.StatusNotFound, "no-such-agent"},
				{drainCall(other.id, 0, false), http.StatusNotFound, other.id},
			} {
				if status, _, body := operatorCall(t, cl.base, c, tc.call); status != tc.status || !strings.Contains(string(body), tc.want) {
					t.Errorf("%v: %d %s; want %d with %q", tc.call, status, body, tc.status, tc.want)
				}
			}
		})
	}
}

// masterStateAgents reads /master/state's slaves by id.
func masterStateAgents(t *testing.T, base string) map[string]present.MasterAgent {
	t.Helper()
	resp, err := http.Get(base + "/master/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st present.MasterState
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	out := map[string]present.MasterAgent{}
	for _, a := range st.Slaves {
		out[a.ID] = a
	}
	return out
}

// TestDrainSurvivesRestart: a drain is in the registry; after a restart
// the agent that re-registers with its task is still deactivated and
// DRAINING, and the task is killed again.
func TestDrainSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	rep := func() *Replicated { return fastRaft(&Replicated{Dir: dir, Bind: "127.0.0.1:0"}) }
	first := serveHA(t, listen(t), rep())
	waitLeading(t, first)
	a := registerAgent(t, first.base, codec.JSON, "host1", "cpus:2;mem:256")
	info := fwInfo("web")
	info.FailoverTimeout = proto.Float64(3600)
	f := subscribe(t, first.base, codec.JSON, info)
	task := launchRunning(t, f, a, "t1")
	mustOK(t, first.base, codec.JSON, drainCall(a.id, time.Minute, false))
	a.nextOf(linkpb.MasterEvent_KILL_TASK)
	first.stop()

	second := serveHA(t, listen(t), rep())
	waitLeading(t, second)
	b := reregister(t, second.base, a, withID(info, f.id), task)
	if k := b.nextOf(linkpb.MasterEvent_KILL_TASK).GetKillTask(); k.GetTaskId().GetValue() != "t1" ||
		k.GetKillPolicy().GetGracePeriod().GetNanoseconds() != int64(time.Minute) {
		t.Fatalf("KILL_TASK after restart = %v", k)
	}
	v := agentView(t, second.base, codec.JSON, a.id)
	if v.GetActive() || !v.GetDeactivated() || v.GetDrainInfo().GetState() != mesospb.DrainState_DRAINING {
		t.Fatalf("agent after restart = %v; want deactivated and DRAINING", v)
	}
}

// TestMaintenanceAndDrainSurviveFailover: with three masters, the
// schedule, a DOWN machine and a drain written by the leader are what the
// next leader serves once the first one stops.
func TestMaintenanceAndDrainSurviveFailover(t *testing.T) {
	var https, rafts []net.Listener
	var peers []registry.Peer
	for range 3 {
		h, r := listen(t), listen(t)
		https, rafts = append(https, h), append(rafts, r)
		peers = append(peers, registry.Peer{ID: h.Addr().String(), Addr: r.Addr().String()})
	}
	var ms []*haMaster
	for i := range 3 {
		ms = append(ms, serveHA(t, https[i], fastRaft(&Replicated{Dir: t.TempDir(), Listener: rafts[i], Peers: peers})))
	}
	leader := waitLeading(t, ms...)
	c := codec.JSON
	a := registerAgent(t, leader.base, c, "host1", "cpus:2;mem:256")
	mustOK(t, leader.base, c, updateSchedule(window(5, 7, machine("a", "")), window(9, 0, machine("b", ""))))
	mustOK(t, leader.base, c, startMaint(machine("a", "")))
	mustOK(t, leader.base, c, drainCall(a.id, time.Minute, false))
	want := query(t, leader.base, c, masterpb.Call_GET_MAINTENANCE_SCHEDULE).GetGetMaintenanceSchedule().GetSchedule()
	var followers []*haMaster
	for _, h := range ms {
		if h != leader {
			followers = append(followers, h)
		}
	}
	leader.stop()
	next := waitLeading(t, followers...)
	if got := query(t, next.base, c, masterpb.Call_GET_MAINTENANCE_SCHEDULE).GetGetMaintenanceSchedule().GetSchedule(); !proto.Equal(got, want) {
		t.Fatalf("schedule on the new leader = %v; want %v", got, want)
	}
	if modes := maintenanceModes(t, next.base, c); len(modes) != 2 || modes["a/"] != "DOWN" || modes["b/"] != "DRAINING" {
		t.Fatalf("status on the new leader = %v", modes)
	}
	registerWith(t, next.base, c, &linkpb.AgentCall{Type: linkpb.AgentCall_REGISTER.Enum(), AgentId: &mesospb.AgentID{Value: proto.String(a.id)},
		Register: &linkpb.AgentCall_Register{AgentInfo: &mesospb.AgentInfo{Id: &mesospb.AgentID{Value: proto.String(a.id)},
			Hostname: proto.String("host1"), Port: proto.Int32(5051)}, Version: proto.String("test"), Secret: proto.String(a.secret)}})
	if v := agentView(t, next.base, c, a.id); !v.GetDeactivated() || v.GetDrainInfo().GetState() != mesospb.DrainState_DRAINED {
		t.Fatalf("agent on the new leader = %v; want deactivated and DRAINED", v)
	}
}
