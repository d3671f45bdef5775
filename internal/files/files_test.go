package files

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// sandbox builds a served root shaped like an agent's work_dir/slaves tree,
// with a secret beside it, and returns the root and the run directory.
type layout struct {
	root, run, runs, outside string
}

func makeLayout(t testing.TB, dir string) layout {
	t.Helper()
	l := layout{root: filepath.Join(dir, "slaves"), outside: filepath.Join(dir, "outside")}
	l.runs = filepath.Join(l.root, "A1", "frameworks", "F1", "executors", "E1", "runs")
	l.run = filepath.Join(l.runs, "C1")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(l.run, "sub"), 0o755))
	must(os.MkdirAll(l.outside, 0o755))
	must(os.WriteFile(filepath.Join(l.outside, "secret"), []byte("secret"), 0o644))
	must(os.WriteFile(filepath.Join(l.run, "stdout"), []byte("hello world\n"), 0o644))
	must(os.WriteFile(filepath.Join(l.run, "stderr"), nil, 0o600))
	must(os.WriteFile(filepath.Join(l.run, "data.json"), []byte(`{"a":1}`), 0o644))
	for _, p := range []string{l.run, filepath.Join(l.run, "sub")} {
		must(os.Chmod(p, 0o755))
	}
	must(os.Chmod(filepath.Join(l.run, "stdout"), 0o644))
	must(os.Chmod(filepath.Join(l.run, "stderr"), 0o600))
	must(os.Symlink(l.run, filepath.Join(l.runs, "latest")))                            // absolute, as Mesos makes it
	must(os.Symlink("C1", filepath.Join(l.runs, "rel")))                                // relative
	must(os.Symlink(l.outside, filepath.Join(l.run, "escape")))                         // absolute, outside
	must(os.Symlink("../../../../../../../../outside", filepath.Join(l.run, "escrel"))) // relative, outside
	must(os.Symlink("nowhere", filepath.Join(l.run, "dangling")))
	return l
}

type server struct {
	*httptest.Server
	h *Handler
	l layout
}

func newServer(t *testing.T, cfg Config) *server {
	t.Helper()
	l := makeLayout(t, t.TempDir())
	cfg.Root = l.root
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/files/", h)
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return &server{Server: s, h: h, l: l}
}

// get fetches /files/<endpoint> with query parameters (name, value, ...).
func (s *server) get(t *testing.T, endpoint string, kv ...string) (*http.Response, []byte) {
	t.Helper()
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	resp, err := http.Get(s.URL + "/files/" + endpoint + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func (s *server) status(t *testing.T, endpoint string, kv ...string) int {
	t.Helper()
	resp, _ := s.get(t, endpoint, kv...)
	return resp.StatusCode
}

func (s *server) browse(t *testing.T, p string) map[string]FileInfo {
	t.Helper()
	resp, body := s.get(t, "browse", "path", p)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("browse %s: %d %s", p, resp.StatusCode, body)
	}
	var list []FileInfo
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatal(err)
	}
	if !slices.IsSortedFunc(list, func(a, b FileInfo) int { return strings.Compare(a.Path, b.Path) }) {
		t.Errorf("browse %s not sorted by path", p)
	}
	m := map[string]FileInfo{}
	for _, fi := range list {
		m[filepath.Base(fi.Path)] = fi
	}
	return m
}

