package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/registrypb"
	"google.golang.org/protobuf/proto"
)

// Short raft timeouts: elections in a few hundred ms even on a loaded
// machine, without the flapping 50 ms brings under -race.
func testConfig(t *testing.T, dir string, ln net.Listener) Config {
	logger := slog.New(slog.DiscardHandler)
	if os.Getenv("MESO_REGISTRY_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return Config{
		Dir:                dir,
		Listener:           ln,
		Logger:             logger,
		HeartbeatTimeout:   100 * time.Millisecond,
		ElectionTimeout:    100 * time.Millisecond,
		LeaderLeaseTimeout: 50 * time.Millisecond,
		CommitTimeout:      5 * time.Millisecond,
	}
}

func listen(t *testing.T, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	return ln
}

func open(t *testing.T, cfg Config) *Registry {
	t.Helper()
	r, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// eventually polls cond until it holds or 10 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// leaderOf waits until one of rs leads and has applied its predecessors'
// commits.
func leaderOf(t *testing.T, rs ...*Registry) *Registry {
	t.Helper()
	var leader *Registry
	eventually(t, "a leader", func() bool {
		for _, r := range rs {
			if r != nil && r.IsLeader() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				if r.Barrier(ctx) == nil {
					leader = r
					return true
				}
			}
		}
		return false
	})
	return leader
}

// write runs a write on whichever of rs leads, again while leadership
// moves (short timeouts on a loaded machine make it flap) until it
// succeeds or the deadline passes. Retrying after ErrLeadershipLost, when
// the first attempt may have committed too, is safe because every write
// the tests make is idempotent when repeated at once.
func write(t *testing.T, rs []*Registry, fn func(context.Context, *Registry) error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := leaderOf(t, rs...)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := fn(ctx, r)
		cancel()
		if err == nil {
			return
		}
		retry := errors.Is(err, ErrNotLeader) || errors.Is(err, ErrLeadershipLost)
		if !retry || time.Now().After(deadline) {
			t.Fatalf("write: %v", err)
		}
	}
}

// waitLeaderChange reads r's leader notifications until want arrives.
func waitLeaderChange(t *testing.T, r *Registry, want Leader) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case l := <-r.LeaderChanges():
			if l == want {
				return
			}
		case <-timeout:
			t.Fatalf("%s: no notification of leader %+v (now %+v)", r.ID(), want, r.Leader())
		}
	}
}

func agentInfo(id, host string) *mesospb.AgentInfo {
	return &mesospb.AgentInfo{Id: &mesospb.AgentID{Value: proto.String(id)}, Hostname: proto.String(host)}
}

func frameworkInfo(id string) *mesospb.FrameworkInfo {
	return &mesospb.FrameworkInfo{Id: &mesospb.FrameworkID{Value: proto.String(id)}, User: proto.String("u"), Name: proto.String(id)}
}

// writeEverything writes one record of every kind, with distinct names
// per round.
func writeEverything(t *testing.T, rs []*Registry, round int) {
	t.Helper()
	at := time.Unix(1_700_000_000+int64(round), 0)
	n := strconv.Itoa(round)
	for _, fn := range []func(context.Context, *Registry) error{
		func(ctx context.Context, r *Registry) error { return r.AdmitAgent(ctx, agentInfo("a"+n, "h"+n)) },
		func(ctx context.Context, r *Registry) error { return r.AdmitAgent(ctx, agentInfo("b"+n, "h"+n)) },
		func(ctx context.Context, r *Registry) error { return r.AdmitAgent(ctx, agentInfo("c"+n, "h"+n)) },
		func(ctx context.Context, r *Registry) error { return r.MarkAgentUnreachable(ctx, "b"+n, at) },
		func(ctx context.Context, r *Registry) error { return r.MarkAgentGone(ctx, "c"+n, at) },
		func(ctx context.Context, r *Registry) error { return r.PutFramework(ctx, frameworkInfo("f"+n)) },
		func(ctx context.Context, r *Registry) error { return r.PutFramework(ctx, frameworkInfo("g"+n)) },
		func(ctx context.Context, r *Registry) error {
			return r.DisconnectFramework(ctx, "f"+n, at.Add(time.Hour))
		},
		func(ctx context.Context, r *Registry) error { return r.RemoveFramework(ctx, "g"+n, at) },
		func(ctx context.Context, r *Registry) error {
			return r.SetWeights(ctx, map[string]float64{"web" + n: 2, "dev": float64(round + 1)})
		},
		func(ctx context.Context, r *Registry) error { return r.SetQuota(ctx, "web"+n, []byte("quota"+n)) },
		func(ctx context.Context, r *Registry) error { return r.SetMaintenance(ctx, []byte("schedule"+n)) },
		func(ctx context.Context, r *Registry) error { return r.SetReservations(ctx, "a"+n, []byte("res"+n)) },
	} {
		write(t, rs, fn)
	}
}

func sameState(t *testing.T, got, want *Registry) bool {
	t.Helper()
	return string(mustMarshal(t, got.State())) == string(mustMarshal(t, want.State()))
}

