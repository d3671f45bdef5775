package h1pipe

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// handler answers by the request's X-Case header, in the ways a handler
// may shape net/http's answer.
func handler(w http.ResponseWriter, r *http.Request) {
	switch r.Header.Get("X-Case") {
	case "empty":
	case "202":
		w.WriteHeader(http.StatusAccepted)
	case "text":
		io.WriteString(w, "hello\n")
	case "html":
		io.WriteString(w, "<html><body>x</body></html>")
	case "error":
		http.Error(w, "bad call", http.StatusBadRequest)
	case "big":
		w.Write(bytes.Repeat([]byte("a"), 5000))
	case "big2":
		w.Write(bytes.Repeat([]byte("b"), 1000))
		w.Write(bytes.Repeat([]byte("c"), 1500))
		w.Write(bytes.Repeat([]byte("d"), 10))
	case "exact":
		w.Write(bytes.Repeat([]byte("e"), bufferBeforeChunking))
	case "cl":
		w.Header().Set("Content-Length", "5")
		io.WriteString(w, "hello")
	case "cl-short":
		w.Header().Set("Content-Length", "10")
		io.WriteString(w, "hello")
	case "date":
		w.Header().Set("Date", "yesterday")
		w.WriteHeader(http.StatusTeapot)
	case "after":
		w.Header().Set("X-Before", "1")
		w.WriteHeader(http.StatusCreated)
		w.Header().Set("X-After", "1")
		io.WriteString(w, "{}")
	case "after-only":
		w.WriteHeader(http.StatusCreated)
		w.Header().Set("X-After", "1")
	case "204":
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", "3")
		w.WriteHeader(http.StatusNoContent)
		if _, err := w.Write([]byte("abc")); !errors.Is(err, http.ErrBodyNotAllowed) {
			panic("write on a 204")
		}
	case "304":
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Etag", `"x"`)
		w.WriteHeader(http.StatusNotModified)
	case "close":
		w.Header().Set("Connection", "close")
		io.WriteString(w, "bye")
	case "trailer":
		w.Header().Set("Trailer", "X-Sum")
		io.WriteString(w, "body")
		w.Header().Set("X-Sum", "42")
	case "ce":
		w.Header().Set("Content-Encoding", "identity")
		io.WriteString(w, "<html>")
	case "echo":
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(b)
	case "closebody":
		r.Body.Close()
		w.WriteHeader(http.StatusAccepted)
	case "599":
		w.WriteHeader(599)
	case "twice":
		w.WriteHeader(http.StatusAccepted)
		w.WriteHeader(http.StatusOK)
	case "hints":
		w.Header().Set("Link", "</a.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		io.WriteString(w, "after hints")
	case "multi":
		w.Header().Add("X-M", "1")
		w.Header().Add("X-M", " 2 ")
		w.Header().Add("A-First", "v\r\nw")
		w.WriteHeader(http.StatusAccepted)
	case "panic":
		panic(http.ErrAbortHandler)
	default:
		http.Error(w, "no case "+r.Header.Get("X-Case")+" "+r.Method+" "+r.URL.Path+" "+r.Host, http.StatusNotFound)
	}
}

// servers starts net/http and h1pipe with the same handler: the address of
// each and h1pipe's Server.
func servers(t *testing.T, h http.Handler) (plain, fast string, s *Server) {
	t.Helper()
	ln1, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv1 := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, MaxHeaderBytes: 64 << 10}
	srv2 := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, MaxHeaderBytes: 64 << 10}
	s = New(srv2, Config{Paths: []string{"/call"}})
	var wg sync.WaitGroup
	wg.Go(func() { srv1.Serve(ln1) })
	wg.Go(func() { s.Serve(ln2) })
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv1.Shutdown(ctx)
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		wg.Wait()
	})
	return ln1.Addr().String(), ln2.Addr().String(), s
}

var dateRE = regexp.MustCompile(`\r\nDate: [A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT\r\n`)

