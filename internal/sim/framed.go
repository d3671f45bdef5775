package sim

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/recordio"
	"github.com/mesoproject/meso/internal/linkframe"
)

// The framed link (link version 3, Config.LinkMux): Config.LinkMux
// agents share one connection, each on a channel of its own. The first
// agent to find the connection down dials it, its REGISTER being the
// handshake (channel 0); the others register on new channels once it is
// up. One goroutine per connection reads the master's frames and hands
// each to its agent; the agents' calls are written on the connection by
// the senders.

// errMasterClosed: the master ended an agent's session (closed frame).
var errMasterClosed = errors.New("sim: the master closed the session")

// muxConn is one framed link connection and the agents' sessions on it.
type muxConn struct {
	p *agentPool

	mu       sync.Mutex
	url      string                 // guarded by mu: the link endpoint (a 307 moves it)
	conn     net.Conn               // guarded by mu: nil while down
	dialing  chan struct{}          // guarded by mu: closed when the dial under way ends; nil when none
	next     uint32                 // guarded by mu: the next channel to register on
	sessions map[uint32]*muxSession // guarded by mu

	wmu sync.Mutex // serializes writes to conn
}

// muxSession is one agent's session on a muxConn.
type muxSession struct {
	a          *simAgent
	ch         uint32
	sent       time.Duration // runner.since when its REGISTER was sent
	got        bool          // REGISTERED seen; read by the connection's reader only
	registered chan struct{} // closed at REGISTERED
	ended      chan error    // the session's end (written once, by whoever removed it from sessions)
}

// session registers a on its connection and waits for the session to
// end; release is called at REGISTERED.
func (mc *muxConn) session(ctx context.Context, a *simAgent, call *linkpb.AgentCall, release func()) (bool, error) {
	s := &muxSession{a: a, registered: make(chan struct{}), ended: make(chan error, 1)}
	for {
		// Channels must reach the master in increasing order: the one
		// taken and its REGISTER written under wmu.
		mc.wmu.Lock()
		mc.mu.Lock()
		if conn := mc.conn; conn != nil {
			s.ch = mc.next
			mc.next++
			mc.sessions[s.ch] = s
			mc.mu.Unlock()
			s.sent = a.p.r.since()
			a.p.r.c.firstRegister.first(s.sent)
			err := mc.writeLocked(conn, &linkpb.AgentFrame{Channel: proto.Uint32(s.ch), Call: call})
			mc.wmu.Unlock()
			if err != nil {
				mc.remove(s, err)
			}
			break
		}
		mc.wmu.Unlock()
		if wait := mc.dialing; wait != nil {
			mc.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return false, ctx.Err()
			}
		}
		done := make(chan struct{})
		mc.dialing = done
		mc.mu.Unlock()
		err := mc.dial(ctx, s, call)
		mc.mu.Lock()
		mc.dialing = nil
		mc.mu.Unlock()
		close(done)
		if err != nil {
			return false, err
		}
		break
	}
	select {
	case <-s.registered:
		release()
	case err := <-s.ended:
		return false, err
	case <-ctx.Done():
		mc.close(s)
		return false, ctx.Err()
	}
	select {
	case err := <-s.ended:
		return true, err
	case <-ctx.Done():
		mc.close(s)
		return true, ctx.Err()
	}
}

// dial opens the connection with s's REGISTER as the handshake and
// starts its reader.
func (mc *muxConn) dial(ctx context.Context, s *muxSession, call *linkpb.AgentCall) error {
	mc.mu.Lock()
	target := mc.url
	mc.mu.Unlock()
	u, err := url.Parse(target)
	if err != nil {
		return err
	}
	body, err := codec.Protobuf.Marshal(call)
	if err != nil {
		return fmt.Errorf("sim: encoding REGISTER: %w", err)
	}
	d := net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return err
	}
	var req bytes.Buffer
	fmt.Fprintf(&req, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nAccept: %s\r\nContent-Length: %d\r\n"+
		"Connection: Upgrade\r\nUpgrade: %s\r\n\r\n", u.RequestURI(), u.Host, codec.MediaTypeProtobuf,
		codec.MediaTypeProtobuf, len(body), linkframe.Protocol)
	req.Write(body)
	s.sent = mc.p.r.since()
	mc.p.r.c.firstRegister.first(s.sent)
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
	br := bufio.NewReader(conn)
	if _, err = conn.Write(req.Bytes()); err == nil {
		var resp *http.Response
		if resp, err = http.ReadResponse(br, nil); err == nil {
			err = mc.handshake(u, resp)
		}
	}
	if err != nil {
		conn.Close()
		return err
	}
	_ = conn.SetDeadline(time.Time{})
	mc.mu.Lock()
	mc.conn, mc.next = conn, 1
	mc.sessions[0] = s
	mc.mu.Unlock()
	go mc.read(conn, br)
	return nil
}

// handshake checks the answer to the handshake: 101, or a refusal (a 307
// moves the connection to the leader for the next attempt).
func (mc *muxConn) handshake(u *url.URL, resp *http.Response) error {
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return nil
	}
	// The body is not closed (that would read a stream to its end): the
	// caller closes the connection.
	if resp.StatusCode == http.StatusTemporaryRedirect {
		if to, err := u.Parse(resp.Header.Get("Location")); err == nil {
			mc.mu.Lock()
			mc.url = to.String()
			mc.mu.Unlock()
		}
	}
	if resp.StatusCode == http.StatusOK {
		// A master before link version 3: it ignored the Upgrade. The run
		// cannot go on.
		err := fmt.Errorf("%w: --link_mux: the master at %s does not serve the framed link (link version 3); run without --link_mux", ErrConfig, u.Host)
		mc.p.r.abort(err)
		return err
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return fmt.Errorf("sim: master answered REGISTER with %s: %s", resp.Status, bytes.TrimSpace(msg))
}

