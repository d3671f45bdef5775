package core

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/masterpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/internal/allocator"
	"github.com/mesoproject/meso/internal/resources"
	"google.golang.org/protobuf/proto"
)

// TestBooksProperty drives the core with random event sequences: agents
// register, lose their link, re-register (with their tasks, or restarted
// without them), are lost (they stop answering pings) and come back;
// frameworks subscribe, disconnect, fail over (resubscribe with their id),
// time out or tear down; offers are made (allocation ticks), accepted with
// tasks, declined with filters, rescinded (offer timeout, agent gone);
// tasks (command tasks, and tasks of custom executors that exit once idle)
// are launched, updated, acknowledged and killed; the operator marks
// agents gone, deactivates and reactivates them; and now and then the
// master fails over: a new core recovers from the registry's records,
// every registered agent re-registers with what it runs and every
// subscribed framework resubscribes.
//
// After every step it checks, per agent, that the core's books (its
// outstanding offers and the resources of its live tasks, per framework
// and role) equal the allocator's (offered and used), that both know the
// same agents, and that the core never logged a refusal of the allocator
// or the registry. After every failover it checks that the new master has
// the frameworks, agents, tasks (id, agent, state) and allocator usage of
// the master that crashed.
//
// MESO_BOOKS_SEEDS=N runs N seeds (default 150); MESO_BOOKS_SEED=S runs
// only seed S.
func TestBooksProperty(t *testing.T) { runBooks(t, 0, 150) }

// TestBooksPropertyOptimistic is TestBooksProperty with optimistic offers
// (fanout 3): the books count each offer group once, at its holder; no
// agent's offered and used resources ever exceed its total (nothing is
// offered as held, or used, twice); frameworks also accept offers that
// were rescinded as conflicts, which must change nothing. Across the
// seeds, conflicts must have happened. MESO_BOOKS_SEEDS (default 60)
// and MESO_BOOKS_SEED apply.
func TestBooksPropertyOptimistic(t *testing.T) {
	conflicts := runBooks(t, 3, 60)
	t.Logf("%d offer conflicts", conflicts)
	if conflicts == 0 && !t.Failed() {
		t.Error("no optimistic offer conflict happened in any seed")
	}
}

// runBooks runs the books simulation over the seeds with the given offer
// fanout and returns the offer conflicts the cores counted.
func runBooks(t *testing.T, fanout, defaultSeeds int) (conflicts uint64) {
	seeds := []uint64{}
	if s := os.Getenv("MESO_BOOKS_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, v)
	} else {
		n := defaultSeeds
		if s := os.Getenv("MESO_BOOKS_SEEDS"); s != "" {
			v, err := strconv.Atoi(s)
			if err != nil {
				t.Fatal(err)
			}
			n = v
		}
		for i := range n {
			seeds = append(seeds, uint64(i))
		}
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			b := newBooksSim(t, seed, fanout)
			defer func() { conflicts += b.conflicts + b.c.metrics.offerConflicts }()
			defer func() { // the last step's query reports before the test ends
				if b.finishing != nil {
					<-b.finishing
				}
			}()
			for i := range 250 {
				b.step(i)
				if t.Failed() {
					t.Logf("trace:\n%s", strings.Join(b.trace, "\n"))
					return
				}
			}
		})
	}
	return conflicts
}

// refusals is a slog.Handler recording the core's warnings that mean its
// books and the allocator's (or the registry's) disagree.
type refusals struct{ msgs *[]string }

func (r refusals) Enabled(context.Context, slog.Level) bool { return true }
func (r refusals) Handle(_ context.Context, rec slog.Record) error {
	if strings.Contains(rec.Message, "refused") {
		var b strings.Builder
		b.WriteString(rec.Message)
		rec.Attrs(func(a slog.Attr) bool {
			fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
			return true
		})
		*r.msgs = append(*r.msgs, b.String())
	}
	return nil
}
func (r refusals) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r refusals) WithGroup(string) slog.Handler      { return r }

type keptState struct {
	after    string
	gs, copy proto.Message
}

type booksFramework struct {
	name    string
	role    string
	info    *mesospb.FrameworkInfo
	id      string
	stream  string            // "" while disconnected
	offers  map[string]string // offer id -> agent id
	stale   map[string]string // rescinded offers (the latest few)
	toAck   []*mesospb.TaskStatus
	removed bool
}

type booksTask struct {
	fw       *booksFramework
	id       string
	res      []*mesospb.Resource
	state    mesospb.TaskState // the agent's latest state
	pending  []*mesospb.TaskStatus
	executor string // "" for a command task
}

type booksAgent struct {
	name      string
	id        string
	link      string // "" while the link is down
	lost      bool   // removed by the master for missed pings
	gone      bool   // shut down by the master
	tasks     []*booksTask
	executors []*booksExecutor
	silent    bool
}

// booksExecutor is a custom executor an agent runs.
type booksExecutor struct {
	fw   *booksFramework
	info *mesospb.ExecutorInfo
}

func (ag *booksAgent) dropFramework(id string) {
	ag.tasks = slices.DeleteFunc(ag.tasks, func(x *booksTask) bool { return x.fw.id == id })
	ag.executors = slices.DeleteFunc(ag.executors, func(x *booksExecutor) bool { return x.fw.id == id })
}