func TestBrowse(t *testing.T) {
	s := newServer(t, Config{})
	me, _ := user.Current()
	got := s.browse(t, s.l.run)
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range got {
			if !yield(k) {
				return
			}
		}
	})
	if want := []string{"dangling", "data.json", "escape", "escrel", "stderr", "stdout", "sub"}; !slices.Equal(names, want) {
		t.Fatalf("entries %v, want %v", names, want)
	}
	out := got["stdout"]
	if out.Path != s.l.run+"/stdout" || out.Size != 12 || out.Mode != "-rw-r--r--" || out.NLink != 1 || out.MTime == 0 {
		t.Errorf("stdout %+v", out)
	}
	if me != nil && out.UID != me.Username {
		t.Errorf("uid %q, want %q", out.UID, me.Username)
	}
	if got["stderr"].Mode != "-rw-------" || got["sub"].Mode != "drwxr-xr-x" {
		t.Errorf("modes: stderr %q sub %q", got["stderr"].Mode, got["sub"].Mode)
	}
	// Links leading outside (or nowhere) are shown as links, not followed.
	for _, n := range []string{"escape", "escrel", "dangling"} {
		if !strings.HasPrefix(got[n].Mode, "l") {
			t.Errorf("%s mode %q, want a link", n, got[n].Mode)
		}
	}
	// A link inside the root is followed: latest is a directory.
	if runs := s.browse(t, s.l.runs+"/"); runs["latest"].Mode[0] != 'd' || runs["latest"].Path != s.l.runs+"/latest" {
		t.Errorf("latest %+v", runs["latest"])
	}
	// Browsing through links, absolute and relative, and by relative path.
	for _, p := range []string{s.l.runs + "/latest", s.l.runs + "/rel", "A1/frameworks/F1/executors/E1/runs/C1"} {
		if m := s.browse(t, p); m["stdout"].Path != p+"/stdout" {
			t.Errorf("browse %s: stdout %+v", p, m["stdout"])
		}
	}
	// A file lists nothing, as in Mesos.
	if m := s.browse(t, s.l.run+"/stdout"); len(m) != 0 {
		t.Errorf("browse a file: %v", m)
	}
}

func TestPathChecks(t *testing.T) {
	s := newServer(t, Config{})
	tests := []struct {
		path string
		want int
	}{
		{"", http.StatusBadRequest},
		{s.l.run + "/../C1", http.StatusBadRequest},
		{"..", http.StatusBadRequest},
		{"a\x00b", http.StatusBadRequest},
		{s.l.run + "/missing", http.StatusNotFound},
		{s.l.run + "/dangling", http.StatusNotFound},
		{s.l.outside + "/secret", http.StatusForbidden},
		{"/etc/passwd", http.StatusForbidden},
		{"/no/such/place", http.StatusForbidden}, // outside: 403 whether or not it exists
		{s.l.run + "/escape/secret", http.StatusForbidden},
		{s.l.run + "/escrel/secret", http.StatusForbidden},
		{s.l.run + "/escape", http.StatusForbidden},
		{s.l.root, http.StatusOK},
		{s.l.root + "/", http.StatusOK},
	}
	for _, tt := range tests {
		for _, ep := range []string{"browse", "read", "download"} {
			want := tt.want
			if want == http.StatusOK && ep != "browse" {
				want = http.StatusBadRequest // a directory
			}
			if got := s.status(t, ep, "path", tt.path); got != want {
				t.Errorf("%s %q: %d, want %d", ep, tt.path, got, want)
			}
		}
	}
	resp, err := http.Post(s.URL+"/files/browse?path="+url.QueryEscape(s.l.run), "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", resp.StatusCode)
	}
	if got := s.status(t, "nonsense"); got != http.StatusNotFound {
		t.Errorf("unknown endpoint: %d", got)
	}
}

