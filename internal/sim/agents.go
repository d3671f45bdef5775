package sim

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/recordio"
	"github.com/mesoproject/meso/internal/agent/statusupdate"
)

// linkPath is the master's endpoint for agent links (see link.proto).
const linkPath = "/internal/v1/link"

// retryCheck is how often the agents' status update managers are asked
// whether an unacknowledged update is due again.
const retryCheck = 500 * time.Millisecond

// errRelink ends a session that the master called stale or shut down.
var errRelink = errors.New("sim: registering again")

type taskKey struct{ framework, task string }

// agentPool runs the simulated agents. Each agent has its own link stream
// (one connection and one reading goroutine, as HTTP streaming requires);
// everything else is shared: Senders goroutines post every agent's calls
// over a pool of kept-alive connections, one goroutine retries
// unacknowledged updates, and one timer (finisher) ends every task.
type agentPool struct {
	r      *runner
	urls   []string // the link endpoint of every master given; agents start at urls[i%len]
	client *http.Client
	out    *callQueue
	agents []*simAgent
	timers *finisher
	regSem chan struct{} // bounds the REGISTERs in flight
	muxes  []*muxConn    // the framed link's connections (Config.LinkMux); nil: the HTTP form
	// waits has, per sender, how long each call it sent had been queued;
	// written by that sender only, read after the senders returned.
	waits [][]time.Duration
}

// outCall is a call waiting for a sender. first marks a status update
// sent for the first time (its latency is measured from then).
type outCall struct {
	a     *simAgent
	call  *linkpb.AgentCall
	first bool
	at    time.Duration // when it was queued (runner.since)
}

func (p *agentPool) newManager() *statusupdate.Manager {
	return statusupdate.New(p.r.cfg.UpdateRetry, 0)
}

// newAgentPool makes the agents of a run; masters is a comma-separated
// list of host:port. An agent whose link breaks (or that is refused: 503
// while no master leads) tries the next master; a follower's 307 is
// followed to the leader, whose URL the agent then keeps.
func newAgentPool(r *runner, masters string, client *http.Client) *agentPool {
	var urls []string
	for _, m := range strings.Split(masters, ",") {
		if m = strings.TrimSpace(m); m != "" {
			urls = append(urls, "http://"+m+linkPath)
		}
	}
	p := &agentPool{
		r:      r,
		urls:   urls,
		client: client,
		out:    newCallQueue(),
		timers: newFinisher(),
		regSem: make(chan struct{}, r.cfg.Registering),
	}
	info := &mesospb.AgentInfo{
		Port:      proto.Int32(5051),
		Resources: r.cfg.AgentResources.ToProto("", false),
	}
	if mux := r.cfg.LinkMux; mux > 0 {
		p.muxes = make([]*muxConn, (r.cfg.Agents+mux-1)/mux)
		for i := range p.muxes {
			p.muxes[i] = &muxConn{p: p, url: urls[i%len(urls)], sessions: map[uint32]*muxSession{}}
		}
	}
	p.agents = make([]*simAgent, r.cfg.Agents)
	for i := range p.agents {
		ai := proto.CloneOf(info)
		ai.Hostname = proto.String(fmt.Sprintf("sim-agent-%05d", i+1))
		p.agents[i] = &simAgent{p: p, info: ai, mgr: p.newManager(), tasks: map[taskKey]struct{}{},
			url: urls[i%len(urls)], next: i}
		if p.muxes != nil {
			p.agents[i].mc = p.muxes[i/r.cfg.LinkMux]
		}
	}
	return p
}

// start runs the shared goroutines and every agent on wg until ctx ends.
func (p *agentPool) start(ctx context.Context, wg *sync.WaitGroup) {
	wg.Go(func() { p.timers.run(ctx) })
	wg.Go(func() { p.retryLoop(ctx) })
	wg.Go(func() {
		<-ctx.Done()
		p.out.close()
		for _, mc := range p.muxes {
			mc.shut()
		}
	})
	p.waits = make([][]time.Duration, p.r.cfg.Senders)
	for i := range p.waits {
		wg.Go(func() { p.sender(ctx, &p.waits[i]) })
	}
	for _, a := range p.agents {
		wg.Go(func() { a.run(ctx) })
	}
}