type booksSim struct {
	// finishing is closed when the previous step's state query, finished
	// on another goroutine while this step runs, is done (see checkHeld):
	// under -race, a core change that reaches what a query shares fails.
	finishing chan struct{}
	// answered is that query's answer and a deep copy of it, made on its
	// goroutine; kept is the one before, checked unchanged at the next step.
	answered keptState
	kept     []keptState

	t       *testing.T
	rnd     *rand.Rand
	reg     *recordingRegistry
	c       *Core
	now     time.Time
	masters int
	conns   int
	tasks   int
	uuids   int
	warns   []string
	trace   []string
	// fanout is the allocator's OfferFanout; conflicts sums the offer
	// conflicts of the masters that failed over.
	fanout    int
	conflicts uint64

	fws    []*booksFramework
	agents []*booksAgent
	byLink map[string]*booksAgent
}

func newBooksSim(t *testing.T, seed uint64, fanout int) *booksSim {
	b := &booksSim{t: t, rnd: rand.New(rand.NewPCG(seed, 10)), reg: newRecordingRegistry(), now: epoch,
		byLink: map[string]*booksAgent{}, fanout: fanout}
	b.newMaster()
	return b
}

func (b *booksSim) logf(format string, args ...any) {
	b.trace = append(b.trace, fmt.Sprintf(format, args...))
}

// newMaster starts a core on the registry (its id m1, m2, ...).
func (b *booksSim) newMaster() {
	b.masters++
	if b.c != nil {
		b.conflicts += b.c.metrics.offerConflicts
	}
	info := testMasterInfo()
	info.Id = proto.String(fmt.Sprintf("m%d", b.masters))
	c, err := New(Config{MasterInfo: info, Registry: b.reg, OfferTimeout: 30 * time.Second,
		AgentReregisterTimeout: time.Minute, Logger: slog.New(refusals{&b.warns}),
		Allocator: allocator.Config{OfferFanout: b.fanout}}, b.now)
	if err != nil {
		b.t.Fatal(err)
	}
	b.c = c
}

func (b *booksSim) conn(prefix string) string {
	b.conns++
	return fmt.Sprintf("%s-%d", prefix, b.conns)
}

// route delivers the core's outputs until it has none: events to the
// framework whose current stream they name, messages to agents whose
// current link they name (PINGs answered unless the agent is silent).
func (b *booksSim) route() {
	for range 1000 {
		if !b.c.NextTick().After(b.now) {
			b.c.Tick(b.now)
		}
		r := b.c.Ready()
		if r.Empty() {
			return
		}
		for _, e := range r.Events {
			for _, fw := range b.fws {
				if fw.stream != "" && fw.stream == e.Stream {
					b.event(fw, e.Event)
				}
			}
		}
		for _, m := range r.Messages {
			if ag := b.byLink[m.Link]; ag != nil && ag.link == m.Link && !ag.silent {
				b.message(ag, m.Event)
			}
		}
		for _, s := range r.CloseStreams {
			for _, fw := range b.fws {
				if fw.stream == s {
					fw.stream, fw.offers = "", map[string]string{}
				}
			}
		}
		for _, l := range r.CloseLinks {
			if ag := b.byLink[l]; ag != nil && ag.link == l {
				ag.link = ""
			}
		}
	}
	b.t.Fatal("the core does not settle")
}

func (b *booksSim) event(fw *booksFramework, ev *schedulerpb.Event) {
	switch ev.GetType() {
	case schedulerpb.Event_SUBSCRIBED:
		fw.id = ev.GetSubscribed().GetFrameworkId().GetValue()
	case schedulerpb.Event_OFFERS:
		for _, o := range ev.GetOffers().GetOffers() {
			fw.offers[o.GetId().GetValue()] = o.GetAgentId().GetValue()
		}
	case schedulerpb.Event_RESCIND:
		id := ev.GetRescind().GetOfferId().GetValue()
		if ag, ok := fw.offers[id]; ok && len(fw.stale) < 4 {
			if fw.stale == nil {
				fw.stale = map[string]string{}
			}
			fw.stale[id] = ag
		}
		delete(fw.offers, id)
	case schedulerpb.Event_UPDATE:
		if s := ev.GetUpdate().GetStatus(); len(s.GetUuid()) > 0 {
			fw.toAck = append(fw.toAck, s)
		}
	case schedulerpb.Event_ERROR:
		fw.removed = true
	}
}

