package fetcher

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
)

func cacheFiles(t testing.TB, dir string) (names []string, total int64) {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		info, err := de.Info()
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, de.Name())
		total += info.Size()
	}
	return names, total
}

func TestCacheMissThenHit(t *testing.T) {
	srv := newFileServer(t, false)
	data := []byte("cached payload")
	u := srv.put("/tools/agent.bin", data)
	cacheDir := filepath.Join(t.TempDir(), "fetch")
	f := newFetcher(t, Config{CacheDir: cacheDir})

	for i := range 3 {
		dir := sandbox(t)
		mustFetch(t, f, dir, uri(u, cached, executable))
		wantFile(t, filepath.Join(dir, "agent.bin"), data)
		wantMode(t, filepath.Join(dir, "agent.bin"), 0o755)
		if n := srv.count("/tools/agent.bin"); n != 1 {
			t.Fatalf("launch %d: server saw %d downloads, want 1", i+1, n)
		}
	}
	names, _ := cacheFiles(t, cacheDir)
	if len(names) != 1 {
		t.Fatalf("cache holds %v, want one file", names)
	}
	wantMode(t, filepath.Join(cacheDir, names[0]), 0o600) // chmod of the copy did not touch the cache

	// Another output name, same URI: still a hit.
	dir := sandbox(t)
	mustFetch(t, f, dir, uri(u, cached, output("renamed")))
	wantFile(t, filepath.Join(dir, "renamed"), data)
	if n := srv.count("/tools/agent.bin"); n != 1 {
		t.Fatalf("server saw %d downloads, want 1", n)
	}
}

func TestCacheArchiveHit(t *testing.T) {
	srv := newFileServer(t, false)
	u := srv.put("/bundle.tgz", gzipBytes(t, appTar(t)))
	f := newFetcher(t, Config{CacheDir: filepath.Join(t.TempDir(), "fetch")})
	for range 2 {
		dir := sandbox(t)
		mustFetch(t, f, dir, uri(u, cached))
		wantApp(t, dir)
		if _, err := os.Stat(filepath.Join(dir, "bundle.tgz")); err == nil {
			t.Fatal("a cached archive is extracted from the cache, without a copy in the sandbox (Mesos)")
		}
	}
	if n := srv.count("/bundle.tgz"); n != 1 {
		t.Fatalf("server saw %d downloads, want 1", n)
	}
}

func TestCacheKeyedByUser(t *testing.T) {
	if os.Geteuid() == 0 {
		if _, err := user.Lookup("nobody"); err != nil {
			t.Skip("running as root without a user nobody to chown to")
		}
	}
	srv := newFileServer(t, false)
	u := srv.put("/f.txt", []byte("f"))
	f := newFetcher(t, Config{CacheDir: filepath.Join(t.TempDir(), "fetch")})
	ctx := context.Background()
	for _, who := range []string{"", "nobody", "", "nobody"} {
		if err := f.Fetch(ctx, []*mesospb.CommandInfo_URI{uri(u, cached)}, sandbox(t), who); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.count("/f.txt"); n != 2 {
		t.Fatalf("server saw %d downloads, want 2 (one per user)", n)
	}
}

func TestCacheDisabledFetchesDirectly(t *testing.T) {
	srv := newFileServer(t, false)
	u := srv.put("/f.txt", []byte("f"))
	f := newFetcher(t, Config{})
	for range 2 {
		mustFetch(t, f, sandbox(t), uri(u, cached))
	}
	if n := srv.count("/f.txt"); n != 2 {
		t.Fatalf("server saw %d downloads, want 2", n)
	}
}

// startFetches runs n cached fetches of u at once, each into its own
// sandbox, once the first one's request has reached the gated server and
// the others wait for its download.
func startFetches(t *testing.T, srv *fileServer, f *Fetcher, u string, n int) (dirs []string, errs []error) {
	t.Helper()
	waiting := make(chan struct{}, n)
	f.cache.onWait = func() { waiting <- struct{}{} }
	srv.gate = make(chan struct{})
	srv.seen = make(chan string, n)
	dirs = make([]string, n)
	errs = make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		dirs[i] = sandbox(t)
		wg.Go(func() { errs[i] = fetch(t, f, dirs[i], uri(u, cached)) })
	}
	<-srv.seen
	for range n - 1 {
		<-waiting
	}
	close(srv.gate)
	wg.Wait()
	return dirs, errs
}

