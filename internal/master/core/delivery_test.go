package core

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/internal/resources"
	"google.golang.org/protobuf/proto"
)

// TestTerminalDeliveryProperty drives the core with random sequences of
// launches, status updates (queued and retried per task as an agent's
// status update manager does), acknowledgements, framework disconnections
// and resubscriptions, agent losses, lost agents coming back with their
// tasks (re-registering from unreachable), and agents restarting without
// their tasks, then lets everything settle. It
// checks the promise of issue 8, item 2: every task reaches the framework
// with a terminal update (or TASK_UNREACHABLE), the terminal state the
// master knew when it knew one, and the master's books end empty once the
// framework has acknowledged everything.
func TestTerminalDeliveryProperty(t *testing.T) {
	for seed := range uint64(200) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			d := newDeliverySim(t, seed)
			for range 150 {
				d.step()
			}
			d.finish()
		})
	}
}

type simTask struct {
	id, agent string
	pending   []*mesospb.TaskStatus // the agent's stream: pending[0] in flight
	made      int                   // statuses made so far
	terminal  bool                  // the agent made its terminal status
}

type simAgent struct {
	id, link string
	lost     bool
	tasks    []*simTask
}

// deliverySim is one framework, three agents and the core between them.
type deliverySim struct {
	t    *testing.T
	rnd  *rand.Rand
	h    *harness
	pa   bool
	fwID string

	stream    string // "" while disconnected
	info      *mesospb.FrameworkInfo
	offers    map[string]string // offer id -> agent id
	toAck     []*mesospb.TaskStatus
	delivered map[string]mesospb.TaskState // task -> terminal (or unreachable) state received
	known     map[string]mesospb.TaskState // task -> terminal state the master was told
	agents    []*simAgent
	byLink    map[string]*simAgent
	tasks     map[string]*simTask
	launched  int
	uuids     int
	op        *opReplica // an operator subscriber, once subscribed
}

func newDeliverySim(t *testing.T, seed uint64) *deliverySim {
	d := &deliverySim{t: t, rnd: rand.New(rand.NewPCG(seed, 8)), h: newHarness(t),
		offers: map[string]string{}, delivered: map[string]mesospb.TaskState{},
		known: map[string]mesospb.TaskState{}, byLink: map[string]*simAgent{}, tasks: map[string]*simTask{}}
	d.pa = d.rnd.IntN(2) == 0
	d.info = fwInfo("sim")
	if d.pa {
		d.info = fwInfo("sim", mesospb.FrameworkInfo_Capability_PARTITION_AWARE)
	}
	d.info.FailoverTimeout = proto.Float64(1e9)
	for i := range 3 {
		link := fmt.Sprintf("link-%d", i)
		if err := d.h.c.RegisterAgent(d.h.now, link, registerCall(fmt.Sprintf("host%d", i), "cpus:4;mem:1024")); err != nil {
			t.Fatal(err)
		}
		ag := &simAgent{link: link}
		d.agents = append(d.agents, ag)
		d.byLink[link] = ag
	}
	d.subscribe()
	return d
}

func registerCall(hostname, res string) *linkpb.AgentCall {
	return &linkpb.AgentCall{Type: linkpb.AgentCall_REGISTER.Enum(), Register: &linkpb.AgentCall_Register{
		AgentInfo: &mesospb.AgentInfo{Hostname: proto.String(hostname), Resources: mustRes(res)}}}
}

func (d *deliverySim) subscribe() {
	d.uuids++
	d.stream = fmt.Sprintf("stream-%d", d.uuids)
	info := proto.Clone(d.info).(*mesospb.FrameworkInfo)
	if d.fwID != "" {
		info.Id = &mesospb.FrameworkID{Value: proto.String(d.fwID)}
	}
	if err := d.h.c.Subscribe(d.h.now, d.stream, &schedulerpb.Call{Type: schedulerpb.Call_SUBSCRIBE.Enum(),
		Subscribe: &schedulerpb.Call_Subscribe{FrameworkInfo: info}}); err != nil {
		d.t.Fatal(err)
	}
	d.offers = map[string]string{}
	d.route()
}

