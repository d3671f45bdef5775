package core

import (
	"maps"
	"testing"
	"time"

	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/quotapb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/internal/resources"
	"google.golang.org/protobuf/proto"
)

// recordingRegistry is a MemRegistry that also keeps agent infos and
// framework records, as the replicated one does, and answers the Recovery
// a new leader would read from it.
type recordingRegistry struct {
	*MemRegistry
	agentInfos   map[string]*mesospb.AgentInfo
	frameworks   map[string]*mesospb.FrameworkInfo
	disconnected map[string]time.Time
	quotas       map[string][]byte
	weights      map[string]float64
	maintenance  []byte
	reservations map[string][]byte // SetReservations (reservations_script_test.go)
}

func newRecordingRegistry() *recordingRegistry {
	return &recordingRegistry{MemRegistry: NewMemRegistry(), agentInfos: map[string]*mesospb.AgentInfo{},
		frameworks: map[string]*mesospb.FrameworkInfo{}, disconnected: map[string]time.Time{},
		quotas: map[string][]byte{}, weights: map[string]float64{},
		reservations: map[string][]byte{}}
}

func (r *recordingRegistry) AdmitAgent(info *mesospb.AgentInfo) error {
	r.agentInfos[info.GetId().GetValue()] = info
	return r.MemRegistry.AdmitAgent(info)
}

func (r *recordingRegistry) RemoveFramework(id string) error {
	delete(r.frameworks, id)
	delete(r.disconnected, id)
	return r.MemRegistry.RemoveFramework(id)
}

// recovery is what coreregistry.Recovery would read from the same records.
func (r *recordingRegistry) recovery() Recovery {
	var rec Recovery
	for _, id := range sortedKeys(r.agentInfos) {
		if r.AgentState(id) == AgentAdmitted {
			rec.Agents = append(rec.Agents, r.agentInfos[id])
		}
	}
	for _, id := range sortedKeys(r.frameworks) {
		rec.Frameworks = append(rec.Frameworks, RecoveredFramework{Info: r.frameworks[id], FailoverDeadline: r.disconnected[id]})
	}
	for _, role := range sortedKeys(r.quotas) {
		cfg := &quotapb.QuotaConfig{}
		if err := proto.Unmarshal(r.quotas[role], cfg); err != nil {
			panic(err) // the core marshalled it
		}
		rec.Quotas = append(rec.Quotas, cfg)
	}
	rec.Maintenance = r.maintenance
	if len(r.weights) > 0 {
		rec.Weights = maps.Clone(r.weights)
	}
	rec.Reservations = r.recoveredReservations()
	return rec
}

// SetQuota implements QuotaRegistry.
func (r *recordingRegistry) SetQuota(role string, config []byte) error {
	if config == nil {
		delete(r.quotas, role)
	} else {
		r.quotas[role] = config
	}
	return nil
}

// SetMaintenance implements MaintenanceRegistry.
func (r *recordingRegistry) SetMaintenance(record []byte) error {
	r.maintenance = record
	return nil
}

// SetWeights implements WeightRegistry.
func (r *recordingRegistry) SetWeights(weights map[string]float64) error {
	maps.Copy(r.weights, weights)
	return nil
}

func (r *recordingRegistry) AddFramework(info *mesospb.FrameworkInfo) error {
	r.frameworks[info.GetId().GetValue()] = info
	delete(r.disconnected, info.GetId().GetValue())
	return nil
}

func (r *recordingRegistry) DisconnectFramework(id string, deadline time.Time) error {
	r.disconnected[id] = deadline
	return nil
}

func recoveredAgent(id, hostname string) *mesospb.AgentInfo {
	return &mesospb.AgentInfo{Id: &mesospb.AgentID{Value: proto.String(id)}, Hostname: proto.String(hostname)}
}

func recoveredFramework(id string, failover float64, deadline time.Time) RecoveredFramework {
	info := fwInfo("web")
	info.Id = &mesospb.FrameworkID{Value: proto.String(id)}
	info.FailoverTimeout = proto.Float64(failover)
	return RecoveredFramework{Info: info, FailoverDeadline: deadline}
}