func TestCacheConcurrentLaunchesDownloadOnce(t *testing.T) {
	srv := newFileServer(t, false)
	data := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	u := srv.put("/big.bin", data)
	f := newFetcher(t, Config{CacheDir: filepath.Join(t.TempDir(), "fetch")})
	dirs, errs := startFetches(t, srv, f, u, 8)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("fetch %d: %v", i, err)
		}
		wantFile(t, filepath.Join(dirs[i], "big.bin"), data)
	}
	if n := srv.count("/big.bin"); n != 1 {
		t.Fatalf("server saw %d downloads, want 1", n)
	}
}

func TestCacheFailureSharedByWaiters(t *testing.T) {
	srv := newFileServer(t, false)
	u := srv.URL + "/absent.bin"
	f := newFetcher(t, Config{CacheDir: filepath.Join(t.TempDir(), "fetch")})
	_, errs := startFetches(t, srv, f, u, 4)
	for _, err := range errs {
		wantFetchError(t, err, u, "GET: 404 Not Found")
	}
	if n := srv.count("/absent.bin"); n != 1 {
		t.Fatalf("server saw %d requests, want 1", n)
	}
	// A failed entry is forgotten: the next launch tries again.
	srv.gate = nil
	srv.put("/absent.bin", []byte("here now"))
	mustFetch(t, f, sandbox(t), uri(u, cached))
}

func TestCacheWaiterTakesOverCancelledDownload(t *testing.T) {
	srv := newFileServer(t, false)
	u := srv.put("/slow.bin", []byte("eventually"))
	f := newFetcher(t, Config{CacheDir: filepath.Join(t.TempDir(), "fetch")})
	waiting := make(chan struct{}, 1)
	f.cache.onWait = func() { waiting <- struct{}{} }
	srv.gate = make(chan struct{})
	srv.seen = make(chan string, 2)

	leaderCtx, cancelLeader := context.WithCancel(context.Background())
	leaderErr := make(chan error)
	go func() {
		leaderErr <- f.Fetch(leaderCtx, []*mesospb.CommandInfo_URI{uri(u, cached)}, sandbox(t), "")
	}()
	<-srv.seen
	dir := sandbox(t)
	waiterErr := make(chan error)
	go func() { waiterErr <- fetch(t, f, dir, uri(u, cached)) }()
	<-waiting
	cancelLeader() // the launch that was downloading is killed
	if err := <-leaderErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled launch: got %v", err)
	}
	<-srv.seen // the waiter downloads itself
	close(srv.gate)
	if err := <-waiterErr; err != nil {
		t.Fatal(err)
	}
	wantFile(t, filepath.Join(dir, "slow.bin"), []byte("eventually"))
}

func TestCacheLRUEviction(t *testing.T) {
	srv := newFileServer(t, false)
	payload := func(c byte) []byte { return bytes.Repeat([]byte{c}, 100) }
	a, b, c := srv.put("/a", payload('a')), srv.put("/b", payload('b')), srv.put("/c", payload('c'))
	cacheDir := filepath.Join(t.TempDir(), "fetch")
	f := newFetcher(t, Config{CacheDir: cacheDir, CacheSize: 250})
	steps := []struct {
		uri  string
		want map[string]int // downloads so far
	}{
		{a, map[string]int{"/a": 1}},
		{b, map[string]int{"/a": 1, "/b": 1}},
		{a, map[string]int{"/a": 1, "/b": 1}},          // hit: a is now the most recent
		{c, map[string]int{"/a": 1, "/b": 1, "/c": 1}}, // evicts b, the least recent
		{a, map[string]int{"/a": 1, "/b": 1, "/c": 1}}, // still cached
		{b, map[string]int{"/a": 1, "/b": 2, "/c": 1}}, // evicted: downloaded again, evicting c
		{a, map[string]int{"/a": 1, "/b": 2, "/c": 1}}, // still cached
		{c, map[string]int{"/a": 1, "/b": 2, "/c": 2}}, // evicted earlier
	}
	for i, s := range steps {
		dir := sandbox(t)
		mustFetch(t, f, dir, uri(s.uri, cached))
		for p, want := range s.want {
			if got := srv.count(p); got != want {
				t.Fatalf("step %d: %s downloaded %d times, want %d", i, p, got, want)
			}
		}
		names, total := cacheFiles(t, cacheDir)
		if total > 250 {
			t.Fatalf("step %d: cache holds %d bytes (%v), over its 250", i, total, names)
		}
	}
}

