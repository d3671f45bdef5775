package memnet

import (
	"context"
	"errors"
	"net"
	"sync"
)

// Listener is an in-memory net.Listener. Each Dial hands one end of a
// net.Pipe to a pending Accept and returns the other.
type Listener struct {
	addr   Addr
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

// Listen returns a Listener whose Addr prints as addr (a host:port the
// tests' URLs name; any address dialed reaches this listener).
func Listen(addr string) *Listener {
	return &Listener{addr: Addr(addr), conns: make(chan net.Conn), closed: make(chan struct{})}
}

// Accept waits for a Dial or for Close.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close makes pending and later Accepts and Dials fail.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

// Addr is the address given to Listen.
func (l *Listener) Addr() net.Addr { return l.addr }

// Dial connects to the listener whatever the network and address; it has
// the shape of http.Transport's DialContext.
func (l *Listener) Dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.closed:
		return nil, errors.New("memnet: connection refused")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Addr is a net.Addr of network "mem".
type Addr string

// Network is "mem".
func (Addr) Network() string { return "mem" }

func (a Addr) String() string { return string(a) }