// TestSingleNodeReopen: a single master (no peers) keeps every record
// across Close and Open on the same work dir, from a snapshot plus the log
// entries after it.
func TestSingleNodeReopen(t *testing.T) {
	dir := t.TempDir()
	ln := listen(t, "127.0.0.1:0")
	addr := ln.Addr().String()
	r := open(t, testConfig(t, dir, ln))
	rs := []*Registry{r}
	writeEverything(t, rs, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.Snapshot(ctx); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	writeEverything(t, rs, 2)
	// A command's own error comes back to the proposer.
	if err := r.AdmitAgent(ctx, agentInfo("c1", "h")); !errors.Is(err, ErrAgentGone) {
		t.Fatalf("admitting a gone agent: %v, want ErrAgentGone", err)
	}
	done, cancelDone := context.WithCancel(ctx)
	cancelDone()
	if err := r.AdmitAgent(done, agentInfo("never", "h")); !errors.Is(err, context.Canceled) {
		t.Fatalf("write with a done context: %v, want context.Canceled", err)
	}
	want := r.State()
	if got := want.Agent("never").Status; got != AgentUnknown {
		t.Fatalf("a write with a done context was proposed: %v", got)
	}
	if got := want.Agent("b2").Status; got != AgentUnreachable {
		t.Fatalf("b2 is %v, want UNREACHABLE", got)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := r.AdmitAgent(ctx, agentInfo("z", "h")); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after close: %v, want ErrClosed", err)
	}
	for range r.LeaderChanges() { // closed by Close
	}

	cfg := testConfig(t, dir, nil)
	cfg.Bind = addr
	r2 := open(t, cfg)
	leaderOf(t, r2)
	if got := r2.State(); !got.Equal(want) {
		t.Fatalf("reopened state:\n%s\nwant\n%s", printState(t, got), printState(t, want))
	}
	write(t, []*Registry{r2}, func(ctx context.Context, r *Registry) error {
		return r.AdmitAgent(ctx, agentInfo("b2", "back"))
	})
	if got := r2.State().Agent("b2").Status; got != AgentAdmitted {
		t.Fatalf("b2 after re-admission is %v", got)
	}
}

// TestThreeNodes: three voters elect a leader and replicate; followers
// refuse writes; killing the leader elects another that accepts writes;
// the old leader, restarted on its work dir, catches up through a
// snapshot (its missed entries were compacted away).
func TestThreeNodes(t *testing.T) {
	var lns [3]net.Listener
	var peers []Peer
	for i := range lns {
		lns[i] = listen(t, "127.0.0.1:0")
		peers = append(peers, Peer{ID: fmt.Sprintf("m%d", i), Addr: lns[i].Addr().String()})
	}
	dirs := [3]string{t.TempDir(), t.TempDir(), t.TempDir()}
	config := func(i int, ln net.Listener) Config {
		cfg := testConfig(t, dirs[i], ln)
		cfg.ID, cfg.Peers = peers[i].ID, peers
		cfg.SnapshotThreshold, cfg.TrailingLogs, cfg.SnapshotInterval = 16, 4, 20*time.Millisecond
		if ln == nil {
			cfg.Bind = peers[i].Addr
		}
		return cfg
	}
	rs := make([]*Registry, 3)
	for i := range rs {
		rs[i] = open(t, config(i, lns[i]))
	}
	writeEverything(t, rs, 1)
	old := leaderOf(t, rs...)
	for _, r := range rs {
		eventually(t, r.ID()+" replicates", func() bool { return sameState(t, r, old) })
	}
	for _, r := range rs {
		if r == old {
			continue
		}
		// Both checks hold unless leadership moved meanwhile (then the
		// old leader no longer leads).
		if got := r.Leader(); (got.ID != old.ID() || got.Self) && old.IsLeader() {
			t.Fatalf("%s sees leader %+v, want %s", r.ID(), got, old.ID())
		}
		err := r.AdmitAgent(context.Background(), agentInfo("x", "h"))
		if !errors.Is(err, ErrNotLeader) && old.IsLeader() {
			t.Fatalf("write on follower %s: %v, want ErrNotLeader", r.ID(), err)
		}
	}

	// Kill the leader.
	oldIdx := -1
	for i, r := range rs {
		if r == old {
			oldIdx = i
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	rs[oldIdx] = nil
	survivor := rs[(oldIdx+1)%3]
	writeEverything(t, rs, 2)
	leader := leaderOf(t, rs...)
	if leader.ID() == old.ID() {
		t.Fatal("the closed leader still leads")
	}
	waitLeaderChange(t, survivor, Leader{ID: leader.ID(), Addr: leader.Addr(), Self: survivor == leader})
	for round := 3; round < 6; round++ { // past SnapshotThreshold + TrailingLogs
		writeEverything(t, rs, round)
	}
	eventually(t, "a snapshot on the new leader", func() bool {
		return leader.raft.Stats()["last_snapshot_index"] != "0"
	})

	// Restart the old leader on its work dir and address.
	back := open(t, config(oldIdx, nil))
	rs[oldIdx] = back
	eventually(t, "the restarted server catches up", func() bool { return sameState(t, back, leader) })
	if got := back.raft.Stats()["last_snapshot_index"]; got == "0" {
		t.Fatalf("the restarted server caught up without a snapshot")
	}
	writeEverything(t, rs, 6)
	leader = leaderOf(t, rs...)
	for _, r := range rs {
		eventually(t, r.ID()+" replicates round 6", func() bool { return sameState(t, r, leader) })
	}
	st := leader.State()
	if st.Agent("a6").Status != AgentAdmitted || st.Framework("g5").Status != FrameworkRemoved ||
		st.Framework("f4").FailoverDeadline != time.Unix(1_700_000_004, 0).Add(time.Hour).UnixNano() {
		t.Fatalf("unexpected state:\n%s", printState(t, st))
	}
}

func TestOpenConfigErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"no dir", Config{Bind: "127.0.0.1:0"}},
		{"no address", Config{Dir: dir}},
		{"self not a peer", Config{Dir: dir, Bind: "127.0.0.1:0", ID: "m9", Peers: []Peer{{ID: "m1", Addr: "127.0.0.1:1"}}}},
		{"peer without address", Config{Dir: dir, Bind: "127.0.0.1:0", ID: "m1", Peers: []Peer{{ID: "m1"}}}},
		{"duplicate peer", Config{Dir: dir, Bind: "127.0.0.1:0", ID: "m1", Peers: []Peer{{ID: "m1", Addr: "127.0.0.1:1"}, {ID: "m1", Addr: "127.0.0.1:2"}}}},
		{"lease longer than heartbeat", Config{Dir: dir, Bind: "127.0.0.1:0", HeartbeatTimeout: 10 * time.Millisecond, LeaderLeaseTimeout: time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Open(tc.cfg)
			if !errors.Is(err, ErrConfig) {
				if r != nil {
					r.Close()
				}
				t.Fatalf("Open: %v, want ErrConfig", err)
			}
		})
	}
}

