package shufflenet

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mesoproject/meso/rdd/internal/shuffle"
)

// announcingNode starts a node whose server announces its directory, or,
// with elsewhere set, that directory (holding a copy of the node's marker),
// and counts the batch requests it serves.
func announcingNode(t *testing.T, elsewhere string) (*node, *atomic.Int64) {
	t.Helper()
	store, err := shuffle.NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	a, err := WriteMarker(store.Dir(), "h")
	if err != nil {
		t.Fatal(err)
	}
	if elsewhere != "" {
		if err := os.WriteFile(filepath.Join(elsewhere, MarkerName), []byte(a.Token), 0o644); err != nil {
			t.Fatal(err)
		}
		a.Dir = elsewhere
	}
	n := &node{store: store, srv: NewServer(store, ServerConfig{Announce: &a})}
	var posts atomic.Int64
	mux := http.NewServeMux()
	mux.Handle(PathPrefix, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			posts.Add(1)
		}
		n.srv.ServeHTTP(w, r)
	}))
	n.ts = httptest.NewServer(mux)
	t.Cleanup(n.ts.Close)
	n.addr = n.ts.Listener.Addr().String()
	return n, &posts
}

// peerLog records what OnPeer said, by address.
type peerLog struct {
	mu   sync.Mutex
	disk map[string]bool
	why  map[string]string
}

func (l *peerLog) on(addr string, disk bool, why string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.disk[addr], l.why[addr] = disk, why
}

func hostLocalConfig(l *peerLog) Config {
	cfg := testConfig()
	cfg.HostLocal = true
	cfg.OnPeer = l.on
	return cfg
}

func newPeerLog() *peerLog { return &peerLog{disk: map[string]bool{}, why: map[string]string{}} }

// sources fetches wants and counts the delivered blocks by source (bytes
// checked by fetchAll's rules).
func sources(t *testing.T, f *Fetcher, c *cluster, ws []Want) (map[Source]int, error) {
	t.Helper()
	got := map[Source]int{}
	err := f.Fetch(context.Background(), c.shuffle, ws, func(b Block) error {
		defer b.Release()
		if want := content(c.shuffle, b.Map, b.Reduce, c.base); string(b.Data) != string(want) {
			t.Errorf("block %v (%v): %d bytes differ from the %d written", b.BlockID, b.From, len(b.Data), len(want))
		}
		got[b.From]++
		return nil
	})
	return got, err
}

// Blocks of the reducer's own executor come from its store, those of an
// executor on the same host from that executor's directory: no batch
// request is sent.
func TestHostLocalBlocksReadFromDisk(t *testing.T) {
	n0, posts0 := announcingNode(t, "")
	n1, posts1 := announcingNode(t, "")
	c := newCluster(t, []*node{n0, n1}, 5, 20, 4, 700)
	l := newPeerLog()
	cfg := hostLocalConfig(l)
	cfg.Local, cfg.LocalAddr = n0.store, n0.addr
	f := NewFetcher(cfg)
	defer f.Close()
	for r := range c.reducers {
		got, err := sources(t, f, c, c.wants(r))
		if err != nil {
			t.Fatalf("reducer %d: %v", r, err)
		}
		if got[Local] != 10 || got[HostLocal] != 10 || got[Remote] != 0 {
			t.Errorf("reducer %d: blocks by source %v, want 10 local, 10 host-local", r, got)
		}
	}
	if p := posts0.Load() + posts1.Load(); p != 0 {
		t.Errorf("%d batch requests sent, want none", p)
	}
	if !l.disk[n1.addr] || !strings.Contains(l.why[n1.addr], "marker") {
		t.Errorf("peer %s: disk %v (%s)", n1.addr, l.disk[n1.addr], l.why[n1.addr])
	}
	if st := f.Stats(); st != (Stats{Local: 40, HostLocal: 40}) {
		t.Errorf("stats %+v", st)
	}
	// Turned off: the same blocks over HTTP.
	cfg.HostLocal = false
	off := NewFetcher(cfg)
	defer off.Close()
	got, err := sources(t, off, c, c.wants(0))
	if err != nil || got[Remote] != 10 || got[HostLocal] != 0 {
		t.Errorf("host-local off: %v, %v", got, err)
	}
}

// A peer whose marker this process does not read with the announced token
// (another filesystem), or that announces nothing, is read over HTTP.
func TestHostLocalNeedsTheMarker(t *testing.T) {
	n1, posts := announcingNode(t, "")
	plain := startNode(t, ServerConfig{}, nil) // no announcement: 404
	c := newCluster(t, []*node{n1, plain}, 6, 10, 2, 500)
	if err := os.WriteFile(filepath.Join(n1.store.Dir(), MarkerName), []byte(strings.Repeat("0", 32)), 0o644); err != nil {
		t.Fatal(err)
	}
	l := newPeerLog()
	f := NewFetcher(hostLocalConfig(l))
	defer f.Close()
	got, err := sources(t, f, c, c.wants(1))
	if err != nil {
		t.Fatal(err)
	}
	if got[Remote] != 10 || got[HostLocal] != 0 {
		t.Errorf("blocks by source %v, want 10 remote", got)
	}
	if posts.Load() == 0 {
		t.Error("no batch request to the peer whose marker differs")
	}
	if l.disk[n1.addr] || !strings.Contains(l.why[n1.addr], "another token") {
		t.Errorf("peer with another marker: disk %v (%s)", l.disk[n1.addr], l.why[n1.addr])
	}
	if l.disk[plain.addr] || !strings.Contains(l.why[plain.addr], "404") {
		t.Errorf("peer without announcement: disk %v (%s)", l.disk[plain.addr], l.why[plain.addr])
	}
}