func (b *booksSim) message(ag *booksAgent, m *linkpb.MasterEvent) {
	switch m.GetType() {
	case linkpb.MasterEvent_REGISTERED:
		ag.id = m.GetRegistered().GetAgentId().GetValue()
	case linkpb.MasterEvent_PING:
		b.agentCall(ag, &linkpb.AgentCall{Type: linkpb.AgentCall_PONG.Enum(),
			Pong: &linkpb.AgentCall_Pong{Seq: proto.Uint64(m.GetPing().GetSeq())}})
	case linkpb.MasterEvent_RUN_TASK:
		rt := m.GetRunTask()
		fw := b.fwByID(rt.GetFramework().GetId().GetValue())
		bt := &booksTask{fw: fw, id: rt.GetTask().GetTaskId().GetValue(),
			res: rt.GetTask().GetResources(), state: mesospb.TaskState_TASK_STAGING}
		ag.tasks = append(ag.tasks, bt)
		if ex := rt.GetExecutor(); ex != nil {
			bt.executor = ex.GetExecutorId().GetValue()
			if !slices.ContainsFunc(ag.executors, func(e *booksExecutor) bool {
				return e.fw == fw && e.info.GetExecutorId().GetValue() == bt.executor
			}) {
				ag.executors = append(ag.executors, &booksExecutor{fw: fw, info: ex})
			}
		}
	case linkpb.MasterEvent_KILL_TASK:
		if bt := ag.task(m.GetKillTask().GetFrameworkId().GetValue(), m.GetKillTask().GetTaskId().GetValue()); bt != nil &&
			!mesospb.IsTerminal(bt.state) {
			b.makeStatus(ag, bt, mesospb.TaskState_TASK_KILLED)
		}
	case linkpb.MasterEvent_ACKNOWLEDGE:
		a := m.GetAcknowledge()
		bt := ag.task(a.GetFrameworkId().GetValue(), a.GetTaskId().GetValue())
		if bt != nil && len(bt.pending) > 0 && bytes.Equal(bt.pending[0].GetUuid(), a.GetUuid()) {
			bt.pending = bt.pending[1:]
			if len(bt.pending) > 0 {
				b.forward(ag, bt)
			} else if mesospb.IsTerminal(bt.state) {
				ag.tasks = slices.DeleteFunc(ag.tasks, func(x *booksTask) bool { return x == bt })
			}
		}
	case linkpb.MasterEvent_SHUTDOWN_FRAMEWORK:
		ag.dropFramework(m.GetShutdownFramework().GetFrameworkId().GetValue())
	case linkpb.MasterEvent_SHUTDOWN_AGENT:
		ag.gone, ag.tasks, ag.executors = true, nil, nil
	}
}

func (ag *booksAgent) task(fwID, taskID string) *booksTask {
	for _, bt := range ag.tasks {
		if bt.fw.id == fwID && bt.id == taskID {
			return bt
		}
	}
	return nil
}

func (b *booksSim) fwByID(id string) *booksFramework {
	for _, fw := range b.fws {
		if fw.id == id {
			return fw
		}
	}
	b.t.Fatalf("no framework %s", id)
	return nil
}

func (b *booksSim) agentCall(ag *booksAgent, call *linkpb.AgentCall) {
	call.LinkId = proto.String(ag.link)
	if err := b.c.AgentCall(b.now, call); err != nil {
		b.t.Fatalf("agent %s call %s: %v", ag.name, call.GetType(), err)
	}
}

// forward sends the head of a task's update stream with the latest state,
// as the agent's status update manager does.
func (b *booksSim) forward(ag *booksAgent, bt *booksTask) {
	if ag.link == "" || ag.silent {
		return
	}
	b.agentCall(ag, &linkpb.AgentCall{Type: linkpb.AgentCall_STATUS_UPDATE.Enum(),
		StatusUpdate: &linkpb.AgentCall_StatusUpdate{
			FrameworkId: &mesospb.FrameworkID{Value: proto.String(bt.fw.id)},
			Status:      bt.pending[0], LatestState: bt.state.Enum()}})
}

func (b *booksSim) makeStatus(ag *booksAgent, bt *booksTask, state mesospb.TaskState) {
	b.uuids++
	bt.state = state
	bt.pending = append(bt.pending, &mesospb.TaskStatus{
		TaskId: &mesospb.TaskID{Value: proto.String(bt.id)}, State: state.Enum(),
		Source: mesospb.TaskStatus_SOURCE_EXECUTOR.Enum(), AgentId: &mesospb.AgentID{Value: proto.String(ag.id)},
		Uuid: fmt.Appendf(nil, "%016d", b.uuids)})
	if len(bt.pending) == 1 {
		b.forward(ag, bt)
	}
}

func (b *booksSim) subscribe(fw *booksFramework) {
	fw.stream = b.conn("stream")
	fw.offers = map[string]string{}
	fw.toAck = nil
	info := proto.Clone(fw.info).(*mesospb.FrameworkInfo)
	if fw.id != "" {
		info.Id = &mesospb.FrameworkID{Value: proto.String(fw.id)}
	}
	if err := b.c.Subscribe(b.now, fw.stream, &schedulerpb.Call{Type: schedulerpb.Call_SUBSCRIBE.Enum(),
		Subscribe: &schedulerpb.Call_Subscribe{FrameworkInfo: info}}); err != nil {
		b.t.Fatalf("subscribe %s: %v", fw.name, err)
	}
}

func (b *booksSim) call(fw *booksFramework, call *schedulerpb.Call) {
	call.FrameworkId = &mesospb.FrameworkID{Value: proto.String(fw.id)}
	if err := b.c.Call(b.now, fw.stream, call); err != nil {
		b.t.Fatalf("%s %s: %v", fw.name, call.GetType(), err)
	}
}