// route delivers the core's outputs: events on the current stream to the
// framework, messages to live agents (PINGs answered, RUN_TASK and
// ACKNOWLEDGE applied).
func (d *deliverySim) route() {
	for {
		if !d.h.c.NextTick().After(d.h.now) {
			d.h.c.Tick(d.h.now)
		}
		r := d.h.c.Ready()
		if r.Empty() {
			return
		}
		d.op.apply(d.t, r.Operator)
		for _, e := range r.Events {
			if e.Stream == d.stream {
				d.event(e.Event)
			}
		}
		for _, m := range r.Messages {
			if ag := d.byLink[m.Link]; ag != nil && !ag.lost {
				d.message(ag, m.Event)
			}
		}
		if slices.Contains(r.CloseStreams, d.stream) {
			d.t.Fatalf("the framework's stream was closed")
		}
	}
}

func (d *deliverySim) event(ev *schedulerpb.Event) {
	switch ev.GetType() {
	case schedulerpb.Event_SUBSCRIBED:
		d.fwID = ev.GetSubscribed().GetFrameworkId().GetValue()
	case schedulerpb.Event_OFFERS:
		for _, o := range ev.GetOffers().GetOffers() {
			d.offers[o.GetId().GetValue()] = o.GetAgentId().GetValue()
		}
	case schedulerpb.Event_RESCIND:
		delete(d.offers, ev.GetRescind().GetOfferId().GetValue())
	case schedulerpb.Event_UPDATE:
		s := ev.GetUpdate().GetStatus()
		if st := s.GetState(); mesospb.IsTerminal(st) || st == mesospb.TaskState_TASK_UNREACHABLE {
			if s.GetReason() != mesospb.TaskStatus_REASON_RECONCILIATION {
				d.delivered[s.GetTaskId().GetValue()] = st
			}
		}
		if len(s.GetUuid()) > 0 {
			d.toAck = append(d.toAck, s)
		}
	}
}

func (d *deliverySim) message(ag *simAgent, m *linkpb.MasterEvent) {
	switch m.GetType() {
	case linkpb.MasterEvent_REGISTERED:
		ag.id = m.GetRegistered().GetAgentId().GetValue()
	case linkpb.MasterEvent_PING:
		d.agentCall(ag, &linkpb.AgentCall{Type: linkpb.AgentCall_PONG.Enum(),
			Pong: &linkpb.AgentCall_Pong{Seq: proto.Uint64(m.GetPing().GetSeq())}})
	case linkpb.MasterEvent_RUN_TASK:
		st := &simTask{id: m.GetRunTask().GetTask().GetTaskId().GetValue(), agent: ag.id}
		ag.tasks = append(ag.tasks, st)
		d.tasks[st.id] = st
	case linkpb.MasterEvent_ACKNOWLEDGE:
		a := m.GetAcknowledge()
		st := d.tasks[a.GetTaskId().GetValue()]
		if st != nil && len(st.pending) > 0 && bytes.Equal(st.pending[0].GetUuid(), a.GetUuid()) {
			st.pending = st.pending[1:]
			if len(st.pending) > 0 {
				d.forward(ag, st)
			}
		}
	}
}

func (d *deliverySim) agentCall(ag *simAgent, call *linkpb.AgentCall) {
	call.LinkId = proto.String(ag.link)
	if err := d.h.c.AgentCall(d.h.now, call); err != nil {
		d.t.Fatalf("agent call %s: %v", call.GetType(), err)
	}
}

// forward sends the head of a task's stream with the latest state, as the
// agent's status update manager does.
func (d *deliverySim) forward(ag *simAgent, st *simTask) {
	latest := st.pending[len(st.pending)-1].GetState()
	if mesospb.IsTerminal(latest) {
		d.known[st.id] = latest
	}
	d.agentCall(ag, &linkpb.AgentCall{Type: linkpb.AgentCall_STATUS_UPDATE.Enum(),
		StatusUpdate: &linkpb.AgentCall_StatusUpdate{
			FrameworkId: &mesospb.FrameworkID{Value: proto.String(d.fwID)},
			Status:      st.pending[0], LatestState: latest.Enum()}})
}

// makeStatus makes a task's next status on its agent: STARTING, RUNNING,
// then FINISHED or FAILED.
func (d *deliverySim) makeStatus(ag *simAgent, st *simTask, final bool) {
	states := []mesospb.TaskState{mesospb.TaskState_TASK_STARTING, mesospb.TaskState_TASK_RUNNING}
	state := mesospb.TaskState_TASK_FINISHED
	if d.rnd.IntN(2) == 0 {
		state = mesospb.TaskState_TASK_FAILED
	}
	if st.made < len(states) && !final {
		state = states[st.made]
	}
	st.made++
	st.terminal = mesospb.IsTerminal(state)
	d.uuids++
	st.pending = append(st.pending, &mesospb.TaskStatus{
		TaskId: &mesospb.TaskID{Value: proto.String(st.id)}, State: state.Enum(),
		Source: mesospb.TaskStatus_SOURCE_EXECUTOR.Enum(), AgentId: &mesospb.AgentID{Value: proto.String(ag.id)},
		Uuid: fmt.Appendf(nil, "%016d", d.uuids)})
	if len(st.pending) == 1 {
		d.forward(ag, st)
	}
}

