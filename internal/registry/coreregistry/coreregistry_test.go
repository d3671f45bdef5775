package coreregistry

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/quotapb"
	"github.com/mesoproject/meso/internal/master/core"
	"github.com/mesoproject/meso/internal/registry"
	"google.golang.org/protobuf/proto"
)

func openSingle(t *testing.T) *registry.Registry {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r, err := registry.Open(registry.Config{
		Dir: t.TempDir(), Listener: ln,
		HeartbeatTimeout: 100 * time.Millisecond, ElectionTimeout: 100 * time.Millisecond,
		LeaderLeaseTimeout: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	timeout := time.After(10 * time.Second)
	for self := false; !self; {
		select {
		case l := <-r.LeaderChanges():
			self = l.Self
		case <-timeout:
			t.Fatal("no leader")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestCoreRegistry drives the adapter the way the core does: admit,
// lose, re-admit, remove; and a framework through failover and removal.
func TestCoreRegistry(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	reg := New(openSingle(t), 5*time.Second, func() time.Time { return now })
	info := &mesospb.AgentInfo{Id: &mesospb.AgentID{Value: proto.String("S1")}, Hostname: proto.String("h")}

	steps := []struct {
		name string
		do   func() error
		want core.AgentState
	}{
		{"unknown", func() error { return nil }, core.AgentUnknown},
		{"admit", func() error { return reg.AdmitAgent(info) }, core.AgentAdmitted},
		{"lose", func() error { return reg.MarkUnreachable("S1", now) }, core.AgentUnreachable},
		{"re-register", func() error { return reg.AdmitAgent(info) }, core.AgentAdmitted},
		{"remove", func() error { return reg.RemoveAgent("S1") }, core.AgentGone},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := reg.AgentState("S1"); got != s.want {
			t.Fatalf("%s: state %v, want %v", s.name, got, s.want)
		}
	}
	if err := reg.AdmitAgent(info); !errors.Is(err, registry.ErrAgentGone) {
		t.Fatalf("admitting a gone agent: %v, want ErrAgentGone", err)
	}
	var gone registry.Agent
	reg.r.Read(func(s *registry.State) { gone = s.Agent("S1") })
	if gone.Time != now.UnixNano() {
		t.Fatalf("gone at %d, want the proposer's clock %d", gone.Time, now.UnixNano())
	}

	fw := &mesospb.FrameworkInfo{Id: &mesospb.FrameworkID{Value: proto.String("F1")}, User: proto.String("u"), Name: proto.String("n")}
	if err := reg.AddFramework(fw); err != nil {
		t.Fatal(err)
	}
	if err := reg.DisconnectFramework("F1", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if reg.FrameworkRemoved("F1") {
		t.Fatal("a disconnected framework is not removed")
	}
	if err := reg.RemoveFramework("F1"); err != nil {
		t.Fatal(err)
	}
	if !reg.FrameworkRemoved("F1") {
		t.Fatal("F1 should be removed")
	}
	if err := reg.AddFramework(fw); !errors.Is(err, registry.ErrFrameworkRemoved) {
		t.Fatalf("re-adding a removed framework: %v, want ErrFrameworkRemoved", err)
	}
}

// Recovery reads admitted agents and live frameworks, with the deadlines
// of the disconnected ones; gone agents and removed frameworks stay out.
func TestRecovery(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	r := openSingle(t)
	reg := New(r, 5*time.Second, func() time.Time { return now })
	agent := func(id string) *mesospb.AgentInfo {
		return &mesospb.AgentInfo{Id: &mesospb.AgentID{Value: proto.String(id)}, Hostname: proto.String("h-" + id)}
	}
	fw := func(id string) *mesospb.FrameworkInfo {
		return &mesospb.FrameworkInfo{Id: &mesospb.FrameworkID{Value: proto.String(id)}, User: proto.String("u"),
			Name: proto.String("n"), FailoverTimeout: proto.Float64(60)}
	}
	for _, err := range []error{
		reg.AdmitAgent(agent("S1")), reg.AdmitAgent(agent("S2")), reg.RemoveAgent("S2"),
		reg.AddFramework(fw("F1")), reg.AddFramework(fw("F2")), reg.DisconnectFramework("F2", now.Add(time.Minute)),
		reg.AddFramework(fw("F3")), reg.RemoveFramework("F3"),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	rec, err := Recovery(r.State())
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Agents) != 1 || rec.Agents[0].GetId().GetValue() != "S1" || rec.Agents[0].GetHostname() != "h-S1" {
		t.Fatalf("agents = %v", rec.Agents)
	}
	if len(rec.Frameworks) != 2 {
		t.Fatalf("frameworks = %v", rec.Frameworks)
	}
	for _, f := range rec.Frameworks {
		switch f.Info.GetId().GetValue() {
		case "F1":
			if !f.FailoverDeadline.IsZero() {
				t.Errorf("subscribed F1 has a deadline %v", f.FailoverDeadline)
			}
		case "F2":
			if !f.FailoverDeadline.Equal(now.Add(time.Minute)) {
				t.Errorf("F2 deadline %v", f.FailoverDeadline)
			}
		default:
			t.Errorf("recovered %v", f.Info)
		}
	}
}

// Batch: writes show at once in its reads (the shadow), with the outcome
// the state machine gives (a failing one is not proposed), and commit
// together on Flush, after which the replicated state equals the shadow.
func TestBatch(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	r := openSingle(t)
	ctx := context.Background()
	gone := &mesospb.AgentInfo{Id: &mesospb.AgentID{Value: proto.String("S0")}, Hostname: proto.String("h0")}
	if err := r.AdmitAgent(ctx, gone); err != nil {
		t.Fatal(err)
	}
	if err := r.MarkAgentGone(ctx, "S0", now); err != nil {
		t.Fatal(err)
	}
	b := NewBatch(r, r.State(), 5*time.Second, func() time.Time { return now })
	info := &mesospb.AgentInfo{Id: &mesospb.AgentID{Value: proto.String("S1")}, Hostname: proto.String("h")}
	if err := b.AdmitAgent(info); err != nil {
		t.Fatal(err)
	}
	if got := b.AgentState("S1"); got != core.AgentAdmitted {
		t.Fatalf("shadow: S1 is %v before the flush; want admitted", got)
	}
	if err := b.AdmitAgent(gone); !errors.Is(err, registry.ErrAgentGone) {
		t.Fatalf("admitting a gone agent: %v; want ErrAgentGone at once", err)
	}
	fw := &mesospb.FrameworkInfo{Id: &mesospb.FrameworkID{Value: proto.String("F1")}, User: proto.String("u"), Name: proto.String("n")}
	if err := b.AddFramework(fw); err != nil {
		t.Fatal(err)
	}
	if err := b.RemoveFramework("F1"); err != nil || !b.FrameworkRemoved("F1") {
		t.Fatalf("remove framework: %v, removed %v", err, b.FrameworkRemoved("F1"))
	}
	var before registry.AgentStatus
	r.Read(func(st *registry.State) { before = st.Agent("S1").Status })
	if before != registry.AgentUnknown {
		t.Fatalf("S1 is %v in the registry before the flush", before)
	}
	if err := b.Flush(ctx); err != nil { // one ProposeBatch: one entry
		t.Fatal(err)
	}
	if b.Pending() != 0 || !r.State().Equal(b.shadow) {
		t.Fatalf("after the flush: %d pending; registry equals shadow: %v", b.Pending(), r.State().Equal(b.shadow))
	}
	if err := b.Flush(ctx); err != nil {
		t.Fatalf("empty flush: %v", err)
	}
}

// A write by someone else than the Batch makes the next flush fail with
// ErrDiverged: the master must recover again.
func TestBatchDiverged(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	r := openSingle(t)
	b := NewBatch(r, r.State(), 5*time.Second, func() time.Time { return now })
	info := &mesospb.AgentInfo{Id: &mesospb.AgentID{Value: proto.String("S1")}, Hostname: proto.String("h")}
	ctx := context.Background()
	if err := r.AdmitAgent(ctx, info); err != nil {
		t.Fatal(err)
	}
	if err := r.MarkAgentGone(ctx, "S1", now); err != nil {
		t.Fatal(err)
	}
	if err := b.AdmitAgent(info); err != nil {
		t.Fatalf("shadow admission: %v", err)
	}
	if err := b.Flush(ctx); !errors.Is(err, ErrDiverged) {
		t.Fatalf("flush = %v, want ErrDiverged", err)
	}
}

// An agent lost before a failover stays unreachable, with its time, in
// what the new leader recovers: Recovery does not wait for it, the Batch
// over the recovered state (the new leader's registry) answers
// AgentUnreachable, so the core lets it re-register when it returns, and
// its re-admission commits.
func TestRecoveryKeepsUnreachable(t *testing.T) {
	lost := time.Unix(1_700_000_000, 0)
	r := openSingle(t)
	reg := New(r, 5*time.Second, nil)
	for _, err := range []error{
		reg.AdmitAgent(&mesospb.AgentInfo{Id: &mesospb.AgentID{Value: proto.String("S1")}, Hostname: proto.String("h1")}),
		reg.AdmitAgent(&mesospb.AgentInfo{Id: &mesospb.AgentID{Value: proto.String("S3")}, Hostname: proto.String("h3")}),
		reg.MarkUnreachable("S3", lost),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	st := r.State()
	rec, err := Recovery(st)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Agents) != 1 || rec.Agents[0].GetId().GetValue() != "S1" {
		t.Fatalf("agents waited for = %v; want S1 only", rec.Agents)
	}
	if a := st.Agent("S3"); a.Status != registry.AgentUnreachable || a.Time != lost.UnixNano() {
		t.Fatalf("S3 recovered as %v at %d; want unreachable at %d", a.Status, a.Time, lost.UnixNano())
	}
	b := NewBatch(r, st, 5*time.Second, nil)
	if s := b.AgentState("S3"); s != core.AgentUnreachable {
		t.Fatalf("S3 is %v on the new leader", s)
	}
	if err := b.AdmitAgent(&mesospb.AgentInfo{Id: &mesospb.AgentID{Value: proto.String("S3")}, Hostname: proto.String("h3")}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if s := reg.AgentState("S3"); s != core.AgentAdmitted {
		t.Fatalf("S3 re-admitted: %v", s)
	}
}

// TestQuotaRecovery: quotas an operator sets are written to the registry
// and a new leader's core recovers them; a removed quota stays removed.
func TestQuotaRecovery(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	r := openSingle(t)
	reg := New(r, 5*time.Second, func() time.Time { return now })
	newCore := func() *core.Core {
		c, err := core.New(core.Config{MasterInfo: &mesospb.MasterInfo{Id: proto.String("m1"), Ip: proto.Uint32(1), Port: proto.Uint32(5050)},
			Registry: reg}, now)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c1 := newCore()
	cfg := func(role string, cpus float64) *quotapb.QuotaConfig {
		return &quotapb.QuotaConfig{Role: proto.String(role),
			Guarantees: map[string]*mesospb.Value_Scalar{"cpus": {Value: proto.Float64(cpus)}},
			Limits:     map[string]*mesospb.Value_Scalar{"cpus": {Value: proto.Float64(2 * cpus)}}}
	}
	if err := c1.UpdateQuota(time.Unix(0, 0), []*quotapb.QuotaConfig{cfg("web", 1), cfg("eng", 4), cfg("eng/db", 2)}, true); err != nil {
		t.Fatal(err)
	}
	if err := c1.RemoveQuota(time.Unix(0, 0), "web"); err != nil {
		t.Fatal(err)
	}
	rec, err := Recovery(r.State())
	if err != nil {
		t.Fatal(err)
	}
	c2 := newCore()
	if err := c2.Recover(now, rec); err != nil {
		t.Fatal(err)
	}
	got := c2.GetQuota().GetConfigs()
	if len(got) != 2 || got[0].GetRole() != "eng" || got[1].GetRole() != "eng/db" ||
		got[1].GetGuarantees()["cpus"].GetValue() != 2 || got[1].GetLimits()["cpus"].GetValue() != 4 {
		t.Fatalf("recovered quotas %v", got)
	}
}