// reregister sends an agent's re-registration with one running task of fwID.
func (h *harness) reregister(agentID, link, fwID, taskID string) {
	h.t.Helper()
	call := &linkpb.AgentCall{Type: linkpb.AgentCall_REGISTER.Enum(), Register: &linkpb.AgentCall_Register{
		AgentInfo: &mesospb.AgentInfo{Hostname: proto.String("h-" + agentID), Id: &mesospb.AgentID{Value: proto.String(agentID)},
			Resources: res(h.t, "cpus:4;mem:1024")},
		Tasks: []*mesospb.Task{{
			Name: proto.String(taskID), TaskId: &mesospb.TaskID{Value: proto.String(taskID)},
			FrameworkId: &mesospb.FrameworkID{Value: proto.String(fwID)},
			AgentId:     &mesospb.AgentID{Value: proto.String(agentID)},
			State:       mesospb.TaskState_TASK_RUNNING.Enum(),
			Resources:   withAllocationRole(res(h.t, "cpus:1;mem:128"), "*"),
		}},
	}}
	if err := h.c.RegisterAgent(h.now, link, call); err != nil {
		h.t.Fatal(err)
	}
	h.settle()
	if m := h.message(link, linkpb.MasterEvent_REGISTERED); m.GetRegistered().GetAgentId().GetValue() != agentID {
		t := h.t
		t.Fatalf("REGISTERED = %v", m)
	}
}

// A new leader recovers two agents and a framework: the agent that comes
// back keeps its id and its task, the framework resubscribes with its id
// and sees the task; the agent that does not come back within
// --agent_reregister_timeout is marked unreachable.
func TestRecoverAgentsAndFramework(t *testing.T) {
	reg := newRecordingRegistry()
	_ = reg.AdmitAgent(recoveredAgent("old-S0", "h0"))
	_ = reg.AdmitAgent(recoveredAgent("old-S1", "h1"))
	h := newHarness(t, func(cfg *Config) {
		cfg.Registry = reg
		cfg.AgentReregisterTimeout = time.Minute
	})
	fw := recoveredFramework("old-0000", 3600, time.Time{})
	if err := h.c.Recover(h.now, Recovery{
		Agents:     []*mesospb.AgentInfo{recoveredAgent("old-S0", "h0"), recoveredAgent("old-S1", "h1")},
		Frameworks: []RecoveredFramework{fw},
	}); err != nil {
		t.Fatal(err)
	}
	if got := h.c.Recovering(); len(got) != 2 {
		t.Fatalf("recovering = %v", got)
	}
	h.reregister("old-S0", "l0", "old-0000", "t1")
	if got := h.c.Recovering(); len(got) != 1 || got[0] != "old-S1" {
		t.Fatalf("recovering after one re-registration = %v", got)
	}
	_, stream := h.subscribe(fw.Info)
	if got := offerRes(t, h.offers(stream)[0]); !got.Equal(resources.MustParse("cpus:3;mem:896")) {
		t.Fatalf("offered %v; want the agent less the recovered task", got)
	}
	h.mustCall("old-0000", stream, &schedulerpb.Call{Type: schedulerpb.Call_RECONCILE.Enum(), Reconcile: &schedulerpb.Call_Reconcile{}})
	if up := h.update(stream); up.GetState() != mesospb.TaskState_TASK_RUNNING || up.GetTaskId().GetValue() != "t1" {
		t.Fatalf("reconcile = %v", up)
	}
	if reg.frameworks["old-0000"] == nil {
		t.Fatalf("resubscription not recorded in the registry")
	}
	h.advance(59 * time.Second)
	if st := reg.AgentState("old-S1"); st != AgentAdmitted {
		t.Fatalf("agent marked %v before the re-register timeout", st)
	}
	h.advance(time.Second)
	if st := reg.AgentState("old-S1"); st != AgentUnreachable {
		t.Fatalf("missing agent is %v after the re-register timeout; want unreachable", st)
	}
	if st := reg.AgentState("old-S0"); st != AgentAdmitted {
		t.Fatalf("re-registered agent is %v", st)
	}
	if got := h.c.Recovering(); len(got) != 0 {
		t.Fatalf("recovering = %v", got)
	}
}