// register registers an agent: a new one (no id yet) or one re-registering
// on a new link with the tasks it still has (none if it restarted and
// forgot them).
func (b *booksSim) register(ag *booksAgent) {
	ag.link = b.conn("link")
	ag.silent, ag.lost = false, false
	b.byLink[ag.link] = ag
	call := registerCall("h-"+ag.name, "cpus:4;mem:1024")
	reg := call.Register
	if ag.id != "" {
		reg.AgentInfo.Id = &mesospb.AgentID{Value: proto.String(ag.id)}
		seen := map[string]bool{}
		for _, bt := range ag.tasks {
			if !seen[bt.fw.id] {
				seen[bt.fw.id] = true
				info := proto.Clone(bt.fw.info).(*mesospb.FrameworkInfo)
				info.Id = &mesospb.FrameworkID{Value: proto.String(bt.fw.id)}
				reg.Frameworks = append(reg.Frameworks, info)
			}
			tp := &mesospb.Task{Name: proto.String(bt.id), TaskId: &mesospb.TaskID{Value: proto.String(bt.id)},
				FrameworkId: &mesospb.FrameworkID{Value: proto.String(bt.fw.id)}, AgentId: reg.AgentInfo.Id,
				State: bt.state.Enum(), Resources: withAllocationRole(bt.res, bt.fw.role)}
			if bt.executor != "" {
				tp.ExecutorId = &mesospb.ExecutorID{Value: proto.String(bt.executor)}
			}
			if len(bt.pending) > 0 {
				tp.StatusUpdateState, tp.StatusUpdateUuid = bt.pending[0].State, bt.pending[0].GetUuid()
			}
			reg.Tasks = append(reg.Tasks, tp)
		}
		for _, e := range ag.executors {
			info := proto.Clone(e.info).(*mesospb.ExecutorInfo)
			info.Resources = withAllocationRole(info.Resources, e.fw.role)
			if !seen[e.fw.id] {
				seen[e.fw.id] = true
				fi := proto.Clone(e.fw.info).(*mesospb.FrameworkInfo)
				fi.Id = &mesospb.FrameworkID{Value: proto.String(e.fw.id)}
				reg.Frameworks = append(reg.Frameworks, fi)
			}
			reg.Executors = append(reg.Executors, &linkpb.ExecutorState{
				FrameworkId: &mesospb.FrameworkID{Value: proto.String(e.fw.id)}, ExecutorInfo: info})
		}
	}
	if err := b.c.RegisterAgent(b.now, ag.link, call); err != nil {
		b.t.Fatalf("register %s: %v", ag.name, err)
	}
	b.route()
	for _, bt := range ag.tasks {
		if len(bt.pending) > 0 {
			b.forward(ag, bt)
		}
	}
}

// lose silences an agent and runs ping rounds until the core removes it.
func (b *booksSim) lose(ag *booksAgent) {
	ag.silent = true
	for range 20 {
		if b.c.agents[ag.id] == nil {
			ag.lost, ag.link = true, ""
			return
		}
		b.now = b.now.Add(DefaultAgentPingTimeout)
		b.c.Tick(b.now)
		b.route()
		b.check("lose " + ag.name)
	}
	b.t.Fatalf("agent %s was not lost", ag.name)
}

// syncLost marks the agents the core lost (they missed their pings while
// their link was down) as lost.
func (b *booksSim) syncLost() {
	for _, ag := range b.agents {
		if ag.id != "" && !ag.lost && !ag.gone && b.c.agents[ag.id] == nil {
			ag.lost, ag.link = true, ""
		}
	}
}

func pick[T any](rnd *rand.Rand, xs []T) T { return xs[rnd.IntN(len(xs))] }

