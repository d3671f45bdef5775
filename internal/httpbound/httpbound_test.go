package httpbound_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mesoproject/meso/internal/httpbound"
	"github.com/mesoproject/meso/internal/httpbound/httpboundtest"
)

const limit = 8 << 20

// serve runs a bounded server on loopback with three handlers: /read
// reads the body with ReadBody and answers its length and checksum (and
// /read-1m the same with a limit of 1 MiB), /ignore
// answers without reading, /hold reads the body and holds it until the
// client leaves, /stream reads the body and then writes a line every 20 ms
// for 15 lines.
func serve(t *testing.T, cfg httpbound.Config) (*httpbound.Bounds, string) {
	t.Helper()
	b, err := httpbound.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	read := func(limit int64) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			body, release, err := b.ReadBody(w, r, limit)
			if err != nil {
				http.Error(w, err.Error(), httpbound.Status(err))
				return
			}
			defer release()
			fmt.Fprintf(w, "%d %x", len(body), sum(body))
		}
	}
	mux.HandleFunc("/read", read(limit))
	mux.HandleFunc("/read-1m", read(1<<20))
	mux.HandleFunc("/ignore", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/hold", func(w http.ResponseWriter, r *http.Request) {
		_, release, err := b.ReadBody(w, r, limit)
		if err != nil {
			http.Error(w, err.Error(), httpbound.Status(err))
			return
		}
		defer release()
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		_, release, err := b.ReadBody(w, r, limit)
		if err != nil {
			http.Error(w, err.Error(), httpbound.Status(err))
			return
		}
		release()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := range 15 {
			fmt.Fprintf(w, "line %d\n", i)
			w.(http.Flusher).Flush()
			select {
			case <-tick.C:
			case <-r.Context().Done():
				return
			}
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := b.Server(mux)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return b, ln.Addr().String()
}

func sum(b []byte) (s uint32) {
	for _, c := range b {
		s = s*31 + uint32(c)
	}
	return s
}

func post(t *testing.T, url string, body io.Reader) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/octet-stream", body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(msg)
}

