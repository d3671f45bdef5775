package h1pipe

import (
	"net"
	"sync"
)

// chanListener is the listener net/http serves: the connections handed to
// it.
type chanListener struct {
	addr  net.Addr
	conns chan net.Conn

	mu     sync.Mutex
	err    error         // set once the real listener failed
	done   chan struct{} // closed with err, or by Close
	closed bool
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.err != nil {
			return nil, l.err
		}
		return nil, net.ErrClosed
	}
}

// give hands c to net/http, or closes it when net/http no longer accepts.
func (l *chanListener) give(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.done:
		c.Close()
	}
}

// fail ends Accept with err.
func (l *chanListener) fail(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.err, l.closed = err, true
		close(l.done)
	}
}

func (l *chanListener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.closed = true
		close(l.done)
	}
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }

// replayConn reads the bytes already read from its connection first.
type replayConn struct {
	net.Conn
	pending []byte
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		if len(c.pending) == 0 {
			c.pending = nil
		}
		return n, nil
	}
	return c.Conn.Read(p)
}
