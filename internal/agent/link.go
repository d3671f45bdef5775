package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/agent/lifecycle"
	"github.com/mesoproject/meso/internal/linkframe"
	"github.com/mesoproject/meso/internal/subscribe"
)

// LinkPath is the master's endpoint for the agent link.
const LinkPath = "/internal/v1/link"

// maxOutbox bounds the calls waiting for the link; the oldest are dropped
// beyond it (status updates are resent by the status update manager).
const maxOutbox = 10000

// errRelink ends a session on the master's request (409, SHUTDOWN_AGENT):
// the next one starts at once.
var errRelink = fmt.Errorf("agent: registering again (%w)", subscribe.ErrAgain)

// errSilentMaster ends a session whose master stopped pinging.
var errSilentMaster = errors.New("agent: no ping from the master")

// linkURLs parses --master: one master, or a comma-separated list of the
// masters of a group (the agent tries them in turn and follows the 307 of
// a master that does not lead).
func linkURLs(masters string) ([]*url.URL, error) {
	urls, err := subscribe.ParseEndpoints(masters, LinkPath)
	if err != nil {
		return nil, fmt.Errorf("agent: --master=%q: want host:port: %w", masters, err)
	}
	return urls, nil
}

// newLinkConn is the agent's side of the link's requests: protobuf, the
// configured client (which carries TLS and the --credential: cmd/meso's
// linkClient).
func newLinkConn(cfg *Config) *subscribe.Conn {
	return subscribe.NewConn(subscribe.Options{HTTPClient: cfg.HTTPClient,
		Codec: codec.Protobuf, Path: LinkPath})
}

// linkLoop keeps the agent registered: one session at a time, through the
// masters of --master in turn, with randomized exponential backoff between
// failed attempts (Mesos' registration backoff: uniform in [0, bound], the
// bound doubling from RegistrationBackoffFactor to RegistrationBackoffMax).
func (a *Agent) linkLoop(ctx context.Context) {
	loop := subscribe.Loop{
		Policy: &subscribe.Policy{
			Route: subscribe.NewRoute(a.masterURLs, 0),
			Backoff: subscribe.Backoff{Min: a.cfg.RegistrationBackoffFactor, Max: a.cfg.RegistrationBackoffMax,
				Full: true},
		},
		Session: func(ctx context.Context, target *url.URL) (bool, error) {
			registered, err := a.session(ctx, target)
			a.mu.Lock()
			a.link = linkState{}
			a.core.Disconnected()
			a.mu.Unlock()
			return registered, err
		},
		Log: a.log,
	}
	_ = loop.Run(ctx)
}

// session registers with the master at target and handles its events
// until the stream breaks, the master goes silent, or it asks for a new
// session. registered reports whether REGISTERED was received.
func (a *Agent) session(ctx context.Context, target *url.URL) (registered bool, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	select { // drop a stale request to register again
	case <-a.relink:
	default:
	}
	body, err := codec.Protobuf.Marshal(a.registerCall())
	if err != nil {
		return false, fmt.Errorf("agent: encoding REGISTER: %w", err)
	}
	s, framed, err := a.linkConn.OpenUpgrade(ctx, target, body, linkframe.Protocol)
	if framed != nil {
		return a.framedSession(ctx, cancel, target, framed)
	}
	if _, answered := errors.AsType[*subscribe.StatusError](err); err != nil && !answered && ctx.Err() == nil {
		if _, ok := errors.AsType[*subscribe.Redirect](err); !ok {
			// No answer: a transport that cannot send an Upgrade (HTTP/2
			// negotiated with a TLS proxy refuses the header) or a
			// connection that failed; try the HTTP form once.
			a.log.Debug("REGISTER with the Upgrade failed; trying the HTTP form", "err", err)
			s, err = a.linkConn.Open(ctx, target, body, nil)
		}
	}
	if err != nil {
		if _, ok := errors.AsType[*subscribe.Redirect](err); ok {
			return false, err
		}
		return false, fmt.Errorf("agent: REGISTER at %s: %w", target, err)
	}
	defer s.Close()

	// The watchdog ends the session when the master is silent too long.
	watch := func(silence time.Duration) {
		s.Watch(silence, func() error { return fmt.Errorf("%w for %v", errSilentMaster, silence) })
	}
	watch(pingSilence(a.cfg.MasterPingTimeouts, 0))
	go func() {
		select {
		case <-a.relink:
			cancel(errRelink)
		case <-ctx.Done():
		}
	}()

	for {
		ev := &linkpb.MasterEvent{}
		if err := s.Next(ev); err != nil {
			if errors.Is(err, errSilentMaster) || context.Cause(ctx) != nil {
				return registered, err
			}
			return registered, fmt.Errorf("agent: link stream: %w", err)
		}
		if !registered {
			if ev.GetType() != linkpb.MasterEvent_REGISTERED || ev.GetRegistered() == nil {
				return false, fmt.Errorf("agent: link stream began with %s, not REGISTERED", ev.GetType())
			}
			registered = true
			watch(pingSilence(a.cfg.MasterPingTimeouts, ev.GetRegistered().GetPingIntervalSeconds()))
			a.registered(ev.GetRegistered(), target, nil)
		}
		if err := a.handleEvent(ev); err != nil {
			return registered, err
		}
	}
}