// More missing agents than --recovery_agent_removal_limit allows: none is
// marked unreachable, and they may still re-register.
func TestRecoverRemovalLimit(t *testing.T) {
	reg := newRecordingRegistry()
	h := newHarness(t, func(cfg *Config) {
		cfg.Registry = reg
		cfg.AgentReregisterTimeout = time.Minute
		cfg.RecoveryAgentRemovalLimit = 0.5
	})
	var agents []*mesospb.AgentInfo
	for _, id := range []string{"old-S0", "old-S1", "old-S2", "old-S3"} {
		a := recoveredAgent(id, id)
		_ = reg.AdmitAgent(a)
		agents = append(agents, a)
	}
	if err := h.c.Recover(h.now, Recovery{Agents: agents}); err != nil {
		t.Fatal(err)
	}
	h.reregister("old-S0", "l0", "f", "t0")
	h.advance(time.Minute)
	for _, id := range []string{"old-S1", "old-S2", "old-S3"} {
		if st := reg.AgentState(id); st != AgentAdmitted {
			t.Fatalf("%s is %v: 3 of 4 missing is over a 50%% limit, none may be marked", id, st)
		}
	}
	h.reregister("old-S2", "l2", "f", "t2")
	if got := h.c.Recovering(); len(got) != 2 {
		t.Fatalf("recovering = %v", got)
	}
}

// A framework whose failover deadline passed while no master led is
// removed at recovery, its id refused; one within its deadline keeps it,
// and is removed when it passes.
func TestRecoverFailoverDeadlines(t *testing.T) {
	reg := newRecordingRegistry()
	h := newHarness(t, func(cfg *Config) { cfg.Registry = reg; cfg.AgentReregisterTimeout = time.Minute })
	expired := recoveredFramework("old-0000", 10, h.now.Add(-time.Second))
	pending := recoveredFramework("old-0001", 10, h.now.Add(30*time.Second))
	connected := recoveredFramework("old-0002", 10, time.Time{})
	if err := h.c.Recover(h.now, Recovery{Frameworks: []RecoveredFramework{expired, pending, connected}}); err != nil {
		t.Fatal(err)
	}
	if !reg.FrameworkRemoved("old-0000") {
		t.Fatalf("a framework past its failover deadline was not removed at recovery")
	}
	stream := h.id("stream-")
	if err := h.c.Subscribe(h.now, stream, &schedulerpb.Call{Type: schedulerpb.Call_SUBSCRIBE.Enum(),
		Subscribe: &schedulerpb.Call_Subscribe{FrameworkInfo: expired.Info}}); err != nil {
		t.Fatal(err)
	}
	h.flush()
	if evs := h.events(stream); len(evs) != 1 || evs[0].GetType() != schedulerpb.Event_ERROR || !h.closedStream[stream] {
		t.Fatalf("expired framework's resubscription: %v", evs)
	}
	h.advance(30 * time.Second)
	if !reg.FrameworkRemoved("old-0001") {
		t.Fatalf("the recovered failover deadline was not kept")
	}
	// A framework subscribed at the crash gets max(failover timeout,
	// re-register timeout) from recovery.
	if reg.FrameworkRemoved("old-0002") {
		t.Fatalf("a framework subscribed at the crash was removed before the re-register timeout")
	}
	h.advance(30 * time.Second)
	if !reg.FrameworkRemoved("old-0002") {
		t.Fatalf("a framework subscribed at the crash that never came back was kept")
	}
}

