package files

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// What a task can leave in its sandbox to make the agent block or leak:
// FIFOs, sockets, devices, hard links to files elsewhere, and clients that
// stop reading or hang up. Every request must come back at once with a
// 4xx and leave nothing behind.

// quickClient fails a request that does not answer at once (a handler
// blocked in open() never does); it keeps no connections.
var quickClient = &http.Client{
	Timeout:   5 * time.Second,
	Transport: &http.Transport{DisableKeepAlives: true},
}

func (s *server) quick(t *testing.T, endpoint, p string) (int, string) {
	t.Helper()
	resp, err := quickClient.Get(s.URL + "/files/" + endpoint + "?path=" + url.QueryEscape(p) + "&offset=0")
	if err != nil {
		t.Fatalf("%s %s: %v", endpoint, p, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// openFDs counts this process' open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	des, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count open files without /proc: %v", err)
	}
	return len(des)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, not waiting for time to pass
	}
}

// fdsBackTo waits until the process holds no more descriptors than before
// (connections close asynchronously after their last answer).
func fdsBackTo(t *testing.T, before int) {
	t.Helper()
	var now int
	deadline := time.Now().Add(10 * time.Second)
	for now = openFDs(t); now > before; now = openFDs(t) {
		if time.Now().After(deadline) {
			t.Fatalf("%d descriptors open, %d before: leaked", now, before)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func mkfifo(t *testing.T, p string) {
	t.Helper()
	if err := syscall.Mkfifo(p, 0o666); err != nil {
		t.Skipf("cannot make a FIFO: %v", err)
	}
	// Should a handler block opening it after all (the bug), a writer
	// releases it so the server can close and the test fail, not hang.
	t.Cleanup(func() {
		if fd, err := unix.Open(p, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0); err == nil {
			unix.Close(fd)
		}
	})
}

func TestSpecialFilesRefused(t *testing.T) {
	s := newServer(t, Config{})
	fifo := filepath.Join(s.l.run, "fifo")
	mkfifo(t, fifo)
	cases := map[string]string{fifo: "named pipe"}
	sock := filepath.Join(s.l.run, "sock")
	if ln, err := net.Listen("unix", sock); err == nil {
		defer ln.Close()
		cases[sock] = "socket"
	} else {
		t.Logf("no unix socket case: %v", err)
	}
	dev := filepath.Join(s.l.run, "null")
	if err := unix.Mknod(dev, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err == nil {
		cases[dev] = "character device"
	} else {
		t.Logf("no device case (needs CAP_MKNOD): %v", err)
	}
	if err := os.Symlink("/dev/null", filepath.Join(s.l.run, "devnull")); err != nil {
		t.Fatal(err)
	}
	for p, kind := range cases {
		for _, ep := range []string{"read", "download", "browse"} {
			code, body := s.quick(t, ep, p)
			if code != http.StatusBadRequest || !strings.Contains(body, kind) {
				t.Errorf("%s %s: %d %q, want 400 naming a %s", ep, filepath.Base(p), code, body, kind)
			}
		}
	}
	for _, ep := range []string{"read", "download", "browse"} {
		if code, body := s.quick(t, ep, filepath.Join(s.l.run, "devnull")); code != http.StatusForbidden {
			t.Errorf("%s devnull (-> /dev/null): %d %q, want 403", ep, code, body)
		}
	}
	// Listing the directory shows them (without opening them).
	got := s.browse(t, s.l.run)
	if m := got["fifo"].Mode; !strings.HasPrefix(m, "p") {
		t.Errorf("fifo listed with mode %q", m)
	}
	if _, ok := cases[dev]; ok && !strings.HasPrefix(got["null"].Mode, "c") {
		t.Errorf("device listed with mode %q", got["null"].Mode)
	}
}

// Many requests for a FIFO leave no descriptor and no request behind.
func TestFIFORequestsLeakNothing(t *testing.T) {
	s := newServer(t, Config{})
	fifo := filepath.Join(s.l.run, "fifo")
	mkfifo(t, fifo)
	virtual := "/frameworks/F1/executors/E1/runs/latest"
	if err := s.h.Attach(virtual, s.l.runs+"/latest"); err != nil {
		t.Fatal(err)
	}
	before := openFDs(t)
	eps := []string{"read", "download", "browse", "read.json"}
	for i := range 200 {
		p := fifo
		if i%2 == 1 {
			p = virtual + "/fifo"
		}
		if code, body := s.quick(t, eps[i%len(eps)], p); code != http.StatusBadRequest {
			t.Fatalf("request %d: %d %q, want 400", i, code, body)
		}
	}
	fdsBackTo(t, before)
	if n := s.h.inFlight(); n != 0 {
		t.Errorf("%d requests still in flight", n)
	}
	// Ordinary files are still served.
	if code, body := s.quick(t, "read", s.l.run+"/stdout"); code != http.StatusOK || !strings.Contains(body, "hello") {
		t.Errorf("read stdout after: %d %q", code, body)
	}
}

func TestHardLinksRefused(t *testing.T) {
	s := newServer(t, Config{})
	outside := filepath.Join(s.l.run, "secret")
	if err := os.Link(filepath.Join(s.l.outside, "secret"), outside); err != nil {
		t.Skipf("cannot make a hard link: %v", err)
	}
	// A link between two names inside the sandbox is refused as well: no
	// cheap test tells it from one to a file outside.
	inside := filepath.Join(s.l.run, "stdout.2")
	if err := os.Link(filepath.Join(s.l.run, "data.json"), inside); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{outside, inside, filepath.Join(s.l.run, "data.json")} {
		for _, ep := range []string{"read", "download", "browse"} {
			code, body := s.quick(t, ep, p)
			if code != http.StatusForbidden || !strings.Contains(body, "2 hard links") {
				t.Errorf("%s %s: %d %q, want 403 naming the links", ep, filepath.Base(p), code, body)
			}
		}
	}
	if got := s.browse(t, s.l.run); got["secret"].NLink != 2 {
		t.Errorf("listing: secret nlink %d, want 2", got["secret"].NLink)
	}
	if code, _ := s.quick(t, "read", s.l.run+"/stdout"); code != http.StatusOK {
		t.Errorf("read stdout: %d", code)
	}
}

// bigFile makes a sparse file larger than any socket buffer.
func bigFile(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "big")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(256 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return p
}

// stuckDownload asks for p on a raw connection and reads nothing back.
func (s *server) stuckDownload(t *testing.T, p string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", s.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := fmt.Fprintf(c, "GET /files/download?path=%s HTTP/1.1\r\nHost: x\r\n\r\n", url.QueryEscape(p)); err != nil {
		t.Fatal(err)
	}
	return c
}

// A client that stops reading a download is dropped after Timeout, one
// that hangs up at once; both release their descriptors.
func TestDownloadClientGoneReleased(t *testing.T) {
	s := newServer(t, Config{Timeout: 200 * time.Millisecond})
	big := bigFile(t, s.l.run)
	before := openFDs(t)

	stuck := s.stuckDownload(t, big)
	waitFor(t, "the download to start", func() bool { return s.h.inFlight() == 1 })
	waitFor(t, "the stalled download to be dropped", func() bool { return s.h.inFlight() == 0 })
	stuck.Close()

	gone := s.stuckDownload(t, big)
	if _, err := io.ReadFull(gone, make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}
	gone.Close()
	waitFor(t, "the abandoned download to end", func() bool { return s.h.inFlight() == 0 })
	fdsBackTo(t, before)
}

// A steady client gets a whole file however long it takes in all; only a
// step without progress is bounded.
func TestDownloadSlowButSteady(t *testing.T) {
	s := newServer(t, Config{Timeout: time.Second})
	p := filepath.Join(s.l.run, "medium")
	if err := os.WriteFile(p, make([]byte, 8<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(s.URL + "/files/download?path=" + url.QueryEscape(p))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || n != 8<<20 {
		t.Fatalf("downloaded %d bytes, %v", n, err)
	}
}

func TestConcurrencyLimit(t *testing.T) {
	s := newServer(t, Config{MaxRequests: 2, Timeout: time.Minute})
	big := bigFile(t, s.l.run)
	a, b := s.stuckDownload(t, big), s.stuckDownload(t, big)
	waitFor(t, "two downloads in flight", func() bool { return s.h.inFlight() == 2 })
	for _, ep := range []string{"read", "browse", "download", "debug"} {
		resp, err := quickClient.Get(s.URL + "/files/" + ep + "?path=" + url.QueryEscape(s.l.run+"/stdout"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
			!strings.Contains(string(body), "2 requests are being served") {
			t.Errorf("%s while full: %d %q (Retry-After %q), want 503", ep, resp.StatusCode, body, resp.Header.Get("Retry-After"))
		}
	}
	a.Close()
	b.Close()
	waitFor(t, "the downloads to end", func() bool { return s.h.inFlight() == 0 })
	if code, body := s.quick(t, "read", s.l.run+"/stdout"); code != http.StatusOK || !strings.Contains(body, "hello") {
		t.Errorf("read after: %d %q", code, body)
	}
}

func TestNewRefusesNegativeBounds(t *testing.T) {
	dir := t.TempDir()
	for _, cfg := range []Config{{Root: dir, MaxRequests: -1}, {Root: dir, Timeout: -time.Second}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
	if _, err := New(Config{Root: dir}); errors.Is(err, os.ErrNotExist) || err != nil {
		t.Errorf("New: %v", err)
	}
}