func (b *booksSim) step(i int) {
	var (
		registered, lost []*booksAgent
		subscribed, away []*booksFramework
	)
	b.syncLost()
	for _, ag := range b.agents {
		switch {
		case ag.gone:
		case ag.lost:
			lost = append(lost, ag)
		default:
			registered = append(registered, ag)
		}
	}
	for _, fw := range b.fws {
		switch {
		case fw.removed:
		case fw.stream != "":
			subscribed = append(subscribed, fw)
		case fw.id != "":
			away = append(away, fw)
		}
	}
	what := ""
	switch n := b.rnd.IntN(100); {
	case n < 4 && len(b.agents) < 4:
		ag := &booksAgent{name: fmt.Sprintf("a%d", len(b.agents))}
		b.agents = append(b.agents, ag)
		what = "register " + ag.name
		b.register(ag)
	case n >= 4 && n < 7 && len(b.fws) < 3:
		fw := &booksFramework{name: fmt.Sprintf("f%d", len(b.fws)), role: "*"}
		if len(b.fws) == 1 {
			fw.role = "eng"
		}
		fw.info = fwInfo(fw.name)
		if b.rnd.IntN(2) == 0 {
			fw.info = fwInfo(fw.name, mesospb.FrameworkInfo_Capability_PARTITION_AWARE)
		}
		if fw.role != "*" {
			fw.info.Role = proto.String(fw.role)
		}
		fw.info.FailoverTimeout = proto.Float64(float64(pick(b.rnd, []int{20, 3600})))
		b.fws = append(b.fws, fw)
		what = "subscribe new " + fw.name
		b.subscribe(fw)
	case n >= 7 && n < 30 && len(subscribed) > 0:
		fw := pick(b.rnd, subscribed)
		offers := fw.offers
		if len(fw.stale) > 0 && b.rnd.IntN(4) == 0 {
			offers = fw.stale // a late accept of a rescinded offer
		}
		if len(offers) == 0 {
			break
		}
		id := pick(b.rnd, sortedKeys(offers))
		var tasks []*mesospb.TaskInfo
		for range b.rnd.IntN(3) {
			b.tasks++
			ti := commandTask(fmt.Sprintf("t%d", b.tasks), offers[id],
				mustRes(pick(b.rnd, []string{"cpus:1;mem:64", "cpus:0.5;mem:128", "cpus:2;mem:32"})))
			if e := b.rnd.IntN(4); e < 2 { // a custom executor, e0 or e1
				ti.Command = nil
				ti.Executor = &mesospb.ExecutorInfo{
					ExecutorId: &mesospb.ExecutorID{Value: proto.String(fmt.Sprintf("e%d", e))},
					Type:       mesospb.ExecutorInfo_CUSTOM.Enum(),
					Command:    &mesospb.CommandInfo{Value: proto.String("exec")},
					Resources:  mustRes("cpus:0.5;mem:32"),
				}
			}
			tasks = append(tasks, ti)
		}
		filters := &mesospb.Filters{RefuseSeconds: proto.Float64(float64(pick(b.rnd, []int{0, 1, 5})))}
		what = fmt.Sprintf("%s accepts %s with %d tasks", fw.name, id, len(tasks))
		b.call(fw, acceptCall([]string{id}, filters, tasks...))
		delete(fw.offers, id)
		delete(fw.stale, id)
	case n >= 30 && n < 36 && len(subscribed) > 0:
		fw := pick(b.rnd, subscribed)
		if len(fw.offers) == 0 {
			break
		}
		id := pick(b.rnd, sortedKeys(fw.offers))
		what = fmt.Sprintf("%s declines %s", fw.name, id)
		b.call(fw, declineCall(id, proto.Float64(float64(pick(b.rnd, []int{0, 2, 10})))))
		delete(fw.offers, id)
	case n >= 36 && n < 52 && len(registered) > 0:
		ag := pick(b.rnd, registered)
		if len(ag.tasks) == 0 {
			break
		}
		bt := pick(b.rnd, ag.tasks)
		if mesospb.IsTerminal(bt.state) {
			break
		}
		next := map[mesospb.TaskState]mesospb.TaskState{mesospb.TaskState_TASK_STAGING: mesospb.TaskState_TASK_STARTING,
			mesospb.TaskState_TASK_STARTING: mesospb.TaskState_TASK_RUNNING}[bt.state]
		if next == 0 || b.rnd.IntN(3) == 0 {
			next = pick(b.rnd, []mesospb.TaskState{mesospb.TaskState_TASK_FINISHED, mesospb.TaskState_TASK_FAILED})
		}
		what = fmt.Sprintf("%s: %s %s", ag.name, bt.id, next)
		b.makeStatus(ag, bt, next)
	case n >= 52 && n < 54 && len(registered) > 0:
		ag := pick(b.rnd, registered)
		if len(ag.executors) == 0 || ag.link == "" {
			break
		}
		e := pick(b.rnd, ag.executors)
		if slices.ContainsFunc(ag.tasks, func(bt *booksTask) bool {
			return bt.fw == e.fw && bt.executor == e.info.GetExecutorId().GetValue() && !mesospb.IsTerminal(bt.state)
		}) {
			break // it exits once its tasks ended
		}
		ag.executors = slices.DeleteFunc(ag.executors, func(x *booksExecutor) bool { return x == e })
		what = fmt.Sprintf("%s: executor %s of %s exited", ag.name, e.info.GetExecutorId().GetValue(), e.fw.name)
		b.agentCall(ag, &linkpb.AgentCall{Type: linkpb.AgentCall_EXECUTOR_EXITED.Enum(),
			ExecutorExited: &linkpb.AgentCall_ExecutorExited{FrameworkId: &mesospb.FrameworkID{Value: proto.String(e.fw.id)},
				ExecutorId: e.info.GetExecutorId(), Status: proto.Int32(0)}})
	case n >= 54 && n < 57 && len(registered) > 0:
		ag := pick(b.rnd, registered)
		what = "retry updates " + ag.name
		for _, bt := range ag.tasks {
			if len(bt.pending) > 0 {
				b.forward(ag, bt)
			}
		}
	case n >= 57 && n < 70 && len(subscribed) > 0:
		fw := pick(b.rnd, subscribed)
		if len(fw.toAck) == 0 {
			break
		}
		j := b.rnd.IntN(len(fw.toAck))
		s := fw.toAck[j]
		fw.toAck = slices.Delete(fw.toAck, j, j+1)
		what = fmt.Sprintf("%s acks %s %s", fw.name, s.GetTaskId().GetValue(), s.GetState())
		b.call(fw, &schedulerpb.Call{Type: schedulerpb.Call_ACKNOWLEDGE.Enum(), Acknowledge: &schedulerpb.Call_Acknowledge{
			AgentId: s.GetAgentId(), TaskId: s.GetTaskId(), Uuid: s.GetUuid()}})
	case n >= 70 && n < 73 && len(subscribed) > 0 && b.tasks > 0:
		fw := pick(b.rnd, subscribed)
		id := fmt.Sprintf("t%d", 1+b.rnd.IntN(b.tasks))
		what = fmt.Sprintf("%s kills %s", fw.name, id)
		b.call(fw, &schedulerpb.Call{Type: schedulerpb.Call_KILL.Enum(),
			Kill: &schedulerpb.Call_Kill{TaskId: &mesospb.TaskID{Value: proto.String(id)}}})
	case n >= 73 && n < 76 && len(subscribed) > 0:
		fw := pick(b.rnd, subscribed)
		what = "disconnect " + fw.name
		b.c.StreamClosed(b.now, fw.stream)
		fw.stream, fw.offers = "", map[string]string{}
	case n >= 76 && n < 79 && len(away) > 0:
		fw := pick(b.rnd, away)
		what = "resubscribe " + fw.name
		b.subscribe(fw)
	case n >= 79 && n < 80 && len(subscribed) > 0:
		fw := pick(b.rnd, subscribed)
		what = "teardown " + fw.name
		b.call(fw, simpleCall(schedulerpb.Call_TEARDOWN))
		fw.removed, fw.stream = true, ""
	case n >= 80 && n < 82 && len(registered) > 0:
		ag := pick(b.rnd, registered)
		if ag.link == "" {
			break
		}
		what = "link closed " + ag.name
		b.c.LinkClosed(b.now, ag.link)
		ag.link = ""
	case n >= 82 && n < 86 && len(registered) > 0:
		ag := pick(b.rnd, registered)
		what = "reregister " + ag.name
		b.register(ag)
	case n >= 86 && n < 87 && len(registered) > 0:
		ag := pick(b.rnd, registered)
		what = "restart without tasks " + ag.name
		ag.tasks, ag.executors = nil, nil
		b.register(ag)
	case n >= 87 && n < 89 && len(registered) > 1:
		ag := pick(b.rnd, registered)
		what = "lose " + ag.name
		b.logf("%d: %s", i, what)
		b.lose(ag)
	case n >= 89 && n < 91 && len(lost) > 0:
		ag := pick(b.rnd, lost)
		what = "comes back " + ag.name
		b.register(ag)
	case n >= 91 && n < 93:
		what = "failover"
		b.logf("%d: %s", i, what)
		b.failover()
	case n >= 93 && n < 94 && len(registered) > 1:
		ag := pick(b.rnd, registered)
		what = "operator marks gone " + ag.name
		if err := b.c.MarkAgentGone(b.now, ag.id); err != nil {
			b.t.Fatalf("MARK_AGENT_GONE %s: %v", ag.name, err)
		}
		ag.gone = true
	case n >= 94 && n < 95 && len(registered) > 0:
		ag := pick(b.rnd, registered)
		if b.c.agents[ag.id].deactivated {
			what = "operator reactivates " + ag.name
			if err := b.c.ReactivateAgent(ag.id); err != nil {
				b.t.Fatalf("REACTIVATE_AGENT %s: %v", ag.name, err)
			}
		} else {
			what = "operator deactivates " + ag.name
			if err := b.c.DeactivateAgent(b.now, ag.id); err != nil {
				b.t.Fatalf("DEACTIVATE_AGENT %s: %v", ag.name, err)
			}
		}
	case n >= 95 && n < 96:
		what = "tick 30s"
		b.now = b.now.Add(30 * time.Second)
		b.c.Tick(b.now)
	case n >= 96:
		what = "tick"
		b.now = b.now.Add(DefaultAllocationInterval)
		b.c.Tick(b.now)
	}
	if what == "" {
		return
	}
	if what != "failover" && !strings.HasPrefix(what, "lose ") {
		b.logf("%d: %s", i, what)
	}
	b.route()
	b.check(what)
}