// roundTrip writes req on a new connection and reads until n answers came
// or the connection ended: the raw bytes (Date values blanked) and whether
// it ended.
func roundTrip(t *testing.T, addr, req string, n int) ([]byte, bool) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var raw bytes.Buffer
	r := bufio.NewReader(io.TeeReader(nc, &raw))
	nc.Write([]byte(req))
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	for range n {
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			break
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusEarlyHints {
			n++ // not an answer of its own
		}
	}
	got := raw.Bytes()[:raw.Len()-r.Buffered()]
	nc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	_, err = io.Copy(io.Discard, r)
	var ne net.Error
	ended := err == nil || !(errors.As(err, &ne) && ne.Timeout())
	return dateRE.ReplaceAll(bytes.Clone(got), []byte("\r\nDate: -\r\n")), ended
}

func post(c, body string, extra ...string) string {
	return fmt.Sprintf("POST /call HTTP/1.1\r\nHost: h\r\nX-Case: %s\r\n%sContent-Length: %d\r\n\r\n%s",
		c, strings.Join(append(extra, ""), "\r\n"), len(body), body)
}

var cases = []string{"empty", "202", "text", "html", "error", "big", "big2", "exact", "cl", "cl-short", "date", "after",
	"after-only", "204", "304", "close", "trailer", "ce", "echo", "closebody", "599", "twice", "hints", "multi", "panic", "unknown"}

func TestAnswersAsNetHTTP(t *testing.T) {
	plain, fast, s := servers(t, http.HandlerFunc(handler))
	for _, c := range cases {
		for _, body := range []string{"", "call body"} {
			req := post(c, body)
			before := s.Served()
			want, wantEnd := roundTrip(t, plain, req, 1)
			got, gotEnd := roundTrip(t, fast, req, 1)
			if !bytes.Equal(got, want) || gotEnd != wantEnd {
				t.Errorf("%s, body %q:\nh1pipe   (ended %v): %q\nnet/http (ended %v): %q", c, body, gotEnd, got, wantEnd, want)
			}
			if s.Served() == before && c != "panic" {
				t.Errorf("%s: not served by h1pipe", c)
			}
		}
	}
	// Pipelined: every answer that keeps the connection, in order, in
	// the same bytes.
	var batch strings.Builder
	n := 0
	for _, c := range cases {
		switch c {
		case "close", "cl-short", "closebody", "panic":
			continue
		}
		batch.WriteString(post(c, "x"))
		n++
	}
	want, _ := roundTrip(t, plain, batch.String(), n)
	got, _ := roundTrip(t, fast, batch.String(), n)
	if !bytes.Equal(got, want) {
		t.Errorf("pipelined:\nh1pipe:   %q\nnet/http: %q", got, want)
	}
}

