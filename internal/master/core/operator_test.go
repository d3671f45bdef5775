package core

import (
	"errors"
	"fmt"
	"maps"
	"testing"

	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/masterpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"google.golang.org/protobuf/proto"
)

// opReplica is what an operator SUBSCRIBE client knows: the SUBSCRIBED
// snapshot with every later event applied.
type opReplica struct {
	id         string
	subscribed bool
	tasks      map[string]mesospb.TaskState // framework/task -> state
	frameworks map[string]bool              // live framework id -> connected
	removed    map[string]bool              // completed framework ids
	agents     map[string]bool
}

func newOpReplica(id string) *opReplica {
	return &opReplica{id: id, tasks: map[string]mesospb.TaskState{}, frameworks: map[string]bool{},
		removed: map[string]bool{}, agents: map[string]bool{}}
}

func taskName(t *mesospb.Task) string {
	return t.GetFrameworkId().GetValue() + "/" + t.GetTaskId().GetValue()
}

// apply applies the operator events of one Ready (nil-safe).
func (o *opReplica) apply(t *testing.T, evs []OperatorEvent) {
	t.Helper()
	if o == nil {
		return
	}
	for _, e := range evs {
		if _, err := proto.Marshal(e.Event); err != nil {
			t.Fatalf("operator event does not marshal: %v\n%v", err, e.Event)
		}
		switch {
		case e.To == o.id:
			if o.subscribed || e.Event.GetType() != masterpb.Event_SUBSCRIBED {
				t.Fatalf("addressed event %v after SUBSCRIBED", e.Event.GetType())
			}
			o.subscribed = true
			o.load(e.Event.GetSubscribed().GetGetState())
		case e.To != "":
		case !o.subscribed:
			// A broadcast made before this subscriber's snapshot: not ours.
		default:
			o.event(t, e.Event)
		}
	}
}

func (o *opReplica) load(gs *masterpb.Response_GetState) {
	tasks := gs.GetGetTasks()
	for _, list := range [][]*mesospb.Task{tasks.GetTasks(), tasks.GetUnreachableTasks(), tasks.GetCompletedTasks()} {
		for _, task := range list {
			o.tasks[taskName(task)] = task.GetState()
		}
	}
	for _, fw := range gs.GetGetFrameworks().GetFrameworks() {
		o.frameworks[fw.GetFrameworkInfo().GetId().GetValue()] = fw.GetConnected()
	}
	for _, fw := range gs.GetGetFrameworks().GetCompletedFrameworks() {
		o.removed[fw.GetFrameworkInfo().GetId().GetValue()] = true
	}
	for _, ag := range gs.GetGetAgents().GetAgents() {
		o.agents[ag.GetAgentInfo().GetId().GetValue()] = true
	}
}

func (o *opReplica) event(t *testing.T, ev *masterpb.Event) {
	t.Helper()
	switch ev.GetType() {
	case masterpb.Event_TASK_ADDED:
		o.tasks[taskName(ev.GetTaskAdded().GetTask())] = ev.GetTaskAdded().GetTask().GetState()
	case masterpb.Event_TASK_UPDATED:
		u := ev.GetTaskUpdated()
		k := u.GetFrameworkId().GetValue() + "/" + u.GetStatus().GetTaskId().GetValue()
		if _, ok := o.tasks[k]; !ok {
			t.Fatalf("TASK_UPDATED of unknown task %s", k)
		}
		o.tasks[k] = u.GetState()
	case masterpb.Event_FRAMEWORK_ADDED:
		id := ev.GetFrameworkAdded().GetFramework().GetFrameworkInfo().GetId().GetValue()
		if _, ok := o.frameworks[id]; ok {
			t.Fatalf("FRAMEWORK_ADDED of known framework %s", id)
		}
		o.frameworks[id] = ev.GetFrameworkAdded().GetFramework().GetConnected()
	case masterpb.Event_FRAMEWORK_UPDATED:
		id := ev.GetFrameworkUpdated().GetFramework().GetFrameworkInfo().GetId().GetValue()
		if _, ok := o.frameworks[id]; !ok {
			t.Fatalf("FRAMEWORK_UPDATED of unknown framework %s", id)
		}
		o.frameworks[id] = ev.GetFrameworkUpdated().GetFramework().GetConnected()
	case masterpb.Event_FRAMEWORK_REMOVED:
		id := ev.GetFrameworkRemoved().GetFrameworkInfo().GetId().GetValue()
		delete(o.frameworks, id)
		o.removed[id] = true
	case masterpb.Event_AGENT_ADDED:
		o.agents[ev.GetAgentAdded().GetAgent().GetAgentInfo().GetId().GetValue()] = true
	case masterpb.Event_AGENT_REMOVED:
		id := ev.GetAgentRemoved().GetAgentId().GetValue()
		if !o.agents[id] {
			t.Fatalf("AGENT_REMOVED of unknown agent %s", id)
		}
		delete(o.agents, id)
	default:
		t.Fatalf("unexpected operator event %v", ev.GetType())
	}
}

