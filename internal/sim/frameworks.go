package sim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/internal/resources"
	"github.com/mesoproject/meso/internal/subscribe"
	"github.com/mesoproject/meso/scheduler"
)

// Offer filters: refuse nothing while tasks wait (leftovers come back in
// the next cycle), an hour once every task is launched.
const (
	refuseWhileLaunching = 0
	refuseWhenDone       = 3600
	// refuseSteady: in the steady phase (Config.LaunchRate) an offer
	// the framework has no task for now is declined for Mesos' default
	// 5 s, so that a framework launching a few tasks a second does not
	// decline every agent every allocation cycle.
	refuseSteady = 5
)

// Flags of a task in simFramework.seen.
const (
	seenRunning uint8 = 1 << iota
	seenTerminal
)

// simFramework is one simulated framework on the public scheduler client:
// it packs its share of tasks into the offers it gets, acknowledges every
// update, and suppresses offers once everything is launched.
type simFramework struct {
	r      *runner
	idx    int
	share  int
	client *scheduler.Client
	pipe   *subscribe.Pipeline // the calls' transport, or nil
	need   resources.Quantities
	res    []*mesospb.Resource // one task's resources
	calls  chan func(context.Context) error
	// offerCalls carries SUPPRESS and REVIVE to one worker of their own,
	// so that they reach the master in the order the framework decided
	// them: among the call workers a REVIVE could overtake the SUPPRESS
	// queued before it, leaving the framework suppressed with tasks
	// waiting (seen in optimistic runs: 160 tasks never launched).
	offerCalls chan func(context.Context) error
	done       chan struct{} // closed when every task of the share is terminal
	// lost counts tasks of LAUNCH calls that failed, to launch again.
	lost atomic.Int64
	// rescinded holds the offers rescinded while a decision on them
	// waits (Config.DecisionTime), by id.
	rescindMu sync.Mutex
	rescinded map[string]bool

	// The steady phase (Config.LaunchRate): held of the share are the
	// tasks held running, the rest launched at perSec from the phase's
	// start; ends is how many tasks of the share end (all without a
	// steady phase, the steady ones with it). launchAt has the time
	// each steady task's ACCEPT was sent, until its TASK_RUNNING.
	held, ends int
	perSec     float64
	launchMu   sync.Mutex
	launchAt   map[string]time.Duration // guarded by launchMu

	// placedAt has, per launched task until it ends, when the framework
	// received the offer it was first placed on and when its
	// TASK_RUNNING came; retryFrom the first placement times of tasks
	// whose launch was lost (offer conflict, offer rescinded while the
	// framework thought, ACCEPT failed), which the tasks launched next
	// take over (tasks of a framework are alike), so that the offer to
	// RUNNING latency of a task counts its failed attempts.
	placeMu   sync.Mutex
	placedAt  map[string]placement // guarded by placeMu
	retryFrom []time.Duration      // guarded by placeMu

	// Owned by the events goroutine.
	launched   int
	seq        int
	terminal   int
	suppressed bool
	seen       map[string]uint8
	latencies  []time.Duration
	// In the steady phase: ACCEPT sent to TASK_RUNNING received of the
	// steady tasks, and the latencies of the updates sent in the phase.
	launchLatencies, steadyLatencies []time.Duration
	// Offer to TASK_RUNNING of every task, and the task-seconds between
	// TASK_RUNNING and the terminal update (Report.Utilisation).
	placeLatencies []time.Duration
	busy           time.Duration
}

// placement is a launched task's times (simFramework.placedAt).
type placement struct{ offered, running time.Duration }

func newFramework(r *runner, idx int, master string, hc *http.Client) *simFramework {
	f := &simFramework{
		r: r, idx: idx, share: share(r.cfg.Tasks, r.cfg.Frameworks, idx),
		need:  r.cfg.TaskResources.Quantities(),
		res:   r.cfg.TaskResources.ToProto("*", false),
		calls: make(chan func(context.Context) error, 1024),

		offerCalls: make(chan func(context.Context) error, 64),
		done:       make(chan struct{}),
		seen:       map[string]uint8{},

		rescinded: map[string]bool{},
		launchAt:  map[string]time.Duration{},
		placedAt:  map[string]placement{},
	}
	f.ends = f.share
	if n := r.cfg.steadyTasks(); n > 0 {
		f.held = f.share
		f.ends = share(n, r.cfg.Frameworks, idx)
		f.share += f.ends
		f.perSec = r.cfg.LaunchRate * float64(f.ends) / float64(n)
	}
	var callTr http.RoundTripper // nil: hc's
	if r.cfg.PipelineCalls > 0 && !r.cfg.HTTP2 {
		f.pipe = &subscribe.Pipeline{Conns: r.cfg.PipelineCalls}
		callTr = f.pipe
	}
	f.client = scheduler.New(scheduler.Config{
		Master: master,
		Framework: &mesospb.FrameworkInfo{
			User: proto.String("sim"),
			Name: proto.String(fmt.Sprintf("sim-framework-%03d", idx+1)),
			Role: proto.String("*"),
		},
		HTTPClient:    hc,
		CallTransport: callTr,
		Logger:        r.log.With("framework", idx+1),
		EventBuffer:   1024,
	})
	return f
}