func (d *deliverySim) call(call *schedulerpb.Call) {
	call.FrameworkId = &mesospb.FrameworkID{Value: proto.String(d.fwID)}
	if err := d.h.c.Call(d.h.now, d.stream, call); err != nil {
		d.t.Fatalf("%s: %v", call.GetType(), err)
	}
}

func (d *deliverySim) ack(s *mesospb.TaskStatus) {
	d.call(&schedulerpb.Call{Type: schedulerpb.Call_ACKNOWLEDGE.Enum(), Acknowledge: &schedulerpb.Call_Acknowledge{
		AgentId: s.GetAgentId(), TaskId: s.GetTaskId(), Uuid: s.GetUuid()}})
}

func (d *deliverySim) liveAgents() []*simAgent {
	var live []*simAgent
	for _, ag := range d.agents {
		if !ag.lost {
			live = append(live, ag)
		}
	}
	return live
}

// forget restarts an agent that lost its tasks and their updates: it
// registers again with its id on a new link, reporting none.
func (d *deliverySim) forget(ag *simAgent) {
	for _, st := range ag.tasks {
		st.pending = nil
	}
	ag.tasks = nil
	d.uuids++
	ag.link = fmt.Sprintf("link-again-%d", d.uuids)
	d.byLink[ag.link] = ag
	call := registerCall("again", "cpus:4;mem:1024")
	call.Register.AgentInfo.Id = &mesospb.AgentID{Value: proto.String(ag.id)}
	if err := d.h.c.RegisterAgent(d.h.now, ag.link, call); err != nil {
		d.t.Fatal(err)
	}
}

// comeBack brings a lost agent back, as after a partition: it registers
// again with its id on a new link, reporting the tasks it still tracks
// (not terminal, or with updates not acknowledged), and sends each
// task's oldest pending update again.
func (d *deliverySim) comeBack(ag *simAgent) {
	ag.lost = false
	d.uuids++
	ag.link = fmt.Sprintf("link-back-%d", d.uuids)
	d.byLink[ag.link] = ag
	call := registerCall("back", "cpus:4;mem:1024")
	reg := call.Register
	reg.AgentInfo.Id = &mesospb.AgentID{Value: proto.String(ag.id)}
	info := proto.Clone(d.info).(*mesospb.FrameworkInfo)
	info.Id = &mesospb.FrameworkID{Value: proto.String(d.fwID)}
	reg.Frameworks = []*mesospb.FrameworkInfo{info}
	var kept []*simTask
	for _, st := range ag.tasks {
		if st.terminal && len(st.pending) == 0 {
			continue // acknowledged: the agent forgot it
		}
		kept = append(kept, st)
		tp := &mesospb.Task{Name: proto.String(st.id), TaskId: &mesospb.TaskID{Value: proto.String(st.id)},
			FrameworkId: info.Id, AgentId: reg.AgentInfo.Id, State: mesospb.TaskState_TASK_STAGING.Enum(),
			Resources: withAllocationRole(mustRes("cpus:1;mem:32"), "*")}
		if n := len(st.pending); n > 0 {
			tp.State = st.pending[n-1].State
			tp.StatusUpdateState, tp.StatusUpdateUuid = st.pending[0].State, st.pending[0].GetUuid()
		} else if st.made > 0 {
			tp.State = mesospb.TaskState_TASK_RUNNING.Enum()
		}
		reg.Tasks = append(reg.Tasks, tp)
	}
	ag.tasks = kept
	if err := d.h.c.RegisterAgent(d.h.now, ag.link, call); err != nil {
		d.t.Fatal(err)
	}
	d.route()
	for _, st := range ag.tasks {
		if len(st.pending) > 0 {
			d.forward(ag, st)
		}
	}
}

// lose silences an agent and runs ping rounds until the core removes it.
func (d *deliverySim) lose(ag *simAgent) {
	ag.lost = true
	for d.h.c.agents[ag.id] != nil {
		d.h.now = d.h.now.Add(DefaultAgentPingTimeout)
		d.h.c.Tick(d.h.now)
		d.route()
	}
}