// pingSilence is how long the master may stay silent: timeouts ping
// intervals of the given seconds (0 or less, or NaN: the default),
// saturating at the longest Duration.
func pingSilence(timeouts int, intervalSecs float64) time.Duration {
	return subscribe.Silence(timeouts, intervalSecs, defaultPingInterval)
}

func (a *Agent) registerCall() *linkpb.AgentCall {
	a.mu.Lock()
	defer a.mu.Unlock()
	reg := a.core.Registration()
	info := proto.CloneOf(a.info)
	call := &linkpb.AgentCall{Type: linkpb.AgentCall_REGISTER.Enum(), Register: reg}
	if id := a.core.AgentID(); id != "" {
		info.Id = &mesospb.AgentID{Value: proto.String(id)}
		call.AgentId = info.Id
		reg.Secret = proto.String(a.linkSecretLocked(id))
	}
	reg.AgentInfo = info
	reg.Version = proto.String(Version)
	reg.CheckpointedResources = a.checkpointedLocked()
	if a.cfg.TLS.Enabled {
		reg.Scheme = proto.String(a.cfg.TLS.Scheme()) // offers then say https
	}
	if host, _, err := net.SplitHostPort(a.endpoint); err == nil && net.ParseIP(host) != nil {
		reg.Ip = proto.String(host)
	}
	return call
}

func (a *Agent) registered(r *linkpb.MasterEvent_Registered, url *url.URL, frames *frameWriter) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if old := a.core.AgentID(); old != "" && old != r.GetAgentId().GetValue() {
		// The master does not know this agent: the core forgets everything
		// (and destroys every container); so do the executor streams and
		// the calls meant for the old identity.
		a.log.Warn("master gave this agent a new id; killing everything", "old", old, "new", r.GetAgentId().GetValue())
		a.closeStreamsLocked()
		a.outbox = nil
		a.forgetQueuedLocked()
	}
	a.keepSecretLocked(r.GetAgentId().GetValue(), r.GetAgentSecret())
	a.link = linkState{id: r.GetLinkId(), url: url, masterInfo: r.GetMasterInfo(), registered: time.Now(),
		version: r.GetLinkVersion(), frames: frames}
	a.log.Info("registered with master", "agent_id", r.GetAgentId().GetValue(), "link", r.GetLinkId(),
		"master", r.GetMasterInfo().GetId())
	_ = a.applyLocked("registration", func(now time.Time) ([]lifecycle.Effect, error) {
		return a.core.Registered(r.GetAgentId().GetValue(), now), nil
	})
	a.pokeSender()
}