// start runs the client on wg until ctx ends, and its event handler and
// call workers until work ends (before the framework is torn down, so
// that no call made after TEARDOWN counts as an error).
func (f *simFramework) start(ctx, work context.Context, wg *sync.WaitGroup) {
	wg.Go(func() {
		if err := f.client.Run(ctx); err != nil {
			f.r.log.Warn("simulated framework stopped", "framework", f.idx+1, "err", err)
		}
		if f.pipe != nil {
			f.pipe.Close()
		}
	})
	wg.Go(func() { f.events(work) })
	for range f.r.cfg.CallWorkers {
		wg.Go(func() { f.worker(work, f.calls) })
	}
	wg.Go(func() { f.worker(work, f.offerCalls) })
}

func (f *simFramework) worker(ctx context.Context, calls chan func(context.Context) error) {
	for {
		select {
		case <-ctx.Done():
			return
		case fn := <-calls:
			if err := fn(ctx); err != nil && ctx.Err() == nil {
				f.r.c.callErrors.Add(1)
				f.r.log.Warn("simulated framework call failed", "framework", f.idx+1, "err", err)
			}
		}
	}
}

// decide queues fn, the answer to offers, after about Config.DecisionTime;
// when one of the offers was rescinded meanwhile, it calls gone instead.
func (f *simFramework) decide(ctx context.Context, offers []*mesospb.OfferID, gone func(), fn func(context.Context) error) {
	d := f.r.cfg.DecisionTime
	if d <= 0 {
		f.call(ctx, fn)
		return
	}
	// Frameworks do not all think alike: uniform in [d/2, 3d/2).
	d = d/2 + rand.N(d)
	time.AfterFunc(d, func() {
		f.rescindMu.Lock()
		stale := false
		for _, id := range offers {
			if f.rescinded[id.GetValue()] {
				stale = true
				delete(f.rescinded, id.GetValue())
			}
		}
		f.rescindMu.Unlock()
		if stale {
			gone()
			return
		}
		f.call(ctx, fn)
	})
}

// call queues fn for the workers, so that the events goroutine never
// waits for an HTTP answer.
func (f *simFramework) call(ctx context.Context, fn func(context.Context) error) {
	select {
	case f.calls <- fn:
	case <-ctx.Done():
	}
}

// offerCall queues a SUPPRESS or REVIVE, in order (offerCalls).
func (f *simFramework) offerCall(ctx context.Context, fn func(context.Context) error) {
	select {
	case f.offerCalls <- fn:
	case <-ctx.Done():
	}
}

func (f *simFramework) events(ctx context.Context) {
	for ev := range f.client.Events() {
		f.relaunchLost(ctx)
		switch ev.GetType() {
		case schedulerpb.Event_OFFERS:
			f.offers(ctx, ev.GetOffers().GetOffers())
		case schedulerpb.Event_RESCIND:
			f.r.c.rescinded.Add(1)
			if f.r.cfg.DecisionTime > 0 {
				f.rescindMu.Lock()
				f.rescinded[ev.GetRescind().GetOfferId().GetValue()] = true
				f.rescindMu.Unlock()
			}
		case schedulerpb.Event_UPDATE:
			f.update(ctx, ev.GetUpdate().GetStatus())
		case schedulerpb.Event_ERROR:
			f.r.log.Warn("master sent ERROR", "framework", f.idx+1, "message", ev.GetError().GetMessage())
		}
	}
}

// relaunchLost takes back tasks whose LAUNCH failed, reviving offers if
// they were suppressed.
func (f *simFramework) relaunchLost(ctx context.Context) {
	n := int(f.lost.Swap(0))
	if n == 0 {
		return
	}
	f.launched -= n
	if f.suppressed {
		f.suppressed = false
		f.offerCall(ctx, func(ctx context.Context) error { return ignoreGone(f.client.Revive(ctx)) })
	}
}

