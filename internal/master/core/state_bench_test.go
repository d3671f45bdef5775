package core

import (
	"encoding/json"
	"fmt"
	"io"
	"testing"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/masterpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/operator"
	"github.com/mesoproject/meso/internal/present"
	"github.com/mesoproject/meso/internal/resources"
	"google.golang.org/protobuf/proto"
)

// loadedCluster is a bench cluster with tasksPerAgent command tasks
// launched on every agent (STAGING: the core holds them as live tasks).
func loadedCluster(b *testing.B, agents, frameworks, tasksPerAgent int) *benchCluster {
	bc := newBenchCluster(b, agents, frameworks)
	each := resources.MustParse("cpus:0.1;mem:32").ToProto("", false)
	launched, n := 0, 0
	for launched < agents*tasksPerAgent {
		bc.now = bc.now.Add(1e9)
		bc.c.Tick(bc.now)
		events := bc.c.Ready().Events
		if len(events) == 0 {
			b.Fatalf("no offers after %d tasks", launched)
		}
		for _, ev := range events {
			for _, o := range ev.Event.GetOffers().GetOffers() {
				var tasks []*mesospb.TaskInfo
				for range tasksPerAgent {
					n++
					tasks = append(tasks, commandTask(fmt.Sprintf("task%d", n), o.GetAgentId().GetValue(), each))
				}
				launched += len(tasks)
				call := acceptCall([]string{o.GetId().GetValue()}, nil, tasks...)
				call.FrameworkId = o.GetFrameworkId()
				if err := bc.c.Call(bc.now, ev.Stream, call); err != nil {
					b.Fatal(err)
				}
			}
		}
		bc.c.Ready()
	}
	return bc
}

// churnOffers runs one allocation cycle and declines every offer it made
// (with a filter of 0 s, so the next cycle offers them again): what the
// frameworks of a steady launch phase do with the offers they have no task
// for. Every agent's books change; what it holds is as before.
func (bc *benchCluster) churnOffers(b *testing.B) int {
	return bc.declineAll(b, bc.offerAll())
}

// offerAll runs one allocation cycle and returns its offers' events.
func (bc *benchCluster) offerAll() []FrameworkEvent {
	bc.now = bc.now.Add(1e9)
	bc.c.Tick(bc.now)
	return bc.c.Ready().Events
}

// declineAll declines the offers of events (filter 0 s) and returns how
// many.
func (bc *benchCluster) declineAll(b *testing.B, events []FrameworkEvent) int {
	n := 0
	for _, ev := range events {
		for _, o := range ev.Event.GetOffers().GetOffers() {
			call := declineCall(o.GetId().GetValue(), proto.Float64(0))
			call.FrameworkId = o.GetFrameworkId()
			if err := bc.c.Call(bc.now, ev.Stream, call); err != nil {
				b.Fatal(err)
			}
			n++
		}
	}
	bc.c.Ready()
	return n
}

// tasks lists the cluster's live tasks.
func (bc *benchCluster) tasks() []*task {
	var all []*task
	for _, fw := range bc.c.frameworks {
		for _, t := range fw.tasks {
			all = append(all, t)
		}
	}
	return all
}

// BenchmarkStateOnLoop measures what /master/state, GET_STATE and the
// metrics cost the master's loop at 5,000 agents / 50,000 tasks: the part
// that runs on the loop goroutine (nothing else is served meanwhile).
// changed has every task changed since the previous query (every record
// shared with the previous query replaced), changed500 500 of them (1%),
// unchanged none; the changes are made with the timer stopped (they are
// the status updates' cost: see Edit). StateQuery is the part of GetState
// that stays on the loop.
func BenchmarkStateOnLoop(b *testing.B) { benchStateOnLoop(b, 5000) }

// BenchmarkStateOnLoop10k is BenchmarkStateOnLoop at the size:
// 10,000 agents / 100,000 tasks.
func BenchmarkStateOnLoop10k(b *testing.B) { benchStateOnLoop(b, 10000) }

func benchStateOnLoop(b *testing.B, agents int) {
	bc := loadedCluster(b, agents, 10, 10)
	all := bc.tasks()
	// change edits a task's record as a status update's acknowledgement
	// state does (the first edit after a query copies the record).
	change := func(ts []*task) {
		for _, t := range ts {
			bc.c.editTask(t).StatusUpdateState = mesospb.TaskState_TASK_STAGING.Enum()
			t.changed()
		}
	}
	// The first query builds every agent's snapshot: not any row's cost.
	_ = bc.c.StateQuery()
	// The loop's part of GetState is StateQuery (the handler finishes it).
	for _, q := range []struct {
		name string
		run  func()
	}{
		{"GetState", func() { _ = bc.c.GetState() }},
		{"StateQuery", func() { _ = bc.c.StateQuery() }},
	} {
		b.Run(q.name+"/changed", func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				change(all)
				b.StartTimer()
				q.run()
			}
		})
		b.Run(q.name+"/unchanged", func(b *testing.B) {
			for b.Loop() {
				q.run()
			}
		})
	}
	// Steady churn: 1% of the tasks changed between two queries.
	b.Run("StateQuery/changed500", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			change(all[:500])
			b.StartTimer()
			_ = bc.c.StateQuery()
		}
	})
	// Edit is what the changes cost the loop where they happen: every
	// task's record edited once after a query (each copied, its slot
	// written), per task.
	b.Run("Edit/afterQuery", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			_ = bc.c.StateQuery()
			b.StartTimer()
			change(all)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(all)), "ns/task")
	})
	b.Run("Edit/unshared", func(b *testing.B) {
		for b.Loop() {
			change(all)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(all)), "ns/task")
	})
	// Every agent offered and declined since the previous query (every
	// allocation cycle of a steady launch phase).
	b.Run("StateQuery/offerChurn", func(b *testing.B) {
		n := 0
		for b.Loop() {
			b.StopTimer()
			n += bc.churnOffers(b)
			b.StartTimer()
			_ = bc.c.StateQuery()
		}
		b.ReportMetric(float64(n)/float64(b.N), "declined/op")
	})
	b.Run("Metrics", func(b *testing.B) {
		for b.Loop() {
			_ = bc.c.Metrics(bc.now)
		}
	})
	// Last (it leaves offers outstanding): one more allocation cycle
	// offers every agent's free resources and nobody answers, as in a
	// cluster where frameworks hold offers; the query lists them all.
	bc.now = bc.now.Add(1e9)
	bc.c.Tick(bc.now)
	bc.c.Ready()
	b.Run("StateQuery/offers", func(b *testing.B) {
		for b.Loop() {
			_ = bc.c.StateQuery()
		}
		b.ReportMetric(float64(len(bc.c.offers)), "offers")
	})
}