// handleEvent applies one master event. An error ends the session.
func (a *Agent) handleEvent(ev *linkpb.MasterEvent) error {
	type input = func(now time.Time) ([]lifecycle.Effect, error)
	var (
		what string
		in   input
	)
	c := a.core
	switch ev.GetType() {
	case linkpb.MasterEvent_REGISTERED:
		return nil
	case linkpb.MasterEvent_PING:
		a.mu.Lock()
		a.enqueueLocked(&linkpb.AgentCall{Type: linkpb.AgentCall_PONG.Enum(),
			Pong: &linkpb.AgentCall_Pong{Seq: proto.Uint64(ev.GetPing().GetSeq())}})
		a.mu.Unlock()
		return nil
	case linkpb.MasterEvent_SHUTDOWN_AGENT:
		a.log.Warn("master asked this agent to shut down; killing everything and registering afresh",
			"message", ev.GetShutdownAgent().GetMessage())
		a.mu.Lock()
		a.closeStreamsLocked()
		a.outbox = nil
		a.dispatchLocked(c.Reset())
		a.mu.Unlock()
		return errRelink
	case linkpb.MasterEvent_CHECKPOINT_RESOURCES:
		a.checkpointResources(ev.GetCheckpointResources().GetResources())
		return nil
	case linkpb.MasterEvent_RUN_TASK:
		rt := ev.GetRunTask()
		what, in = "run task", func(now time.Time) ([]lifecycle.Effect, error) {
			return c.RunTask(rt.GetFramework(), rt.GetExecutor(), rt.GetTask(), now)
		}
	case linkpb.MasterEvent_RUN_TASK_GROUP:
		rg := ev.GetRunTaskGroup()
		what, in = "run task group", func(now time.Time) ([]lifecycle.Effect, error) {
			return c.RunTaskGroup(rg.GetFramework(), rg.GetExecutor(), rg.GetTaskGroup(), now)
		}
	case linkpb.MasterEvent_KILL_TASK:
		k := ev.GetKillTask()
		what, in = "kill task", func(now time.Time) ([]lifecycle.Effect, error) {
			return c.KillTask(k.GetFrameworkId().GetValue(), k.GetTaskId().GetValue(), k.GetKillPolicy(), now)
		}
	case linkpb.MasterEvent_ACKNOWLEDGE:
		ack := ev.GetAcknowledge()
		what, in = "acknowledgement", func(now time.Time) ([]lifecycle.Effect, error) {
			return c.Acknowledge(ack.GetFrameworkId().GetValue(), ack.GetTaskId().GetValue(), ack.GetUuid(), now)
		}
	case linkpb.MasterEvent_FRAMEWORK_MESSAGE:
		m := ev.GetFrameworkMessage()
		what, in = "framework message", func(time.Time) ([]lifecycle.Effect, error) {
			return c.FrameworkMessage(m.GetFrameworkId().GetValue(), m.GetExecutorId().GetValue(), m.GetData())
		}
	case linkpb.MasterEvent_SHUTDOWN_EXECUTOR:
		s := ev.GetShutdownExecutor()
		what, in = "shutdown executor", func(now time.Time) ([]lifecycle.Effect, error) {
			return c.ShutdownExecutor(s.GetFrameworkId().GetValue(), s.GetExecutorId().GetValue(), now)
		}
	case linkpb.MasterEvent_SHUTDOWN_FRAMEWORK:
		s := ev.GetShutdownFramework()
		what, in = "shutdown framework", func(now time.Time) ([]lifecycle.Effect, error) {
			return c.ShutdownFramework(s.GetFrameworkId().GetValue(), now)
		}
	case linkpb.MasterEvent_UPDATE_FRAMEWORK:
		u := ev.GetUpdateFramework()
		what, in = "update framework", func(now time.Time) ([]lifecycle.Effect, error) {
			return c.UpdateFramework(u.GetFramework(), now)
		}
	default:
		a.log.Warn("ignoring unknown event from the master", "type", ev.GetType().String())
		return nil
	}
	if err := validEvent(ev); err != nil {
		a.log.Warn("ignoring malformed event from the master", "type", ev.GetType().String(), "err", err)
		return nil
	}
	_ = a.apply(what, in)
	if s := ev.GetShutdownFramework(); s != nil && a.hosts != nil {
		a.hosts.RetireFramework(s.GetFrameworkId().GetValue()) // its command executor host exits once its executors have
	}
	return nil
}