// offers launches waiting tasks into the offers they fit and declines
// the others with one DECLINE (a framework that got thousands of offers
// at once must not queue thousands of calls ahead of its
// acknowledgements).
func (f *simFramework) offers(ctx context.Context, offers []*mesospb.Offer) {
	f.r.c.offers.Add(int64(len(offers)))
	var unused []*mesospb.OfferID
	for _, o := range offers {
		if !f.launch(ctx, o) {
			unused = append(unused, o.GetId())
		}
	}
	if len(unused) == 0 {
		return
	}
	done := f.launched >= f.share
	refuse := float64(refuseWhileLaunching)
	if done {
		refuse = refuseWhenDone
	} else if f.held > 0 && f.launched >= f.held {
		refuse = refuseSteady
	}
	f.decide(ctx, unused, func() {}, func(ctx context.Context) error {
		return ignoreGone(f.client.Decline(ctx, unused, &mesospb.Filters{RefuseSeconds: proto.Float64(refuse)}))
	})
	if done && !f.suppressed {
		f.suppressed = true
		f.offerCall(ctx, func(ctx context.Context) error { return ignoreGone(f.client.Suppress(ctx)) })
	}
}

// launch launches as many waiting tasks as fit into o; false when none
// does.
func (f *simFramework) launch(ctx context.Context, o *mesospb.Offer) bool {
	n := 0
	if waiting := f.waiting(); waiting > 0 {
		if avail, err := resources.FromProto(o.GetResources()); err == nil {
			n = fits(avail.Quantities(), f.need, waiting)
		} else {
			f.r.log.Warn("offer with bad resources", "offer", o.GetId().GetValue(), "err", err)
		}
	}
	if n == 0 || (f.r.cfg.DeclineFraction > 0 && rand.Float64() < f.r.cfg.DeclineFraction) {
		return false
	}
	tasks := make([]*mesospb.TaskInfo, n)
	var steady []string
	offered := f.r.since()
	f.placeMu.Lock()
	for i := range tasks {
		f.seq++
		id := fmt.Sprintf("f%03d-t%07d", f.idx+1, f.seq)
		if f.held > 0 {
			if f.launched+i < f.held {
				id = fmt.Sprintf("f%03d%s%07d", f.idx+1, heldTaskMark, f.seq)
			} else {
				steady = append(steady, id)
			}
		}
		at := offered
		if len(f.retryFrom) > 0 {
			at, f.retryFrom = f.retryFrom[0], f.retryFrom[1:]
		}
		f.placedAt[id] = placement{offered: at}
		tasks[i] = &mesospb.TaskInfo{
			Name:      proto.String(id),
			TaskId:    &mesospb.TaskID{Value: proto.String(id)},
			AgentId:   o.GetAgentId(),
			Resources: f.res,
			Command:   &mesospb.CommandInfo{Value: proto.String("true")},
		}
	}
	f.placeMu.Unlock()
	f.launched += n
	f.r.c.firstLaunch.first(f.r.since())
	op := &mesospb.Offer_Operation{
		Type:   mesospb.Offer_Operation_LAUNCH.Enum(),
		Launch: &mesospb.Offer_Operation_Launch{TaskInfos: tasks},
	}
	ids := []*mesospb.OfferID{o.GetId()}
	f.decide(ctx, ids, func() {
		// The offer was rescinded while the framework thought: the
		// tasks wait for the next offer (revive, in case the events
		// goroutine had suppressed offers; it takes the tasks back at
		// its next event).
		f.retry(tasks)
		f.lost.Add(int64(n))
		f.offerCall(ctx, func(ctx context.Context) error { return ignoreGone(f.client.Revive(ctx)) })
	}, func(ctx context.Context) error {
		if len(steady) > 0 {
			now := f.r.since()
			f.launchMu.Lock()
			for _, id := range steady {
				f.launchAt[id] = now
			}
			f.launchMu.Unlock()
		}
		err := f.client.Accept(ctx, ids, []*mesospb.Offer_Operation{op},
			&mesospb.Filters{RefuseSeconds: proto.Float64(refuseWhileLaunching)})
		if err != nil {
			f.retry(tasks)
			f.lost.Add(int64(n))
			return err
		}
		f.r.c.launched.Add(int64(n))
		return nil
	})
	return true
}

