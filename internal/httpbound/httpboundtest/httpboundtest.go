// Package httpboundtest drives a server on loopback the way a hostile or
// faulty client would: a declared body that never comes, bodies trickled
// a byte at a time, large bodies sent at once; and it samples the test
// process's heap, so a test can assert that the server stays bounded.
package httpboundtest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"testing"
	"time"
)

// Post opens a connection to addr (host:port) and writes the head of a
// POST to path declaring a body of declared bytes, and no body. The
// connection is closed when the test ends.
func Post(t testing.TB, addr, path string, declared int64, header http.Header) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", path, addr, declared)
	for k, vs := range header {
		for _, v := range vs {
			head += k + ": " + v + "\r\n"
		}
	}
	if _, err := io.WriteString(conn, head+"\r\n"); err != nil {
		t.Fatal(err)
	}
	return conn
}

// Status reads the status of the response on conn, waiting at most d.
func Status(conn net.Conn, d time.Duration) (int, error) {
	if err := conn.SetReadDeadline(time.Now().Add(d)); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// Cut is how one trickling client ended.
type Cut struct {
	After  time.Duration // from its request head to the server's answer or close
	Status int           // the answer's status; 0 when the server closed the connection without one
	Err    error         // set when the server neither answered nor closed it in time
}

// Trickle starts n clients that each POST to path declaring declared bytes
// and then send one byte every interval, until the server answers or
// closes the connection. Wait collects how each one ended.
func Trickle(t testing.TB, addr, path string, header http.Header, n int, declared int64, every time.Duration) *Tricklers {
	t.Helper()
	tr := &Tricklers{cuts: make(chan Cut, n), n: n, stop: make(chan struct{})}
	t.Cleanup(tr.close)
	for range n {
		start := time.Now()
		conn := Post(t, addr, path, declared, header)
		tr.wg.Go(func() { tr.trickle(conn, every) })
		tr.wg.Go(func() {
			status, err := Status(conn, time.Minute)
			cut := Cut{After: time.Since(start), Status: status}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				cut.Err = err
			}
			conn.Close()
			tr.cuts <- cut
		})
	}
	return tr
}

// Tricklers are the clients Trickle started.
type Tricklers struct {
	n        int
	cuts     chan Cut
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

func (tr *Tricklers) trickle(conn net.Conn, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-tr.stop:
			return
		case <-tick.C:
		}
		if _, err := conn.Write([]byte{'x'}); err != nil {
			return
		}
	}
}

// Wait returns how every client ended, waiting at most timeout; clients
// still held then are reported with an error.
func (tr *Tricklers) Wait(timeout time.Duration) []Cut {
	deadline := time.After(timeout)
	var cuts []Cut
	for len(cuts) < tr.n {
		select {
		case c := <-tr.cuts:
			cuts = append(cuts, c)
		case <-deadline:
			for len(cuts) < tr.n {
				cuts = append(cuts, Cut{After: timeout, Err: fmt.Errorf("still held after %s", timeout)})
			}
		}
	}
	return cuts
}

func (tr *Tricklers) close() {
	tr.stopOnce.Do(func() { close(tr.stop) })
	tr.wg.Wait()
}

// bigClient writes request bodies in large pieces: the default 4 KiB
// would make sending large bodies slow.
var bigClient = &http.Client{Transport: &http.Transport{WriteBufferSize: 256 << 10}}

// PostLarge posts size bytes of Pattern to url, declaring their length,
// and returns the response's status once its body is read.
func PostLarge(url, contentType string, size int64) (int, error) {
	req, err := http.NewRequest(http.MethodPost, url, Pattern(size))
	if err != nil {
		return 0, err
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", contentType)
	resp, err := bigClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}

// Pattern is a reader of n bytes ('x') that holds no buffer of its own,
// so that a client sending a large body costs the test process nothing.
func Pattern(n int64) io.Reader { return &pattern{left: n} }

type pattern struct{ left int64 }

// block is what pattern copies from: one copy per read, not a loop per byte
// (which the race detector would slow down a lot).
var block = bytes.Repeat([]byte{'x'}, 32<<10)

func (p *pattern) Read(b []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	n := copy(b[:min(int64(len(b)), p.left)], block)
	p.left -= int64(n)
	return n, nil
}

// HeapPeak samples the bytes of the process's heap objects (live and not
// yet swept), every millisecond until Stop. While it samples, the
// collector runs at GOGC=25, so that garbage the bodies leave (more of it
// on a loaded machine, where collection lags) weighs less against what
// is live.
type HeapPeak struct {
	base  uint64
	peak  chan uint64
	stop  chan struct{}
	gcWas int
}

const heapObjects = "/memory/classes/heap/objects:bytes"

func heapNow() uint64 {
	s := []metrics.Sample{{Name: heapObjects}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// StartHeapPeak collects garbage, notes the heap as the base, and starts
// sampling.
func StartHeapPeak() *HeapPeak {
	was := debug.SetGCPercent(25)
	runtime.GC()
	h := &HeapPeak{base: heapNow(), peak: make(chan uint64, 1), stop: make(chan struct{}), gcWas: was}
	go func() {
		peak := h.base
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			peak = max(peak, heapNow())
			select {
			case <-h.stop:
				h.peak <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return h
}

// Stop ends the sampling and returns the peak's growth over the base.
func (h *HeapPeak) Stop() uint64 {
	close(h.stop)
	peak := <-h.peak
	debug.SetGCPercent(h.gcWas)
	return peak - h.base
}
