package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/recordio"
	"github.com/mesoproject/meso/internal/linkframe"
)

// The framed link (link version 3, link.proto): the master switched the
// REGISTER's connection to frames. The agent's session is channel 0;
// its calls are frames on the same connection, and the master's events
// come back as frames. A closed frame ends the session (the agent
// registers again on a new connection), a refused one is logged as a
// refused POST is.

// errLinkClosed: the master ended the session on the framed link.
var errLinkClosed = errors.New("agent: the master closed the link")

// frameWriter writes the agent's calls on a framed link.
type frameWriter struct {
	mu  sync.Mutex
	w   io.Writer // guarded by mu
	buf []byte    // guarded by mu
}

// send writes call as one frame of channel 0; a call that does not
// encode goes as its batch's rest (encodeLinkCall). Write errors are
// logged: the session's reader sees the connection break.
func (f *frameWriter) send(a *Agent, call *linkpb.AgentCall) {
	what := call.GetType().String()
	body, dropped, err := encodeLinkCall(call)
	for _, d := range dropped {
		a.log.Error("encoding call for the master: sending the rest of its batch without it", "type", d.GetType().String(), "err", d.err)
	}
	if err != nil {
		a.log.Error("encoding call for the master", "type", what, "err", err)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	// AgentFrame{channel: 0 (unset), call: body}: field 2, length-delimited.
	frame := protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), body)
	f.buf = linkframe.AppendEncoded(f.buf[:0], frame)
	if _, err := f.w.Write(f.buf); err != nil {
		a.log.Info("call to the master failed", "type", what, "err", err)
	}
	if cap(f.buf) > 64<<10 {
		f.buf = nil
	}
}

// framedSession runs a session on a framed link connection until it
// breaks, the master goes silent or closes the session, or the agent
// asks for a new session (cancel). registered reports whether REGISTERED
// was received.
func (a *Agent) framedSession(ctx context.Context, cancel context.CancelCauseFunc, target *url.URL,
	conn io.ReadWriteCloser) (registered bool, err error) {
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	// The watchdog ends the session when the master is silent too long.
	silence := pingSilence(a.cfg.MasterPingTimeouts, 0)
	dog := time.AfterFunc(silence, func() { cancel(fmt.Errorf("%w for %v", errSilentMaster, silence)) })
	defer dog.Stop()
	go func() {
		select {
		case <-a.relink:
			cancel(errRelink)
		case <-ctx.Done():
		}
	}()
	frames := &frameWriter{w: conn}
	rd := linkframe.NewReader(conn, recordio.DefaultMaxRecordSize)
	for {
		f := &linkpb.MasterFrame{}
		if err := rd.ReadFrame(f); err != nil {
			if cause := context.Cause(ctx); cause != nil {
				return registered, cause
			}
			return registered, fmt.Errorf("agent: framed link: %w", err)
		}
		dog.Reset(silence)
		if f.GetChannel() != 0 {
			continue // not this agent's: it opens no other channel
		}
		if rf := f.GetRefused(); rf != nil {
			a.log.Warn("master refused a call", "status", rf.GetStatus(), "body", rf.GetMessage())
		}
		if f.GetClosed() {
			if !registered {
				return false, fmt.Errorf("agent: REGISTER at %s: %w: %s", target, errLinkClosed, f.GetRefused().GetMessage())
			}
			return true, fmt.Errorf("%w (%w)", errLinkClosed, errRelink)
		}
		ev := f.GetEvent()
		if ev == nil {
			continue
		}
		if !registered {
			if ev.GetType() != linkpb.MasterEvent_REGISTERED || ev.GetRegistered() == nil {
				return false, fmt.Errorf("agent: link stream began with %s, not REGISTERED", ev.GetType())
			}
			registered = true
			silence = pingSilence(a.cfg.MasterPingTimeouts, ev.GetRegistered().GetPingIntervalSeconds())
			dog.Reset(silence)
			a.registered(ev.GetRegistered(), target, frames)
		}
		if err := a.handleEvent(ev); err != nil {
			return registered, err
		}
	}
}
