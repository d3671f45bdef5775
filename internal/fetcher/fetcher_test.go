package fetcher

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
)

// fileServer serves fixed files over loopback and counts requests per path.
type fileServer struct {
	*httptest.Server
	mu     sync.Mutex
	files  map[string][]byte // guarded by mu
	hits   map[string]int    // guarded by mu
	gate   chan struct{}     // when set, responses wait until it is closed
	seen   chan string       // when set, receives each request's path
	noSize bool              // when set, responses are chunked (no Content-Length)
}

func newFileServer(t testing.TB, tls bool) *fileServer {
	s := &fileServer{files: map[string][]byte{}, hits: map[string]int{}}
	h := http.HandlerFunc(s.serve)
	if tls {
		s.Server = httptest.NewTLSServer(h)
	} else {
		s.Server = httptest.NewServer(h)
	}
	t.Cleanup(s.Close)
	return s
}

func (s *fileServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.hits[r.URL.Path]++
	data, ok := s.files[r.URL.Path]
	gate, seen := s.gate, s.seen
	s.mu.Unlock()
	if seen != nil {
		seen <- r.URL.Path
	}
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
	}
	if !ok {
		http.NotFound(w, r)
		return
	}
	if s.noSize {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush() // headers go out without a Content-Length
		w.Write(data)
		return
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

func (s *fileServer) put(p string, data []byte) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[p] = data
	return s.URL + p
}

func (s *fileServer) count(p string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[p]
}

func uri(value string, opts ...func(*mesospb.CommandInfo_URI)) *mesospb.CommandInfo_URI {
	u := &mesospb.CommandInfo_URI{Value: proto.String(value)}
	for _, o := range opts {
		o(u)
	}
	return u
}

func executable(u *mesospb.CommandInfo_URI) { u.Executable = proto.Bool(true) }
func noExtract(u *mesospb.CommandInfo_URI)  { u.Extract = proto.Bool(false) }
func cached(u *mesospb.CommandInfo_URI)     { u.Cache = proto.Bool(true) }
func output(name string) func(*mesospb.CommandInfo_URI) {
	return func(u *mesospb.CommandInfo_URI) { u.OutputFile = proto.String(name) }
}

func newFetcher(t testing.TB, cfg Config) *Fetcher {
	t.Helper()
	f, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func sandbox(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "sandbox")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func fetch(t testing.TB, f *Fetcher, dir string, uris ...*mesospb.CommandInfo_URI) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return f.Fetch(ctx, uris, dir, "")
}

func mustFetch(t testing.TB, f *Fetcher, dir string, uris ...*mesospb.CommandInfo_URI) {
	t.Helper()
	if err := fetch(t, f, dir, uris...); err != nil {
		t.Fatal(err)
	}
}

func wantFile(t testing.TB, p string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s holds %q, want %q", p, trunc(got), trunc(want))
	}
}

func trunc(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

func wantMode(t testing.TB, p string, want fs.FileMode) {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != want {
		t.Fatalf("%s has mode %v, want %v", p, st.Mode().Perm(), want)
	}
}

// wantFetchError checks err wraps ErrFetch, names the URI and says why.
func wantFetchError(t testing.TB, err error, value string, why ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("fetching %q succeeded, want an error", value)
	}
	if !errors.Is(err, ErrFetch) {
		t.Fatalf("error %v does not wrap ErrFetch", err)
	}
	msg := err.Error()
	t.Log(msg)
	if !strings.HasPrefix(msg, "fetcher: "+strconv.Quote(value)+": ") {
		t.Fatalf("error %q does not start with the URI %q", msg, value)
	}
	for _, w := range why {
		if !strings.Contains(msg, w) {
			t.Fatalf("error %q does not say %q", msg, w)
		}
	}
}

// noTempFiles checks no partial download was left behind under dir.
func noTempFiles(t testing.TB, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".meso-fetch-") {
			t.Errorf("temporary file left behind: %s", p)
		}
		return nil
	})
}

