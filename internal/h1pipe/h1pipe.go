// Package h1pipe serves a narrow kind of HTTP/1.1 request (POSTs of short
// calls with a complete, length-delimited body, answered by a handler that
// neither streams nor hijacks) on a plain connection without net/http's
// per-request machinery, and answers pipelined requests together: the
// responses of every request already in the connection's buffer are
// written with one write. Whatever it does not serve goes to an
// http.Server: the first request on a connection that is not of that kind
// (another path or method, Transfer-Encoding, Expect, Upgrade, Connection
// other than keep-alive, a head or body over the bounds, anything the
// strict parser does not take, or what Config.Match refuses) hands the
// connection, its unread bytes first, to the server, which keeps it.
//
// The same handler answers both ways, and a response is written byte for
// byte as net/http writes it for such a handler (status line, the
// handler's headers sorted, Date, Content-Length or chunking, sniffed
// Content-Type): clients see one server.
package h1pipe

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Bounds of the requests served here; larger ones go to net/http.
const (
	MaxHead = 8 << 10  // request line and headers
	MaxBody = 64 << 10 // body (Content-Length)
)

// Config says what a Server serves itself.
type Config struct {
	// Paths are the request paths served here (exact match, no query).
	Paths []string
	// Match, when set, is asked about every request of a path in Paths
	// with its headers and whole body, before anything is consumed: false
	// hands the connection to net/http from that request on (e.g. for a
	// call whose answer is a stream).
	Match func(path string, h http.Header, body []byte) bool
	// HeaderTimeout bounds the arrival of a request's head, from its
	// first byte (the http.Server's ReadHeaderTimeout when zero);
	// IdleTimeout the wait for the next request (its IdleTimeout when
	// zero). A head not complete in time goes to net/http as it is.
	HeaderTimeout, IdleTimeout time.Duration
	// BodyTimeout bounds the arrival of a body, from the end of its head
	// (none when zero). A body not complete in time is answered by the
	// handler as net/http would: its read fails with
	// os.ErrDeadlineExceeded after the bytes that came, and the
	// connection closes after the answer.
	BodyTimeout time.Duration
}

// Server serves connections of a listener, handing those it does not
// serve to an http.Server.
type Server struct {
	cfg   Config
	srv   *http.Server
	paths map[string]bool

	handoff *chanListener
	ln      net.Listener

	mu      sync.Mutex
	conns   map[*conn]struct{}
	closing atomic.Bool
	served  atomic.Int64
	idle    sync.Cond // signalled when conns shrinks
}

// New returns a Server for srv (its Handler answers every request; its
// other settings apply to the connections handed to it).
func New(srv *http.Server, cfg Config) *Server {
	// As net/http: ReadTimeout stands in for the other two.
	if cfg.HeaderTimeout == 0 {
		cfg.HeaderTimeout = cmp.Or(srv.ReadHeaderTimeout, srv.ReadTimeout)
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = cmp.Or(srv.IdleTimeout, srv.ReadTimeout)
	}
	s := &Server{cfg: cfg, srv: srv, paths: map[string]bool{}, conns: map[*conn]struct{}{}}
	s.idle.L = &s.mu
	for _, p := range cfg.Paths {
		s.paths[p] = true
	}
	return s
}

// Serve accepts connections on ln until it fails or the server is shut
// down, and returns what srv.Serve returns (http.ErrServerClosed after
// Shutdown or Close).
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	s.ln = ln
	s.handoff = newChanListener(ln.Addr())
	closing := s.closing.Load()
	s.mu.Unlock()
	if closing {
		ln.Close()
	}
	served := make(chan error, 1)
	go func() { served <- s.srv.Serve(s.handoff) }()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && !s.closing.Load() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay) // as net/http backs off temporary accept errors
				continue
			}
			s.handoff.fail(err)
			serr := <-served
			if s.closing.Load() {
				return http.ErrServerClosed
			}
			return serr
		}
		delay = 0
		if _, plain := nc.(*net.TCPConn); !plain || s.closing.Load() {
			s.handoff.give(nc) // TLS and the like: net/http's
			continue
		}
		c := s.newConn(nc)
		if c == nil {
			s.handoff.give(nc)
			continue
		}
		go c.serve()
	}
}

// Served is the number of requests answered here (not by net/http).
func (s *Server) Served() int64 { return s.served.Load() }

// Shutdown stops serving: the connections served here close once their
// current request is answered (idle ones at once), and srv shuts down with
// ctx. It waits for both or ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
	s.closeListener()
	s.wakeAll()
	err := s.srv.Shutdown(ctx)
	done := make(chan struct{})
	go func() {
		s.mu.Lock()
		for len(s.conns) > 0 {
			s.idle.Wait()
		}
		s.mu.Unlock()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		if err == nil {
			err = ctx.Err()
		}
	}
	return err
}