// BenchmarkStateRender measures the off-loop part of /master/state at
// 5,000 agents / 50,000 tasks: finishing the state query (StateQuery's
// returned function: listing and sorting the tasks, the agents' entries)
// and writing the JSON document. json is how the handler wrote it before
// StateEncoder (MasterStateJSON's structs through encoding/json); encoder
// is StateEncoder with its cache of task renderings warm (unchanged), with
// 500 tasks (1%) changed since the previous document (changed500), and a
// fresh encoder every time (cold). finish is the query's part alone.
func BenchmarkStateRender(b *testing.B) { benchStateRender(b, 5000) }

// BenchmarkStateRender10k is BenchmarkStateRender at the size:
// 10,000 agents / 100,000 tasks.
func BenchmarkStateRender10k(b *testing.B) { benchStateRender(b, 10000) }

func benchStateRender(b *testing.B, agents int) {
	bc := loadedCluster(b, agents, 10, 10)
	all := bc.tasks()
	meta := present.MasterMeta{Info: bc.c.cfg.MasterInfo, Version: "bench", Started: bc.now}
	var enc present.StateEncoder
	write := func(e *present.StateEncoder) {
		gs := bc.c.StateQuery()()
		if err := e.WriteMasterState(io.Discard, present.MasterStateHead(gs, meta), gs); err != nil {
			b.Fatal(err)
		}
	}
	write(&enc) // warm: every task rendered once
	b.Run("finish", func(b *testing.B) {
		for b.Loop() {
			_ = bc.c.StateQuery()()
		}
	})
	b.Run("json", func(b *testing.B) {
		for b.Loop() {
			gs := bc.c.StateQuery()()
			if err := json.NewEncoder(io.Discard).Encode(present.MasterStateJSON(gs, meta)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoder/unchanged", func(b *testing.B) {
		for b.Loop() {
			write(&enc)
		}
	})
	b.Run("encoder/changed500", func(b *testing.B) {
		n := 0
		for b.Loop() {
			b.StopTimer()
			for range 500 {
				t := all[n%len(all)]
				n++
				bc.c.editTask(t).StatusUpdateState = mesospb.TaskState_TASK_STAGING.Enum()
				t.changed()
			}
			b.StartTimer()
			write(&enc)
		}
	})
	// Every agent offered and declined since the previous document.
	b.Run("encoder/offerChurn", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			bc.churnOffers(b)
			b.StartTimer()
			write(&enc)
		}
	})
	// Every agent's holdings changed since the previous document: offers
	// outstanding on every agent, then all declined, in turn.
	b.Run("encoder/holdings", func(b *testing.B) {
		var out []FrameworkEvent
		for b.Loop() {
			b.StopTimer()
			if out == nil {
				out = bc.offerAll()
			} else {
				bc.declineAll(b, out)
				out = nil
			}
			b.StartTimer()
			write(&enc)
		}
		if out != nil {
			bc.declineAll(b, out)
		}
	})
	b.Run("encoder/cold", func(b *testing.B) {
		for b.Loop() {
			write(&present.StateEncoder{})
		}
	})
	// The operator API's GET_STATE: the same query, its Response encoded
	// whole by the negotiated codec (what operator.Respond does).
	for name, c := range map[string]codec.Codec{"json": codec.JSON, "protobuf": codec.Protobuf} {
		b.Run("operator/"+name, func(b *testing.B) {
			for b.Loop() {
				resp := &masterpb.Response{Type: masterpb.Response_GET_STATE.Enum(), GetState: bc.c.StateQuery()()}
				if _, err := c.Marshal(resp); err != nil {
					b.Fatal(err)
				}
			}
		})
		// The same through operator.StateEncoder (what the master's
		// handler does now), its cache warmed by one answer.
		var enc operator.StateEncoder
		encode := func() {
			resp := &masterpb.Response{Type: masterpb.Response_GET_STATE.Enum(), GetState: bc.c.StateQuery()()}
			if err := enc.Encode(io.Discard, c, resp); err != nil {
				b.Fatal(err)
			}
		}
		b.Run("operator/"+name+"/cached", func(b *testing.B) {
			encode()
			for b.Loop() {
				encode()
			}
		})
	}
}