// sender posts queued calls until the queue closes, noting how long
// each waited in waits (read once the sender has returned).
func (p *agentPool) sender(ctx context.Context, waits *[]time.Duration) {
	for {
		a, calls, ok := p.out.pop()
		if !ok {
			return
		}
		now := p.r.since()
		for _, oc := range calls {
			*waits = append(*waits, now-oc.at)
		}
		p.post(ctx, a, calls)
		p.out.done(a)
	}
}

// batchLinkVersion is the first master link_version that takes BATCH.
const batchLinkVersion = 2

// post sends calls, queued in that order by agent a, on its current
// link: in one BATCH request when there are several and the master takes
// BATCH, else one request per call. Calls made for a link that has gone
// are dropped: the status update manager sends its updates again after
// registration, and a pong is pointless then.
func (p *agentPool) post(ctx context.Context, a *simAgent, calls []outCall) {
	a.mu.Lock()
	link, id, url, version, mux := a.link, a.id, a.url, a.linkVersion, a.mux
	a.mu.Unlock()
	if link == "" {
		return
	}
	for _, oc := range calls {
		if oc.first {
			p.r.lat.sent(oc.call.GetStatusUpdate().GetStatus().GetUuid(), p.r.since())
		}
	}
	if mux != nil {
		p.sendFramed(a, mux, id, calls)
		return
	}
	if len(calls) > 1 && version >= batchLinkVersion {
		batch := make([]*linkpb.AgentCall, len(calls))
		for i, oc := range calls {
			batch[i] = oc.call
			oc.call.LinkId, oc.call.AgentId = nil, nil
		}
		p.r.c.agentRequests.Add(1)
		p.send(ctx, a, link, url, &linkpb.AgentCall{
			Type: linkpb.AgentCall_BATCH.Enum(), LinkId: proto.String(link),
			AgentId: &mesospb.AgentID{Value: proto.String(id)},
			Batch:   &linkpb.AgentCall_Batch{Calls: batch},
		})
		return
	}
	for _, oc := range calls {
		call := oc.call
		call.LinkId = proto.String(link)
		call.AgentId = &mesospb.AgentID{Value: proto.String(id)}
		p.r.c.agentRequests.Add(1)
		if !p.send(ctx, a, link, url, call) {
			return
		}
	}
}

// send posts one request on link; false when the link is stale (409).
func (p *agentPool) send(ctx context.Context, a *simAgent, link, url string, call *linkpb.AgentCall) bool {
	body, err := codec.Protobuf.Marshal(call)
	if err != nil {
		p.r.log.Error("encoding agent call", "type", call.GetType().String(), "err", err)
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return true
	}
	req.Header.Set("Content-Type", codec.MediaTypeProtobuf)
	resp, err := p.client.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			p.r.c.callErrors.Add(1)
			p.r.log.Warn("agent call failed", "type", call.GetType().String(), "err", err)
		}
		return true
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		return true
	}
	p.r.c.callErrors.Add(1)
	p.r.log.Warn("master refused an agent call", "type", call.GetType().String(),
		"status", resp.Status, "body", string(bytes.TrimSpace(msg)))
	if resp.StatusCode == http.StatusConflict {
		a.relink(link)
		return false
	}
	return true
}

// retryLoop sends again the updates whose acknowledgement is overdue,
// with the status update manager's backoff.
func (p *agentPool) retryLoop(ctx context.Context) {
	t := time.NewTicker(retryCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			for _, a := range p.agents {
				a.retryDue(now)
			}
		}
	}
}