// read hands the master's frames to their agents until the connection
// breaks, then ends every session on it.
func (mc *muxConn) read(conn net.Conn, br *bufio.Reader) {
	rd := linkframe.NewReader(br, recordio.DefaultMaxRecordSize)
	var err error
	for {
		f := &linkpb.MasterFrame{}
		if err = rd.ReadFrame(f); err != nil {
			break
		}
		mc.mu.Lock()
		s := mc.sessions[f.GetChannel()]
		mc.mu.Unlock()
		if s != nil {
			mc.deliver(s, f)
		}
	}
	conn.Close()
	mc.mu.Lock()
	if mc.conn == conn {
		mc.conn = nil
	}
	ended := mc.sessions
	mc.sessions = map[uint32]*muxSession{}
	mc.mu.Unlock()
	for _, s := range ended {
		s.ended <- fmt.Errorf("sim: link connection: %w", err)
	}
}

// deliver applies one frame to its session.
func (mc *muxConn) deliver(s *muxSession, f *linkpb.MasterFrame) {
	r := mc.p.r
	if rf := f.GetRefused(); rf != nil && !f.GetClosed() {
		r.c.callErrors.Add(1)
		r.log.Warn("master refused an agent call", "status", rf.GetStatus(), "message", rf.GetMessage())
	}
	if f.GetClosed() {
		err := errMasterClosed
		if rf := f.GetRefused(); rf != nil {
			err = fmt.Errorf("%w: %d %s", errMasterClosed, rf.GetStatus(), rf.GetMessage())
		}
		mc.remove(s, err)
		return
	}
	ev := f.GetEvent()
	if ev == nil {
		return
	}
	if !s.got {
		if ev.GetType() != linkpb.MasterEvent_REGISTERED || ev.GetRegistered() == nil {
			mc.close(s)
			mc.remove(s, fmt.Errorf("sim: link session began with %s, not REGISTERED", ev.GetType()))
			return
		}
		s.got = true
		s.a.sentAt.Store(int64(s.sent))
		s.a.registered(ev.GetRegistered(), s)
		close(s.registered)
		return
	}
	if err := s.a.handle(ev); err != nil {
		mc.close(s)
		mc.remove(s, err)
	}
}

// remove ends s with err unless it has ended.
func (mc *muxConn) remove(s *muxSession, err error) {
	mc.mu.Lock()
	own := mc.sessions[s.ch] == s
	if own {
		delete(mc.sessions, s.ch)
	}
	mc.mu.Unlock()
	if own {
		s.ended <- err
	}
}

// close tells the master the agent ends s (its channel is not used again).
func (mc *muxConn) close(s *muxSession) {
	mc.mu.Lock()
	conn := mc.conn
	if mc.sessions[s.ch] == s {
		delete(mc.sessions, s.ch)
	}
	mc.mu.Unlock()
	if conn != nil {
		_ = mc.write(conn, &linkpb.AgentFrame{Channel: proto.Uint32(s.ch), Close: proto.Bool(true)})
	}
}

// shut closes the connection (the run ends).
func (mc *muxConn) shut() {
	mc.mu.Lock()
	if mc.conn != nil {
		mc.conn.Close()
	}
	mc.mu.Unlock()
}

// write writes frames on conn; an error closes it (the reader then ends
// its sessions).
func (mc *muxConn) write(conn net.Conn, frames ...*linkpb.AgentFrame) error {
	var buf []byte
	for _, f := range frames {
		var err error
		if buf, err = linkframe.Append(buf, f); err != nil {
			return err
		}
	}
	mc.wmu.Lock()
	defer mc.wmu.Unlock()
	return mc.writeBytesLocked(conn, buf)
}

// writeLocked is write with wmu held.
func (mc *muxConn) writeLocked(conn net.Conn, f *linkpb.AgentFrame) error {
	buf, err := linkframe.Append(nil, f)
	if err != nil {
		return err
	}
	return mc.writeBytesLocked(conn, buf)
}

func (mc *muxConn) writeBytesLocked(conn net.Conn, buf []byte) error {
	_ = conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	_, err := conn.Write(buf)
	if err != nil {
		conn.Close()
	}
	return err
}

// sendFramed writes a's calls on its session: one BATCH frame for several.
func (p *agentPool) sendFramed(a *simAgent, s *muxSession, id string, calls []outCall) {
	mc := a.mc
	mc.mu.Lock()
	conn := mc.conn
	live := mc.sessions[s.ch] == s
	mc.mu.Unlock()
	if conn == nil || !live {
		return
	}
	call := calls[0].call
	if len(calls) > 1 {
		batch := make([]*linkpb.AgentCall, len(calls))
		for i, oc := range calls {
			batch[i] = oc.call
		}
		call = &linkpb.AgentCall{Type: linkpb.AgentCall_BATCH.Enum(), Batch: &linkpb.AgentCall_Batch{Calls: batch}}
	}
	for _, oc := range calls {
		oc.call.LinkId, oc.call.AgentId = nil, nil
	}
	call.AgentId = &mesospb.AgentID{Value: proto.String(id)}
	p.r.c.agentRequests.Add(1)
	if err := mc.write(conn, &linkpb.AgentFrame{Channel: proto.Uint32(s.ch), Call: call}); err != nil {
		p.r.c.callErrors.Add(1)
		p.r.log.Warn("agent call failed", "type", call.GetType().String(), "err", err)
	}
}
