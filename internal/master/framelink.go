package master

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/internal/linkframe"
)

// The framed agent link (link version 3, link.proto). An agent's link in
// its HTTP form costs the master a handler goroutine parked on the stream
// (its stack grown by net/http to 8 KiB and more), the connection's
// buffered reader and writer and the response's buffers, 15 KiB or more
// a link before any record. A framed link is the connection alone: after
// the handshake's 101 the handler returns; one small goroutine per
// connection waits for its frames (holding no buffer while it waits,
// linkframe.Reader), and the master's frames to it are queued on the
// connection and written by a goroutine that exists only while the queue
// is not empty. Several sessions may share a connection (channels).

// Bounds of a framed link connection.
const (
	// MaxChannels bounds the sessions open at once on one connection.
	MaxChannels = 10000
	// maxFramesIn bounds the frames read in one go before they are
	// handed to the loop as one input.
	maxFramesIn = 256
	// frameWriteTimeout bounds one write to a connection: a peer that
	// does not read for that long is cut off (it registers again).
	frameWriteTimeout = 10 * time.Second
	// maxWriteChunk is about the most bytes encoded for one write.
	maxWriteChunk = 256 << 10
)

var writeBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// wantsFramedLink reports whether a REGISTER request asks for the framed
// link and can have it: HTTP/1.x (an HTTP/2 stream cannot be taken over)
// with the Upgrade token. Otherwise the link is served in its HTTP form,
// as by a master before version 3.
func (m *Master) wantsFramedLink(r *http.Request) bool {
	if m.cfg.NoFramedLink || r.ProtoMajor != 1 {
		return false
	}
	if !headerHasToken(r.Header, "Connection", "upgrade") {
		return false
	}
	return headerHasToken(r.Header, "Upgrade", linkframe.Protocol)
}

// headerHasToken reports whether the comma-separated header name lists
// token (case-insensitively).
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// frameConn is one framed link connection.
type frameConn struct {
	m      *Master
	remote string

	mu       sync.Mutex
	conn     net.Conn                 // guarded by mu; nil until the handshake's 101 is written
	channels map[uint32]*frameSession // guarded by mu: the open sessions
	top      uint32                   // guarded by mu: the highest channel registered so far
	out      []*linkpb.MasterFrame    // guarded by mu: frames waiting to be written
	writing  bool                     // guarded by mu: a writer goroutine runs
	dead     bool                     // guarded by mu: the connection is closed
	drained  bool                     // guarded by mu: no session left: close once out is written
}

// frameSession is one session (agent link) of a frameConn: what the loop
// routes the link's messages to (linkSink).
type frameSession struct {
	c       *frameConn
	channel uint32
	link    string
}

func (s *frameSession) push(msg proto.Message) bool {
	return s.c.send(s, &linkpb.MasterFrame{Channel: proto.Uint32(s.channel), Event: msg.(*linkpb.MasterEvent)})
}

// close ends the session: the agent gets its closed frame.
func (s *frameSession) close() {
	s.c.end(s, &linkpb.MasterFrame{Channel: proto.Uint32(s.channel), Closed: proto.Bool(true)})
}

// refuse tells the agent a call of the session was refused; a stale
// session (409) is ended.
func (s *frameSession) refuse(err error) {
	status := statusOf(err)
	f := &linkpb.MasterFrame{Channel: proto.Uint32(s.channel),
		Refused: &linkpb.MasterFrame_Refused{Status: proto.Uint32(uint32(status)), Message: proto.String(err.Error())}}
	if status == http.StatusConflict {
		f.Closed = proto.Bool(true)
		s.c.end(s, f)
		return
	}
	s.c.send(s, f)
}

// maxOutLocked is the most frames the connection may have waiting.
func (c *frameConn) maxOutLocked() int { return maxQueued + 256*len(c.channels) }

// send queues f when s is still open; false when the queue overflowed,
// which closes the connection (every session on it registers again).
func (c *frameConn) send(s *frameSession, f *linkpb.MasterFrame) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead || c.channels[s.channel] != s {
		return true
	}
	return c.queueLocked(f)
}