// simAgent is one simulated agent: its identity, its status update
// manager and the tasks it runs. Tasks are not run: RUN_TASK gives
// TASK_RUNNING at once (after TASK_STARTING with Config.TaskStarting)
// and TASK_FINISHED after Config.TaskDuration.
type simAgent struct {
	p    *agentPool
	info *mesospb.AgentInfo // read-only; REGISTER sends a copy with the id

	mu     sync.Mutex
	id     string                  // guarded by mu; "" until first registered
	secret string                  // guarded by mu: the master issued it to id; REGISTER presents it
	link   string                  // guarded by mu; "" while not registered
	mgr    *statusupdate.Manager   // guarded by mu
	tasks  map[taskKey]struct{}    // guarded by mu: tasks not yet finished
	cancel context.CancelCauseFunc // guarded by mu: ends the current session
	url    string                  // guarded by mu: the link endpoint registered with (or to try next)
	// linkVersion is the master's link_version in the latest REGISTERED
	// (2 and up take BATCH); guarded by mu.
	linkVersion uint32
	next        int // guarded by mu: index into p.urls of the master to try after url
	// mc is the agent's framed link connection (nil: the HTTP form);
	// mux its current session there, guarded by mu (nil while none).
	mc  *muxConn
	mux *muxSession

	// q holds the agent's calls waiting for a sender; guarded by p.out.mu.
	q agentQueue

	// linkedAt is runner.since at the agent's latest REGISTERED (0: never);
	// sentAt when the REGISTER it answered was sent.
	linkedAt, sentAt atomic.Int64
}