// validEvent checks that the payload matching the event's type is there;
// the codec has checked required fields inside it.
func validEvent(ev *linkpb.MasterEvent) error {
	var present bool
	switch ev.GetType() {
	case linkpb.MasterEvent_RUN_TASK:
		present = ev.GetRunTask() != nil
	case linkpb.MasterEvent_RUN_TASK_GROUP:
		present = ev.GetRunTaskGroup() != nil
	case linkpb.MasterEvent_KILL_TASK:
		present = ev.GetKillTask() != nil
	case linkpb.MasterEvent_ACKNOWLEDGE:
		present = ev.GetAcknowledge() != nil
	case linkpb.MasterEvent_FRAMEWORK_MESSAGE:
		present = ev.GetFrameworkMessage() != nil
	case linkpb.MasterEvent_SHUTDOWN_EXECUTOR:
		present = ev.GetShutdownExecutor() != nil
	case linkpb.MasterEvent_SHUTDOWN_FRAMEWORK:
		present = ev.GetShutdownFramework() != nil
	case linkpb.MasterEvent_UPDATE_FRAMEWORK:
		present = ev.GetUpdateFramework() != nil
	default:
		present = true
	}
	if !present {
		return fmt.Errorf("missing payload for %s", ev.GetType())
	}
	return nil
}

// enqueueLocked queues a call for the master. While the link is down,
// status updates and pongs are not queued: the status update manager
// resends updates after registration, and pongs are pointless.
func (a *Agent) enqueueLocked(call *linkpb.AgentCall) {
	if a.link.id == "" {
		switch call.GetType() {
		case linkpb.AgentCall_STATUS_UPDATE, linkpb.AgentCall_PONG:
			return
		}
	}
	if len(a.outbox) >= maxOutbox {
		a.log.Warn("outbox full: dropping the oldest call", "type", a.outbox[0].GetType().String())
		a.outbox = a.outbox[1:]
	}
	a.outbox = append(a.outbox, call)
	a.pokeSender()
}

func (a *Agent) pokeSender() {
	select {
	case a.outReady <- struct{}{}:
	default:
	}
}

// Bounds of one BATCH the agent sends: the calls waiting when the sender
// gets to them, up to maxBatchCalls and about maxBatchBytes encoded (a
// larger call goes alone). The master takes up to its MaxBatchCalls in a
// body of up to 4x its --max_call_bytes.
const (
	maxBatchCalls = 256
	maxBatchBytes = 1 << 20
)

// batchLinkVersion is the first master link_version that takes BATCH.
const batchLinkVersion = 2

// sendLoop posts queued calls to the master, in order, while the link is
// up: to a master that takes BATCH, every call waiting in one request
// (nextBatch), else one call per request. A call whose request fails is
// not sent again (status updates are retried by the status update
// manager, as when one call failed alone); no call is sent before the
// ones queued ahead of it were answered.
func (a *Agent) sendLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.outReady:
		}
		for {
			a.mu.Lock()
			if a.link.id == "" || len(a.outbox) == 0 {
				a.mu.Unlock()
				break
			}
			n := 1
			if a.link.version >= batchLinkVersion {
				n = nextBatch(a.outbox)
			}
			calls := a.outbox[:n:n]
			a.outbox = a.outbox[n:]
			linkID, target, frames := a.link.id, a.link.url, a.link.frames
			agentID := &mesospb.AgentID{Value: proto.String(a.core.AgentID())}
			a.mu.Unlock()
			if frames != nil {
				frames.send(a, linkCall(calls, linkID, agentID))
				continue
			}
			if a.post(ctx, target, linkCall(calls, linkID, agentID)) == http.StatusConflict {
				a.relinkIfCurrent(linkID)
			}
		}
	}
}

