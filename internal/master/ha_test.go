package master

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/internal/registry"
	"github.com/mesoproject/meso/internal/resources"
	"google.golang.org/protobuf/proto"
)

// haMaster is a master of a raft group served on loopback until stop.
type haMaster struct {
	m    *Master
	addr string // HTTP host:port
	base string
	stop func()
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// fastRaft keeps elections in tests to a fraction of a second.
func fastRaft(r *Replicated) *Replicated {
	// Short, but not so short that a loaded CI machine changes leaders
	// with no fault injected (300 ms did).
	r.HeartbeatTimeout, r.ElectionTimeout, r.LeaderLeaseTimeout = time.Second, time.Second, 500*time.Millisecond
	return r
}

// serveHA serves a master with a replicated registry on ln.
func serveHA(t *testing.T, ln net.Listener, rep *Replicated, mutate ...func(*Config)) *haMaster {
	t.Helper()
	cfg := Config{Version: "test", HeartbeatInterval: time.Hour, Replicated: rep}
	for _, f := range mutate {
		f(&cfg)
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Serve(ctx, ln) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(waitFor):
			t.Error("Serve did not return")
		}
	}
	t.Cleanup(stop)
	addr := ln.Addr().String()
	return &haMaster{m: m, addr: addr, base: "http://" + addr, stop: stop}
}

// masterState is the part of /master/state about leadership.
type masterState struct {
	PID        string `json:"pid"`
	Leader     string `json:"leader"`
	LeaderInfo struct {
		Port    uint32 `json:"port"`
		Address struct {
			IP string `json:"ip"`
		} `json:"address"`
	} `json:"leader_info"`
	Frameworks []struct {
		ID     string `json:"id"`
		Active bool   `json:"active"`
	} `json:"frameworks"`
}

func readState(base string) (masterState, error) {
	var st masterState
	resp, err := http.Get(base + "/master/state")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// waitLeading polls the masters' /master/state until one of them leads
// (its leader is itself), and returns it.
func waitLeading(t *testing.T, ms ...*haMaster) *haMaster {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(waitFor)
	for {
		for _, h := range ms {
			if st, err := readState(h.base); err == nil && st.Leader != "" && st.Leader == st.PID {
				return h
			}
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatal("no master leads")
		}
	}
}

// waitFollows waits until follower h names leader as the leader.
func waitFollows(t *testing.T, h, leader *haMaster) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(waitFor)
	for {
		if st, err := readState(h.base); err == nil && st.Leader == "master@"+leader.addr {
			return
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("%s never learned that %s leads", h.addr, leader.addr)
		}
	}
}

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// launchRunning has f launch a task of cpus:1;mem:64 on a's first offer
// and a report it TASK_RUNNING; it returns the task as the agent reports
// it when it re-registers.
func launchRunning(t *testing.T, f *framework, a *fakeAgent, taskID string) *mesospb.Task {
	t.Helper()
	offer := f.nextOf(schedulerpb.Event_OFFERS).GetOffers().GetOffers()[0]
	res := resources.MustParse("cpus:1;mem:64").ToProto("", false)
	id := &mesospb.TaskID{Value: proto.String(taskID)}
	f.mustCall(&schedulerpb.Call{Type: schedulerpb.Call_ACCEPT.Enum(), Accept: &schedulerpb.Call_Accept{
		OfferIds: []*mesospb.OfferID{offer.GetId()},
		Operations: []*mesospb.Offer_Operation{{Type: mesospb.Offer_Operation_LAUNCH.Enum(),
			Launch: &mesospb.Offer_Operation_Launch{TaskInfos: []*mesospb.TaskInfo{{
				Name: proto.String(taskID), TaskId: id, AgentId: offer.GetAgentId(),
				Resources: res, Command: &mesospb.CommandInfo{Value: proto.String("sleep 1000")}}}}}},
	}})
	a.nextOf(linkpb.MasterEvent_RUN_TASK)
	status := &mesospb.TaskStatus{TaskId: id, State: mesospb.TaskState_TASK_RUNNING.Enum(),
		Source: mesospb.TaskStatus_SOURCE_EXECUTOR.Enum(), AgentId: offer.GetAgentId(),
		Uuid: []byte("0123456789abcdef"), Timestamp: proto.Float64(1)}
	if code, body := a.send(&linkpb.AgentCall{Type: linkpb.AgentCall_STATUS_UPDATE.Enum(),
		StatusUpdate: &linkpb.AgentCall_StatusUpdate{FrameworkId: &mesospb.FrameworkID{Value: proto.String(f.id)},
			Status: status}}); code != http.StatusAccepted {
		t.Fatalf("status update: %d %s", code, body)
	}
	if up := f.nextOf(schedulerpb.Event_UPDATE).GetUpdate().GetStatus(); up.GetState() != mesospb.TaskState_TASK_RUNNING {
		t.Fatalf("update = %v", up)
	}
	return &mesospb.Task{Name: proto.String(taskID), TaskId: id, FrameworkId: &mesospb.FrameworkID{Value: proto.String(f.id)},
		AgentId: offer.GetAgentId(), State: mesospb.TaskState_TASK_RUNNING.Enum(), Resources: res,
		Statuses: []*mesospb.TaskStatus{status}}
}