// Close closes every connection at once, and srv.
func (s *Server) Close() error {
	s.closing.Store(true)
	s.closeListener()
	s.mu.Lock()
	for c := range s.conns {
		c.nc.Close()
	}
	s.mu.Unlock()
	return s.srv.Close()
}

func (s *Server) closeListener() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		s.ln.Close()
	}
}

// wakeAll makes every connection's pending read return, so that it sees
// closing.
func (s *Server) wakeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		_ = c.nc.SetReadDeadline(time.Now())
	}
}

func (s *Server) newConn(nc net.Conn) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	ctx = context.WithValue(ctx, http.ServerContextKey, s.srv)
	ctx = context.WithValue(ctx, http.LocalAddrContextKey, nc.LocalAddr())
	c := &conn{s: s, nc: nc, ctx: ctx, cancel: cancel, remote: nc.RemoteAddr().String(),
		in: make([]byte, 0, 4<<10), names: newInterner()}
	s.conns[c] = struct{}{}
	return c
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.idle.Broadcast()
	s.mu.Unlock()
}

// conn is one connection served here.
type conn struct {
	s      *Server
	nc     net.Conn
	ctx    context.Context
	cancel context.CancelFunc
	remote string

	in    []byte // read, not consumed: in[off:]
	off   int
	out   []byte // responses not written yet
	names *interner
	base  *http.Request // with ctx; each request is a copy
	date  dateCache

	answered bool // a request was answered
}

func (c *conn) serve() {
	handed := false
	defer func() {
		c.cancel()
		c.s.forget(c)
		if !handed {
			c.nc.Close()
		}
	}()
	defer func() {
		if p := recover(); p != nil && p != http.ErrAbortHandler {
			c.s.logf("h1pipe: panic serving %s: %v", c.remote, p)
		}
	}()
	for {
		if c.s.closing.Load() {
			c.flush()
			return
		}
		req, n, verdict := c.next()
		switch verdict {
		case vServe:
		case vHandoff:
			if c.flush() != nil {
				return
			}
			_ = c.nc.SetReadDeadline(time.Time{})
			handed = true
			c.s.handoff.give(&replayConn{Conn: c.nc, pending: bytes.Clone(c.in[c.off:])})
			return
		default: // the connection ended or failed
			c.flush()
			return
		}
		c.off += n
		keep := c.answer(req)
		c.answered = true
		if c.off == len(c.in) {
			c.in, c.off = c.in[:0], 0
		}
		if !keep {
			c.flush()
			return
		}
		// Flush unless the next request is already here: its answer
		// goes out with this one.
		if !c.complete() || len(c.out) >= 64<<10 {
			if c.flush() != nil {
				return
			}
		}
	}
}

type verdict int

const (
	vServe verdict = iota
	vHandoff
	vEnd
)

// next returns the next request, reading until one is complete: vServe
// with the bytes it takes, vHandoff when net/http is to answer it, vEnd
// when the connection ended or failed first.
func (c *conn) next() (*parsed, int, verdict) {
	deadlineSet := false
	var started, headDone time.Time
	var partial *parsed
	for {
		if c.off < len(c.in) {
			p, n, st := parse(c.in[c.off:], c.s.paths, c.names)
			switch st {
			case parseOK:
				if c.s.cfg.Match != nil && !c.s.cfg.Match(p.path, p.header, p.body) {
					return nil, 0, vHandoff
				}
				return p, n, vServe
			case parseNotMine:
				return nil, 0, vHandoff
			}
			// parseShort: read on
			if p != nil && headDone.IsZero() {
				headDone = time.Now()
			}
			partial = p
		}
		if deadlineSet && len(c.in)-c.off >= MaxHead+MaxBody {
			return nil, 0, vHandoff
		}
		now := time.Now()
		var deadline time.Time
		if c.off == len(c.in) {
			// Between requests the idle timeout (none when zero); before
			// the first one the header timeout, as net/http.
			d := c.s.cfg.IdleTimeout
			if !c.answered {
				d = c.s.cfg.HeaderTimeout
			}
			if d > 0 {
				deadline = now.Add(d)
			}
		} else if !headDone.IsZero() {
			if d := c.s.cfg.BodyTimeout; d > 0 {
				deadline = headDone.Add(d)
			}
		} else {
			if started.IsZero() {
				started = now
			}
			if d := c.s.cfg.HeaderTimeout; d > 0 {
				deadline = started.Add(d)
			}
		}
		if err := c.nc.SetReadDeadline(deadline); err != nil {
			return nil, 0, vEnd
		}
		deadlineSet = true
		if c.s.closing.Load() {
			return nil, 0, vEnd
		}
		if c.off > 0 && c.off == len(c.in) {
			c.in, c.off = c.in[:0], 0
		}
		if cap(c.in)-len(c.in) < 2<<10 {
			// Move the unread part to the front, or grow (at most to the
			// bounds plus one read).
			rest := len(c.in) - c.off
			if c.off > 0 && c.off >= rest {
				copy(c.in, c.in[c.off:])
				c.in, c.off = c.in[:rest], 0
			} else {
				grown := make([]byte, rest, min(2*cap(c.in), MaxHead+MaxBody+8<<10)+2<<10)
				copy(grown, c.in[c.off:])
				c.in, c.off = grown, 0
			}
		}
		m, err := c.nc.Read(c.in[len(c.in):cap(c.in)])
		c.in = c.in[:len(c.in)+m]
		if m > 0 && started.IsZero() {
			started = now
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && c.off < len(c.in) && !c.s.closing.Load() {
				if partial != nil && !headDone.IsZero() {
					// The body did not arrive in time: the handler
					// answers, its read failing as net/http's would.
					partial.body = c.in[c.off+partial.head:]
					partial.bodyErr = err
					return partial, len(c.in) - c.off, vServe
				}
				// A head that did not arrive in time: net/http's to
				// answer (or time out) as it is.
				return nil, 0, vHandoff
			}
			return nil, 0, vEnd
		}
	}
}