// nextBatch is how many of the calls at the head of outbox go in the
// next request: at least one, at most maxBatchCalls, and no more than
// about maxBatchBytes of them.
func nextBatch(outbox []*linkpb.AgentCall) int {
	n, size := 0, 0
	for _, c := range outbox[:min(len(outbox), maxBatchCalls)] {
		size += proto.Size(c)
		if n > 0 && size > maxBatchBytes {
			break
		}
		n++
	}
	return n
}

// linkCall is the request carrying calls on the session linkID: the call
// itself when there is one, else a BATCH of them (which carries the
// session for all).
func linkCall(calls []*linkpb.AgentCall, linkID string, agentID *mesospb.AgentID) *linkpb.AgentCall {
	if len(calls) == 1 {
		call := calls[0]
		call.LinkId, call.AgentId = proto.String(linkID), agentID
		return call
	}
	for _, c := range calls {
		c.LinkId, c.AgentId = nil, nil
	}
	return &linkpb.AgentCall{Type: linkpb.AgentCall_BATCH.Enum(), LinkId: proto.String(linkID), AgentId: agentID,
		Batch: &linkpb.AgentCall_Batch{Calls: calls}}
}

// post sends one request and returns the HTTP status, 0 when there was no
// answer. Failures are logged: status updates are retried by the status
// update manager.
func (a *Agent) post(ctx context.Context, target *url.URL, call *linkpb.AgentCall) int {
	what := call.GetType().String()
	if n := len(call.GetBatch().GetCalls()); n > 0 {
		what = fmt.Sprintf("%s of %d", what, n)
	}
	body, dropped, err := encodeLinkCall(call)
	for _, d := range dropped {
		a.log.Error("encoding call for the master: sending the rest of its batch without it", "type", d.GetType().String(), "err", d.err)
	}
	if err != nil {
		a.log.Error("encoding call for the master", "type", what, "err", err)
		return 0
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err = a.linkConn.Send(ctx, target, body, nil)
	if err == nil {
		return http.StatusAccepted
	}
	if se, ok := errors.AsType[*subscribe.StatusError](err); ok {
		a.log.Warn("master refused a call", "type", what, "status", se.Status, "body", se.Body)
		return se.Status
	}
	a.log.Info("call to the master failed", "type", what, "err", err)
	return 0
}

// droppedCall is a call of a batch that could not be encoded.
type droppedCall struct {
	*linkpb.AgentCall
	err error
}

// encodeLinkCall encodes a request. A batch holding a call that cannot be
// encoded (a required field unset) goes without that call instead of not
// at all: the rest are other executors' and tasks' calls.
func encodeLinkCall(call *linkpb.AgentCall) ([]byte, []droppedCall, error) {
	body, err := codec.Protobuf.Marshal(call)
	calls := call.GetBatch().GetCalls()
	if err == nil || len(calls) == 0 {
		return body, nil, err
	}
	var keep []*linkpb.AgentCall
	var dropped []droppedCall
	for _, c := range calls {
		if _, cerr := codec.Protobuf.Marshal(c); cerr != nil {
			dropped = append(dropped, droppedCall{c, cerr})
		} else {
			keep = append(keep, c)
		}
	}
	if len(keep) == 0 {
		return nil, dropped, err
	}
	rest := proto.CloneOf(call)
	rest.Batch.Calls = keep
	body, err = codec.Protobuf.Marshal(rest)
	return body, dropped, err
}

// relinkIfCurrent asks for a new session when linkID, which the master
// called stale, is still the current one.
func (a *Agent) relinkIfCurrent(linkID string) {
	a.mu.Lock()
	current := a.link.id == linkID
	a.mu.Unlock()
	if !current {
		return
	}
	a.log.Info("master says the link is stale; registering again", "link", linkID)
	select {
	case a.relink <- struct{}{}:
	default:
	}
}