func TestCacheEntryLargerThanCache(t *testing.T) {
	srv := newFileServer(t, false)
	u := srv.put("/huge.bin", bytes.Repeat([]byte("x"), 100))
	cacheDir := filepath.Join(t.TempDir(), "fetch")
	f := newFetcher(t, Config{CacheDir: cacheDir, CacheSize: 50})
	for range 2 {
		dir := sandbox(t)
		mustFetch(t, f, dir, uri(u, cached))
		wantFile(t, filepath.Join(dir, "huge.bin"), bytes.Repeat([]byte("x"), 100))
	}
	if n := srv.count("/huge.bin"); n != 2 {
		t.Fatalf("server saw %d downloads, want 2 (never cached)", n)
	}
	if names, _ := cacheFiles(t, cacheDir); len(names) != 0 {
		t.Fatalf("cache holds %v, want nothing", names)
	}
}

func TestCacheUnknownSizeFetchedDirectly(t *testing.T) {
	srv := newFileServer(t, false)
	srv.noSize = true
	u := srv.put("/stream.bin", []byte("chunked"))
	cacheDir := filepath.Join(t.TempDir(), "fetch")
	f := newFetcher(t, Config{CacheDir: cacheDir})
	for range 2 {
		dir := sandbox(t)
		mustFetch(t, f, dir, uri(u, cached))
		wantFile(t, filepath.Join(dir, "stream.bin"), []byte("chunked"))
	}
	if names, _ := cacheFiles(t, cacheDir); len(names) != 0 {
		t.Fatalf("cache holds %v, want nothing", names)
	}
}

func TestCacheLocalFile(t *testing.T) {
	src := filepath.Join(t.TempDir(), "local.bin")
	os.WriteFile(src, []byte("local"), 0o644)
	f := newFetcher(t, Config{CacheDir: filepath.Join(t.TempDir(), "fetch")})
	mustFetch(t, f, sandbox(t), uri(src, cached))
	os.WriteFile(src, []byte("changed"), 0o644)
	dir := sandbox(t)
	mustFetch(t, f, dir, uri(src, cached))
	wantFile(t, filepath.Join(dir, "local.bin"), []byte("local")) // served from the cache
}

func TestCacheClearedAtStart(t *testing.T) {
	cacheDir := filepath.Join(t.TempDir(), "fetch")
	srv := newFileServer(t, false)
	u := srv.put("/f.bin", []byte("f"))
	f := newFetcher(t, Config{CacheDir: cacheDir})
	mustFetch(t, f, sandbox(t), uri(u, cached))
	os.WriteFile(filepath.Join(cacheDir, ".meso-fetch-123"), []byte("partial"), 0o600)
	os.WriteFile(filepath.Join(cacheDir, "operator-notes.txt"), []byte("keep"), 0o600)

	// An agent restart: a new Fetcher on the same directory.
	f = newFetcher(t, Config{CacheDir: cacheDir})
	names, _ := cacheFiles(t, cacheDir)
	if len(names) != 1 || names[0] != "operator-notes.txt" {
		t.Fatalf("after restart the cache directory holds %v, want only operator-notes.txt", names)
	}
	mustFetch(t, f, sandbox(t), uri(u, cached))
	if n := srv.count("/f.bin"); n != 2 {
		t.Fatalf("server saw %d downloads, want 2", n)
	}
}

func TestCacheStallIsSharedNotRetried(t *testing.T) {
	srv := newFileServer(t, false)
	u := srv.put("/stuck.bin", []byte("x"))
	f := newFetcher(t, Config{CacheDir: filepath.Join(t.TempDir(), "fetch"), StallTimeout: 100 * time.Millisecond})
	waiting := make(chan struct{}, 1)
	f.cache.onWait = func() { waiting <- struct{}{} }
	srv.gate = make(chan struct{}) // never opened: both would stall
	defer close(srv.gate)
	srv.seen = make(chan string, 2)
	errs := make(chan error, 2)
	go func() { errs <- fetch(t, f, sandbox(t), uri(u, cached)) }()
	<-srv.seen
	go func() { errs <- fetch(t, f, sandbox(t), uri(u, cached)) }()
	<-waiting
	for range 2 {
		wantFetchError(t, <-errs, u, "download stalled")
	}
	if n := srv.count("/stuck.bin"); n != 1 {
		t.Fatalf("server saw %d requests, want 1", n)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{{CacheSize: -1}, {StallTimeout: -time.Second}} {
		if _, err := New(cfg); !errors.Is(err, ErrFetch) {
			t.Fatalf("New(%+v) = %v, want ErrFetch", cfg, err)
		}
	}
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := New(Config{CacheDir: file}); !errors.Is(err, ErrFetch) {
		t.Fatalf("cache dir on a file: %v, want ErrFetch", err)
	}
}