// TestProposeBatch: the commands of one entry apply in order, each with
// its own result, and successive batches commit in call order.
func TestProposeBatch(t *testing.T) {
	r := open(t, testConfig(t, t.TempDir(), listen(t, "127.0.0.1:0")))
	leaderOf(t, r)
	at := time.Unix(1_700_000_000, 0)
	var cmds []*registrypb.Command
	for i := range 200 {
		id := fmt.Sprintf("a%d", i)
		c, err := AdmitAgentCommand(agentInfo(id, "h"))
		if err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, c, MarkAgentUnreachableCommand(id, at))
	}
	readmit, _ := AdmitAgentCommand(agentInfo("a0", "h"))
	cmds = append(cmds, MarkAgentGoneCommand("a0", at), readmit, MarkAgentUnreachableCommand("nobody", at))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	before := r.raft.LastIndex()
	var errs []error
	for chunk := range slices.Chunk(cmds, 64) {
		e, err := r.ProposeBatch(ctx, chunk)
		if err != nil {
			t.Fatal(err)
		}
		errs = append(errs, e...)
	}
	if got := r.raft.LastIndex() - before; got != 7 {
		t.Errorf("%d commands took %d log entries, want 7", len(cmds), got)
	}
	n := len(errs)
	if !errors.Is(errs[n-2], ErrAgentGone) || !errors.Is(errs[n-1], ErrAgentUnknown) {
		t.Fatalf("last two results %v, %v; want ErrAgentGone, ErrAgentUnknown", errs[n-2], errs[n-1])
	}
	for i, err := range errs[:n-2] {
		if err != nil {
			t.Fatalf("command %d (%v): %v", i, cmds[i].GetType(), err)
		}
	}
	st := r.State()
	if got := len(st.AgentIDs(AgentUnreachable)); got != 199 || st.Agent("a0").Status != AgentGone {
		t.Fatalf("%d unreachable agents and a0 %v, want 199 and GONE", got, st.Agent("a0").Status)
	}
	if err := r.AdmitAgent(ctx, &mesospb.AgentInfo{Hostname: proto.String("h")}); !errors.Is(err, ErrInvalidCommand) {
		t.Fatalf("admitting an agent without id: %v, want ErrInvalidCommand", err)
	}
	nested := &registrypb.Command{Type: registrypb.Command_BATCH.Enum()}
	if _, err := r.ProposeBatch(ctx, []*registrypb.Command{nested}); !errors.Is(err, ErrInvalidCommand) {
		t.Fatalf("a nested batch: %v, want ErrInvalidCommand", err)
	}
	if err := r.Propose(ctx, nested); !errors.Is(err, ErrInvalidCommand) {
		t.Fatalf("Propose of a batch: %v, want ErrInvalidCommand", err)
	}
}

// A second server on the same Dir (two masters given one work dir) fails
// with ErrLocked instead of waiting forever for bbolt's file lock.
func TestOpenLockedDir(t *testing.T) {
	dir := t.TempDir()
	open(t, testConfig(t, dir, listen(t, "127.0.0.1:0")))
	_, err := Open(testConfig(t, dir, listen(t, "127.0.0.1:0")))
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open on the same dir: %v; want ErrLocked", err)
	}
}
