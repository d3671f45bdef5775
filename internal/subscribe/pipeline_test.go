package subscribe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestPipelineAnswersInOrder sends many concurrent calls through a
// Pipeline of two connections to a real server: each caller gets the
// answer to its own request (the server echoes the body), over no more
// than the two connections.
func TestPipelineAnswersInOrder(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Path", r.URL.Path)
		w.WriteHeader(http.StatusAccepted)
		w.Write(b)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	p := &Pipeline{Conns: 2}
	defer p.Close()
	hc := &http.Client{Transport: p}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 64*50)
	for g := range 64 {
		wg.Go(func() {
			for i := range 50 {
				body := fmt.Sprintf("call %d/%d", g, i)
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/p/"+body[5:], strings.NewReader(body))
				resp, err := hc.Do(req)
				if err != nil {
					errs <- err
					return
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted || string(got) != body || resp.Header.Get("X-Path") != "/p/"+body[5:] {
					errs <- fmt.Errorf("call %q: got %d %q (path %q)", body, resp.StatusCode, got, resp.Header.Get("X-Path"))
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := conns.Load(); n < 1 || n > 2 {
		t.Errorf("%d connections, want 1 or 2", n)
	}
}

// TestPipelineBrokenConnection: a connection the server closes mid-way
// fails the calls waiting on it with ErrPipelineBroken (not sent again);
// the next call dials a new connection and succeeds.
func TestPipelineBrokenConnection(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hang-up" {
			hj, _ := w.(http.Hijacker)
			c, _, _ := hj.Hijack()
			c.Close()
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	p := &Pipeline{Conns: 1}
	defer p.Close()
	hc := &http.Client{Transport: p}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	post := func(path string) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+path, strings.NewReader("x"))
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	if err := post("/ok"); err != nil {
		t.Fatal(err)
	}
	if err := post("/hang-up"); !errors.Is(err, ErrPipelineBroken) {
		t.Fatalf("hung-up call: %v, want ErrPipelineBroken", err)
	}
	if err := post("/ok"); err != nil {
		t.Fatalf("call after the broken connection: %v", err)
	}
	p.Close()
	if err := post("/ok"); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("call after Close: %v, want net.ErrClosed", err)
	}
}