// check compares the core's books with the allocator's, per agent.
func (b *booksSim) check(after string) {
	b.t.Helper()
	if len(b.warns) > 0 {
		b.t.Errorf("after %s: the core logged %v", after, b.warns)
		b.warns = nil
	}
	c := b.c
	if got, want := c.alloc.Agents(), sortedKeys(c.agents); !slices.Equal(got, want) {
		b.t.Errorf("after %s: allocator agents %v, core agents %v", after, got, want)
	}
	for _, id := range sortedKeys(c.agents) {
		ag := c.agents[id]
		type key struct{ fw, role string }
		offered, used := map[key]resources.Resources{}, map[key]resources.Resources{}
		var all resources.Resources // held offers and used, each counted once
		for _, o := range ag.offers {
			if g := o.group; g != nil {
				if !slices.Contains(g.members, o) || !slices.Contains(g.members, g.holder) || len(g.members) < 2 ||
					g.holder.agent != o.agent || !g.holder.res.Equal(o.res) {
					b.t.Errorf("after %s: offer %s has a bad group (holder %s, %d members)", after, o.id, g.holder.id, len(g.members))
				}
				if g.holder != o {
					continue // its resources are the holder's
				}
			}
			all = all.Add(o.res)
			k := key{o.fw.id, o.role}
			offered[k] = offered[k].Add(o.res)
			if c.offers[o.id] != o {
				b.t.Errorf("after %s: offer %s on agent %s is not among the core's offers", after, o.id, id)
			}
		}
		for _, t := range ag.tasks {
			if !t.freed {
				k := key{t.fw, t.role}
				used[k] = used[k].Add(t.res)
				all = all.Add(t.res)
			}
		}
		for fwID, es := range ag.executors {
			for _, e := range es {
				k := key{fwID, e.role}
				used[k] = used[k].Add(e.res)
				all = all.Add(e.res)
			}
		}
		if !ag.total.Contains(all) {
			b.t.Errorf("after %s: agent %s has %v offered and used, more than its total %v", after, id, all, ag.total)
		}
		as, ok := c.alloc.Agent(id)
		if !ok {
			continue // reported above
		}
		seen := map[key]bool{}
		for _, h := range as.Holdings {
			k := key{h.Framework, h.Role}
			seen[k] = true
			if !h.Offered.Equal(offered[k]) || !h.Used.Equal(used[k]) {
				b.t.Errorf("after %s: agent %s framework %s role %s: allocator offered %v used %v; core offers %v tasks %v",
					after, id, k.fw, k.role, h.Offered, h.Used, offered[k], used[k])
			}
		}
		for k, r := range offered {
			if !seen[k] && !r.IsEmpty() {
				b.t.Errorf("after %s: agent %s framework %s role %s: core offers %v the allocator does not hold", after, id, k.fw, k.role, r)
			}
		}
		for k, r := range used {
			if !seen[k] && !r.IsEmpty() {
				b.t.Errorf("after %s: agent %s framework %s role %s: core tasks use %v the allocator does not hold", after, id, k.fw, k.role, r)
			}
		}
	}
	b.checkHeld(after)
	for oid, o := range c.offers {
		if c.agents[o.agent.id] != o.agent || o.agent.offers[oid] != o {
			b.t.Errorf("after %s: offer %s names agent %s which does not hold it", after, oid, o.agent.id)
		}
	}
}