func TestConfigDefaultsAndErrors(t *testing.T) {
	b, err := httpbound.New(httpbound.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Config(); got.BodyTimeout != httpbound.DefaultBodyTimeout || got.BodyMemory != httpbound.DefaultBodyMemory ||
		got.HeaderTimeout != httpbound.DefaultHeaderTimeout || got.IdleTimeout != httpbound.DefaultIdleTimeout {
		t.Fatalf("defaults: %+v", got)
	}
	srv := b.Server(http.NotFoundHandler())
	if srv.ReadHeaderTimeout == 0 || srv.IdleTimeout == 0 || srv.MaxHeaderBytes != httpbound.MaxHeaderBytes {
		t.Fatalf("server bounds: header %s idle %s max header %d", srv.ReadHeaderTimeout, srv.IdleTimeout, srv.MaxHeaderBytes)
	}
	if srv.ReadTimeout != 0 || srv.WriteTimeout != 0 {
		t.Fatal("ReadTimeout/WriteTimeout set: they would end streaming responses")
	}
	for _, cfg := range []httpbound.Config{{BodyTimeout: -1}, {HeaderTimeout: -1}, {IdleTimeout: -1}, {BodyMemory: -1}} {
		if _, err := httpbound.New(cfg); !errors.Is(err, httpbound.ErrConfig) || !strings.Contains(err.Error(), "--http_") {
			t.Errorf("New(%+v): %v, want ErrConfig naming the flag", cfg, err)
		}
	}
}

// A declared length over the limit is refused before any of it is read.
func TestDeclaredTooLargeAnsweredAtOnce(t *testing.T) {
	_, addr := serve(t, httpbound.Config{})
	conn := httpboundtest.Post(t, addr, "/read", 10<<30, nil)
	start := time.Now()
	status, err := httpboundtest.Status(conn, 5*time.Second)
	if err != nil || status != http.StatusRequestEntityTooLarge {
		t.Fatalf("declared 10 GiB: %d, %v; want 413 without sending data", status, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("413 took %s", d)
	}
}

func TestBodiesReadWhole(t *testing.T) {
	_, addr := serve(t, httpbound.Config{})
	for _, n := range []int{0, 1, httpbound.SmallBody - 1, httpbound.SmallBody, httpbound.SmallBody + 1, 300 << 10, 1 << 20} {
		data := bytes.Repeat([]byte("abcdefg"), n/7+1)[:n]
		want := fmt.Sprintf("%d %x", n, sum(data))
		// bytes.Reader declares its length; a plain reader goes chunked.
		for name, body := range map[string]io.Reader{"declared": bytes.NewReader(data), "chunked": io.MultiReader(bytes.NewReader(data))} {
			if status, got := post(t, "http://"+addr+"/read-1m", body); status != 200 || got != want {
				t.Errorf("%s %d bytes: %d %q, want 200 %q", name, n, status, got, want)
			}
		}
	}
	// Over the limit without a declared length: 413 once the limit is passed.
	if status, msg := post(t, "http://"+addr+"/read-1m", io.MultiReader(httpboundtest.Pattern(1<<20+1))); status != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked body over the limit: %d %s", status, msg)
	}
}

// Many clients trickling a body are all cut at the body deadline, whether
// the handler reads the body or not, and a normal client is served
// meanwhile.
func TestSlowBodiesCut(t *testing.T) {
	const timeout = 200 * time.Millisecond
	_, addr := serve(t, httpbound.Config{BodyTimeout: timeout})
	slow := httpboundtest.Trickle(t, addr, "/read", nil, 100, 1000, 20*time.Millisecond)
	ignoring := httpboundtest.Trickle(t, addr, "/ignore", nil, 50, 1000, 20*time.Millisecond)
	if status, got := post(t, "http://"+addr+"/read", strings.NewReader("hello")); status != 200 || !strings.HasPrefix(got, "5 ") {
		t.Fatalf("normal client among slow ones: %d %q", status, got)
	}
	for name, tr := range map[string]*httpboundtest.Tricklers{"reading": slow, "ignoring": ignoring} {
		for _, c := range tr.Wait(10 * time.Second) {
			if c.Err != nil || c.After < timeout || c.After > 5*time.Second {
				t.Fatalf("%s handler: a trickling client ended after %s (status %d, %v); want cut soon after %s",
					name, c.After, c.Status, c.Err, timeout)
			}
			if name == "reading" && c.Status != http.StatusRequestTimeout {
				t.Fatalf("reading handler: trickling client got %d, want 408", c.Status)
			}
		}
	}
}

// A streaming response lives on after its body deadline.
func TestStreamOutlivesBodyDeadline(t *testing.T) {
	_, addr := serve(t, httpbound.Config{BodyTimeout: 50 * time.Millisecond})
	resp, err := http.Post("http://"+addr+"/stream", "text/plain", strings.NewReader("subscribe"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := 0
	start := time.Now()
	for sc := bufio.NewScanner(resp.Body); sc.Scan(); lines++ {
	}
	if lines != 15 {
		t.Fatalf("stream ended after %d of 15 lines (%s, body deadline 50ms)", lines, time.Since(start))
	}
}

// Large bodies wait for the memory budget in turn; their heap stays near
// the budget, while small calls pass at once.
func TestLargeBodiesShareBudget(t *testing.T) {
	const size, clients = 8 << 20, 8
	_, addr := serve(t, httpbound.Config{BodyMemory: 8 << 20, BodyTimeout: time.Minute})
	heap := httpboundtest.StartHeapPeak()
	var wg sync.WaitGroup
	statuses := make(chan int, clients)
	for range clients {
		wg.Go(func() {
			status, err := httpboundtest.PostLarge("http://"+addr+"/read", "application/octet-stream", size)
			if err != nil {
				t.Error(err)
			}
			statuses <- status
		})
	}
	wg.Wait()
	grew := heap.Stop()
	close(statuses)
	for s := range statuses {
		if s != 200 {
			t.Errorf("large body: %d, want 200 after waiting its turn", s)
		}
	}
	// Without the budget the 8 bodies are in memory at once: 64 MiB.
	if grew > 40<<20 {
		t.Fatalf("heap grew by %d MiB for %d concurrent %d MiB bodies under an 8 MiB budget", grew>>20, clients, size>>20)
	}
	t.Logf("heap grew by %d MiB", grew>>20)
}

// A large body that cannot get memory by its deadline gets 503; a small
// one is served meanwhile.
func TestBusyBudget(t *testing.T) {
	_, addr := serve(t, httpbound.Config{BodyMemory: 1 << 20, BodyTimeout: 300 * time.Millisecond})
	holder, err := http.Post("http://"+addr+"/hold", "text/plain", bytes.NewReader(make([]byte, 1<<20)))
	if err != nil || holder.StatusCode != 200 {
		t.Fatalf("holder: %v %v", holder, err)
	}
	status, msg := post(t, "http://"+addr+"/read", bytes.NewReader(make([]byte, 512<<10)))
	if status != http.StatusServiceUnavailable || !strings.Contains(msg, "--http_body_memory") {
		t.Fatalf("large body while the budget is held: %d %q, want 503 naming --http_body_memory", status, msg)
	}
	if status, got := post(t, "http://"+addr+"/read", strings.NewReader("small")); status != 200 || !strings.HasPrefix(got, "5 ") {
		t.Fatalf("small body while the budget is held: %d %q", status, got)
	}
	holder.Body.Close() // the holder leaves and releases its memory
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, msg := post(t, "http://"+addr+"/read", bytes.NewReader(make([]byte, 512<<10)))
		if status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("large body after the holder left: %d %q", status, msg)
		}
	}
}

// h2c returns a client that speaks HTTP/2 without TLS only (prior
// knowledge), as the simulator's agents do with --http2.
func h2c() *http.Client {
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: p}, Timeout: 10 * time.Second}
}