func TestRead(t *testing.T) {
	s := newServer(t, Config{MaxRead: 5})
	stdout := s.l.run + "/stdout" // "hello world\n", 12 bytes
	tests := []struct {
		kv   []string
		want string
	}{
		{nil, `{"data":"","offset":12}`},
		{[]string{"offset", "-1"}, `{"data":"","offset":12}`},
		{[]string{"offset", "0"}, `{"data":"hello","offset":0}`}, // capped at MaxRead
		{[]string{"offset", "6", "length", "3"}, `{"data":"wor","offset":6}`},
		{[]string{"offset", "10", "length", "-1"}, `{"data":"d\n","offset":10}`},
		{[]string{"offset", "11", "length", "100"}, `{"data":"\n","offset":11}`},
		{[]string{"offset", "12"}, `{"data":"","offset":12}`},
		{[]string{"offset", "500", "length", "3"}, `{"data":"","offset":12}`},
		{[]string{"offset", "0", "length", "0"}, `{"data":"","offset":0}`},
	}
	for _, tt := range tests {
		resp, body := s.get(t, "read", append([]string{"path", stdout}, tt.kv...)...)
		if resp.StatusCode != http.StatusOK || string(body) != tt.want {
			t.Errorf("read %v: %d %s, want %s", tt.kv, resp.StatusCode, body, tt.want)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
	}
	for _, kv := range [][]string{{"offset", "abc"}, {"offset", "-2"}, {"length", "1.5"}, {"length", "-7"}} {
		if got := s.status(t, "read", append([]string{"path", stdout}, kv...)...); got != http.StatusBadRequest {
			t.Errorf("read %v: %d, want 400", kv, got)
		}
	}
	// JSONP, as Mesos' old web UI used it; a bad callback name is refused.
	resp, body := s.get(t, "read.json", "path", stdout, "offset", "0", "length", "2", "jsonp", "cb_1")
	if string(body) != `cb_1({"data":"he","offset":0});` || resp.Header.Get("Content-Type") != "text/javascript" {
		t.Errorf("jsonp: %s %q", body, resp.Header.Get("Content-Type"))
	}
	if got := s.status(t, "read", "path", stdout, "jsonp", "alert(1)//"); got != http.StatusBadRequest {
		t.Errorf("bad jsonp: %d", got)
	}
}

func TestDownload(t *testing.T) {
	s := newServer(t, Config{})
	resp, body := s.get(t, "download", "path", s.l.runs+"/latest/stdout")
	if resp.StatusCode != http.StatusOK || string(body) != "hello world\n" {
		t.Fatalf("download: %d %q", resp.StatusCode, body)
	}
	if ct, cd := resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"); ct != "application/octet-stream" || cd != "attachment; filename=stdout" {
		t.Errorf("headers %q %q", ct, cd)
	}
	resp, _ = s.get(t, "download.json", "path", s.l.run+"/data.json")
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("json Content-Type %q", ct)
	}
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/files/download?path="+url.QueryEscape(s.l.run+"/stdout"), nil)
	req.Header.Set("Range", "bytes=6-10")
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r2.Body)
	r2.Body.Close()
	if r2.StatusCode != http.StatusPartialContent || string(b) != "world" {
		t.Errorf("range: %d %q", r2.StatusCode, b)
	}
}

func TestAttach(t *testing.T) {
	s := newServer(t, Config{})
	virtual := "/frameworks/F1/executors/E1/runs/latest"
	if err := s.h.Attach(virtual, s.l.runs+"/latest"); err != nil {
		t.Fatal(err)
	}
	if m := s.browse(t, virtual); m["stdout"].Path != virtual+"/stdout" {
		t.Errorf("browse virtual: %+v", m)
	}
	if _, body := s.get(t, "read", "path", virtual+"/stdout", "offset", "0"); string(body) != `{"data":"hello world\n","offset":0}` {
		t.Errorf("read virtual: %s", body)
	}
	if got := s.status(t, "read", "path", virtual+"/escape/secret", "offset", "0"); got != http.StatusForbidden {
		t.Errorf("escape through virtual: %d", got)
	}
	_, body := s.get(t, "debug")
	var m map[string]string
	if err := json.Unmarshal(body, &m); err != nil || m[virtual] != s.l.runs+"/latest" {
		t.Errorf("debug %s", body)
	}
	if err := s.h.Attach("/x", s.l.outside); err == nil {
		t.Error("attached a path outside the root")
	}
	if err := s.h.Attach("/a/../b", s.l.run); err == nil {
		t.Error("attached a name with ..")
	}
	s.h.Detach(virtual)
	if got := s.status(t, "browse", "path", virtual); got != http.StatusForbidden {
		t.Errorf("after detach: %d", got)
	}
}

func TestNew(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Error("no root accepted")
	}
	dir := t.TempDir()
	if _, err := New(Config{Root: filepath.Join(dir, "missing")}); err == nil {
		t.Error("missing root accepted")
	}
	f := filepath.Join(dir, "file")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Root: f}); err == nil {
		t.Error("file root accepted")
	}
}

