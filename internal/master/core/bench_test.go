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

// benchCluster is a core with agents and frameworks, driven without the
// test harness's per-message checks.
type benchCluster struct {
	c       *Core
	now     time.Time
	streams map[string]string // stream -> framework id
}

func newBenchCluster(b *testing.B, agents, frameworks int) *benchCluster {
	// Agents do not answer pings here: make them last.
	c, err := New(Config{MasterInfo: testMasterInfo(), AgentPingTimeout: 1000 * time.Hour}, epoch)
	if err != nil {
		b.Fatal(err)
	}
	bc := &benchCluster{c: c, now: epoch, streams: map[string]string{}}
	total := resources.MustParse("cpus:8;mem:16384;disk:100000;ports:[31000-32000]").ToProto("", false)
	for i := range agents {
		call := &linkpb.AgentCall{Type: linkpb.AgentCall_REGISTER.Enum(), Register: &linkpb.AgentCall_Register{
			AgentInfo: &mesospb.AgentInfo{Hostname: proto.String(fmt.Sprintf("host%d", i)), Resources: total}}}
		if err := c.RegisterAgent(bc.now, fmt.Sprintf("link%d", i), call); err != nil {
			b.Fatal(err)
		}
	}
	for i := range frameworks {
		stream := fmt.Sprintf("stream%d", i)
		call := &schedulerpb.Call{Type: schedulerpb.Call_SUBSCRIBE.Enum(),
			Subscribe: &schedulerpb.Call_Subscribe{FrameworkInfo: fwInfo(fmt.Sprintf("fw%d", i))}}
		if err := c.Subscribe(bc.now, stream, call); err != nil {
			b.Fatal(err)
		}
	}
	for _, ev := range c.Ready().Events {
		if sub := ev.Event.GetSubscribed(); sub != nil {
			bc.streams[ev.Stream] = sub.GetFrameworkId().GetValue()
		}
	}
	return bc
}

// cycle runs one allocation and declines every offer with the filter; it
// returns the number of offers made.
func (bc *benchCluster) cycle(b *testing.B, refuse float64) int {
	bc.now = bc.now.Add(time.Second)
	bc.c.Tick(bc.now)
	n := 0
	for _, ev := range bc.c.Ready().Events {
		offers := ev.Event.GetOffers().GetOffers()
		if len(offers) == 0 {
			continue
		}
		n += len(offers)
		d := &schedulerpb.Call_Decline{Filters: &mesospb.Filters{RefuseSeconds: proto.Float64(refuse)}}
		for _, o := range offers {
			d.OfferIds = append(d.OfferIds, o.GetId())
		}
		call := &schedulerpb.Call{Type: schedulerpb.Call_DECLINE.Enum(), Decline: d,
			FrameworkId: &mesospb.FrameworkID{Value: proto.String(bc.streams[ev.Stream])}}
		if err := bc.c.Call(bc.now, ev.Stream, call); err != nil {
			b.Fatal(err)
		}
	}
	bc.c.Ready()
	return n
}

// BenchmarkMasterOfferCycle measures one allocation cycle through the
// core (allocator, Offer messages, OFFERS events) plus the frameworks'
// DECLINE calls, with every offer declined without a filter, so that every
// agent is offered and declined in every cycle.
func BenchmarkMasterOfferCycle(b *testing.B) {
	for _, size := range []struct{ agents, frameworks int }{{1000, 100}, {10000, 1000}} {
		b.Run(fmt.Sprintf("agents=%d/frameworks=%d", size.agents, size.frameworks), func(b *testing.B) {
			bc := newBenchCluster(b, size.agents, size.frameworks)
			offers := 0
			for b.Loop() {
				offers += bc.cycle(b, 0)
			}
			b.ReportMetric(float64(offers)/float64(b.N), "offers/cycle")
		})
	}
}

// yearSecs is a refusal that outlasts any benchmark run.
const yearSecs = 365 * 24 * 3600

// BenchmarkMasterIdleCycle measures a cycle once every framework has
// declined every agent with a long filter: nothing is offered.
func BenchmarkMasterIdleCycle(b *testing.B) {
	bc := newBenchCluster(b, 1000, 100)
	for bc.cycle(b, yearSecs) > 0 {
	}
	for b.Loop() {
		if n := bc.cycle(b, yearSecs); n != 0 {
			b.Fatalf("%d offers in an idle cycle", n)
		}
	}
}

// BenchmarkTaskLifecycle measures the core's part of a task's life as
// meso bench drives it: an offer cycle, ACCEPTs launching as many tasks
// as each offer holds, then TASK_RUNNING and TASK_FINISHED from the agent,
// each acknowledged by the framework. One iteration is one task; the
// calls are built before the timer (decoding is not the core's part).
func BenchmarkTaskLifecycle(b *testing.B) {
	const agents, frameworks = 100, 10
	bc := newBenchCluster(b, agents, frameworks)
	res := resources.MustParse("cpus:0.1;mem:32").ToProto("", false)
	fwStream := map[string]string{}
	for s, id := range bc.streams {
		fwStream[id] = s
	}
	links := map[string]string{} // agent id -> link
	for i := range agents {
		link := fmt.Sprintf("link%d", i)
		links[bc.c.LinkAgent(link)] = link
	}
	type live struct{ fw, agent, id string }
	seq := 0
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		b.StopTimer()
		bc.now = bc.now.Add(time.Second)
		bc.c.Tick(bc.now)
		var accepts []struct {
			stream string
			call   *schedulerpb.Call
		}
		var tasks []live
		for _, ev := range bc.c.Ready().Events {
			for _, o := range ev.Event.GetOffers().GetOffers() {
				var tis []*mesospb.TaskInfo
				for range 80 {
					seq++
					id := fmt.Sprintf("t%07d", seq)
					tis = append(tis, commandTask(id, o.GetAgentId().GetValue(), res))
					tasks = append(tasks, live{bc.streams[ev.Stream], o.GetAgentId().GetValue(), id})
				}
				call := acceptCall([]string{o.GetId().GetValue()}, nil, tis...)
				call.FrameworkId = &mesospb.FrameworkID{Value: proto.String(bc.streams[ev.Stream])}
				accepts = append(accepts, struct {
					stream string
					call   *schedulerpb.Call
				}{ev.Stream, call})
			}
		}
		if len(tasks) == 0 {
			b.Fatal("no offers")
		}
		calls := make([][4]any, len(tasks))
		for i, t := range tasks {
			for j, st := range []mesospb.TaskState{mesospb.TaskState_TASK_RUNNING, mesospb.TaskState_TASK_FINISHED} {
				u := statusCall(t.fw, t.id, st, byte(j+1))
				u.LinkId = proto.String(links[t.agent])
				ack := ackCall(t.agent, t.id, byte(j+1))
				ack.FrameworkId = &mesospb.FrameworkID{Value: proto.String(t.fw)}
				calls[i][2*j], calls[i][2*j+1] = u, ack
			}
		}
		b.StartTimer()
		for _, a := range accepts {
			if err := bc.c.Call(bc.now, a.stream, a.call); err != nil {
				b.Fatal(err)
			}
		}
		bc.c.Ready()
		for i, t := range tasks {
			for j := range 4 {
				var err error
				switch c := calls[i][j].(type) {
				case *linkpb.AgentCall:
					err = bc.c.AgentCall(bc.now, c)
				case *schedulerpb.Call:
					err = bc.c.Call(bc.now, fwStream[t.fw], c)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			if i%64 == 63 {
				bc.c.Ready()
			}
		}
		bc.c.Ready()
		done += len(tasks)
	}
}