// booksView is what a failover must rebuild: frameworks (id -> active),
// agents, live tasks on registered agents with their state, and the
// allocator's usage per agent, framework and role.
type booksView struct {
	frameworks map[string]bool
	agents     []string
	tasks      map[string]string // fw/task -> agent state
	used       map[string]string // agent/fw/role -> resources
}

func viewOf(c *Core) booksView {
	v := booksView{frameworks: map[string]bool{}, agents: sortedKeys(c.agents), tasks: map[string]string{}, used: map[string]string{}}
	for id, fw := range c.frameworks {
		v.frameworks[id] = fw.connected()
	}
	for _, id := range v.agents {
		for k, t := range c.agents[id].tasks {
			v.tasks[k.framework+"/"+k.task] = id + " " + t.state().String()
		}
		as, _ := c.alloc.Agent(id)
		for _, h := range as.Holdings {
			if !h.Used.IsEmpty() {
				v.used[id+"/"+h.Framework+"/"+h.Role] = h.Used.String()
			}
		}
	}
	return v
}

// failover replaces the core with one that recovers from the registry;
// every registered agent re-registers (after retrying its pending updates
// on the old master, so the old master knew the states the agents report)
// and every subscribed framework resubscribes.
func (b *booksSim) failover() {
	b.syncLost()
	for _, ag := range b.agents {
		if !ag.gone && !ag.lost && ag.link == "" {
			b.register(ag) // a disconnected agent tells the old master first
		}
	}
	b.syncLost()
	for _, ag := range b.agents {
		if !ag.gone && !ag.lost {
			for _, bt := range ag.tasks {
				if len(bt.pending) > 0 {
					b.forward(ag, bt)
				}
			}
		}
	}
	b.route()
	before := viewOf(b.c)
	rec := b.reg.recovery()
	b.newMaster()
	if err := b.c.Recover(b.now, rec); err != nil {
		b.t.Fatalf("recover: %v", err)
	}
	for _, fw := range b.fws {
		if fw.stream != "" {
			fw.stream, fw.offers = "pending", map[string]string{}
		}
	}
	for _, ag := range b.agents {
		if !ag.gone && !ag.lost {
			b.register(ag)
		}
	}
	for _, fw := range b.fws {
		if fw.stream == "pending" {
			b.subscribe(fw)
		}
	}
	b.route()
	after := viewOf(b.c)
	if !slices.Equal(before.agents, after.agents) {
		b.t.Errorf("failover: agents %v, before %v", after.agents, before.agents)
	}
	if fmt.Sprint(before.frameworks) != fmt.Sprint(after.frameworks) {
		b.t.Errorf("failover: frameworks (id: active) %v, before %v", after.frameworks, before.frameworks)
	}
	if fmt.Sprint(before.tasks) != fmt.Sprint(after.tasks) {
		b.t.Errorf("failover: tasks %v, before %v", after.tasks, before.tasks)
	}
	if fmt.Sprint(before.used) != fmt.Sprint(after.used) {
		b.t.Errorf("failover: allocator usage %v, before %v", after.used, before.used)
	}
	b.check("failover")
}