// StreamClosed records the failover deadline in the registry.
func TestDisconnectRecordsDeadline(t *testing.T) {
	reg := newRecordingRegistry()
	h := newHarness(t, func(cfg *Config) { cfg.Registry = reg })
	info := fwInfo("web")
	info.FailoverTimeout = proto.Float64(60)
	id, stream := h.subscribe(info)
	if reg.frameworks[id] == nil {
		t.Fatalf("subscription not recorded")
	}
	h.c.StreamClosed(h.now, stream)
	if got := reg.disconnected[id]; !got.Equal(h.now.Add(time.Minute)) {
		t.Fatalf("recorded deadline %v, want %v", got, h.now.Add(time.Minute))
	}
}

// Found by the chaos suite (e2e TestChaos, seed 1): right after a
// failover, explicit reconciliation of a task the new leader does not know
// yet answered TASK_UNKNOWN, and the framework launched the task again
// while it ran on an agent still to re-register. As in Mesos, there is no
// answer while the task's agent (or, when none is named, any recovered
// agent) may still re-register; once none is left, the answer comes.
func TestReconcileUnknownTaskWhileAgentsReregister(t *testing.T) {
	reg := newRecordingRegistry()
	_ = reg.AdmitAgent(recoveredAgent("old-S0", "h0"))
	_ = reg.AdmitAgent(recoveredAgent("old-S1", "h1"))
	h := newHarness(t, func(cfg *Config) {
		cfg.Registry = reg
		cfg.AgentReregisterTimeout = time.Minute
	})
	info := fwInfo("web", mesospb.FrameworkInfo_Capability_PARTITION_AWARE)
	info.Id = &mesospb.FrameworkID{Value: proto.String("old-0000")}
	info.FailoverTimeout = proto.Float64(3600)
	if err := h.c.Recover(h.now, Recovery{
		Agents:     []*mesospb.AgentInfo{recoveredAgent("old-S0", "h0"), recoveredAgent("old-S1", "h1")},
		Frameworks: []RecoveredFramework{{Info: info}},
	}); err != nil {
		t.Fatal(err)
	}
	h.reregister("old-S0", "l0", "old-0000", "t1")
	_, stream := h.subscribe(info)
	h.events(stream)
	reconcile := func(agentID string) []*schedulerpb.Event {
		rt := &schedulerpb.Call_Reconcile_Task{TaskId: &mesospb.TaskID{Value: proto.String("t2")}}
		if agentID != "" {
			rt.AgentId = &mesospb.AgentID{Value: proto.String(agentID)}
		}
		h.mustCall("old-0000", stream, &schedulerpb.Call{Type: schedulerpb.Call_RECONCILE.Enum(),
			Reconcile: &schedulerpb.Call_Reconcile{Tasks: []*schedulerpb.Call_Reconcile_Task{rt}}})
		var ups []*schedulerpb.Event
		for _, ev := range h.events(stream) {
			if ev.GetType() == schedulerpb.Event_UPDATE {
				ups = append(ups, ev)
			}
		}
		return ups
	}
	if ups := reconcile(""); len(ups) != 0 {
		t.Fatalf("reconcile of an unknown task, no agent named, while old-S1 may re-register = %v; want no answer", ups)
	}
	if ups := reconcile("old-S1"); len(ups) != 0 {
		t.Fatalf("reconcile of an unknown task on old-S1 before it re-registered = %v; want no answer", ups)
	}
	if ups := reconcile("old-S0"); len(ups) != 1 || ups[0].GetUpdate().GetStatus().GetState() != mesospb.TaskState_TASK_GONE {
		t.Fatalf("reconcile of an unknown task on re-registered old-S0 = %v; want TASK_GONE", ups)
	}
	h.reregister("old-S1", "l1", "old-0000", "t3")
	if ups := reconcile(""); len(ups) != 1 || ups[0].GetUpdate().GetStatus().GetState() != mesospb.TaskState_TASK_UNKNOWN {
		t.Fatalf("reconcile of an unknown task once every agent is back = %v; want TASK_UNKNOWN", ups)
	}
}