// end queues f, the last frame of s, and forgets s; a connection left
// with no session is closed once its frames are written.
func (c *frameConn) end(s *frameSession, f *linkpb.MasterFrame) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead || c.channels[s.channel] != s {
		return
	}
	delete(c.channels, s.channel)
	c.queueLocked(f)
	if len(c.channels) == 0 {
		c.drained = true
	}
}

func (c *frameConn) queueLocked(f *linkpb.MasterFrame) bool {
	c.out = append(c.out, f)
	if len(c.out) > c.maxOutLocked() {
		c.m.log.Warn("agent link connection closed: too many queued frames", "remote", c.remote)
		c.closeLocked()
		return false
	}
	c.kickLocked()
	return true
}

// kickLocked starts the writer when there is something to write.
func (c *frameConn) kickLocked() {
	if c.conn != nil && !c.writing && len(c.out) > 0 {
		c.writing = true
		go c.writeLoop()
	}
}

func (c *frameConn) closeLocked() {
	if c.dead {
		return
	}
	c.dead = true
	c.out = nil
	if c.conn != nil {
		c.conn.Close() // the reader sees it and tells the loop
	}
}

// writeLoop writes the queued frames until none is left, then returns.
func (c *frameConn) writeLoop() {
	bp := writeBufPool.Get().(*[]byte)
	defer writeBufPool.Put(bp)
	for {
		c.mu.Lock()
		q, conn := c.out, c.conn
		c.out = nil
		if len(q) == 0 || c.dead {
			c.writing = false
			if c.drained && !c.dead {
				c.closeLocked()
			}
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		for len(q) > 0 {
			buf := (*bp)[:0]
			for len(q) > 0 && len(buf) < maxWriteChunk {
				var err error
				if buf, err = linkframe.Append(buf, q[0]); err != nil {
					c.m.log.Error("dropping a link frame that does not encode", "err", err)
				}
				q[0] = nil
				q = q[1:]
			}
			*bp = buf
			_ = conn.SetWriteDeadline(time.Now().Add(frameWriteTimeout))
			if _, err := conn.Write(buf); err != nil {
				c.mu.Lock()
				c.writing = false
				c.closeLocked()
				c.mu.Unlock()
				return
			}
		}
		if cap(*bp) > maxWriteChunk*2 {
			*bp = make([]byte, 0, 4<<10) // do not pool a burst's buffer
		}
	}
}

// serveFramedLink registers the handshake's session (channel 0) and, once
// taken, switches the connection to frames. A refusal is answered as in
// the HTTP form.
func (m *Master) serveFramedLink(w http.ResponseWriter, r *http.Request, call *linkpb.AgentCall) {
	c := &frameConn{m: m, remote: r.RemoteAddr, channels: map[uint32]*frameSession{}}
	s := &frameSession{c: c, channel: 0, link: newUUID()}
	c.channels[0] = s
	var err error
	if derr := m.loop.do(r.Context(), func(l *loop, now time.Time) {
		err = l.registerLink(now, s.link, s, call, r.RemoteAddr)
	}); derr != nil {
		err = derr
	}
	if err != nil {
		httpError(w, statusOf(err), err.Error())
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		m.loop.post(func(l *loop, now time.Time) { l.unlink(now, s.link, s) })
		httpError(w, http.StatusInternalServerError, "cannot take over the connection: "+err.Error())
		return
	}
	_ = conn.SetDeadline(time.Time{})
	var src io.Reader = conn
	if n := brw.Reader.Buffered(); n > 0 { // frames sent before the 101
		early, _ := brw.Reader.Peek(n)
		src = io.MultiReader(bytes.NewReader(bytes.Clone(early)), conn)
	}
	head := "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + linkframe.Protocol +
		"\r\n" + LinkIDHeader + ": " + s.link + "\r\n\r\n"
	_ = conn.SetWriteDeadline(time.Now().Add(frameWriteTimeout))
	if _, err := io.WriteString(conn, head); err != nil {
		conn.Close()
		m.loop.post(func(l *loop, now time.Time) { l.unlink(now, s.link, s) })
		return
	}
	if !m.trackFramed(c, conn) {
		conn.Close()
		m.loop.post(func(l *loop, now time.Time) { l.unlink(now, s.link, s) })
		return
	}
	c.mu.Lock()
	c.conn = conn
	if c.dead { // overflowed before the 101
		conn.Close()
	}
	c.kickLocked()
	c.mu.Unlock()
	// A fresh goroutine reads: the handler's, whose stack net/http grew,
	// returns.
	go c.readLoop(src)
}

// trackFramed records conn for closing at shutdown; false when the
// master is stopping.
func (m *Master) trackFramed(c *frameConn, conn net.Conn) bool {
	m.framedMu.Lock()
	defer m.framedMu.Unlock()
	select {
	case <-m.stopping:
		return false
	default:
	}
	if m.framed == nil {
		m.framed = map[*frameConn]struct{}{}
	}
	m.framed[c] = struct{}{}
	return true
}

// closeFramed closes every framed link connection (the master stops).
func (m *Master) closeFramed() {
	m.framedMu.Lock()
	defer m.framedMu.Unlock()
	for c := range m.framed {
		c.mu.Lock()
		c.closeLocked()
		c.mu.Unlock()
	}
}

// idleLimit is how long a connection may send nothing: an agent answers
// every ping, so this is the ping timeouts' span and one more.
func (m *Master) idleLimit() time.Duration {
	return m.cfg.AgentPingTimeout * time.Duration(m.cfg.MaxAgentPingTimeouts+2)
}

// frameIn is one frame read, turned into what the loop applies.
type frameIn struct {
	s     *frameSession
	reg   *linkpb.AgentCall   // a REGISTER for s
	calls []*linkpb.AgentCall // s's calls (with its link id)
	close bool                // the agent ended s
}

// readLoop reads the connection's frames until it breaks, handing them
// to the loop in batches, then tells the loop the sessions left are
// closed.
func (c *frameConn) readLoop(src io.Reader) {
	defer c.shutdown()
	m := c.m
	rd := linkframe.NewReader(src, int(4*m.cfg.MaxCallBytes))
	idle := m.idleLimit()
	var batch []frameIn
	for {
		if idle > 0 {
			_ = c.conn.SetReadDeadline(time.Now().Add(idle))
		}
		batch = batch[:0]
		for len(batch) < maxFramesIn {
			f := &linkpb.AgentFrame{}
			if err := rd.ReadFrame(f); err != nil {
				if err != io.EOF {
					m.log.Info("agent link connection ended", "remote", c.remote, "err", err)
				}
				c.apply(batch)
				return
			}
			if in, ok := c.frame(f); ok {
				batch = append(batch, in)
			}
			if !rd.Buffered() {
				break
			}
		}
		c.apply(batch)
	}
}

// frame checks one frame against the connection's sessions. Frames for a
// channel with no session are refused (409: the agent registers again).
func (c *frameConn) frame(f *linkpb.AgentFrame) (frameIn, bool) {
	ch := f.GetChannel()
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.channels[ch]
	call := f.GetCall()
	refuse := func(status int, msg string) (frameIn, bool) {
		c.queueLocked(&linkpb.MasterFrame{Channel: proto.Uint32(ch), Closed: proto.Bool(s == nil),
			Refused: &linkpb.MasterFrame_Refused{Status: proto.Uint32(uint32(status)), Message: proto.String(msg)}})
		return frameIn{}, false
	}
	switch {
	case f.GetClose():
		if s == nil {
			return frameIn{}, false
		}
		delete(c.channels, ch)
		return frameIn{s: s, close: true}, true
	case call.GetType() == linkpb.AgentCall_REGISTER:
		switch {
		case s != nil:
			return refuse(http.StatusBadRequest, fmt.Sprintf("channel %d has a session; a REGISTER opens a new channel", ch))
		case ch <= c.top:
			return refuse(http.StatusBadRequest, fmt.Sprintf("channel %d was used before; channels increase (last %d)", ch, c.top))
		case len(c.channels) >= MaxChannels:
			return refuse(http.StatusServiceUnavailable, fmt.Sprintf("at most %d sessions per connection", MaxChannels))
		}
		c.top = ch
		s = &frameSession{c: c, channel: ch, link: newUUID()}
		c.channels[ch] = s
		c.drained = false
		return frameIn{s: s, reg: call}, true
	case s == nil:
		return refuse(http.StatusConflict, fmt.Sprintf("no session on channel %d; register again", ch))
	case call == nil:
		return refuse(http.StatusBadRequest, "expecting 'call' or 'close' in the frame")
	}
	calls, err := batchCalls(call)
	if err != nil {
		return refuse(http.StatusBadRequest, err.Error())
	}
	for _, cl := range calls {
		if cl.LinkId != nil && cl.GetLinkId() != s.link {
			return refuse(http.StatusBadRequest, fmt.Sprintf("link_id %q is not channel %d's session", cl.GetLinkId(), ch))
		}
		cl.LinkId = proto.String(s.link)
	}
	return frameIn{s: s, calls: calls}, true
}

// apply hands a batch of frames to the loop, in order, without waiting.
func (c *frameConn) apply(batch []frameIn) {
	if len(batch) == 0 {
		return
	}
	ins := append([]frameIn(nil), batch...)
	c.m.loop.post(func(l *loop, now time.Time) {
		for _, in := range ins {
			switch {
			case in.close:
				l.unlink(now, in.s.link, in.s)
			case in.reg != nil:
				if err := l.registerLink(now, in.s.link, in.s, in.reg, c.remote); err != nil {
					in.s.c.end(in.s, &linkpb.MasterFrame{Channel: proto.Uint32(in.s.channel), Closed: proto.Bool(true),
						Refused: &linkpb.MasterFrame_Refused{Status: proto.Uint32(uint32(statusOf(err))),
							Message: proto.String(err.Error())}})
				}
			default:
				if err := applyAgentCalls(l.core, now, in.calls); err != nil {
					in.s.refuse(err)
				}
			}
		}
	})
}

// shutdown runs when the connection broke: its sessions are closed.
func (c *frameConn) shutdown() {
	c.mu.Lock()
	c.closeLocked()
	sessions := make([]*frameSession, 0, len(c.channels))
	for _, s := range c.channels {
		sessions = append(sessions, s)
	}
	clear(c.channels)
	c.mu.Unlock()
	m := c.m
	m.framedMu.Lock()
	delete(m.framed, c)
	m.framedMu.Unlock()
	if len(sessions) > 0 {
		m.loop.post(func(l *loop, now time.Time) {
			for _, s := range sessions {
				l.unlink(now, s.link, s)
			}
		})
	}
}

// registerLink registers the agent of call on link, whose messages go to
// sink. Runs on the loop.
func (l *loop) registerLink(now time.Time, link string, sink linkSink, call *linkpb.AgentCall, remote string) error {
	if !l.leading {
		return errNotLeading
	}
	reg := l.core.Registry()
	if err := checkAgentSecret(reg, call); err != nil {
		l.log.Warn("agent registration refused", "agent", call.GetRegister().GetAgentInfo().GetId().GetValue(),
			"remote", remote, "err", err)
		return err
	}
	if err := l.core.RegisterAgent(now, link, call); err != nil {
		return err
	}
	l.links[link] = sink
	l.issueAgentSecret(reg, link)
	return nil
}

// unlink forgets link when its stream (sink) went away. Runs on the loop.
func (l *loop) unlink(now time.Time, link string, sink linkSink) {
	if l.links[link] == sink {
		delete(l.links, link)
	}
	l.core.LinkClosed(now, link)
}