// run keeps the agent registered until ctx ends, registering again with
// backoff when its link breaks.
func (a *simAgent) run(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for {
		registered, err := a.session(ctx)
		a.mu.Lock()
		a.link, a.mux = "", nil
		a.mgr.Pause()
		a.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		a.p.r.c.linkFailures.Add(1)
		a.p.r.log.Warn("simulated agent lost its link", "agent", a.info.GetHostname(), "err", err)
		if registered {
			backoff = 100 * time.Millisecond
		}
		if len(a.p.urls) > 1 {
			a.mu.Lock()
			a.next = (a.next + 1) % len(a.p.urls)
			a.url = a.p.urls[a.next]
			a.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(mrand.N(backoff) + time.Millisecond):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// session registers and handles the link's events until the stream ends.
func (a *simAgent) session(ctx context.Context) (registered bool, err error) {
	select {
	case a.p.regSem <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	holding := true
	release := func() {
		if holding {
			holding = false
			<-a.p.regSem
		}
	}
	defer release()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	a.mu.Lock()
	a.cancel = cancel
	call := a.registerCallLocked()
	url := a.url
	a.mu.Unlock()
	if a.mc != nil {
		return a.mc.session(ctx, a, call, release)
	}
	body, err := codec.Protobuf.Marshal(call)
	if err != nil {
		return false, fmt.Errorf("sim: encoding REGISTER: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", codec.MediaTypeProtobuf)
	req.Header.Set("Accept", codec.MediaTypeProtobuf)
	sent := a.p.r.since()
	a.p.r.c.firstRegister.first(sent)
	resp, err := a.p.client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return false, fmt.Errorf("sim: master answered REGISTER with %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	if final := resp.Request.URL.String(); final != url { // followed a 307 to the leader
		a.mu.Lock()
		a.url = final
		a.mu.Unlock()
	}
	rd := recordio.NewReader(resp.Body, recordio.DefaultMaxRecordSize)
	for {
		ev := &linkpb.MasterEvent{}
		if err := rd.ReadMessage(codec.Protobuf, ev); err != nil {
			if cause := context.Cause(ctx); cause != nil {
				return registered, cause
			}
			return registered, fmt.Errorf("sim: link stream: %w", err)
		}
		if !registered {
			if ev.GetType() != linkpb.MasterEvent_REGISTERED || ev.GetRegistered() == nil {
				return false, fmt.Errorf("sim: link stream began with %s, not REGISTERED", ev.GetType())
			}
			registered = true
			a.sentAt.Store(int64(sent))
			a.registered(ev.GetRegistered(), nil)
			release()
			continue
		}
		if err := a.handle(ev); err != nil {
			return true, err
		}
	}
}

// registerCallLocked is REGISTER; an agent registered before sends its id
// but reports no tasks (it dropped them, see registered).
func (a *simAgent) registerCallLocked() *linkpb.AgentCall {
	// A new message sharing a.info's fields (read-only, only encoded): a
	// deep copy of the resources was a quarter of a 20,000-agent
	// registration's CPU, master and simulator together.
	info := &mesospb.AgentInfo{Hostname: a.info.Hostname, Port: a.info.Port, Resources: a.info.Resources,
		Attributes: a.info.Attributes}
	call := &linkpb.AgentCall{
		Type:     linkpb.AgentCall_REGISTER.Enum(),
		Register: &linkpb.AgentCall_Register{AgentInfo: info, Version: proto.String(a.p.r.cfg.Version)},
	}
	if a.id != "" {
		info.Id = &mesospb.AgentID{Value: proto.String(a.id)}
		call.AgentId = info.Id
		call.Register.Secret = proto.String(a.secret)
	}
	return call
}

// registered takes REGISTERED of a session on the HTTP form (mux nil) or
// of mux on the framed link.
func (a *simAgent) registered(r *linkpb.MasterEvent_Registered, mux *muxSession) {
	now := time.Now()
	a.mu.Lock()
	first := a.id == ""
	if !first {
		// A simulated agent does not report its tasks when it registers
		// again, so the master ends them; forget them here too.
		a.tasks = map[taskKey]struct{}{}
		a.mgr = a.p.newManager()
	}
	a.id, a.link, a.linkVersion, a.mux = r.GetAgentId().GetValue(), r.GetLinkId(), r.GetLinkVersion(), mux
	if s := r.GetAgentSecret(); s != "" {
		a.secret = s
	}
	fwd := a.mgr.Resume(now)
	a.mu.Unlock()
	a.linkedAt.Store(int64(a.p.r.since()))
	if first {
		a.p.r.c.registered.Add(1)
		a.p.r.c.lastRegistered.last(a.p.r.since())
	}
	a.forward(fwd, false)
}

// handle applies one master event; an error ends the session.
func (a *simAgent) handle(ev *linkpb.MasterEvent) error {
	switch ev.GetType() {
	case linkpb.MasterEvent_PING:
		a.p.out.push(outCall{a: a, call: &linkpb.AgentCall{
			Type: linkpb.AgentCall_PONG.Enum(),
			Pong: &linkpb.AgentCall_Pong{Seq: proto.Uint64(ev.GetPing().GetSeq())},
		}})
	case linkpb.MasterEvent_RUN_TASK:
		rt := ev.GetRunTask()
		a.runTask(rt.GetFramework().GetId().GetValue(), rt.GetTask().GetTaskId().GetValue())
	case linkpb.MasterEvent_RUN_TASK_GROUP:
		rg := ev.GetRunTaskGroup()
		for _, t := range rg.GetTaskGroup().GetTasks() {
			a.refuse(rg.GetFramework().GetId().GetValue(), t.GetTaskId().GetValue())
		}
	case linkpb.MasterEvent_ACKNOWLEDGE:
		ack := ev.GetAcknowledge()
		a.acknowledge(ack.GetFrameworkId().GetValue(), ack.GetTaskId().GetValue(), ack.GetUuid())
	case linkpb.MasterEvent_KILL_TASK:
		k := ev.GetKillTask()
		a.end(taskKey{k.GetFrameworkId().GetValue(), k.GetTaskId().GetValue()}, mesospb.TaskState_TASK_KILLED)
	case linkpb.MasterEvent_SHUTDOWN_FRAMEWORK:
		a.shutdownFramework(ev.GetShutdownFramework().GetFrameworkId().GetValue())
	case linkpb.MasterEvent_SHUTDOWN_AGENT:
		a.mu.Lock()
		a.id = "" // the master forgot this agent: start afresh
		a.tasks = map[taskKey]struct{}{}
		a.mgr = a.p.newManager()
		a.mu.Unlock()
		return errRelink
	}
	return nil
}

// runTask starts a task: TASK_RUNNING now (with Config.TaskStarting,
// TASK_STARTING first, and TASK_RUNNING goes out when it is
// acknowledged), TASK_FINISHED later.
func (a *simAgent) runTask(framework, task string) {
	now := time.Now()
	key := taskKey{framework, task}
	a.mu.Lock()
	a.tasks[key] = struct{}{}
	var fwd []statusupdate.Forward
	if a.p.r.cfg.TaskStarting {
		fwd = a.updateLocked(key, mesospb.TaskState_TASK_STARTING, now)
	}
	fwd = append(fwd, a.updateLocked(key, mesospb.TaskState_TASK_RUNNING, now)...)
	a.mu.Unlock()
	if a.p.r.cfg.LaunchRate <= 0 || !heldTask(task) {
		a.p.timers.add(now.Add(a.p.r.cfg.TaskDuration), a, key)
	}
	a.forward(fwd, true)
}

// refuse fails a task this simulator cannot run (tasks of task groups).
func (a *simAgent) refuse(framework, task string) {
	a.mu.Lock()
	fwd := a.updateLocked(taskKey{framework, task}, mesospb.TaskState_TASK_FAILED, time.Now())
	a.mu.Unlock()
	a.forward(fwd, true)
}

// end gives a task that has not ended its terminal update.
func (a *simAgent) end(key taskKey, state mesospb.TaskState) {
	a.mu.Lock()
	if _, ok := a.tasks[key]; !ok {
		a.mu.Unlock()
		return
	}
	delete(a.tasks, key)
	fwd := a.updateLocked(key, state, time.Now())
	a.mu.Unlock()
	a.forward(fwd, true)
}

func (a *simAgent) shutdownFramework(framework string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for key := range a.tasks {
		if key.framework == framework {
			delete(a.tasks, key)
		}
	}
	a.mgr.RemoveFramework(framework)
}

// updateLocked hands a new update to the status update manager, as the
// agent does for its command executor's updates.
func (a *simAgent) updateLocked(key taskKey, state mesospb.TaskState, now time.Time) []statusupdate.Forward {
	st := newStatus(a.id, key.task, state, now)
	fwd, err := a.mgr.Update(key.framework, st, now)
	if err != nil {
		a.p.r.log.Warn("status update manager refused an update", "task", key.task, "err", err)
		return nil
	}
	if au := a.p.r.audit; au != nil {
		au.created(st.GetUuid(), key, state)
	}
	return fwd
}

// newStatus is an update of the command executor of a task (executor id =
// task id, as for command tasks), as the agent forwards it.
func newStatus(agentID, task string, state mesospb.TaskState, now time.Time) *mesospb.TaskStatus {
	uuid := make([]byte, 16)
	_, _ = rand.Read(uuid)
	return &mesospb.TaskStatus{
		TaskId:     &mesospb.TaskID{Value: proto.String(task)},
		State:      state.Enum(),
		Source:     mesospb.TaskStatus_SOURCE_EXECUTOR.Enum(),
		AgentId:    &mesospb.AgentID{Value: proto.String(agentID)},
		ExecutorId: &mesospb.ExecutorID{Value: proto.String(task)},
		Timestamp:  proto.Float64(float64(now.UnixNano()) / 1e9),
		Uuid:       uuid,
	}
}

// acknowledge handles the master's ACKNOWLEDGE: the task's next update
// goes out; a task whose terminal update is acknowledged is done.
func (a *simAgent) acknowledge(framework, task string, uuid []byte) {
	c := &a.p.r.c
	if au := a.p.r.audit; au != nil {
		au.acked(uuid)
	}
	a.mu.Lock()
	fwd, acked, closed, err := a.mgr.Acknowledge(framework, task, uuid, time.Now())
	a.mu.Unlock()
	if err != nil {
		c.unexpectedAcks.Add(1)
		a.p.r.log.Debug("unexpected acknowledgement", "task", task, "err", err)
		return
	}
	c.acks.Add(1)
	if closed {
		if acked.GetState() == mesospb.TaskState_TASK_FINISHED {
			c.lastFinishedAck.last(a.p.r.since())
			c.finishedAcked.Add(1)
		}
		c.terminalAcked.Add(1)
	}
	a.forward(fwd, true)
}

// finish is called by the finisher when a task's time is up.
func (a *simAgent) finish(key taskKey) {
	a.end(key, mesospb.TaskState_TASK_FINISHED)
}

func (a *simAgent) retryDue(now time.Time) {
	a.mu.Lock()
	var fwd []statusupdate.Forward
	if due, ok := a.mgr.NextDeadline(); ok && !due.After(now) {
		fwd = a.mgr.Tick(now)
	}
	a.mu.Unlock()
	a.forward(fwd, false)
}

// forward queues STATUS_UPDATE calls for the manager's forwards; first
// says they are sent for the first time.
func (a *simAgent) forward(fwd []statusupdate.Forward, first bool) {
	for _, f := range fwd {
		queued := a.p.out.push(outCall{a: a, first: first, call: &linkpb.AgentCall{
			Type: linkpb.AgentCall_STATUS_UPDATE.Enum(),
			StatusUpdate: &linkpb.AgentCall_StatusUpdate{
				FrameworkId: &mesospb.FrameworkID{Value: proto.String(f.FrameworkID)},
				Status:      f.Status,
				LatestState: f.LatestState.Enum(),
			},
		}})
		c := &a.p.r.c
		switch {
		case first:
			c.updatesSent.Add(1)
		case queued:
			c.updatesRetried.Add(1)
		default:
			c.retriesDropped.Add(1)
		}
	}
}

// relink ends the session when link, which the master called stale, is
// still the current one.
func (a *simAgent) relink(link string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.link == link && a.cancel != nil {
		a.p.r.log.Info("master says the link is stale", "agent", a.info.GetHostname())
		a.cancel(errRelink)
	}
}

// maxBatchCalls bounds the calls of one BATCH, as the agent's own link
// does (internal/agent).
const maxBatchCalls = 256

// callQueue is the agents' calls waiting for a sender, unbounded: an
// agent never waits for the shared senders (a real agent has its own), so
// its link stream is always read. Calls queue per agent, as on a real
// agent's link: a sender takes every call one agent has waiting (up to
// maxBatchCalls) and posts them in one request (a BATCH when the master
// takes it), and no other sender takes that agent's calls until the
// request is answered (done). Agents are served in the order their
// calls arrived, except that an agent with a PONG waiting goes first: a
// real agent's PONG waits behind its own calls only, never behind
// thousands of other agents' updates, and a late one gets the agent
// declared lost. A retry of a status update that is still queued is
// dropped: the update has not been sent yet, and the wait is the
// simulator's (a real agent's own queue would be short), so it must not
// add load to the master.
type callQueue struct {
	mu     sync.Mutex
	cond   *sync.Cond
	urgent []*simAgent           // guarded by mu: agents with a PONG queued, served first
	ready  []*simAgent           // guarded by mu: agents with calls queued
	queued map[[16]byte]struct{} // guarded by mu: uuids of the status updates queued
	n      int                   // guarded by mu: calls queued
	closed bool                  // guarded by mu
}

// agentQueue is one agent's part of the callQueue, guarded by its mu.
type agentQueue struct {
	calls             []outCall
	inUrgent, inReady bool // has an entry in urgent / ready (perhaps stale)
	sending           bool // a sender holds this agent's calls
}

func newCallQueue() *callQueue {
	q := &callQueue{queued: map[[16]byte]struct{}{}}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// push queues oc; false when it is a retry of an update still queued.
func (q *callQueue) push(oc outCall) bool {
	uuid, isUpdate := updateKey(oc.call)
	q.mu.Lock()
	if isUpdate {
		if _, dup := q.queued[uuid]; dup {
			q.mu.Unlock()
			return false
		}
		q.queued[uuid] = struct{}{}
	}
	oc.at = oc.a.p.r.since()
	aq := &oc.a.q
	aq.calls = append(aq.calls, oc)
	q.n++
	q.scheduleLocked(oc.a)
	q.mu.Unlock()
	return true
}

// scheduleLocked puts a, when it has calls and no sender holds them, in
// the lists the senders take agents from.
func (q *callQueue) scheduleLocked(a *simAgent) {
	aq := &a.q
	if aq.sending || len(aq.calls) == 0 {
		return
	}
	if !aq.inUrgent && hasPong(aq.calls) {
		aq.inUrgent = true
		q.urgent = append(q.urgent, a)
	}
	if !aq.inReady {
		aq.inReady = true
		q.ready = append(q.ready, a)
	}
	q.cond.Signal()
}

func hasPong(calls []outCall) bool {
	for _, oc := range calls {
		if oc.call.GetType() == linkpb.AgentCall_PONG {
			return true
		}
	}
	return false
}

// pop waits for an agent with calls and takes them (at most
// maxBatchCalls, in the order queued); false once the queue is closed.
// The caller must call done(a) once it has sent them.
func (q *callQueue) pop() (*simAgent, []outCall, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		if q.closed {
			return nil, nil, false
		}
		if a := q.nextLocked(); a != nil {
			aq := &a.q
			k := min(len(aq.calls), maxBatchCalls)
			calls := aq.calls[:k:k]
			if k == len(aq.calls) {
				aq.calls = nil
			} else {
				aq.calls = aq.calls[k:]
			}
			aq.sending = true
			q.n -= k
			for _, oc := range calls {
				if uuid, ok := updateKey(oc.call); ok {
					delete(q.queued, uuid)
				}
			}
			return a, calls, true
		}
		q.cond.Wait()
	}
}

// nextLocked is the next agent whose calls a sender may take, nil when
// none; it drops the stale entries it passes.
func (q *callQueue) nextLocked() *simAgent {
	if a := takeAgent(&q.urgent, func(aq *agentQueue) { aq.inUrgent = false }); a != nil {
		return a
	}
	return takeAgent(&q.ready, func(aq *agentQueue) { aq.inReady = false })
}

// takeAgent pops entries of list (unmarking each with unlist) until one
// names an agent whose calls a sender may take.
func takeAgent(list *[]*simAgent, unlist func(*agentQueue)) *simAgent {
	for len(*list) > 0 {
		a := (*list)[0]
		(*list)[0] = nil
		*list = (*list)[1:]
		unlist(&a.q)
		if !a.q.sending && len(a.q.calls) > 0 {
			return a
		}
	}
	return nil
}

// done gives a's calls back to the senders once the request carrying
// the ones popped was answered.
func (q *callQueue) done(a *simAgent) {
	q.mu.Lock()
	a.q.sending = false
	q.scheduleLocked(a)
	q.mu.Unlock()
}

func updateKey(call *linkpb.AgentCall) ([16]byte, bool) {
	var k [16]byte
	u := call.GetStatusUpdate().GetStatus().GetUuid()
	if len(u) != len(k) {
		return k, false
	}
	copy(k[:], u)
	return k, true
}

func (q *callQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

func (q *callQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cond.Broadcast()
}