// What the parser does not take goes to net/http, which answers it on the
// same connection, and keeps it.
func TestHandsOff(t *testing.T) {
	plain, fast, s := servers(t, http.HandlerFunc(handler))
	for _, tc := range []struct{ name, req string }{
		{"GET", "GET /call HTTP/1.1\r\nHost: h\r\nX-Case: text\r\n\r\n"},
		{"other path", strings.Replace(post("text", "x"), "/call", "/other", 1)},
		{"query", strings.Replace(post("text", "x"), "/call", "/call?a=1", 1)},
		{"HTTP/1.0", strings.Replace(post("text", "x"), "HTTP/1.1", "HTTP/1.0", 1)},
		{"chunked", "POST /call HTTP/1.1\r\nHost: h\r\nX-Case: echo\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"},
		{"expect", post("echo", "abc", "Expect: 100-continue")},
		{"Connection: close", post("text", "x", "Connection: close")},
		{"upgrade", post("text", "x", "Connection: Upgrade", "Upgrade: h2c")},
		{"two lengths", "POST /call HTTP/1.1\r\nHost: h\r\nX-Case: echo\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc"},
		{"bad length", "POST /call HTTP/1.1\r\nHost: h\r\nX-Case: echo\r\nContent-Length: +3\r\n\r\nabc"},
		{"no host", "POST /call HTTP/1.1\r\nX-Case: text\r\nContent-Length: 0\r\n\r\n"},
		{"two hosts", "POST /call HTTP/1.1\r\nHost: a\r\nHost: b\r\nX-Case: text\r\nContent-Length: 0\r\n\r\n"},
		{"bare LF", "POST /call HTTP/1.1\nHost: h\nX-Case: text\nContent-Length: 0\n\n"},
		{"folded", "POST /call HTTP/1.1\r\nHost: h\r\nX-Case: text\r\n x\r\nContent-Length: 0\r\n\r\n"},
		{"space before colon", "POST /call HTTP/1.1\r\nHost: h\r\nX-Case : text\r\nContent-Length: 0\r\n\r\n"},
		{"control in value", "POST /call HTTP/1.1\r\nHost: h\r\nX-Case: te\x01xt\r\nContent-Length: 0\r\n\r\n"},
		{"big head", post("text", "x", "X-Pad: "+strings.Repeat("p", MaxHead))},
		{"big body", post("echo", strings.Repeat("b", MaxBody+1))},
		{"pragma", post("text", "x", "Pragma: no-cache")},
	} {
		before := s.Served()
		// The request, then one h1pipe would take: both answered by
		// net/http once handed off.
		req := tc.req + post("202", "")
		want, wantEnd := roundTrip(t, plain, req, 2)
		got, gotEnd := roundTrip(t, fast, req, 2)
		if !bytes.Equal(got, want) || gotEnd != wantEnd {
			t.Errorf("%s:\nh1pipe   (ended %v): %q\nnet/http (ended %v): %q", tc.name, gotEnd, got, wantEnd, want)
		}
		if s.Served() != before {
			t.Errorf("%s: served by h1pipe", tc.name)
		}
	}
	// After requests it served, h1pipe hands the connection over at the
	// first it does not take; the answers stay in order.
	req := post("text", "1") + post("202", "") + "GET /call HTTP/1.1\r\nHost: h\r\nX-Case: html\r\n\r\n" + post("error", "")
	want, _ := roundTrip(t, plain, req, 4)
	before := s.Served()
	got, _ := roundTrip(t, fast, req, 4)
	if !bytes.Equal(got, want) || s.Served()-before != 2 {
		t.Errorf("served then handed off (%d served here):\nh1pipe:   %q\nnet/http: %q", s.Served()-before, got, want)
	}
}

// A body that does not arrive within BodyTimeout is answered by the
// handler with the read's error, and the connection closed, as net/http.
func TestBodyTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New(&http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			http.Error(w, "too slow", http.StatusRequestTimeout)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})}, Config{Paths: []string{"/call"}, BodyTimeout: 100 * time.Millisecond})
	go s.Serve(ln)
	defer s.Close()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	start := time.Now()
	nc.Write([]byte("POST /call HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc"))
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(nc)
	resp, err := http.ReadResponse(r, nil)
	if err != nil || resp.StatusCode != http.StatusRequestTimeout || time.Since(start) < 100*time.Millisecond ||
		!resp.Close {
		t.Fatalf("a body that stops: %v %v after %s", resp, err, time.Since(start))
	}
}

// Shutdown closes idle connections and waits for busy ones.
func TestShutdown(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New(&http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Case") == "slow" {
			close(entered)
			<-release
		}
		w.WriteHeader(http.StatusAccepted)
	})}, Config{Paths: []string{"/call"}})
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	idle, _ := net.Dial("tcp", ln.Addr().String())
	defer idle.Close()
	idle.Write([]byte(post("x", "")))
	if resp, err := http.ReadResponse(bufio.NewReader(idle), nil); err != nil || resp.StatusCode != 202 {
		t.Fatal(resp, err)
	}
	busy, _ := net.Dial("tcp", ln.Addr().String())
	defer busy.Close()
	busy.Write([]byte(post("slow", "")))
	<-entered
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background()) }()
	idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := idle.Read(make([]byte, 1)); err == nil {
		t.Fatal("idle connection not closed")
	}
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	default:
	}
	close(release)
	resp, err := http.ReadResponse(bufio.NewReader(busy), nil)
	if err != nil || resp.StatusCode != 202 || !resp.Close {
		t.Fatalf("the busy request: %v %v", resp, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
}