// update notes a task's progress and acknowledges the update.
func (f *simFramework) update(ctx context.Context, st *mesospb.TaskStatus) {
	now := f.r.since()
	c := &f.r.c
	c.updatesReceived.Add(1)
	id := st.GetTaskId().GetValue()
	if d, ok := f.r.lat.received(st.GetUuid(), now); ok {
		f.latencies = append(f.latencies, d)
		if start := c.steadyStart.get(); start != 0 && now-d >= start && !heldTask(id) {
			f.steadyLatencies = append(f.steadyLatencies, d)
		}
	}
	if st.GetReason() == mesospb.TaskStatus_REASON_INVALID_OFFERS && st.GetSource() == mesospb.TaskStatus_SOURCE_MASTER {
		// Its offer went to another framework first (optimistic
		// offers): launch it again.
		c.conflicts.Add(1)
		c.launched.Add(-1)
		f.retry([]*mesospb.TaskInfo{{TaskId: st.GetTaskId()}})
		f.lost.Add(1)
		f.relaunchLost(ctx)
		return
	}
	flags := f.seen[id]
	switch state := st.GetState(); {
	case state == mesospb.TaskState_TASK_RUNNING && flags&(seenRunning|seenTerminal) == 0:
		flags |= seenRunning
		n := c.running.Add(1)
		c.active.Add(1)
		c.lastRunning.last(now)
		f.placeMu.Lock()
		if p, ok := f.placedAt[id]; ok {
			f.placeLatencies = append(f.placeLatencies, now-p.offered)
			p.running = now
			f.placedAt[id] = p
		}
		f.placeMu.Unlock()
		if f.held > 0 {
			f.steadyRunning(id, n, now)
		}
	case mesospb.IsTerminal(state) && flags&seenTerminal == 0:
		if flags&seenRunning != 0 {
			c.active.Add(-1)
		}
		flags |= seenTerminal
		f.placeMu.Lock()
		if p, ok := f.placedAt[id]; ok && p.running != 0 {
			f.busy += now - p.running
		}
		delete(f.placedAt, id)
		f.placeMu.Unlock()
		if state == mesospb.TaskState_TASK_FINISHED {
			c.finishedSeen.Add(1)
		} else {
			c.failed.Add(1)
			f.r.log.Warn("task failed", "task", id, "state", state.String(), "message", st.GetMessage())
		}
		if f.held == 0 || !heldTask(id) {
			f.terminal++
			if f.terminal == f.ends {
				close(f.done)
			}
		}
	}
	f.seen[id] = flags
	if len(st.GetUuid()) > 0 {
		f.call(ctx, func(ctx context.Context) error { return ignoreGone(f.client.Acknowledge(ctx, st)) })
	}
}

// retry hands the first placement times of tasks whose launch was lost
// to the tasks launched next (placedAt).
func (f *simFramework) retry(tasks []*mesospb.TaskInfo) {
	f.placeMu.Lock()
	defer f.placeMu.Unlock()
	for _, t := range tasks {
		id := t.GetTaskId().GetValue()
		if p, ok := f.placedAt[id]; ok {
			f.retryFrom = append(f.retryFrom, p.offered)
			delete(f.placedAt, id)
		}
	}
}

// ignoreGone drops the error of a call made between subscriptions: the
// master offers again and the agent resends unacknowledged updates.
func ignoreGone(err error) error {
	if errors.Is(err, scheduler.ErrNotSubscribed) {
		return nil
	}
	return err
}

// waiting is how many tasks the framework may launch now: the rest of
// its share, or in a run with a steady phase, the held tasks first and
// then the steady ones at perSec from the phase's start.
func (f *simFramework) waiting() int {
	if f.held == 0 || f.launched < f.held {
		if f.held > 0 {
			return f.held - f.launched
		}
		return f.share - f.launched
	}
	start := f.r.c.steadyStart.get()
	if start == 0 {
		return 0
	}
	due := int(f.perSec * (f.r.since() - start).Seconds())
	return min(f.held+due, f.share) - f.launched
}

// steadyRunning notes a TASK_RUNNING in a run with a steady phase:
// running is the run's count of tasks that reached RUNNING, so the
// phase starts when it reaches the held tasks (none of the steady ones
// is launched before); a steady task's launch latency is taken.
func (f *simFramework) steadyRunning(id string, running int64, now time.Duration) {
	c := &f.r.c
	if running == int64(f.r.cfg.Tasks) {
		c.steadyStart.first(now)
	}
	if heldTask(id) {
		return
	}
	c.steadyRunning.Add(1)
	c.lastSteadyRunning.last(now)
	f.launchMu.Lock()
	at, ok := f.launchAt[id]
	delete(f.launchAt, id)
	f.launchMu.Unlock()
	if ok {
		f.launchLatencies = append(f.launchLatencies, now-at)
	}
}