// reregister re-registers agent prev at base with its running tasks.
func reregister(t *testing.T, base string, prev *fakeAgent, info *mesospb.FrameworkInfo, tasks ...*mesospb.Task) *fakeAgent {
	t.Helper()
	id := prev.id
	call := &linkpb.AgentCall{Type: linkpb.AgentCall_REGISTER.Enum(), AgentId: &mesospb.AgentID{Value: proto.String(id)},
		Register: &linkpb.AgentCall_Register{
			AgentInfo: &mesospb.AgentInfo{Id: &mesospb.AgentID{Value: proto.String(id)}, Hostname: proto.String("host1"),
				Port: proto.Int32(5051), Resources: resources.MustParse("cpus:2;mem:256").ToProto("", false)},
			Frameworks: []*mesospb.FrameworkInfo{info}, Tasks: tasks, Version: proto.String("test"),
			Secret: proto.String(prev.secret)}}
	a := registerWith(t, base, codec.JSON, call)
	if a.id != id {
		t.Fatalf("re-registered as %s, want %s", a.id, id)
	}
	return a
}

// resubscribeKeepsTask resubscribes f's framework and checks that it keeps
// its id, its task runs, and offers resume without the task's resources.
func resubscribeKeepsTask(t *testing.T, base string, info *mesospb.FrameworkInfo, taskID string) {
	t.Helper()
	g := subscribe(t, base, codec.JSON, info)
	if g.id != info.GetId().GetValue() {
		t.Fatalf("resubscribed as %s, want %s", g.id, info.GetId().GetValue())
	}
	offer := g.nextOf(schedulerpb.Event_OFFERS).GetOffers().GetOffers()[0]
	if got, err := resources.FromProto(offer.GetResources()); err != nil || !got.Equal(resources.MustParse("cpus:1;mem:192")) {
		t.Fatalf("offer after failover: %v; want the agent less the running task", got)
	}
	g.mustCall(&schedulerpb.Call{Type: schedulerpb.Call_RECONCILE.Enum(), Reconcile: &schedulerpb.Call_Reconcile{}})
	if up := g.nextOf(schedulerpb.Event_UPDATE).GetUpdate().GetStatus(); up.GetState() != mesospb.TaskState_TASK_RUNNING ||
		up.GetTaskId().GetValue() != taskID {
		t.Fatalf("reconcile after failover = %v", up)
	}
}