func TestFetchHTTP(t *testing.T) {
	srv := newFileServer(t, false)
	u := srv.put("/dl/app.bin", []byte("binary bits"))
	f := newFetcher(t, Config{})
	dir := sandbox(t)
	mustFetch(t, f, dir, uri(u+"?version=3#frag"))
	wantFile(t, filepath.Join(dir, "app.bin"), []byte("binary bits"))
	wantMode(t, filepath.Join(dir, "app.bin"), 0o644)
	noTempFiles(t, dir)
}

func TestFetchHTTPS(t *testing.T) {
	srv := newFileServer(t, true)
	u := srv.put("/secure.txt", []byte("over tls"))
	f := newFetcher(t, Config{HTTPClient: srv.Client()})
	dir := sandbox(t)
	mustFetch(t, f, dir, uri(u))
	wantFile(t, filepath.Join(dir, "secure.txt"), []byte("over tls"))
}

func TestFetchLocalForms(t *testing.T) {
	src := filepath.Join(t.TempDir(), "local.cfg")
	if err := os.WriteFile(src, []byte("k=v\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, value := range []string{src, "file://" + src, "file://localhost" + src, "  " + src} {
		t.Run(value, func(t *testing.T) {
			dir := sandbox(t)
			mustFetch(t, newFetcher(t, Config{}), dir, uri(value))
			wantFile(t, filepath.Join(dir, "local.cfg"), []byte("k=v\n"))
		})
	}
}

func TestFetchExecutable(t *testing.T) {
	srv := newFileServer(t, false)
	// A name that looks like an archive: executable wins, nothing is extracted.
	u := srv.put("/tool.tar.gz", []byte("#!/bin/sh\necho hi\n"))
	dir := sandbox(t)
	mustFetch(t, newFetcher(t, Config{}), dir, uri(u, executable))
	wantFile(t, filepath.Join(dir, "tool.tar.gz"), []byte("#!/bin/sh\necho hi\n"))
	wantMode(t, filepath.Join(dir, "tool.tar.gz"), 0o755)
}

func TestFetchOutputFile(t *testing.T) {
	srv := newFileServer(t, false)
	u := srv.put("/x/conf.json", []byte(`{"a":1}`))
	dir := sandbox(t)
	f := newFetcher(t, Config{})
	mustFetch(t, f, dir, uri(u, output("etc/app/config.json")), uri(u, output("./plain.json")))
	wantFile(t, filepath.Join(dir, "etc/app/config.json"), []byte(`{"a":1}`))
	wantFile(t, filepath.Join(dir, "plain.json"), []byte(`{"a":1}`))

	for _, bad := range []string{"/etc/passwd", "../outside", "a/../../outside", ".."} {
		err := fetch(t, f, dir, uri(u, output(bad)))
		wantFetchError(t, err, u, "output_file")
	}
	if srv.count("/x/conf.json") != 2 {
		t.Fatalf("server saw %d requests; refused output files must not download", srv.count("/x/conf.json"))
	}
}

func TestFetchOutputFileThroughSymlinkRefused(t *testing.T) {
	// A symlink in the sandbox pointing outside must not carry a download out.
	srv := newFileServer(t, false)
	u := srv.put("/payload", []byte("payload"))
	dir := sandbox(t)
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "escape")); err != nil {
		t.Fatal(err)
	}
	err := fetch(t, newFetcher(t, Config{}), dir, uri(u, output("escape/payload")))
	wantFetchError(t, err, u)
	wantEmptyDir(t, outside)
}

func wantEmptyDir(t testing.TB, dir string) {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		t.Errorf("written outside the sandbox: %s", filepath.Join(dir, de.Name()))
	}
}

