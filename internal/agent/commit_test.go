package agent

import (
	"bytes"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/executorpb"
	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/agent/checkpoint"
	"github.com/mesoproject/meso/internal/agent/lifecycle"
)

// With group commit, an executor's update of a checkpointing framework's
// task has no effect before it is durable: while the commit holding it is
// held up, the executor gets no answer and no ACKNOWLEDGED, the master no
// STATUS_UPDATE, and the checkpoint on disk does not hold it yet; once
// the commit is done, the checkpoint holds it and only then is it
// answered, acknowledged and forwarded.
func TestGroupCommitBeforeEffects(t *testing.T) {
	var armed atomic.Bool
	entered, release := make(chan struct{}), make(chan struct{})
	testHookCommit = func() {
		if armed.CompareAndSwap(true, false) {
			entered <- struct{}{}
			<-release
		}
	}
	t.Cleanup(func() { testHookCommit = nil })

	m := newFakeMaster(t)
	dir := t.TempDir()
	a := startAgent(t, m, func(c *Config) { c.WorkDir = dir })
	s := m.session()
	s.send(checkpointingRunTask("f1", commandTask("t1", "sleep 600")))
	a.cz.launch(t)
	ex := newExecClient(t, a.url, codec.Protobuf, "f1", "t1")
	ex.subscribe()
	ex.event() // SUBSCRIBED
	ex.event() // LAUNCH

	store, err := checkpoint.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	updates := func() [][]byte {
		st, err := store.Load(true)
		if err != nil {
			t.Fatal(err)
		}
		var out [][]byte
		for _, e := range st.Executors {
			for _, tk := range e.Tasks {
				for _, u := range tk.Updates {
					out = append(out, u.GetUuid())
				}
			}
		}
		return out
	}

	armed.Store(true)
	answered := make(chan int, 1)
	go func() { answered <- ex.update("t1", mesospb.TaskState_TASK_RUNNING, uuidOf("u1")) }()
	select {
	case <-entered:
	case <-time.After(waitLimit):
		t.Fatal("the update's checkpoint was never committed")
	}
	if got := updates(); len(got) != 0 {
		t.Fatalf("on disk before the commit: %q", got)
	}
	m.noCall(linkpb.AgentCall_STATUS_UPDATE, 200*time.Millisecond)
	select {
	case code := <-answered:
		t.Fatalf("UPDATE answered %d before its commit", code)
	default:
	}
	close(release)

	if code := <-answered; code != 202 {
		t.Fatalf("UPDATE answered %d", code)
	}
	if got := updates(); len(got) != 1 || !bytes.Equal(got[0], uuidOf("u1")) {
		t.Fatalf("on disk after the commit: %q", got)
	}
	if ev := ex.event(); ev.GetType() != executorpb.Event_ACKNOWLEDGED {
		t.Fatalf("after the commit: %v", ev)
	}
	if up := m.call(linkpb.AgentCall_STATUS_UPDATE); !bytes.Equal(up.GetStatusUpdate().GetStatus().GetUuid(), uuidOf("u1")) {
		t.Fatalf("forwarded %v", up)
	}
}

// A new agent id from the master (the old identity is gone) drops, from
// the effects still waiting for a commit, those meant for the old
// identity: calls for the master, events for executors, launches. The
// containers' destruction stays, with its stream slot, in order.
func TestNewAgentIDForgetsQueuedEffects(t *testing.T) {
	s1, s2 := &eventStream{}, &eventStream{}
	destroy1 := lifecycle.DestroyContainer{FrameworkID: "f", ExecutorID: "e1", ContainerID: "c1"}
	destroy2 := lifecycle.DestroyContainer{FrameworkID: "f", ExecutorID: "e2", ContainerID: "c2"}
	a := &Agent{
		inFlight: []pendingInput{{
			effs:    []lifecycle.Effect{lifecycle.SendMaster{}, destroy1, lifecycle.LaunchExecutor{ExecutorID: "e3"}},
			streams: []*eventStream{nil, s1, nil},
		}},
		commitQueue: []pendingInput{
			{effs: []lifecycle.Effect{lifecycle.SendExecutor{ExecutorID: "e1"}}, streams: []*eventStream{s2}},
			{effs: []lifecycle.Effect{destroy2, lifecycle.SendMaster{}}, streams: []*eventStream{s2, nil}},
		},
	}
	a.forgetQueuedLocked()
	check := func(name string, p pendingInput, effs []lifecycle.Effect, streams []*eventStream) {
		t.Helper()
		if len(p.effs) != len(effs) || len(p.streams) != len(streams) {
			t.Fatalf("%s: %d effects and %d streams left, want %d", name, len(p.effs), len(p.streams), len(effs))
		}
		for i := range effs {
			if p.effs[i] != effs[i] || p.streams[i] != streams[i] {
				t.Fatalf("%s: effect %d is %#v (stream %p), want %#v (stream %p)", name, i, p.effs[i], p.streams[i], effs[i], streams[i])
			}
		}
	}
	check("in flight", a.inFlight[0], []lifecycle.Effect{destroy1}, []*eventStream{s1})
	check("queued 1", a.commitQueue[0], nil, nil)
	check("queued 2", a.commitQueue[1], []lifecycle.Effect{destroy2}, []*eventStream{s2})
}