// check compares the replica with a fresh GET_STATE.
func (o *opReplica) check(t *testing.T, c *Core) {
	t.Helper()
	if o == nil {
		return
	}
	want := newOpReplica("")
	want.load(c.GetState())
	if !maps.Equal(o.tasks, want.tasks) {
		t.Fatalf("tasks from the event stream\n%v\nGET_STATE\n%v", o.tasks, want.tasks)
	}
	if !maps.Equal(o.frameworks, want.frameworks) || !maps.Equal(o.removed, want.removed) {
		t.Fatalf("frameworks from the event stream %v (removed %v), GET_STATE %v (removed %v)",
			o.frameworks, o.removed, want.frameworks, want.removed)
	}
	if !maps.Equal(o.agents, want.agents) {
		t.Fatalf("agents from the event stream %v, GET_STATE %v", o.agents, want.agents)
	}
}

// TestOperatorStreamProperty runs the random delivery scenarios (launches,
// updates, acknowledgements, disconnections, agent losses and restarts)
// with an operator subscribing at a random step, and checks after every
// step that SUBSCRIBED plus the events since equal GET_STATE.
func TestOperatorStreamProperty(t *testing.T) {
	for seed := range uint64(100) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			d := newDeliverySim(t, seed)
			at := int(seed % 40)
			for i := range 150 {
				if i == at {
					d.op = newOpReplica("op-1")
					if err := d.h.c.OperatorSubscribe("op-1"); err != nil {
						t.Fatal(err)
					}
					d.route()
				}
				d.step()
				d.op.check(t, d.h.c)
			}
			d.finish()
			d.op.check(t, d.h.c)
			if ags := d.h.c.GetAgents().GetAgents(); len(ags) > 0 {
				id := ags[0].GetAgentInfo().GetId().GetValue()
				if err := d.h.c.DeactivateAgent(d.h.now, id); err != nil {
					t.Fatal(err)
				}
				if err := d.h.c.MarkAgentGone(d.h.now, id); err != nil {
					t.Fatal(err)
				}
				if ag := d.byAgentID(id); ag != nil {
					ag.lost = true // the core closed its link
				}
				d.route()
				d.op.check(t, d.h.c)
			}
			if err := d.h.c.Teardown(d.h.now, d.fwID); err != nil {
				t.Fatal(err)
			}
			d.stream = "" // TEARDOWN closes it
			d.route()
			if len(d.op.frameworks) != 0 || !d.op.removed[d.fwID] {
				t.Fatalf("after TEARDOWN the stream shows frameworks %v, removed %v", d.op.frameworks, d.op.removed)
			}
			d.op.check(t, d.h.c)
		})
	}
}

