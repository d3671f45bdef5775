package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/recordio"
	"github.com/mesoproject/meso/internal/agent/lifecycle"
)

// LinkPath is the master's endpoint for the agent link.
const LinkPath = "/internal/v1/link"

// maxOutbox bounds the calls waiting for the link; the oldest are dropped
// beyond it (status updates are resent by the status update manager).
const maxOutbox = 10000

// errRelink ends a session on the master's request (409, SHUTDOWN_AGENT).
var errRelink = errors.New("agent: registering again")

func linkURL(master string) (string, error) {
	raw := master
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("agent: --master=%q: want host:port", master)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + LinkPath
	return u.String(), nil
}

// linkURLs parses --master: one master, or a comma-separated list of the
// masters of a group (the agent tries them in turn and follows the 307 of
// a master that does not lead).
func linkURLs(masters string) ([]string, error) {
	var urls []string
	for _, m := range strings.Split(masters, ",") {
		if m = strings.TrimSpace(m); m == "" {
			continue
		}
		u, err := linkURL(m)
		if err != nil {
			return nil, err
		}
		urls = append(urls, u)
	}
	if len(urls) == 0 {
		return nil, fmt.Errorf("agent: --master=%q: want host:port", masters)
	}
	return urls, nil
}

// linkLoop keeps the agent registered: one session at a time, with
// randomized exponential backoff between failed attempts.
func (a *Agent) linkLoop(ctx context.Context) {
	bound := a.cfg.RegistrationBackoffFactor
	for ctx.Err() == nil {
		registered, err := a.session(ctx)
		a.mu.Lock()
		a.link = linkState{}
		a.core.Disconnected()
		a.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		if registered {
			bound = a.cfg.RegistrationBackoffFactor
		} else {
			// Unreachable, or no leader known there: try the next master.
			a.nextMaster = (a.nextMaster + 1) % len(a.masterURLs)
		}
		delay := rand.N(bound + 1)
		a.log.Warn("link to master lost", "err", err, "retry_in", delay.Round(time.Millisecond))
		if !errors.Is(err, errRelink) {
			bound = min(2*bound, a.cfg.RegistrationBackoffMax)
		} else {
			delay = 0
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
	}
}

// session registers with the master and handles its events until the
// stream breaks, the master goes silent, or it asks for a new session.
// registered reports whether REGISTERED was received.
func (a *Agent) session(ctx context.Context) (registered bool, err error) {
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
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.masterURLs[a.nextMaster], bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", codec.MediaTypeProtobuf)
	req.Header.Set("Accept", codec.MediaTypeProtobuf)
	resp, err := a.cfg.HTTPClient.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return false, fmt.Errorf("agent: master answered REGISTER with %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	c, err := codec.ForContentType(resp.Header.Get("Content-Type"))
	if err != nil {
		return false, fmt.Errorf("agent: link stream: %w", err)
	}

	// The watchdog ends the session when the master is silent too long.
	silence := pingSilence(a.cfg.MasterPingTimeouts, 0)
	watchdog := time.AfterFunc(silence, func() { cancel(errors.New("agent: no ping from the master")) })
	defer watchdog.Stop()
	go func() {
		select {
		case <-a.relink:
			cancel(errRelink)
		case <-ctx.Done():
		}
	}()

	rd := recordio.NewReader(resp.Body, recordio.DefaultMaxRecordSize)
	for {
		ev := &linkpb.MasterEvent{}
		if err := rd.ReadMessage(c, ev); err != nil {
			if cause := context.Cause(ctx); cause != nil {
				return registered, cause
			}
			return registered, fmt.Errorf("agent: link stream: %w", err)
		}
		if !registered {
			if ev.GetType() != linkpb.MasterEvent_REGISTERED || ev.GetRegistered() == nil {
				return false, fmt.Errorf("agent: link stream began with %s, not REGISTERED", ev.GetType())
			}
			registered = true
			silence = pingSilence(a.cfg.MasterPingTimeouts, ev.GetRegistered().GetPingIntervalSeconds())
			// The client followed any 307 to the leader: calls go there.
			a.registered(ev.GetRegistered(), resp.Request.URL.String())
		}
		watchdog.Reset(silence)
		if err := a.handleEvent(ev); err != nil {
			return registered, err
		}
	}
}

// pingSilence is how long the master may stay silent: timeouts ping
// intervals of the given seconds (0 or less, or NaN: the default). It
// saturates at the longest Duration: a huge interval from the master would
// otherwise wrap to a negative limit and end every session at once.
func pingSilence(timeouts int, intervalSecs float64) time.Duration {
	if !(intervalSecs > 0) {
		intervalSecs = defaultPingInterval.Seconds()
	}
	limit := float64(timeouts) * intervalSecs * float64(time.Second)
	if limit >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(limit)
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
	return call
}

func (a *Agent) registered(r *linkpb.MasterEvent_Registered, url string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if old := a.core.AgentID(); old != "" && old != r.GetAgentId().GetValue() {
		// The master does not know this agent: the core forgets everything
		// (and destroys every container); so do the executor streams and
		// the calls meant for the old identity.
		a.log.Warn("master gave this agent a new id; killing everything", "old", old, "new", r.GetAgentId().GetValue())
		a.closeStreamsLocked()
		a.outbox = nil
	}
	a.keepSecretLocked(r.GetAgentId().GetValue(), r.GetAgentSecret())
	a.link = linkState{id: r.GetLinkId(), url: url, masterInfo: r.GetMasterInfo(), registered: time.Now()}
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

// sendLoop posts queued calls to the master, in order, while the link is
// up.
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
			call := a.outbox[0]
			a.outbox = a.outbox[1:]
			linkID, url := a.link.id, a.link.url
			call.LinkId = proto.String(linkID)
			call.AgentId = &mesospb.AgentID{Value: proto.String(a.core.AgentID())}
			a.mu.Unlock()
			if a.post(ctx, url, call) == http.StatusConflict {
				a.relinkIfCurrent(linkID)
			}
		}
	}
}

// post sends one call and returns the HTTP status, 0 when there was no
// answer. Failures are logged: status updates are retried by the status
// update manager.
func (a *Agent) post(ctx context.Context, url string, call *linkpb.AgentCall) int {
	body, err := codec.Protobuf.Marshal(call)
	if err != nil {
		a.log.Error("encoding call for the master", "type", call.GetType().String(), "err", err)
		return 0
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", codec.MediaTypeProtobuf)
	resp, err := a.cfg.HTTPClient.Do(req)
	if err != nil {
		a.log.Info("call to the master failed", "type", call.GetType().String(), "err", err)
		return 0
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		a.log.Warn("master refused a call", "type", call.GetType().String(), "status", resp.Status,
			"body", string(bytes.TrimSpace(msg)))
	}
	return resp.StatusCode
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