// TestSingleMasterRestartKeepsRegistry restarts the only master on the
// same work dir: a removed framework id stays refused, the agent
// re-registers under its id with its running task, and the framework
// resubscribes with its id and keeps the task.
func TestSingleMasterRestartKeepsRegistry(t *testing.T) {
	dir := t.TempDir()
	rep := func() *Replicated { return fastRaft(&Replicated{Dir: dir, Bind: "127.0.0.1:0"}) }
	first := serveHA(t, listen(t), rep())
	waitLeading(t, first)

	gone := subscribe(t, first.base, codec.JSON, fwInfo("gone"))
	gone.mustCall(&schedulerpb.Call{Type: schedulerpb.Call_TEARDOWN.Enum()})
	a := registerAgent(t, first.base, codec.JSON, "host1", "cpus:2;mem:256")
	info := fwInfo("web")
	info.FailoverTimeout = proto.Float64(3600)
	f := subscribe(t, first.base, codec.JSON, info)
	task := launchRunning(t, f, a, "t1")
	first.stop()

	second := serveHA(t, listen(t), rep())
	waitLeading(t, second)
	st, err := readState(second.base)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Frameworks) != 1 || st.Frameworks[0].ID != f.id || st.Frameworks[0].Active {
		t.Fatalf("recovered frameworks = %+v; want %s, inactive", st.Frameworks, f.id)
	}
	refused := fwInfo("gone")
	refused.Id = &mesospb.FrameworkID{Value: proto.String(gone.id)}
	resp := subscribeReq(t, second.base, codec.JSON, refused)
	events := newEventStream(t, resp, codec.JSON, func() *schedulerpb.Event { return &schedulerpb.Event{} }, nil)
	if ev := events.next(); ev.GetType() != schedulerpb.Event_ERROR || ev.GetError().GetMessage() != "Framework has been removed" {
		t.Fatalf("removed id after restart: %v", ev)
	}
	reregister(t, second.base, a, withID(info, f.id), task)
	resubscribeKeepsTask(t, second.base, withID(info, f.id), "t1")
}

func withID(info *mesospb.FrameworkInfo, id string) *mesospb.FrameworkInfo {
	info = proto.CloneOf(info)
	info.Id = &mesospb.FrameworkID{Value: proto.String(id)}
	return info
}