func TestCheckMarker(t *testing.T) {
	dir := t.TempDir()
	a, err := WriteMarker(dir, "h")
	if err != nil {
		t.Fatal(err)
	}
	if err := checkMarker(a); err != nil {
		t.Fatalf("own marker: %v", err)
	}
	for name, bad := range map[string]Announcement{
		"relative":    {Dir: "rel/dir", Token: a.Token},
		"unclean":     {Dir: dir + "/../" + filepath.Base(dir), Token: a.Token},
		"short token": {Dir: dir, Token: "ab"},
		"other token": {Dir: dir, Token: strings.Repeat("f", 32)},
		"no such dir": {Dir: filepath.Join(dir, "nope"), Token: a.Token},
		"prefix only": {Dir: dir, Token: a.Token[:len(a.Token)-1]},
	} {
		if err := checkMarker(bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// A block the reducer cannot open in the peer's directory is fetched over
// HTTP: a missing file block by block; a file it may not open (another
// user's, here a symlink loop, which root cannot open either) demotes the
// peer to HTTP for good.
func TestHostLocalFallsBackToHTTP(t *testing.T) {
	other := t.TempDir()
	n1, posts := announcingNode(t, other)
	c := newCluster(t, []*node{n1}, 7, 6, 2, 400)
	// Maps 0-2 copied to the announced directory, 3-5 missing there.
	for m := range 3 {
		b, err := os.ReadFile(n1.store.Path(c.shuffle, m))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(other, filepath.Base(n1.store.Path(c.shuffle, m))), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	l := newPeerLog()
	f := NewFetcher(hostLocalConfig(l))
	defer f.Close()
	got, err := sources(t, f, c, c.wants(0))
	if err != nil {
		t.Fatal(err)
	}
	if got[HostLocal] != 3 || got[Remote] != 3 || posts.Load() != 1 {
		t.Errorf("blocks by source %v, %d requests; want 3 host-local, 3 remote in 1 request", got, posts.Load())
	}
	if st := f.Stats(); st.Fallbacks != 3 {
		t.Errorf("stats %+v, want 3 fallbacks", st)
	}
	// Map 1's file cannot be opened (ELOOP, or EACCES for another user).
	p1 := filepath.Join(other, filepath.Base(n1.store.Path(c.shuffle, 1)))
	os.Remove(p1)
	if err := os.Symlink(filepath.Base(p1), p1); err != nil {
		t.Fatal(err)
	}
	got, err = sources(t, f, c, c.wants(1))
	if err != nil {
		t.Fatal(err)
	}
	if got[HostLocal] != 1 || got[Remote] != 5 {
		t.Errorf("after an unopenable file: blocks by source %v, want 1 host-local (map 0), 5 remote", got)
	}
	if l.disk[n1.addr] || !strings.Contains(l.why[n1.addr], "reading its directory") {
		t.Errorf("peer not demoted: disk %v (%s)", l.disk[n1.addr], l.why[n1.addr])
	}
	got, err = sources(t, f, c, c.wants(0))
	if err != nil || got[Remote] != 6 {
		t.Errorf("after demotion: blocks by source %v, %v; want 6 remote", got, err)
	}
}

// A damaged block read from a peer's directory fails its map with
// ErrCorrupt, as over the network; so does a block whose length differs
// from what the map task reported.
func TestHostLocalCorruptBlockIsFetchFailed(t *testing.T) {
	n1, _ := announcingNode(t, "")
	c := newCluster(t, []*node{n1}, 8, 10, 3, 500)
	const bad = 4
	fl, err := os.OpenFile(n1.store.Path(c.shuffle, bad), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	var b [1]byte
	fl.ReadAt(b[:], 3) // in block 0
	b[0] ^= 0x40
	fl.WriteAt(b[:], 3)
	fl.Close()
	f := NewFetcher(hostLocalConfig(newPeerLog()))
	defer f.Close()
	got, err := sources(t, f, c, c.wants(0))
	var ffe *FetchFailedError
	if !errors.As(err, &ffe) || !errors.Is(err, shuffle.ErrFetchFailed) || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("err = %v, want a FetchFailedError for corruption", err)
	}
	if !slices.Equal(ffe.Maps(), []int{bad}) || got[HostLocal] != c.maps-1 {
		t.Errorf("failed maps %v, %v delivered; want [%d] and the other %d from disk", ffe.Maps(), got, bad, c.maps-1)
	}
	ws := c.wants(1)
	ws[2].Size++
	_, err = sources(t, f, c, ws)
	if !errors.As(err, &ffe) || !errors.Is(err, ErrCorrupt) || !slices.Equal(ffe.Maps(), []int{2}) {
		t.Fatalf("length mismatch: err = %v, want map 2 corrupt", err)
	}
	// A footer that does not check out is damage too, not a fallback. (A
	// reducer that has the output mapped already does not see a change
	// made behind the writer's back: it checks the path only after the
	// writer's change counter moved; a new reducer opens the file.)
	p := n1.store.Path(c.shuffle, 6)
	st, _ := os.Stat(p)
	if err := os.Truncate(p, st.Size()-1); err != nil {
		t.Fatal(err)
	}
	f2 := NewFetcher(hostLocalConfig(newPeerLog()))
	defer f2.Close()
	_, err = sources(t, f2, c, c.wants(2))
	if !errors.As(err, &ffe) || !errors.Is(err, ErrCorrupt) || !slices.Equal(ffe.Maps(), []int{6}) {
		t.Fatalf("bad footer: err = %v, want map 6 corrupt", err)
	}
}