// No operator subscriber, no operator events (nothing is built).
func TestOperatorEventsOnlyWhenSubscribed(t *testing.T) {
	h := newHarness(t)
	h.register("host", "cpus:2;mem:256")
	h.subscribe(fwInfo("f"))
	if r := h.c.Ready(); len(r.Operator) != 0 {
		t.Fatalf("operator events with no subscriber: %v", r.Operator)
	}
	if err := h.c.OperatorSubscribe("x"); err != nil {
		t.Fatal(err)
	}
	if err := h.c.OperatorSubscribe("x"); err == nil {
		t.Fatal("a subscriber id was accepted twice")
	}
	h.c.OperatorUnsubscribe("x")
	h.register("host2", "cpus:2;mem:256")
	for _, e := range h.c.Ready().Operator {
		if e.To == "" {
			t.Fatalf("broadcast after the subscriber left: %v", e.Event)
		}
	}
}

// UPDATE_WEIGHTS applies all weights or none, and the weights show in
// GET_WEIGHTS and GET_ROLES.
func TestUpdateWeights(t *testing.T) {
	h := newHarness(t)
	w := func(role string, v float64) *mesospb.WeightInfo {
		return &mesospb.WeightInfo{Role: proto.String(role), Weight: proto.Float64(v)}
	}
	if err := h.c.UpdateWeights([]*mesospb.WeightInfo{w("a", 2), w("b", -1)}); err == nil {
		t.Fatal("a negative weight was accepted")
	}
	if got := h.c.GetWeights().GetWeightInfos(); len(got) != 0 {
		t.Fatalf("a refused update changed weights: %v", got)
	}
	if err := h.c.UpdateWeights([]*mesospb.WeightInfo{{Weight: proto.Float64(1)}}); err == nil {
		t.Fatal("a weight without a role was accepted")
	}
	if err := h.c.UpdateWeights([]*mesospb.WeightInfo{w("b", 3), w("a", 2)}); err != nil {
		t.Fatal(err)
	}
	got := h.c.GetWeights().GetWeightInfos()
	if len(got) != 2 || got[0].GetRole() != "a" || got[0].GetWeight() != 2 || got[1].GetRole() != "b" {
		t.Fatalf("GetWeights = %v", got)
	}
	if roles := h.c.GetRoles().GetRoles(); len(roles) != 2 || roles[1].GetWeight() != 3 {
		t.Fatalf("GetRoles = %v", roles)
	}
}

// MARK_AGENT_GONE: the agent is shut down and removed; its tasks end in
// TASK_GONE_BY_OPERATOR (TASK_LOST without PARTITION_AWARE) with
// REASON_AGENT_REMOVED_BY_OPERATOR, held until acknowledged; the id can
// never re-register; an unknown id is ErrNotFound.
func TestMarkAgentGone(t *testing.T) {
	for _, pa := range []bool{false, true} {
		info, want := fwInfo("web"), mesospb.TaskState_TASK_LOST
		if pa {
			info, want = fwInfo("web", mesospb.FrameworkInfo_Capability_PARTITION_AWARE), mesospb.TaskState_TASK_GONE_BY_OPERATOR
		}
		h, agentID, link, _, stream := launched(t, info)
		if err := h.c.MarkAgentGone(h.now, "nope"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown agent: %v", err)
		}
		if err := h.c.MarkAgentGone(h.now, agentID); err != nil {
			t.Fatal(err)
		}
		h.settle()
		if ms := h.messages(link); len(ms) == 0 || ms[0].GetType() != linkpb.MasterEvent_SHUTDOWN_AGENT || !h.closedLink[link] {
			t.Fatalf("agent link: %v closed %v", ms, h.closedLink[link])
		}
		var up *mesospb.TaskStatus
		for _, ev := range h.events(stream) {
			if ev.GetType() == schedulerpb.Event_UPDATE {
				up = ev.GetUpdate().GetStatus()
			}
		}
		if up.GetState() != want || up.GetReason() != mesospb.TaskStatus_REASON_AGENT_REMOVED_BY_OPERATOR || len(up.GetUuid()) != 16 {
			t.Fatalf("update = %v", up)
		}
		if h.c.cfg.Registry.AgentState(agentID) != AgentGone || len(h.c.GetAgents().GetAgents()) != 0 {
			t.Fatal("the agent is not gone")
		}
		call := registerCall("host1", "cpus:4;mem:1024")
		call.Register.AgentInfo.Id = &mesospb.AgentID{Value: proto.String(agentID)}
		if err := h.c.RegisterAgent(h.now, "link-again", call); err != nil {
			t.Fatal(err)
		}
		h.flush()
		if ms := h.messages("link-again"); len(ms) != 1 || ms[0].GetType() != linkpb.MasterEvent_SHUTDOWN_AGENT {
			t.Fatalf("a gone agent re-registered: %v", ms)
		}
	}
}

