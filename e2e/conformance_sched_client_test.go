package e2e

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"os/user"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
)

// schedWire is a framework that speaks the v1 scheduler API over plain
// HTTP: one streaming SUBSCRIBE answer, and every other call on its own
// request carrying Mesos-Stream-Id.
type schedWire struct {
	t        testing.TB
	url      string
	mt       string // media type of calls and events
	client   *http.Client
	callHdr  []string // extra headers on every call
	stream   *eventStream
	streamID string
	fwID     string
	vars     map[string]string // fixture values common to every call
}

// currentUser is the user frameworks run their tasks as (the agent would
// switch to another user, as Mesos does, when it runs as root).
func currentUser(t testing.TB) string {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return u.Username
}

// schedVars are the fixture values every scheduler test needs.
func schedVars(t testing.TB, more ...string) map[string]string {
	v := map[string]string{"USER": currentUser(t), "FAILOVER": "0", "CPUS": "0.1", "CHECKPOINT": "false"}
	for i := 0; i+1 < len(more); i += 2 {
		v[more[i]] = more[i+1]
	}
	return v
}

func newHTTPClient(t testing.TB, keepAlive bool) *http.Client {
	tr := &http.Transport{DisableKeepAlives: !keepAlive}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// encodeCall turns a JSON call body into the media type mt.
func encodeCall(t testing.TB, mt string, jsonBody []byte) []byte {
	if mt == mtProtobuf {
		return toProtobuf(t, jsonBody, &schedulerpb.Call{})
	}
	return jsonBody
}

func schedulerEvents() (func() proto.Message, func(proto.Message) string) {
	return func() proto.Message { return &schedulerpb.Event{} },
		func(m proto.Message) string { return m.(*schedulerpb.Event).GetType().String() }
}

// subscribeWire sends SUBSCRIBE (the fixture's JSON body, in media type mt)
// with the headers of the documentation's example and checks the
// streaming answer and its first event, SUBSCRIBED.
func subscribeWire(t testing.TB, master *proc, mt, fixtureName string, vars map[string]string) *schedWire {
	t.Helper()
	s := &schedWire{t: t, url: master.url("/api/v1/scheduler"), mt: mt, client: newHTTPClient(t, true), vars: vars}
	body := encodeCall(t, mt, fixture(t, "scheduler/"+fixtureName, vars))
	resp := open(t, newHTTPClient(t, false), http.MethodPost, s.url, body,
		"Content-Type", mt, "Accept", mt, "Connection", "close")
	wantStreamHeaders(t, resp, mt)
	s.streamID = resp.Header.Get(streamHdr)
	if s.streamID == "" || len(s.streamID) > 128 {
		t.Fatalf("SUBSCRIBE answer: Mesos-Stream-Id %q, want 1 to 128 bytes", s.streamID)
	}
	s.follow(resp.Body)
	return s
}

// follow reads the framework's event stream from body and checks that its
// first event is SUBSCRIBED, with the framework id as {"value": ...} and
// the heartbeat interval as a number.
func (s *schedWire) follow(body io.ReadCloser) {
	t := s.t
	t.Helper()
	newMsg, typeOf := schedulerEvents()
	s.stream = newEventStream(t, body, s.mt, newMsg, typeOf)
	ev := s.stream.take("SUBSCRIBED", nil)
	if ev.seq != 0 {
		t.Errorf("SUBSCRIBED is event %d of the stream, want the first", ev.seq)
	}
	s.fwID = ev.pb.(*schedulerpb.Event).GetSubscribed().GetFrameworkId().GetValue()
	if ev.js != nil {
		if id := jid(t, ev.js, "subscribed.framework_id"); id != s.fwID {
			t.Errorf("framework id %q", id)
		}
		jnum(t, ev.js, "subscribed.heartbeat_interval_seconds")
	}
	s.vars = maps.Clone(s.vars)
	s.vars["FRAMEWORK_ID"] = s.fwID
}

// subscribeRaw sends SUBSCRIBE in JSON as literal HTTP/1.1 bytes on a TCP
// connection, with the headers of the documentation's first example plus a
// charset parameter, and reads the answer's head and chunked body by hand.
func subscribeRaw(t testing.TB, master *proc, fixtureName string, vars map[string]string) *schedWire {
	t.Helper()
	s := &schedWire{t: t, url: master.url("/api/v1/scheduler"), mt: mtJSON, vars: vars}
	body := fixture(t, "scheduler/"+fixtureName, vars)
	conn, err := net.Dial("tcp", master.addr)
	if err != nil {
		t.Fatal(err)
	}
	req := "POST /api/v1/scheduler HTTP/1.1\r\n" +
		"Host: " + master.addr + "\r\n" +
		"Content-Type: application/json; charset=utf-8\r\n" +
		"Accept: application/json\r\n" +
		"Connection: close\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
	if _, err := conn.Write(append([]byte(req), body...)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	tp := textproto.NewReader(br)
	status, err := tp.ReadLine()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(status, "HTTP/1.1 200 ") {
		t.Fatalf("SUBSCRIBE answered %q, want HTTP/1.1 200", status)
	}
	hdr, err := tp.ReadMIMEHeader()
	if err != nil {
		t.Fatal(err)
	}
	if got := hdr.Values("Content-Type"); len(got) != 1 || got[0] != mtJSON {
		t.Errorf("Content-Type %q, want exactly %q", got, mtJSON)
	}
	if got := hdr.Values("Transfer-Encoding"); len(got) != 1 || got[0] != "chunked" {
		t.Fatalf("Transfer-Encoding %q, want chunked", got)
	}
	if got := hdr.Values("Content-Length"); len(got) != 0 {
		t.Errorf("Content-Length %q on an event stream", got)
	}
	s.streamID = hdr.Get(streamHdr)
	if s.streamID == "" || len(s.streamID) > 128 {
		t.Fatalf("Mesos-Stream-Id %q, want 1 to 128 bytes", s.streamID)
	}
	s.follow(struct {
		io.Reader
		io.Closer
	}{httputil.NewChunkedReader(br), conn})
	return s
}

// call posts the fixture as a call of this framework with its stream id and
// returns the answer.
func (s *schedWire) call(fixtureName string, more ...string) wireReply {
	s.t.Helper()
	vars := maps.Clone(s.vars)
	for i := 0; i+1 < len(more); i += 2 {
		vars[more[i]] = more[i+1]
	}
	body := encodeCall(s.t, s.mt, fixture(s.t, "scheduler/"+fixtureName, vars))
	hdr := append([]string{"Content-Type", s.mt, "Accept", s.mt, streamHdr, s.streamID}, s.callHdr...)
	return post(s.t, s.client, s.url, body, hdr...)
}

// accepted posts a call that must be answered 202 Accepted.
func (s *schedWire) accepted(fixtureName string, more ...string) {
	s.t.Helper()
	s.call(fixtureName, more...).wantStatus(s.t, fixtureName, http.StatusAccepted)
}

// event waits for the next unconsumed event of a type that match accepts.
func (s *schedWire) event(typ schedulerpb.Event_Type, match func(*schedulerpb.Event) bool) (*schedulerpb.Event, map[string]any) {
	s.t.Helper()
	ev := s.stream.take(typ.String(), func(ev *wireEvent) bool {
		return match == nil || match(ev.pb.(*schedulerpb.Event))
	})
	return ev.pb.(*schedulerpb.Event), ev.js
}

// update waits for an UPDATE of task in state.
func (s *schedWire) update(task string, state mesospb.TaskState) (*mesospb.TaskStatus, map[string]any) {
	s.t.Helper()
	ev, js := s.event(schedulerpb.Event_UPDATE, func(ev *schedulerpb.Event) bool {
		st := ev.GetUpdate().GetStatus()
		return st.GetTaskId().GetValue() == task && st.GetState() == state
	})
	return ev.GetUpdate().GetStatus(), js
}

// ack acknowledges a status update that carries a uuid.
func (s *schedWire) ack(st *mesospb.TaskStatus) {
	s.t.Helper()
	if len(st.GetUuid()) == 0 {
		s.t.Fatalf("acknowledging an update without uuid: %v", st)
	}
	s.accepted("acknowledge.json", "AGENT_ID", st.GetAgentId().GetValue(), "TASK_ID", st.GetTaskId().GetValue(),
		"UUID", base64.StdEncoding.EncodeToString(st.GetUuid()))
}

// offer waits for an OFFERS event and returns its first offer.
func (s *schedWire) offer() (*mesospb.Offer, map[string]any) {
	s.t.Helper()
	ev, js := s.event(schedulerpb.Event_OFFERS, nil)
	offers := ev.GetOffers().GetOffers()
	if len(offers) == 0 {
		s.t.Fatal("OFFERS event without offers")
	}
	for _, o := range offers {
		if o.GetFrameworkId().GetValue() != s.fwID {
			s.t.Errorf("offer %s is for framework %s, not %s", o.GetId().GetValue(), o.GetFrameworkId().GetValue(), s.fwID)
		}
	}
	return offers[0], js
}

// launch accepts offer o with one command task and returns once the
// ACCEPT was answered 202.
func (s *schedWire) launch(fixtureName string, o *mesospb.Offer, task, command string, more ...string) {
	s.t.Helper()
	args := append([]string{"OFFER_ID", o.GetId().GetValue(), "AGENT_ID", o.GetAgentId().GetValue(),
		"TASK_ID", task, "COMMAND", command}, more...)
	s.accepted(fixtureName, args...)
}

// ackedUpdate takes the task's updates in order, acknowledging each one
// that carries a uuid (the agent forwards the next update of a task only
// after the previous one is acknowledged), until one in state.
func (s *schedWire) ackedUpdate(task string, state mesospb.TaskState) (*mesospb.TaskStatus, map[string]any) {
	s.t.Helper()
	for {
		ev, js := s.event(schedulerpb.Event_UPDATE, func(ev *schedulerpb.Event) bool {
			return ev.GetUpdate().GetStatus().GetTaskId().GetValue() == task
		})
		st := ev.GetUpdate().GetStatus()
		if len(st.GetUuid()) > 0 {
			s.ack(st)
		}
		if st.GetState() == state {
			return st, js
		}
		if isTerminalState(st.GetState()) {
			s.t.Fatalf("task %s ended %s (%s: %s), want %s", task, st.GetState(), st.GetReason(), st.GetMessage(), state)
		}
	}
}

func isTerminalState(s mesospb.TaskState) bool {
	switch s {
	case mesospb.TaskState_TASK_FINISHED, mesospb.TaskState_TASK_FAILED, mesospb.TaskState_TASK_KILLED,
		mesospb.TaskState_TASK_ERROR, mesospb.TaskState_TASK_LOST, mesospb.TaskState_TASK_DROPPED,
		mesospb.TaskState_TASK_GONE, mesospb.TaskState_TASK_GONE_BY_OPERATOR:
		return true
	}
	return false
}

// checkOfferJSON checks an OFFERS event's first offer in JSON against the
// field names and types of the Offer message: ids as {"value": ...},
// hostname, the agent's URL, resources with name, type, role and a scalar
// or ranges value of numbers. allocationRole is the role of the offer for a
// MULTI_ROLE framework ("" when the framework is not MULTI_ROLE: then no
// allocation_info may appear).
func checkOfferJSON(t testing.TB, js map[string]any, fwID, allocationRole string) {
	t.Helper()
	// The documentation's example shows the offers array directly under
	// "offers"; the Event message (and Mesos) nest it: offers.offers[].
	o := "offers.offers[0]"
	jid(t, js, o+".id")
	if got := jid(t, js, o+".framework_id"); got != fwID {
		t.Errorf("%s.framework_id %q, want %q", o, got, fwID)
	}
	jid(t, js, o+".agent_id")
	if jstr(t, js, o+".hostname") == "" {
		t.Errorf("%s.hostname is empty", o)
	}
	if s := jstr(t, js, o+".url.scheme"); s != "http" {
		t.Errorf("%s.url.scheme %q", o, s)
	}
	jstr(t, js, o+".url.address.hostname")
	jint(t, js, o+".url.address.port")
	jstr(t, js, o+".url.path")
	if allocationRole != "" {
		if r := jstr(t, js, o+".allocation_info.role"); r != allocationRole {
			t.Errorf("%s.allocation_info.role %q, want %q", o, r, allocationRole)
		}
	} else {
		jabsent(t, js, o+".allocation_info")
	}
	n := jlen(t, js, o+".resources")
	if n == 0 {
		t.Fatalf("%s has no resources", o)
	}
	seen := map[string]bool{}
	for i := range n {
		r := fmt.Sprintf("%s.resources[%d]", o, i)
		name := jstr(t, js, r+".name")
		seen[name] = true
		if role := jstr(t, js, r+".role"); role != "*" {
			t.Errorf("%s.role %q, want \"*\" for unreserved resources", r, role)
		}
		if allocationRole != "" {
			if role := jstr(t, js, r+".allocation_info.role"); role != allocationRole {
				t.Errorf("%s.allocation_info.role %q, want %q", r, role, allocationRole)
			}
		} else {
			jabsent(t, js, r+".allocation_info")
		}
		switch typ := jstr(t, js, r+".type"); typ {
		case "SCALAR":
			if v := jnum(t, js, r+".scalar.value"); v <= 0 {
				t.Errorf("%s.scalar.value %v", r, v)
			}
		case "RANGES":
			k := jlen(t, js, r+".ranges.range")
			if k == 0 {
				t.Errorf("%s.ranges.range is empty", r)
			}
			for j := range k {
				begin := jint(t, js, r+".ranges.range["+strconv.Itoa(j)+"].begin")
				end := jint(t, js, r+".ranges.range["+strconv.Itoa(j)+"].end")
				if begin > end {
					t.Errorf("%s: range [%d-%d]", r, begin, end)
				}
			}
		default:
			t.Errorf("%s.type %q, want SCALAR or RANGES for the agent's resources", r, typ)
		}
	}
	for _, name := range []string{"cpus", "mem", "disk", "ports"} {
		if !seen[name] {
			t.Errorf("%s: no %s resource", o, name)
		}
	}
}

// checkUpdateJSON checks an UPDATE event in JSON: the status carries
// task_id, state, source, agent_id, a timestamp as a number and, when
// withUUID, a base64 uuid of 16 bytes (and none otherwise).
func checkUpdateJSON(t testing.TB, js map[string]any, task, state, source string, withUUID bool) {
	t.Helper()
	if got := jid(t, js, "update.status.task_id"); got != task {
		t.Errorf("update.status.task_id %q, want %q", got, task)
	}
	if got := jstr(t, js, "update.status.state"); got != state {
		t.Errorf("update.status.state %q, want %q", got, state)
	}
	if got := jstr(t, js, "update.status.source"); got != source {
		t.Errorf("update.status.source %q, want %q", got, source)
	}
	jid(t, js, "update.status.agent_id")
	if ts := jnum(t, js, "update.status.timestamp"); ts < 1e9 {
		t.Errorf("update.status.timestamp %v is not seconds since the epoch", ts)
	}
	if withUUID {
		if u := jbytes(t, js, "update.status.uuid"); len(u) != 16 {
			t.Errorf("update.status.uuid has %d bytes, want 16", len(u))
		}
	} else {
		jabsent(t, js, "update.status.uuid")
	}
}
