package subscribe

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
)

// DefaultPipelineConns is how many connections a Pipeline keeps per host.
const DefaultPipelineConns = 4

// maxPipelinedBody bounds an answer a Pipeline reads (calls' answers are
// short; a longer one fails its call and its connection).
const maxPipelinedBody = 16 << 20

// ErrPipelineBroken is the error of a call whose connection broke before
// its answer arrived: it may or may not have been served (a POST is not
// sent again).
var ErrPipelineBroken = errors.New("subscribe: pipelined connection broke before the answer")

// Pipeline is an http.RoundTripper for calls (requests with short,
// complete answers, never a stream) to plain-http hosts that pipelines
// them as HTTP/1.1 allows: the requests waiting for one connection are
// written together (one write for many) and their answers read in order.
// Each answer's body is read whole before RoundTrip returns. https
// requests go to Fallback (DefaultTransport when nil). The zero value is
// ready to use; Close ends its connections.
type Pipeline struct {
	// Conns is the number of connections per host (DefaultPipelineConns
	// when zero): a server answers one connection's requests one after
	// the other, so concurrency needs several.
	Conns int
	// Dial opens a connection (a net.Dialer's DialContext when nil).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Fallback carries the requests a Pipeline does not (https).
	Fallback http.RoundTripper

	mu     sync.Mutex
	hosts  map[string]*pipeHost
	closed bool
}

type pipeHost struct {
	mu    sync.Mutex
	conns []*pipeConn
	next  int
}

type pipeResult struct {
	resp *http.Response
	err  error
}

type pipeCall struct {
	req  *http.Request
	done chan pipeResult // buffered: the reader never waits for a caller gone
}

type pipeConn struct {
	nc       net.Conn
	mu       sync.Mutex
	queue    []*pipeCall
	dead     error
	wake     chan struct{}
	inflight chan *pipeCall // written, answers due in this order
}

// RoundTrip queues req on one of its host's connections and waits for its
// answer or req's context.
func (p *Pipeline) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "http" {
		fb := p.Fallback
		if fb == nil {
			fb = DefaultTransport
		}
		return fb.RoundTrip(req)
	}
	call := &pipeCall{req: req, done: make(chan pipeResult, 1)}
	if err := p.enqueue(req.Context(), req.URL.Host, call); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	select {
	case r := <-call.done:
		return r.resp, r.err
	case <-req.Context().Done():
		return nil, req.Context().Err()
	}
}

// Close closes every connection; calls waiting on them fail.
func (p *Pipeline) Close() {
	p.mu.Lock()
	p.closed = true
	hosts := p.hosts
	p.hosts = nil
	p.mu.Unlock()
	for _, h := range hosts {
		h.mu.Lock()
		for _, c := range h.conns {
			if c != nil {
				c.fail(net.ErrClosed)
			}
		}
		h.mu.Unlock()
	}
}

func (p *Pipeline) enqueue(ctx context.Context, host string, call *pipeCall) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return net.ErrClosed
	}
	if p.hosts == nil {
		p.hosts = map[string]*pipeHost{}
	}
	h := p.hosts[host]
	if h == nil {
		n := p.Conns
		if n <= 0 {
			n = DefaultPipelineConns
		}
		h = &pipeHost{conns: make([]*pipeConn, n)}
		p.hosts[host] = h
	}
	p.mu.Unlock()

	h.mu.Lock()
	defer h.mu.Unlock()
	i := h.next
	h.next = (h.next + 1) % len(h.conns)
	if c := h.conns[i]; c != nil && c.push(call) {
		return nil
	}
	c, err := p.dial(ctx, host)
	if err != nil {
		return err
	}
	h.conns[i] = c
	if !c.push(call) {
		return ErrPipelineBroken
	}
	return nil
}

func (p *Pipeline) dial(ctx context.Context, host string) (*pipeConn, error) {
	dial := p.Dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	nc, err := dial(ctx, "tcp", host)
	if err != nil {
		return nil, err
	}
	c := &pipeConn{nc: nc, wake: make(chan struct{}, 1), inflight: make(chan *pipeCall, 1024)}
	go c.writeLoop()
	go c.readLoop()
	return c, nil
}

// push queues call unless the connection is dead.
func (c *pipeConn) push(call *pipeCall) bool {
	c.mu.Lock()
	if c.dead != nil {
		c.mu.Unlock()
		return false
	}
	c.queue = append(c.queue, call)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return true
}

// fail marks the connection dead (the first error wins) and closes it.
func (c *pipeConn) fail(err error) {
	c.mu.Lock()
	if c.dead == nil {
		c.dead = err
	}
	c.mu.Unlock()
	c.nc.Close()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// writeLoop writes every queued request, then flushes once.
func (c *pipeConn) writeLoop() {
	defer func() { // the calls still queued were never written
		c.mu.Lock()
		if c.dead == nil {
			c.dead = net.ErrClosed
		}
		rest, dead := c.queue, c.dead
		c.queue = nil
		c.mu.Unlock()
		for _, call := range rest {
			call.done <- pipeResult{err: fmt.Errorf("%w: %w", ErrPipelineBroken, dead)}
		}
		close(c.inflight)
	}()
	bw := bufio.NewWriterSize(c.nc, 16<<10)
	var batch []*pipeCall
	keys := make([]string, 0, 16) // writePlain's
	for range c.wake {
		c.mu.Lock()
		batch, c.queue = c.queue, batch[:0]
		dead := c.dead
		c.mu.Unlock()
		if dead != nil {
			for _, call := range batch {
				call.done <- pipeResult{err: fmt.Errorf("%w: %w", ErrPipelineBroken, dead)}
			}
			return
		}
		for i, call := range batch {
			c.inflight <- call // before its bytes: the reader expects it
			ok, err := writePlain(bw, call.req, keys)
			if !ok {
				err = call.req.Write(bw)
			}
			if err != nil {
				c.fail(err)
				for _, rest := range batch[i+1:] {
					rest.done <- pipeResult{err: fmt.Errorf("%w: %w", ErrPipelineBroken, err)}
				}
				return
			}
		}
		clear(batch)
		if err := bw.Flush(); err != nil {
			c.fail(err)
			return
		}
	}
}

// readLoop reads the answers in the order their requests were written.
func (c *pipeConn) readLoop() {
	br := bufio.NewReaderSize(c.nc, 16<<10)
	var names headerInterner
	var broken error
	for call := range c.inflight {
		if broken != nil {
			call.done <- pipeResult{err: broken}
			continue
		}
		resp, ok := readBuffered(br, call.req, &names)
		var err error
		if !ok {
			resp, err = readWhole(br, call.req)
		}
		if err != nil {
			c.fail(err)
			broken = fmt.Errorf("%w: %w", ErrPipelineBroken, err)
			call.done <- pipeResult{err: broken}
			continue
		}
		call.done <- pipeResult{resp: resp}
		if resp.Close {
			c.fail(errors.New("server closed the connection"))
			broken = fmt.Errorf("%w: the server closed it", ErrPipelineBroken)
		}
	}
}

// readWhole reads one answer with its whole body.
func readWhole(br *bufio.Reader, req *http.Request) (*http.Response, error) {
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPipelinedBody+1))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if len(body) > maxPipelinedBody {
		return nil, fmt.Errorf("answer body over %d bytes", maxPipelinedBody)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}