// HTTP2Cleartext serves HTTP/2 to clients that start with its preface,
// under the same bounds: a stream outlives the body deadline, a trickled
// body is cut with 408. Off (the default) a server speaks HTTP/1.1 only.
func TestHTTP2Cleartext(t *testing.T) {
	const timeout = 200 * time.Millisecond
	_, addr := serve(t, httpbound.Config{BodyTimeout: timeout, HTTP2Cleartext: true})
	c := h2c()
	resp, err := c.Post("http://"+addr+"/stream", "text/plain", strings.NewReader("subscribe"))
	if err != nil {
		t.Fatal(err)
	}
	lines := 0
	for sc := bufio.NewScanner(resp.Body); sc.Scan(); lines++ {
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 || lines != 15 {
		t.Fatalf("stream over %s: %d of 15 lines", resp.Proto, lines)
	}

	pr, pw := io.Pipe()
	go func() {
		defer pw.Close()
		for range 100 {
			if _, err := pw.Write([]byte("x")); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond) // the trickle itself, not a wait
		}
	}()
	start := time.Now()
	resp, err = c.Post("http://"+addr+"/read", "application/octet-stream", pr)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if took := time.Since(start); resp.ProtoMajor != 2 || resp.StatusCode != http.StatusRequestTimeout || took > 5*time.Second {
		t.Fatalf("trickled body over %s: %d after %s; want 408 soon after %s", resp.Proto, resp.StatusCode, took, timeout)
	}

	_, plain := serve(t, httpbound.Config{})
	if resp, err := h2c().Get("http://" + plain + "/ignore"); err == nil {
		resp.Body.Close()
		if resp.ProtoMajor == 2 {
			t.Fatal("a default server spoke HTTP/2")
		}
	}
	if status, _ := post(t, "http://"+plain+"/read", strings.NewReader("hello")); status != 200 {
		t.Fatalf("HTTP/1.1 on a default server: %d", status)
	}
}