func TestModeString(t *testing.T) {
	tests := map[os.FileMode]string{
		0o755 | os.ModeDir:       "drwxr-xr-x",
		0o644:                    "-rw-r--r--",
		0o777 | os.ModeSymlink:   "lrwxrwxrwx",
		0o600 | os.ModeNamedPipe: "prw-------",
		0o660 | os.ModeSocket:    "srw-rw----",
		0o620 | os.ModeDevice | os.ModeCharDevice: "crw--w----",
		0o660 | os.ModeDevice:                     "brw-rw----",
		0o4755:                                    "-rwxr-xr-x",
	}
	for m, want := range tests {
		if got := modeString(m); got != want {
			t.Errorf("modeString(%v) = %q, want %q", m, got, want)
		}
	}
}

// FuzzResolve: whatever path is asked, a file that opens is inside the root.
func FuzzResolve(f *testing.F) {
	l := makeLayout(f, f.TempDir())
	h, err := New(Config{Root: l.root})
	if err != nil {
		f.Fatal(err)
	}
	if err := h.Attach("/frameworks/F1/latest", l.runs+"/latest"); err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		l.run + "/stdout", l.run + "/escape/secret", l.run + "/escrel/secret", l.runs + "/latest/stdout",
		"A1/frameworks", "/frameworks/F1/latest/stdout", "/frameworks/F1/latest/escape", "..", "/",
		l.root + "/..", "//" + l.root, l.root + "/./A1", "../outside/secret", l.outside + "/secret", "",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, p string) {
		r, err := h.resolve(p)
		if err != nil {
			return
		}
		file, _, err := h.open(r, p)
		if err != nil {
			return
		}
		defer file.Close()
		real, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(file.Fd())))
		if err != nil {
			t.Fatal(err)
		}
		if !lexicallyWithin(h.rootReal, real) {
			t.Fatalf("path %q opened %q outside %q", p, real, h.rootReal)
		}
	})
}

// A symlink swapped in after resolve (simulated by opening an unchecked
// relative path through one) still cannot lead outside: os.Root refuses it.
func TestOpenRefusesEscapeAfterResolve(t *testing.T) {
	l := makeLayout(t, t.TempDir())
	h, err := New(Config{Root: l.root})
	if err != nil {
		t.Fatal(err)
	}
	rel, _ := filepath.Rel(h.rootReal, filepath.Join(l.run, "escape", "secret"))
	relLink, _ := filepath.Rel(h.rootReal, filepath.Join(l.run, "escrel", "secret"))
	for _, r := range []string{rel, relLink} {
		if f, _, err := h.open(resolved{rel: r}, r); err == nil {
			f.Close()
			t.Errorf("opened %s", r)
		}
	}
}

// Only regular files are read or downloaded: a FIFO in a sandbox would
// block the open (and then the read) until a writer came.
func TestReadRefusesNonRegularFiles(t *testing.T) {
	s := newServer(t, Config{})
	fifo := s.l.run + "/fifo"
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("cannot make a FIFO here: %v", err)
	}
	for _, ep := range []string{"read", "download"} {
		if got := s.status(t, ep, "path", fifo, "offset", "0"); got != http.StatusBadRequest {
			t.Errorf("%s of a FIFO: %d, want 400", ep, got)
		}
	}
	if got := s.status(t, "read", "path", s.l.run, "offset", "0"); got != http.StatusBadRequest {
		t.Errorf("read of a directory: %d, want 400", got)
	}
	h, err := New(Config{Root: s.l.root})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.Read(context.Background(), fifo, 0, -1); Status(err) != http.StatusBadRequest {
		t.Errorf("Read of a FIFO: %v", err)
	}
	list, err := h.List(context.Background(), s.l.run)
	if err != nil || len(list) == 0 {
		t.Fatalf("List: %v %v", list, err)
	}
	for _, fi := range list {
		if fi.Path == fifo && fi.StMode&syscall.S_IFMT != syscall.S_IFIFO {
			t.Errorf("st_mode of the FIFO: %o", fi.StMode)
		}
	}
}
