package core

import (
	"fmt"
	"testing"
	"time"

	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/internal/resources"
	"google.golang.org/protobuf/proto"
)

// harness drives a Core the way the shell does and records what it says to
// each stream and link. Every output is checked to marshal (proto2 required
// fields present).
type harness struct {
	t   *testing.T
	c   *Core
	now time.Time

	streams      map[string][]*schedulerpb.Event
	links        map[string][]*linkpb.MasterEvent
	closedStream map[string]bool
	closedLink   map[string]bool
	nextID       int
}

var epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func testMasterInfo() *mesospb.MasterInfo {
	return &mesospb.MasterInfo{
		Id: proto.String("m1"), Ip: proto.Uint32(16777343), Port: proto.Uint32(5050),
		Hostname: proto.String("127.0.0.1"), Pid: proto.String("master@127.0.0.1:5050"),
	}
}

func newHarness(t *testing.T, mutate ...func(*Config)) *harness {
	t.Helper()
	cfg := Config{MasterInfo: testMasterInfo()}
	for _, m := range mutate {
		m(&cfg)
	}
	c, err := New(cfg, epoch)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{
		t: t, c: c, now: epoch,
		streams: map[string][]*schedulerpb.Event{}, links: map[string][]*linkpb.MasterEvent{},
		closedStream: map[string]bool{}, closedLink: map[string]bool{},
	}
}

// flush moves the core's outputs into the per-stream and per-link logs.
func (h *harness) flush() {
	h.t.Helper()
	r := h.c.Ready()
	for _, e := range r.Events {
		if _, err := proto.Marshal(e.Event); err != nil {
			h.t.Fatalf("event to %s does not marshal: %v\n%v", e.Stream, err, e.Event)
		}
		if h.closedStream[e.Stream] {
			h.t.Fatalf("event to closed stream %s: %v", e.Stream, e.Event)
		}
		h.streams[e.Stream] = append(h.streams[e.Stream], e.Event)
	}
	for _, m := range r.Messages {
		if _, err := proto.Marshal(m.Event); err != nil {
			h.t.Fatalf("message to %s does not marshal: %v\n%v", m.Link, err, m.Event)
		}
		h.links[m.Link] = append(h.links[m.Link], m.Event)
	}
	for _, s := range r.CloseStreams {
		h.closedStream[s] = true
	}
	for _, l := range r.CloseLinks {
		h.closedLink[l] = true
	}
}

func (h *harness) id(prefix string) string {
	h.nextID++
	return fmt.Sprintf("%s%d", prefix, h.nextID)
}

// advance moves the clock and runs Tick.
func (h *harness) advance(d time.Duration) {
	h.t.Helper()
	h.now = h.now.Add(d)
	h.c.Tick(h.now)
	h.flush()
}

// settle runs Tick at the current time if the core wants it (the shell
// does this after every input).
func (h *harness) settle() {
	h.t.Helper()
	if !h.c.NextTick().After(h.now) {
		h.c.Tick(h.now)
	}
	h.flush()
}

// events takes the events a stream received since the last call.
func (h *harness) events(stream string) []*schedulerpb.Event {
	evs := h.streams[stream]
	delete(h.streams, stream)
	return evs
}

// messages takes the messages a link received since the last call.
func (h *harness) messages(link string) []*linkpb.MasterEvent {
	ms := h.links[link]
	delete(h.links, link)
	return ms
}

func fwInfo(name string, caps ...mesospb.FrameworkInfo_Capability_Type) *mesospb.FrameworkInfo {
	info := &mesospb.FrameworkInfo{User: proto.String("alice"), Name: proto.String(name)}
	for _, c := range caps {
		info.Capabilities = append(info.Capabilities, &mesospb.FrameworkInfo_Capability{Type: c.Enum()})
	}
	return info
}

// subscribe subscribes a framework and returns its id and stream, checking
// that SUBSCRIBED came first.
func (h *harness) subscribe(info *mesospb.FrameworkInfo) (string, string) {
	h.t.Helper()
	stream := h.id("stream-")
	call := &schedulerpb.Call{
		Type:      schedulerpb.Call_SUBSCRIBE.Enum(),
		Subscribe: &schedulerpb.Call_Subscribe{FrameworkInfo: info},
	}
	if err := h.c.Subscribe(h.now, stream, call); err != nil {
		h.t.Fatalf("subscribe: %v", err)
	}
	h.flush()
	evs := h.streams[stream]
	if len(evs) == 0 || evs[0].GetType() != schedulerpb.Event_SUBSCRIBED {
		h.t.Fatalf("first event is not SUBSCRIBED: %v", evs)
	}
	h.streams[stream] = evs[1:]
	id := evs[0].GetSubscribed().GetFrameworkId().GetValue()
	h.settle()
	return id, stream
}

// register registers a new agent and returns its id and link.
func (h *harness) register(hostname, res string) (string, string) {
	h.t.Helper()
	link := h.id("link-")
	r, err := resources.Parse(res)
	if err != nil {
		h.t.Fatal(err)
	}
	call := &linkpb.AgentCall{
		Type: linkpb.AgentCall_REGISTER.Enum(),
		Register: &linkpb.AgentCall_Register{AgentInfo: &mesospb.AgentInfo{
			Hostname:  proto.String(hostname),
			Resources: r.ToProto("", false),
		}},
	}
	if err := h.c.RegisterAgent(h.now, link, call); err != nil {
		h.t.Fatalf("register: %v", err)
	}
	h.flush()
	ms := h.links[link]
	if len(ms) == 0 || ms[0].GetType() != linkpb.MasterEvent_REGISTERED {
		h.t.Fatalf("first message is not REGISTERED: %v", ms)
	}
	h.links[link] = ms[1:]
	h.settle()
	return ms[0].GetRegistered().GetAgentId().GetValue(), link
}