// An unreachable agent marked gone: its tasks held as TASK_UNREACHABLE get
// TASK_GONE_BY_OPERATOR.
func TestMarkUnreachableAgentGone(t *testing.T) {
	h, agentID, _, _, stream := launched(t, fwInfo("web", mesospb.FrameworkInfo_Capability_PARTITION_AWARE))
	for i := 0; i <= DefaultMaxAgentPingTimeouts; i++ {
		h.advance(DefaultAgentPingTimeout)
	}
	if h.c.cfg.Registry.AgentState(agentID) != AgentUnreachable {
		t.Fatal("agent not lost")
	}
	h.events(stream)
	if err := h.c.MarkAgentGone(h.now, agentID); err != nil {
		t.Fatal(err)
	}
	h.settle()
	evs := h.events(stream)
	if len(evs) != 1 || evs[0].GetUpdate().GetStatus().GetState() != mesospb.TaskState_TASK_GONE_BY_OPERATOR {
		t.Fatalf("events = %v", evs)
	}
	if tk := h.c.GetTasks().GetTasks(); len(tk) != 1 || tk[0].GetState() != mesospb.TaskState_TASK_GONE_BY_OPERATOR {
		t.Fatalf("tasks = %v", tk)
	}
}

// DEACTIVATE_AGENT rescinds the agent's offers and stops new ones (its
// tasks run on), across a re-registration; REACTIVATE_AGENT offers it
// again.
func TestDeactivateReactivateAgent(t *testing.T) {
	h, agentID, link, fwID, stream := launched(t, fwInfo("web"))
	h.advance(DefaultAllocationInterval)
	if len(h.offers(stream)) == 0 {
		t.Fatal("no offer before the deactivation")
	}
	if err := h.c.DeactivateAgent(h.now, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown agent: %v", err)
	}
	if err := h.c.DeactivateAgent(h.now, agentID); err != nil {
		t.Fatal(err)
	}
	h.settle()
	if evs := h.events(stream); len(evs) != 1 || evs[0].GetType() != schedulerpb.Event_RESCIND {
		t.Fatalf("events after DEACTIVATE_AGENT: %v", evs)
	}
	if a := h.c.GetAgents().GetAgents(); len(a) != 1 || a[0].GetActive() {
		t.Fatalf("a deactivated agent is reported active: %v", a)
	}
	if tk := h.c.GetTasks().GetTasks(); len(tk) != 1 || tk[0].GetState() != mesospb.TaskState_TASK_RUNNING {
		t.Fatalf("tasks: %v", tk)
	}
	// Re-registering does not reactivate it.
	call := registerCall("host1", "cpus:4;mem:1024")
	call.Register.AgentInfo.Id = &mesospb.AgentID{Value: proto.String(agentID)}
	if err := h.c.RegisterAgent(h.now, link+"-2", call); err != nil {
		t.Fatal(err)
	}
	h.advance(DefaultAllocationInterval)
	h.advance(DefaultAllocationInterval)
	for _, ev := range h.events(stream) {
		if ev.GetType() == schedulerpb.Event_OFFERS {
			t.Fatalf("a deactivated agent was offered: %v", ev)
		}
	}
	if err := h.c.ReactivateAgent(agentID); err != nil {
		t.Fatal(err)
	}
	h.advance(DefaultAllocationInterval)
	if len(h.offers(stream)) == 0 {
		t.Fatal("no offer after REACTIVATE_AGENT")
	}
	_ = fwID
}

// byAgentID finds a simulated agent by its id.
func (d *deliverySim) byAgentID(id string) *simAgent {
	for _, ag := range d.agents {
		if ag.id == id {
			return ag
		}
	}
	return nil
}
