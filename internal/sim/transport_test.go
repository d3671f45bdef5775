package sim

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Over HTTP/2 the transport shares its connections: many streams held
// open at once (as the agents' links are) and short calls beside them
// (as the senders' are) dial a few connections, not one per request,
// even with the idle pool run asks for (conns − agents, negative). The
// first requests race to dial (15-25 connections measured; 600, one per
// request, before the transport kept HTTP/2 connections in its pool).
func TestTransportHTTP2SharesConnections(t *testing.T) {
	const streams, calls, conns = 300, 300, 8
	var dialed atomic.Int64
	release := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		if r.URL.Path == "/stream" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
	}))
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dialed.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	defer close(release)

	cfg := Config{HTTP2: true}
	tr := cfg.transport(&net.Dialer{Timeout: 10 * time.Second}, conns, conns-streams)
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	get := func(path string) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
		if err != nil {
			return nil, err
		}
		return hc.Do(req)
	}
	var wg sync.WaitGroup
	errs := make(chan error, streams+calls)
	for range streams {
		wg.Go(func() {
			resp, err := get("/stream")
			if err != nil {
				errs <- err
				return
			}
			if resp.ProtoMajor != 2 {
				errs <- io.ErrUnexpectedEOF
			}
			// Held open until the test ends, like a link.
			go func() { _, _ = io.Copy(io.Discard, resp.Body); resp.Body.Close() }()
		})
	}
	wg.Wait()
	for range calls {
		wg.Go(func() {
			resp, err := get("/call")
			if err != nil {
				errs <- err
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n, most := dialed.Load(), int64(streams+calls)/10; n > most {
		t.Fatalf("%d streams and %d calls over HTTP/2 dialed %d connections; want at most %d", streams, calls, n, most)
	}
	t.Logf("%d streams and %d calls over HTTP/2: %d connections", streams, calls, dialed.Load())
}