// call sends a scheduler call on a framework's stream.
func (h *harness) call(fwID, stream string, call *schedulerpb.Call) error {
	h.t.Helper()
	call.FrameworkId = &mesospb.FrameworkID{Value: proto.String(fwID)}
	err := h.c.Call(h.now, stream, call)
	h.settle()
	return err
}

func (h *harness) mustCall(fwID, stream string, call *schedulerpb.Call) {
	h.t.Helper()
	if err := h.call(fwID, stream, call); err != nil {
		h.t.Fatalf("%s: %v", call.GetType(), err)
	}
}

// agentCall sends an agent call on a link.
func (h *harness) agentCall(link string, call *linkpb.AgentCall) error {
	h.t.Helper()
	call.LinkId = proto.String(link)
	err := h.c.AgentCall(h.now, call)
	h.settle()
	return err
}

// offers expects exactly one OFFERS event on the stream and returns its
// offers.
func (h *harness) offers(stream string) []*mesospb.Offer {
	h.t.Helper()
	evs := h.events(stream)
	if len(evs) != 1 || evs[0].GetType() != schedulerpb.Event_OFFERS {
		h.t.Fatalf("want one OFFERS event, got %v", evs)
	}
	return evs[0].GetOffers().GetOffers()
}

// update expects exactly one UPDATE event on the stream.
func (h *harness) update(stream string) *mesospb.TaskStatus {
	h.t.Helper()
	evs := h.events(stream)
	if len(evs) != 1 || evs[0].GetType() != schedulerpb.Event_UPDATE {
		h.t.Fatalf("want one UPDATE event, got %v", evs)
	}
	return evs[0].GetUpdate().GetStatus()
}

// message expects exactly one message of the type on the link.
func (h *harness) message(link string, typ linkpb.MasterEvent_Type) *linkpb.MasterEvent {
	h.t.Helper()
	ms := h.messages(link)
	if len(ms) != 1 || ms[0].GetType() != typ {
		h.t.Fatalf("want one %s message, got %v", typ, ms)
	}
	return ms[0]
}

func offerRes(t *testing.T, o *mesospb.Offer) resources.Resources {
	t.Helper()
	r, err := resources.FromProto(o.GetResources())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func res(t *testing.T, text string) []*mesospb.Resource {
	t.Helper()
	r, err := resources.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	return r.ToProto("", false)
}

func commandTask(id, agentID string, r []*mesospb.Resource) *mesospb.TaskInfo {
	return &mesospb.TaskInfo{
		Name:      proto.String(id),
		TaskId:    &mesospb.TaskID{Value: proto.String(id)},
		AgentId:   &mesospb.AgentID{Value: proto.String(agentID)},
		Resources: r,
		Command:   &mesospb.CommandInfo{Value: proto.String("true")},
	}
}

func acceptCall(offerIDs []string, filters *mesospb.Filters, tasks ...*mesospb.TaskInfo) *schedulerpb.Call {
	acc := &schedulerpb.Call_Accept{Filters: filters}
	for _, id := range offerIDs {
		acc.OfferIds = append(acc.OfferIds, &mesospb.OfferID{Value: proto.String(id)})
	}
	if len(tasks) > 0 {
		acc.Operations = []*mesospb.Offer_Operation{{
			Type:   mesospb.Offer_Operation_LAUNCH.Enum(),
			Launch: &mesospb.Offer_Operation_Launch{TaskInfos: tasks},
		}}
	}
	return &schedulerpb.Call{Type: schedulerpb.Call_ACCEPT.Enum(), Accept: acc}
}

func declineCall(offerID string, refuse *float64) *schedulerpb.Call {
	d := &schedulerpb.Call_Decline{OfferIds: []*mesospb.OfferID{{Value: proto.String(offerID)}}}
	if refuse != nil {
		d.Filters = &mesospb.Filters{RefuseSeconds: refuse}
	}
	return &schedulerpb.Call{Type: schedulerpb.Call_DECLINE.Enum(), Decline: d}
}

func statusCall(fwID, taskID string, state mesospb.TaskState, uuid byte) *linkpb.AgentCall {
	s := &mesospb.TaskStatus{
		TaskId: &mesospb.TaskID{Value: proto.String(taskID)},
		State:  state.Enum(),
		Source: mesospb.TaskStatus_SOURCE_EXECUTOR.Enum(),
	}
	if uuid != 0 {
		s.Uuid = uuidBytes(uuid)
	}
	return &linkpb.AgentCall{
		Type: linkpb.AgentCall_STATUS_UPDATE.Enum(),
		StatusUpdate: &linkpb.AgentCall_StatusUpdate{
			FrameworkId: &mesospb.FrameworkID{Value: proto.String(fwID)},
			Status:      s,
		},
	}
}

func uuidBytes(b byte) []byte {
	u := make([]byte, 16)
	for i := range u {
		u[i] = b
	}
	return u
}

func ackCall(agentID, taskID string, uuid byte) *schedulerpb.Call {
	return &schedulerpb.Call{
		Type: schedulerpb.Call_ACKNOWLEDGE.Enum(),
		Acknowledge: &schedulerpb.Call_Acknowledge{
			AgentId: &mesospb.AgentID{Value: proto.String(agentID)},
			TaskId:  &mesospb.TaskID{Value: proto.String(taskID)},
			Uuid:    uuidBytes(uuid),
		},
	}
}

func simpleCall(t schedulerpb.Call_Type) *schedulerpb.Call { return &schedulerpb.Call{Type: t.Enum()} }