func (d *deliverySim) step() {
	live := d.liveAgents()
	switch n := d.rnd.IntN(100); {
	case n < 15 && d.stream != "" && len(d.offers) > 0:
		ids := sortedKeys(d.offers)
		id := ids[d.rnd.IntN(len(ids))]
		d.launched++
		d.call(acceptCall([]string{id}, &mesospb.Filters{RefuseSeconds: proto.Float64(0)},
			commandTask(fmt.Sprintf("t%d", d.launched), d.offers[id], mustRes("cpus:1;mem:32"))))
		delete(d.offers, id)
	case n < 45 && len(live) > 0:
		ag := live[d.rnd.IntN(len(live))]
		if len(ag.tasks) > 0 {
			if st := ag.tasks[d.rnd.IntN(len(ag.tasks))]; !st.terminal {
				d.makeStatus(ag, st, false)
			}
		}
	case n < 60 && len(live) > 0:
		ag := live[d.rnd.IntN(len(live))]
		if len(ag.tasks) > 0 {
			if st := ag.tasks[d.rnd.IntN(len(ag.tasks))]; len(st.pending) > 0 {
				d.forward(ag, st)
			}
		}
	case n < 80 && d.stream != "" && len(d.toAck) > 0:
		i := d.rnd.IntN(len(d.toAck))
		d.ack(d.toAck[i])
		d.toAck = slices.Delete(d.toAck, i, i+1)
	case n < 86 && d.stream != "":
		d.h.c.StreamClosed(d.h.now, d.stream)
		d.stream = ""
	case n < 92 && d.stream == "":
		d.subscribe()
	case n < 95 && len(live) > 1:
		d.lose(live[d.rnd.IntN(len(live))])
	case n < 97 && len(live) > 0:
		d.forget(live[d.rnd.IntN(len(live))])
	case n < 99 && len(live) < len(d.agents):
		var lost []*simAgent
		for _, ag := range d.agents {
			if ag.lost {
				lost = append(lost, ag)
			}
		}
		d.comeBack(lost[d.rnd.IntN(len(lost))])
	default:
		d.h.now = d.h.now.Add(DefaultAllocationInterval)
		d.h.c.Tick(d.h.now)
	}
	d.route()
}

// finish lets everything settle: the framework subscribes, every task of a
// live agent ends, agents retry and the framework acknowledges until
// nothing is pending; then one agent more is lost with its updates
// unacknowledged, and the framework, after a failover, acknowledges the
// rest.
func (d *deliverySim) finish() {
	if d.stream == "" {
		d.subscribe()
	}
	live := d.liveAgents()
	for _, ag := range live {
		for _, st := range ag.tasks {
			if !st.terminal {
				d.makeStatus(ag, st, true)
			}
		}
	}
	d.route()
	last := live[0]
	for _, ag := range live[1:] {
		d.drain(ag)
	}
	d.lose(last)
	d.h.c.StreamClosed(d.h.now, d.stream)
	d.toAck = nil
	d.subscribe()
	for len(d.toAck) > 0 {
		s := d.toAck[0]
		d.toAck = d.toAck[1:]
		d.ack(s)
		d.route()
	}
	for id := range d.launched {
		task := fmt.Sprintf("t%d", id+1)
		got, ok := d.delivered[task]
		if !ok {
			d.t.Errorf("task %s: no terminal update reached the framework", task)
			continue
		}
		if want, ok := d.known[task]; ok && got != want {
			d.t.Errorf("task %s: framework got %s, the master was told %s", task, got, want)
		}
	}
	if fw := d.h.c.frameworks[d.fwID]; len(fw.tasks) != 0 {
		d.t.Errorf("master still holds %d tasks after every acknowledgement", len(fw.tasks))
	}
}

// drain retries an agent's updates and acknowledges them until the
// agent's streams are empty.
func (d *deliverySim) drain(ag *simAgent) {
	for range 100 {
		busy := false
		for _, st := range ag.tasks {
			if len(st.pending) > 0 {
				busy = true
				d.forward(ag, st)
			}
		}
		if !busy {
			return
		}
		d.route()
		for len(d.toAck) > 0 {
			s := d.toAck[0]
			d.toAck = d.toAck[1:]
			d.ack(s)
			d.route()
		}
	}
	d.t.Fatalf("agent %s did not drain", ag.id)
}

func mustRes(text string) []*mesospb.Resource { return resources.MustParse(text).ToProto("", false) }