// TestAgentNotBackMarkedUnreachable: after a restart, an agent that does
// not re-register within --agent_reregister_timeout is marked unreachable
// in the registry, and re-registers with its id when it comes back (an
// unreachable agent may return; only a gone one is refused).
func TestAgentNotBackMarkedUnreachable(t *testing.T) {
	dir := t.TempDir()
	rep := func() *Replicated { return fastRaft(&Replicated{Dir: dir, Bind: "127.0.0.1:0"}) }
	first := serveHA(t, listen(t), rep())
	waitLeading(t, first)
	a := registerAgent(t, first.base, codec.JSON, "host1", "cpus:2;mem:256")
	first.stop()

	second := serveHA(t, listen(t), rep(), func(cfg *Config) { cfg.AgentReregisterTimeout = 100 * time.Millisecond })
	waitLeading(t, second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(waitFor)
	for {
		var status registry.AgentStatus
		second.m.reg.Read(func(st *registry.State) { status = st.Agent(a.id).Status })
		if status == registry.AgentUnreachable {
			break
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("agent %s is %v after the re-register timeout", a.id, status)
		}
	}
	reregister(t, second.base, a, fwInfo("late"))
}

// TestThreeMastersFailover runs three masters on loopback: one leads, the
// others redirect (307 with the leader's Location) and show the leader in
// /master/state; closing the leader elects another, and an agent and a
// framework that reconnect keep their ids and the running task, and
// offers resume.
func TestThreeMastersFailover(t *testing.T) {
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
	var followers []*haMaster
	for _, h := range ms {
		if h != leader {
			followers = append(followers, h)
		}
	}
	for _, h := range followers {
		// A follower learns who leads from the leader's first heartbeat;
		// until then it answers 503.
		waitFollows(t, h, leader)
		for _, path := range []string{"/api/v1/scheduler", "/internal/v1/link", "/master/slaves"} {
			resp, err := noRedirects.Post(h.base+path, codec.MediaTypeJSON, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if want := "//" + leader.addr + path; resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != want {
				t.Fatalf("%s%s: %s Location %q; want 307 to %s", h.addr, path, resp.Status, resp.Header.Get("Location"), want)
			}
		}
		var snap map[string]float64
		getJSON(t, h.base+"/metrics/snapshot", &snap)
		if snap["master/elected"] != 0 {
			t.Errorf("follower %s: master/elected = %v", h.addr, snap["master/elected"])
		}
		st, err := readState(h.base)
		if err != nil {
			t.Fatal(err)
		}
		if st.Leader != "master@"+leader.addr || st.LeaderInfo.Address.IP != "127.0.0.1" {
			t.Fatalf("follower %s /master/state: leader %q info %+v; want %s", h.addr, st.Leader, st.LeaderInfo, leader.addr)
		}
	}

	a := registerAgent(t, leader.base, codec.JSON, "host1", "cpus:2;mem:256")
	info := fwInfo("web")
	info.FailoverTimeout = proto.Float64(3600)
	f := subscribe(t, leader.base, codec.JSON, info)
	task := launchRunning(t, f, a, "t1")

	start := time.Now()
	leader.stop()
	if err := a.events.ended(); !isEOF(err) {
		t.Fatalf("agent link after the leader stopped: %v", err)
	}
	next := waitLeading(t, followers...)
	t.Logf("new leader %s after %s", next.addr, time.Since(start).Round(time.Millisecond))
	// The survivor that does not lead comes to redirect to the new leader.
	for _, h := range followers {
		if h == next {
			continue
		}
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		deadline := time.After(waitFor)
		for loc := ""; loc != "//"+next.addr; {
			resp, err := noRedirects.Get(h.base + "/master/redirect")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			loc = resp.Header.Get("Location")
			select {
			case <-tick.C:
			case <-deadline:
				t.Fatalf("/master/redirect after failover: %s %q; want //%s", resp.Status, loc, next.addr)
			}
		}
		// The web UI's page: the follower sends visitors to the leader's.
		resp, err := noRedirects.Get(h.base + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != "//"+next.addr+"/" {
			t.Fatalf("web UI on a follower: %s %q; want 307 to //%s/", resp.Status, resp.Header.Get("Location"), next.addr)
		}
	}
	if resp, err := noRedirects.Get(next.base + "/"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("web UI on the leader: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	reregister(t, next.base, a, withID(info, f.id), task)
	resubscribeKeepsTask(t, next.base, withID(info, f.id), "t1")
}

// TestWriteFailureRecoversAgain: when a step's registry writes do not
// commit as the master's shadow predicted (here another writer removed the
// framework behind the master's back), nothing of that step goes out, every
// stream closes, and the master recovers from the registry again.
func TestWriteFailureRecoversAgain(t *testing.T) {
	h := serveHA(t, listen(t), fastRaft(&Replicated{Dir: t.TempDir(), Bind: "127.0.0.1:0"}))
	waitLeading(t, h)
	info := fwInfo("web")
	info.FailoverTimeout = proto.Float64(3600)
	f := subscribe(t, h.base, codec.JSON, info)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := h.m.reg.RemoveFramework(ctx, f.id, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp := subscribeReq(t, h.base, codec.JSON, withID(info, f.id))
	again := newEventStream(t, resp, codec.JSON, func() *schedulerpb.Event { return &schedulerpb.Event{} }, nil)
	select {
	case ev, ok := <-again.events:
		if ok {
			t.Fatalf("the failed step's event went out: %v", ev)
		}
	case <-time.After(waitFor):
		t.Fatal("the resubscription's stream did not close")
	}
	if err := f.events.ended(); !isEOF(err) {
		t.Fatalf("old stream: %v", err)
	}
	waitLeading(t, h)
	resp = subscribeReq(t, h.base, codec.JSON, withID(info, f.id))
	refused := newEventStream(t, resp, codec.JSON, func() *schedulerpb.Event { return &schedulerpb.Event{} }, nil)
	if ev := refused.next(); ev.GetType() != schedulerpb.Event_ERROR || ev.GetError().GetMessage() != "Framework has been removed" {
		t.Fatalf("after recovering again: %v", ev)
	}
}