// checkHeld compares what state queries and metrics take from the
// allocator's books (held) with a full recount of tasks, executors and
// offers: agents' and frameworks' allocated and offered resources, and the
// master/*_used metrics; that a query lists every task's current record
// (a rebuild); and that the records and sub-messages earlier queries
// shared were not modified since (kept).
func (b *booksSim) checkHeld(after string) {
	b.t.Helper()
	c := b.c
	if b.finishing != nil {
		<-b.finishing
	}
	// What earlier queries answered is as it was: nothing the core shared
	// with them (task records, their sub-messages) was modified in place.
	for _, k := range b.kept {
		if !proto.Equal(k.gs, k.copy) {
			b.t.Errorf("after %s: the state a query answered after %s changed since:\n%v\nthen:\n%v", after, k.after, k.gs, k.copy)
		}
	}
	if b.answered.gs != nil {
		b.kept = append(b.kept[:0], b.answered) // the last one (more costs the test minutes under -race)
		b.answered = keptState{}
	}
	wantTasks := rebuildTasks(c) // before the query
	wantAgents := &masterpb.Response_GetAgents{Agents: []*masterpb.Response_GetAgents_Agent{}}
	for _, id := range sortedKeys(c.agents) {
		ag := c.agents[id]
		wantAgents.Agents = append(wantAgents.Agents, agentEntryWith(ag, recountAgent(ag), c.maint.drains[id]))
	}
	finish, done := c.StateQuery(), make(chan struct{})
	b.finishing = done
	go func() {
		defer close(done)
		gs := finish()
		_, _ = proto.Marshal(gs) // reads every field, as the handler's encoding does
		if !proto.Equal(gs.GetGetAgents(), wantAgents) {
			b.t.Errorf("after %s: the agents' cached snapshots are not a rebuild's:\n%v\nrebuild:\n%v", after, gs.GetGetAgents(), wantAgents)
		}
		if !proto.Equal(gs.GetGetTasks(), wantTasks) {
			b.t.Errorf("after %s: the tasks' incremental views are not a rebuild's:\n%v\nrebuild:\n%v", after, gs.GetGetTasks(), wantTasks)
		}
		b.answered = keptState{after, gs, proto.Clone(gs)}
	}()
	checkTaskStates(b.t, after, c)
	var used [4]float64
	for _, id := range sortedKeys(c.agents) {
		ag := c.agents[id]
		want := recountAgent(ag)
		if got := c.agentEntry(ag); !proto.Equal(got, agentEntryWith(ag, want, c.maint.drains[id])) {
			b.t.Errorf("after %s: agent %s: state says allocated %v offered %v; recount %v %v", after, id,
				got.GetAllocatedResources(), got.GetOfferedResources(), want.allocated, want.offered)
		}
		for _, r := range want.allocated {
			for i, name := range metricScalars {
				used[i] += r.Scalar(name).Float()
			}
		}
	}
	fws := c.GetFrameworks().GetFrameworks()
	for i, id := range sortedKeys(c.frameworks) {
		fw := c.frameworks[id]
		if got, want := fws[i], c.frameworkEntry(fw); !proto.Equal(got, want) {
			b.t.Errorf("after %s: framework %s: state says allocated %v offered %v; recount %v %v", after, id,
				got.GetAllocatedResources(), got.GetOfferedResources(), want.GetAllocatedResources(), want.GetOfferedResources())
		}
	}
	for _, id := range sortedKeys(c.frameworks) {
		for _, t := range c.frameworks[id].tasks {
			if t.role != "" && allocationRoleOf(t.proto.GetResources()) != t.role {
				b.t.Errorf("after %s: task %s: the record's resources %v lack their allocation role %s", after, t.id, t.proto.GetResources(), t.role)
			}
		}
	}
	m := c.Metrics(b.now)
	for i, name := range metricScalars {
		if got := m["master/"+name+"_used"]; math.Abs(got-used[i]) > 1e-9 {
			b.t.Errorf("after %s: master/%s_used %v, recount %v", after, name, got, used[i])
		}
	}
}

// rebuildTasks is GetTasks from scratch: every task's current record
// copied (not the frameworks' taskViews, nor the records the completed
// lists took).
func rebuildTasks(c *Core) *masterpb.Response_GetTasks {
	out := &masterpb.Response_GetTasks{}
	byID := func(a, b *mesospb.Task) int {
		return strings.Compare(a.GetTaskId().GetValue(), b.GetTaskId().GetValue())
	}
	view := func(t *task) *mesospb.Task { return proto.Clone(t.proto).(*mesospb.Task) }
	add := func(fw *framework) {
		var live, unreach []*mesospb.Task
		for _, t := range fw.tasks {
			if t.held != nil && t.state() == mesospb.TaskState_TASK_UNREACHABLE {
				unreach = append(unreach, view(t))
			} else {
				live = append(live, view(t))
			}
		}
		slices.SortFunc(live, byID)
		slices.SortFunc(unreach, byID)
		out.Tasks = append(out.Tasks, live...)
		out.UnreachableTasks = append(out.UnreachableTasks, unreach...)
		for _, d := range slices.Backward(fw.completed) {
			out.CompletedTasks = append(out.CompletedTasks, view(d.t))
		}
	}
	for _, id := range sortedKeys(c.frameworks) {
		add(c.frameworks[id])
	}
	for _, fw := range slices.Backward(c.completed) {
		add(fw)
	}
	return out
}

// checkTaskStates compares the master/tasks_* gauges, counted as tasks
// change (taskViews.states), and each table's slots with a recount.
func checkTaskStates(t *testing.T, after string, c *Core) {
	t.Helper()
	want := map[string]float64{}
	for _, fw := range c.frameworks {
		for _, tk := range fw.tasks {
			if name, ok := liveMetricNames[tk.state()]; ok {
				want[name]++
			}
			if tk.views != &fw.views || fw.views.tasks[tk.slot] != tk {
				t.Errorf("after %s: task %s is not in its framework's slot %d", after, tk.id, tk.slot)
			}
		}
		if len(fw.views.tasks) != len(fw.tasks) {
			t.Errorf("after %s: framework %s: %d slots for %d tasks", after, fw.id, len(fw.views.tasks), len(fw.tasks))
		}
	}
	m := c.Metrics(time.Time{})
	for _, name := range liveMetricNames {
		if m[name] != want[name] {
			t.Errorf("after %s: %s %v, recount %v", after, name, m[name], want[name])
		}
	}
}