// complete reports whether a whole request is already buffered.
func (c *conn) complete() bool {
	if c.off == len(c.in) {
		return false
	}
	return headComplete(c.in[c.off:])
}

func (c *conn) flush() error {
	if len(c.out) == 0 {
		return nil
	}
	_, err := c.nc.Write(c.out)
	if cap(c.out) > 256<<10 {
		c.out = nil
	} else {
		c.out = c.out[:0]
	}
	return err
}

// answer runs the handler for p and appends its response to c.out. It
// reports whether the connection stays open.
func (c *conn) answer(p *parsed) bool {
	if c.base == nil {
		// The connection's context is set once (WithContext copies).
		c.base = (&http.Request{
			Method:     http.MethodPost,
			Proto:      "HTTP/1.1",
			ProtoMajor: 1,
			ProtoMinor: 1,
			RemoteAddr: c.remote,
		}).WithContext(c.ctx)
	}
	req := new(http.Request)
	*req = *c.base
	req.URL = p.url()
	req.Header = p.header
	req.ContentLength = p.length
	req.Host = p.host
	req.RequestURI = p.path
	req.Body = http.NoBody
	w := &response{c: c, header: http.Header{}, keepAlive: !c.s.closing.Load()}
	if req.ContentLength > 0 {
		w.cw.reqBody = &body{b: p.body, err: p.bodyErr}
		req.Body = w.cw.reqBody
	}
	c.s.srv.Handler.ServeHTTP(w, req)
	w.finish()
	c.s.served.Add(1)
	return !w.closeAfter
}

func (s *Server) logf(format string, args ...any) {
	if s.srv.ErrorLog != nil {
		s.srv.ErrorLog.Printf(format, args...)
	}
}

// body is a request body already read whole.
type body struct {
	b      []byte
	closed bool
	sawEOF bool
	read   bool  // some of b was read (or taken)
	err    error // after b, instead of EOF: a read that timed out
}

func (b *body) Read(p []byte) (int, error) {
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	if len(b.b) == 0 {
		if b.err != nil {
			return 0, b.err
		}
		b.sawEOF = true
		return 0, eof
	}
	n := copy(p, b.b)
	b.b = b.b[n:]
	b.read = true
	return n, nil
}

// TakeWhole gives the body's bytes when it arrived whole and none was read
// (httpbound.InMemoryBody): they alias the connection's buffer, valid
// until the handler returns.
func (b *body) TakeWhole() ([]byte, bool) {
	if b.closed || b.sawEOF || b.err != nil || b.read {
		return nil, false
	}
	whole := b.b
	b.b, b.sawEOF, b.read = nil, true, true
	return whole, true
}

// Close is net/http's for a short body: the rest is read (so the next
// request follows), unless reading it failed.
func (b *body) Close() error {
	if !b.closed && b.err == nil {
		b.b = nil
		b.sawEOF = true
	}
	b.closed = true
	return nil
}

// dateCache formats net/http's Date once a second.
type dateCache struct {
	sec int64
	buf []byte
}

func (d *dateCache) now() []byte {
	t := time.Now()
	if s := t.Unix(); s != d.sec || d.buf == nil {
		d.sec = s
		d.buf = t.UTC().AppendFormat(d.buf[:0], http.TimeFormat)
	}
	return d.buf
}

var crlf = []byte("\r\n")

func appendStatusLine(b []byte, code int) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(code), 10)
	if text := http.StatusText(code); text != "" {
		b = append(b, ' ')
		b = append(b, text...)
	} else {
		b = append(b, " status code "...)
		b = strconv.AppendInt(b, int64(code), 10)
	}
	return append(b, crlf...)
}