func TestFetchErrors(t *testing.T) {
	srv := newFileServer(t, false)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/gone.tgz"
	ln.Close() // nothing listens there now: connection refused

	cases := []struct {
		value string
		why   []string
	}{
		{srv.URL + "/missing.tgz", []string{"GET: 404 Not Found"}},
		{closed, []string{"GET: ", "connection refused"}},
		{"/no/such/file.txt", []string{"no such file"}},
		{"file:///no/such/file.txt", []string{"no such file"}},
		{"hdfs://namenode/data/file", []string{`unsupported URI scheme "hdfs"`}},
		{"s3://bucket/key", []string{`unsupported URI scheme "s3"`}},
		{"relative/path.txt", []string{"relative path"}},
		{"file://relative.txt", []string{"absolute paths"}},
		{srv.URL, []string{"missing path"}},
		{srv.URL + "/dir/", []string{"missing path"}},
		{"/tmp/it's", []string{"illegal characters"}},
		{"", []string{"empty URI"}},
		{t.TempDir(), []string{"not a regular file"}},
	}
	f := newFetcher(t, Config{})
	for _, c := range cases {
		dir := sandbox(t)
		err := fetch(t, f, dir, uri(c.value))
		wantFetchError(t, err, c.value, c.why...)
		wantEmptyDir(t, dir)
	}
}

func TestFetchValidatesAllBeforeFetching(t *testing.T) {
	srv := newFileServer(t, false)
	good := srv.put("/good.txt", []byte("good"))
	dir := sandbox(t)
	err := fetch(t, newFetcher(t, Config{}), dir, uri(good), uri("ftp://host/file"))
	wantFetchError(t, err, "ftp://host/file", "unsupported")
	if n := srv.count("/good.txt"); n != 0 {
		t.Fatalf("good URI fetched %d times before the bad one was refused", n)
	}
}

func TestFetchMissingSandbox(t *testing.T) {
	err := fetch(t, newFetcher(t, Config{}), filepath.Join(t.TempDir(), "nope"), uri("/etc/hostname"))
	if !errors.Is(err, ErrFetch) || !strings.Contains(err.Error(), "sandbox") {
		t.Fatalf("got %v, want an ErrFetch about the sandbox", err)
	}
}

func TestFetchStallAborts(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.Write([]byte("first bytes"))
		w.(http.Flusher).Flush()
		select { // then nothing more: the download stalls
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	f := newFetcher(t, Config{StallTimeout: 200 * time.Millisecond})
	dir := sandbox(t)
	value := srv.URL + "/slow.bin"
	err := fetch(t, f, dir, uri(value))
	wantFetchError(t, err, value, "download stalled", "no data for 200ms")
	wantEmptyDir(t, dir) // the partial file was removed
}

func TestFetchStallBeforeHeaders(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	f := newFetcher(t, Config{StallTimeout: 100 * time.Millisecond})
	value := srv.URL + "/never"
	wantFetchError(t, fetch(t, f, sandbox(t), uri(value)), value, "GET: download stalled")
}

func TestFetchContextCancel(t *testing.T) {
	srv := newFileServer(t, false)
	srv.gate = make(chan struct{}) // never opened
	srv.seen = make(chan string, 1)
	value := srv.put("/blocked", []byte("x"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- newFetcher(t, Config{}).Fetch(ctx, []*mesospb.CommandInfo_URI{uri(value)}, sandbox(t), "")
	}()
	<-srv.seen
	cancel()
	err := <-done
	wantFetchError(t, err, value)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v does not wrap context.Canceled", err)
	}
}

func TestFetchChownsToUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown needs root")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody:", err)
	}
	srv := newFileServer(t, false)
	u := srv.put("/bundle.tar.gz", gzipBytes(t, tarBytes(t, tarEntry{name: "d/f.txt", body: "x"})))
	dir := sandbox(t)
	if err := newFetcher(t, Config{}).Fetch(context.Background(), []*mesospb.CommandInfo_URI{uri(u)}, dir, "nobody"); err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	for _, p := range []string{".", "bundle.tar.gz", "d", "d/f.txt"} {
		st, err := os.Lstat(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		if got := int(st.Sys().(*syscall.Stat_t).Uid); got != uid {
			t.Errorf("%s owned by uid %d, want %d (nobody)", p, got, uid)
		}
	}
	err = newFetcher(t, Config{}).Fetch(context.Background(), []*mesospb.CommandInfo_URI{uri(u)}, dir, "no-such-user-here")
	if !errors.Is(err, ErrFetch) || !strings.Contains(err.Error(), "no-such-user-here") {
		t.Fatalf("unknown user: got %v", err)
	}
}
