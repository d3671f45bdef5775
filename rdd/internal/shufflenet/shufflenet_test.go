package shufflenet

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mesoproject/meso/rdd/internal/shuffle"
)

// content is block (m, r)'s bytes: deterministic, of varying length.
func content(shuffleID, m, r, base int) []byte {
	n := base + (m*31+r*17)%base
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(shuffleID + m*7 + r*13 + i)
	}
	return b
}

// writeMaps commits the given map outputs of a shuffle into store and
// returns the block sizes by map.
func writeMaps(t testing.TB, store *shuffle.Store, shuffleID int, maps []int, reducers, base int) map[int][]int64 {
	t.Helper()
	sizes := map[int][]int64{}
	for _, m := range maps {
		w := store.NewWriter(shuffleID, m, reducers, 1<<30)
		for r := range reducers {
			c := content(shuffleID, m, r, base)
			w.Put(r, append(w.Buf(r), c...), len(c))
		}
		s, err := w.Commit()
		if err != nil {
			t.Fatal(err)
		}
		sizes[m] = s
	}
	return sizes
}

type node struct {
	store *shuffle.Store
	srv   *Server
	ts    *httptest.Server
	addr  string
}

// startNode serves a new store on loopback through h (nil: the server).
func startNode(t testing.TB, cfg ServerConfig, wrap func(http.Handler) http.Handler) *node {
	t.Helper()
	store, err := shuffle.NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	n := &node{store: store, srv: NewServer(store, cfg)}
	var h http.Handler = n.srv
	if wrap != nil {
		h = wrap(h)
	}
	mux := http.NewServeMux()
	mux.Handle(PathPrefix, h)
	n.ts = httptest.NewServer(mux)
	t.Cleanup(n.ts.Close)
	n.addr = n.ts.Listener.Addr().String()
	return n
}

// cluster spreads maps over nodes round robin and returns every reducer's
// wants.
type cluster struct {
	nodes    []*node
	shuffle  int
	maps     int
	reducers int
	base     int
	sizes    map[int][]int64
	owner    map[int]int // map -> node index
}

func newCluster(t testing.TB, nodes []*node, shuffleID, maps, reducers, base int) *cluster {
	c := &cluster{nodes: nodes, shuffle: shuffleID, maps: maps, reducers: reducers, base: base, sizes: map[int][]int64{}, owner: map[int]int{}}
	per := make([][]int, len(nodes))
	for m := range maps {
		per[m%len(nodes)] = append(per[m%len(nodes)], m)
		c.owner[m] = m % len(nodes)
	}
	for i, n := range nodes {
		for m, s := range writeMaps(t, n.store, shuffleID, per[i], reducers, base) {
			c.sizes[m] = s
		}
	}
	return c
}

func (c *cluster) wants(r int) []Want {
	var ws []Want
	for m := range c.maps {
		ws = append(ws, Want{Map: m, Reduce: r, Addr: c.nodes[c.owner[m]].addr, Size: c.sizes[m][r]})
	}
	return ws
}

func testConfig() Config {
	return Config{MaxRetries: -1, RetryWait: time.Millisecond, Timeout: 10 * time.Second}
}

// fetchAll fetches wants, checks every delivered block's bytes, and returns
// the delivered (map, reduce) pairs counted.
func fetchAll(t *testing.T, f *Fetcher, c *cluster, ws []Want) (map[[2]int]int, error) {
	t.Helper()
	got := map[[2]int]int{}
	err := f.Fetch(context.Background(), c.shuffle, ws, func(b Block) error {
		defer b.Release()
		if want := content(c.shuffle, b.Map, b.Reduce, c.base); !bytes.Equal(b.Data, want) {
			t.Errorf("block %v: %d bytes differ from the %d written", b.BlockID, len(b.Data), len(want))
		}
		got[[2]int{b.Map, b.Reduce}]++
		return nil
	})
	return got, err
}

func TestFetchManyMapsFromThreeServers(t *testing.T) {
	nodes := []*node{startNode(t, ServerConfig{}, nil), startNode(t, ServerConfig{}, nil), startNode(t, ServerConfig{}, nil)}
	c := newCluster(t, nodes, 3, 60, 8, 2000)
	var peak atomic.Int64
	cfg := testConfig()
	cfg.MaxBytesInFlight = 40 << 10
	cfg.Local, cfg.LocalAddr = nodes[0].store, nodes[0].addr // node 0's maps are local
	cfg.Observe = func(n int64) {
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
	}
	f := NewFetcher(cfg)
	defer f.Close()
	var wg sync.WaitGroup
	for r := range c.reducers {
		wg.Go(func() {
			got, err := fetchAll(t, f, c, c.wants(r))
			if err != nil {
				t.Errorf("reducer %d: %v", r, err)
			}
			for m := range c.maps {
				if got[[2]int{m, r}] != 1 {
					t.Errorf("reducer %d map %d: delivered %d times", r, m, got[[2]int{m, r}])
				}
			}
			if len(got) != c.maps {
				t.Errorf("reducer %d: %d blocks, want %d", r, len(got), c.maps)
			}
		})
	}
	wg.Wait()
	// Every Fetch has its own budget: one can hold at most the limit.
	if p := peak.Load(); p > int64(c.reducers)*cfg.MaxBytesInFlight || p == 0 {
		t.Errorf("peak in flight %d", p)
	}
}

func TestBytesInFlightNeverExceedLimit(t *testing.T) {
	nodes := []*node{startNode(t, ServerConfig{}, nil), startNode(t, ServerConfig{}, nil), startNode(t, ServerConfig{}, nil)}
	c := newCluster(t, nodes, 1, 90, 2, 4000) // blocks of 4-8 KB
	const limit = 32 << 10
	var mu sync.Mutex
	var peak int64
	cfg := testConfig()
	cfg.MaxBytesInFlight = limit
	cfg.Observe = func(n int64) {
		mu.Lock()
		peak = max(peak, n)
		mu.Unlock()
	}
	f := NewFetcher(cfg)
	// The consumer holds the last 3 blocks unreleased, so the budget fills.
	var held []Block
	var heldBytes, heldPeak int64
	n := 0
	err := f.Fetch(context.Background(), c.shuffle, c.wants(0), func(b Block) error {
		n++
		held = append(held, b)
		heldBytes += int64(len(b.Data))
		heldPeak = max(heldPeak, heldBytes)
		if len(held) > 3 {
			heldBytes -= int64(len(held[0].Data))
			held[0].Release()
			held = held[1:]
		}
		return nil
	})
	for _, b := range held {
		b.Release()
	}
	if err != nil || n != c.maps {
		t.Fatalf("fetched %d of %d blocks: %v", n, c.maps, err)
	}
	if peak > limit || heldPeak > limit {
		t.Errorf("in flight peaked at %d (held %d), limit %d", peak, heldPeak, limit)
	}
	if peak < limit/2 {
		t.Errorf("in flight peaked at %d: the limit %d was not used", peak, limit)
	}
}

func TestCorruptBlockFailsItsMap(t *testing.T) {
	nodes := []*node{startNode(t, ServerConfig{}, nil), startNode(t, ServerConfig{}, nil)}
	c := newCluster(t, nodes, 2, 10, 3, 500)
	const bad = 7
	path := nodes[c.owner[bad]].store.Path(c.shuffle, bad)
	fl, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	var b [1]byte
	fl.ReadAt(b[:], 3) // block 0 starts the file
	b[0] ^= 0x40
	fl.WriteAt(b[:], 3)
	fl.Close()
	got, err := fetchAll(t, NewFetcher(testConfig()), c, c.wants(0))
	var ffe *FetchFailedError
	if !errors.As(err, &ffe) || !errors.Is(err, shuffle.ErrFetchFailed) || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("err = %v, want a FetchFailedError for corruption", err)
	}
	if !slices.Equal(ffe.Maps(), []int{bad}) || ffe.Shuffle != c.shuffle {
		t.Errorf("failed maps %v of shuffle %d, want [%d] of %d", ffe.Maps(), ffe.Shuffle, bad, c.shuffle)
	}
	if len(got) != c.maps-1 {
		t.Errorf("delivered %d blocks, want %d", len(got), c.maps-1)
	}
	// Another reducer's block of the same map is intact.
	if _, err := fetchAll(t, NewFetcher(testConfig()), c, c.wants(1)); err != nil {
		t.Errorf("reducer 1: %v", err)
	}
}

func TestMissingOutputAndUnknownShuffle(t *testing.T) {
	nodes := []*node{startNode(t, ServerConfig{}, nil), startNode(t, ServerConfig{}, nil)}
	c := newCluster(t, nodes, 4, 10, 2, 300)
	if err := nodes[c.owner[4]].store.Remove(c.shuffle, 4); err != nil {
		t.Fatal(err)
	}
	if err := nodes[c.owner[5]].store.Remove(c.shuffle, 5); err != nil {
		t.Fatal(err)
	}
	got, err := fetchAll(t, NewFetcher(testConfig()), c, c.wants(1))
	var ffe *FetchFailedError
	if !errors.As(err, &ffe) || !errors.Is(err, ErrMissing) || !slices.Equal(ffe.Maps(), []int{4, 5}) {
		t.Fatalf("err = %v, want maps [4 5] missing", err)
	}
	if len(got) != c.maps-2 {
		t.Errorf("delivered %d blocks, want %d", len(got), c.maps-2)
	}
	// A shuffle the server never had: every map missing.
	ws := c.wants(0)
	for i := range ws {
		ws[i].Size = 0
	}
	err = NewFetcher(testConfig()).Fetch(context.Background(), 99, ws, func(b Block) error { b.Release(); return nil })
	if !errors.As(err, &ffe) || !errors.Is(err, ErrMissing) || len(ffe.Maps()) != c.maps {
		t.Fatalf("unknown shuffle: err = %v", err)
	}
}

// killAfter cuts a server's connections and closes its listener once it
// has written limit bytes of responses.
func killAfter(n **node, limit int64) func(http.Handler) http.Handler {
	var once sync.Once
	var written atomic.Int64
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(&cutWriter{ResponseWriter: w, cut: func(k int) bool {
				if written.Add(int64(k)) < limit {
					return false
				}
				once.Do(func() {
					(*n).ts.Listener.Close()
					(*n).ts.CloseClientConnections()
				})
				return true
			}}, r)
		})
	}
}

type cutWriter struct {
	http.ResponseWriter
	cut func(int) bool
}

func (c *cutWriter) Write(p []byte) (int, error) {
	if c.cut(len(p)) {
		return 0, errors.New("server killed")
	}
	return c.ResponseWriter.Write(p)
}

func (c *cutWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func TestServerKilledMidFetchFailsExactlyItsMaps(t *testing.T) {
	var victim *node
	nodes := []*node{startNode(t, ServerConfig{}, nil), startNode(t, ServerConfig{}, nil)}
	victim = startNode(t, ServerConfig{}, killAfter(&victim, 150<<10))
	nodes = append(nodes, victim)
	c := newCluster(t, nodes, 5, 150, 1, 3000) // ~225 KB per node
	cfg := testConfig()
	cfg.MaxBytesInFlight = 100 << 10
	cfg.MaxRetries, cfg.RetryWait = 2, time.Millisecond
	got, err := fetchAll(t, NewFetcher(cfg), c, c.wants(0))
	var ffe *FetchFailedError
	if !errors.As(err, &ffe) || !errors.Is(err, ErrUnreachable) {
		t.Fatalf("err = %v, want the victim's maps unreachable", err)
	}
	var want []int
	for m := range c.maps {
		if c.owner[m] == 2 && got[[2]int{m, 0}] == 0 {
			want = append(want, m)
		}
		if c.owner[m] != 2 && got[[2]int{m, 0}] != 1 {
			t.Errorf("map %d of a live server: delivered %d times", m, got[[2]int{m, 0}])
		}
	}
	if len(want) == 0 || !slices.Equal(ffe.Maps(), want) {
		t.Errorf("failed maps %v, want the victim's undelivered maps %v", ffe.Maps(), want)
	}
	for _, f := range ffe.Failures {
		if f.Addr != victim.addr {
			t.Errorf("map %d failed at %s, not the victim %s", f.Map, f.Addr, victim.addr)
		}
	}
}

func TestUnansweringServerTimesOut(t *testing.T) {
	stop := make(chan struct{})
	n := startNode(t, ServerConfig{}, func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-stop })
	})
	t.Cleanup(func() { close(stop) }) // runs before the server's Close
	cfg := testConfig()
	cfg.Timeout = 200 * time.Millisecond
	err := NewFetcher(cfg).Fetch(context.Background(), 1, []Want{{Map: 0, Addr: n.addr, Size: 10}, {Map: 1, Addr: n.addr, Size: 10}},
		func(b Block) error { b.Release(); return nil })
	var ffe *FetchFailedError
	if !errors.As(err, &ffe) || !errors.Is(err, ErrTimeout) || !slices.Equal(ffe.Maps(), []int{0, 1}) {
		t.Fatalf("err = %v, want maps 0 and 1 timed out", err)
	}
}

// The transport's response-header timeout can fire before the fetcher's
// watchdog (both bound the same silence, and a loaded machine picks either);
// it is a timeout too, not an unreachable executor.
func TestTransportHeaderTimeoutIsATimeout(t *testing.T) {
	stop := make(chan struct{})
	n := startNode(t, ServerConfig{}, func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-stop })
	})
	t.Cleanup(func() { close(stop) })
	cfg := testConfig()
	cfg.Timeout = time.Minute
	cfg.Client = &http.Client{Transport: &http.Transport{ResponseHeaderTimeout: 100 * time.Millisecond}}
	err := NewFetcher(cfg).Fetch(context.Background(), 1, []Want{{Map: 0, Addr: n.addr, Size: 10}},
		func(b Block) error { b.Release(); return nil })
	if !errors.Is(err, ErrTimeout) || errors.Is(err, ErrUnreachable) {
		t.Fatalf("err = %v, want ErrTimeout only", err)
	}
}

func TestRetryAfterBusyServer(t *testing.T) {
	var calls atomic.Int32
	n := startNode(t, ServerConfig{}, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 1 {
				http.Error(w, "busy", http.StatusServiceUnavailable)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	c := newCluster(t, []*node{n}, 1, 5, 1, 100)
	cfg := testConfig()
	cfg.MaxRetries = 1
	got, err := fetchAll(t, NewFetcher(cfg), c, c.wants(0))
	if err != nil || len(got) != c.maps || calls.Load() != 2 {
		t.Fatalf("got %d blocks in %d calls: %v", len(got), calls.Load(), err)
	}
}

func TestTokenRefused(t *testing.T) {
	n := startNode(t, ServerConfig{Token: "s3cret"}, nil)
	c := newCluster(t, []*node{n}, 1, 4, 1, 100)
	for _, tok := range []string{"", "wrong"} {
		cfg := testConfig()
		cfg.Token = tok
		_, err := fetchAll(t, NewFetcher(cfg), c, c.wants(0))
		if !errors.Is(err, ErrUnauthorized) || errors.Is(err, shuffle.ErrFetchFailed) {
			t.Errorf("token %q: err = %v, want ErrUnauthorized only", tok, err)
		}
	}
	cfg := testConfig()
	cfg.Token = "s3cret"
	if got, err := fetchAll(t, NewFetcher(cfg), c, c.wants(0)); err != nil || len(got) != c.maps {
		t.Errorf("right token: %d blocks, %v", len(got), err)
	}
}

func TestCancelStopsFetch(t *testing.T) {
	n := startNode(t, ServerConfig{}, nil)
	c := newCluster(t, []*node{n}, 1, 40, 1, 1000)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var seen int
	err := NewFetcher(testConfig()).Fetch(ctx, c.shuffle, c.wants(0), func(b Block) error {
		b.Release()
		if seen++; seen == 3 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || seen > 3 {
		t.Fatalf("err = %v after %d blocks, want context.Canceled after 3", err, seen)
	}
	stop := errors.New("enough")
	err = NewFetcher(testConfig()).Fetch(context.Background(), c.shuffle, c.wants(0), func(b Block) error { b.Release(); return stop })
	if err != stop {
		t.Fatalf("err = %v, want the consumer's error", err)
	}
}

func post(t *testing.T, url, token string, body io.Reader) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, body)
	if token != "" {
		req.Header.Set(TokenHeader, token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(msg)
}

func TestHostileRequests(t *testing.T) {
	n := startNode(t, ServerConfig{Token: "tok", MaxRequestBytes: 4096, MaxBlocks: 1000}, nil)
	c := newCluster(t, []*node{n}, 1, 3, 2, 100)
	url := n.ts.URL + PathPrefix + "fetch"
	huge := binary.AppendUvarint([]byte(requestMagic+"\x01"), 1<<30) // 2^30 spans in 5 bytes
	many := appendRequest(nil, request{Shuffle: 1, Spans: []span{{0, 0, 600}, {1, 0, 600}}})
	for _, tc := range []struct {
		name, path, token string
		body              []byte
		code              int
	}{
		{"no token", url, "", appendRequest(nil, request{Shuffle: 1, Spans: []span{{0, 0, 1}}}), 401},
		{"garbage", url, "tok", []byte("GET / HTTP/1.1\r\n\r\n"), 400},
		{"empty", url, "tok", nil, 400},
		{"huge span count", url, "tok", huge, 400},
		{"too many blocks", url, "tok", many, 400},
		{"zero count", url, "tok", appendRequest(nil, request{Shuffle: 1, Spans: []span{{0, 0, 0}}}), 400},
		{"body too large", url, "tok", bytes.Repeat([]byte{1}, 5000), 413},
		{"unknown shuffle", url, "tok", appendRequest(nil, request{Shuffle: 77, Spans: []span{{0, 0, 1}}}), 404},
		{"wrong path", n.ts.URL + PathPrefix + "other", "tok", nil, 404},
	} {
		if code, msg := post(t, tc.path, tc.token, bytes.NewReader(tc.body)); code != tc.code {
			t.Errorf("%s: status %d (%s), want %d", tc.name, code, msg, tc.code)
		}
	}
	if resp, err := http.Get(url); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %v %v", resp.StatusCode, err)
	} else {
		resp.Body.Close()
	}
	// The server keeps serving.
	cfg := testConfig()
	cfg.Token = "tok"
	if got, err := fetchAll(t, NewFetcher(cfg), c, c.wants(1)); err != nil || len(got) != c.maps {
		t.Errorf("after hostile input: %d blocks, %v", len(got), err)
	}
}

func TestTooManyConcurrentRequests(t *testing.T) {
	n := startNode(t, ServerConfig{MaxConcurrent: 1}, nil)
	newCluster(t, []*node{n}, 1, 1, 1, 100)
	url := n.ts.URL + PathPrefix + "fetch"
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	first := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, url, pr)
		resp, err := http.DefaultClient.Do(req) // holds the only slot while its body is unsent
		if err != nil {
			first <- 0
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	deadline := time.Now().Add(10 * time.Second)
	for len(n.srv.slots) == 0 { // poll until the first request holds the slot
		if time.Now().After(deadline) {
			t.Fatal("the first request never reached the server")
		}
		runtime.Gosched()
	}
	if code, msg := post(t, url, "", bytes.NewReader(appendRequest(nil, request{Shuffle: 1, Spans: []span{{0, 0, 1}}}))); code != http.StatusServiceUnavailable {
		t.Fatalf("second request: status %d (%s), want 503", code, msg)
	}
	pw.Write(appendRequest(nil, request{Shuffle: 1, Spans: []span{{0, 0, 1}}}))
	pw.Close()
	if code := <-first; code != http.StatusOK {
		t.Errorf("first request: status %d", code)
	}
}

func TestRequestRoundTrip(t *testing.T) {
	r := request{Shuffle: 9, Spans: []span{{0, 0, 3}, {5, 2, 1}, {1 << 20, 7, 100}}}
	got, err := decodeRequest(appendRequest(nil, r), 1000)
	if err != nil || fmt.Sprint(got) != fmt.Sprint(r) {
		t.Fatalf("round trip: %v, %v", got, err)
	}
	ws := []Want{{Map: 1, Reduce: 2}, {Map: 1, Reduce: 3}, {Map: 1, Reduce: 5}, {Map: 2, Reduce: 0}}
	if got := spans(4, ws); fmt.Sprint(got.Spans) != "[{1 2 2} {1 5 1} {2 0 1}]" {
		t.Errorf("spans = %v", got.Spans)
	}
}

func TestUnreachableExecutorFailsAllItsMaps(t *testing.T) {
	live := startNode(t, ServerConfig{}, nil)
	c := newCluster(t, []*node{live, live}, 1, 20, 1, 2000)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := ln.Addr().String()
	ln.Close()
	ws := c.wants(0)
	var want []int
	for i := range ws {
		if ws[i].Map%2 == 1 {
			ws[i].Addr = gone
			want = append(want, ws[i].Map)
		}
	}
	cfg := testConfig()
	cfg.MaxBytesInFlight = 10 << 10 // several batches for the dead address
	cfg.MaxRequestsPerAddr = 1
	var mu sync.Mutex
	var low, last int64
	cfg.Observe = func(n int64) { mu.Lock(); low, last = min(low, n), n; mu.Unlock() }
	got, err := fetchAll(t, NewFetcher(cfg), c, ws)
	if low < 0 || last != 0 {
		t.Errorf("budget went down to %d and ended at %d, want >= 0 and 0", low, last)
	}
	var ffe *FetchFailedError
	if !errors.As(err, &ffe) || !errors.Is(err, ErrUnreachable) || !slices.Equal(ffe.Maps(), want) {
		t.Fatalf("err = %v, want maps %v unreachable", err, want)
	}
	if len(got) != c.maps-len(want) {
		t.Errorf("delivered %d blocks, want %d", len(got), c.maps-len(want))
	}
}

// logLines is a slog handler recording messages.
type logLines struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logLines) Enabled(context.Context, slog.Level) bool { return true }
func (l *logLines) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, r.Message)
	return nil
}
func (l *logLines) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logLines) WithGroup(string) slog.Handler      { return l }
func (l *logLines) has(msg string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Contains(l.msgs, msg)
}

func TestWriteDeadlineFreesAStalledRequest(t *testing.T) {
	logs := &logLines{}
	n := startNode(t, ServerConfig{WriteTimeout: 200 * time.Millisecond, MaxConcurrent: 1, Logger: slog.New(logs)}, nil)
	c := newCluster(t, []*node{n}, 1, 20, 1, 1<<20) // 20-40 MB: more than the socket buffers hold
	conn, err := net.Dial("tcp", n.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := appendRequest(nil, spans(1, c.wants(0)))
	fmt.Fprintf(conn, "POST %sfetch HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", PathPrefix, len(body), body)
	// The client reads nothing; the server gives up and frees its slot.
	deadline := time.Now().Add(20 * time.Second)
	for !logs.has("shuffle response cut") || len(n.srv.slots) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the stalled response was never cut")
		}
		runtime.Gosched()
	}
	got, err := fetchAll(t, NewFetcher(testConfig()), c, c.wants(0)[:3])
	if err != nil || len(got) != 3 {
		t.Fatalf("after a stalled client: %d blocks, %v", len(got), err)
	}
}

func TestFetchWaitsForReleasesFromAnotherGoroutine(t *testing.T) {
	n := startNode(t, ServerConfig{}, nil)
	c := newCluster(t, []*node{n}, 1, 12, 1, 4000) // blocks of 4000-4341 bytes
	cfg := testConfig()
	cfg.MaxBytesInFlight = 10 << 10 // two blocks fit, three do not
	var held []Block
	release := make(chan struct{})
	done := make(chan struct{})
	count := 0
	// The consumer keeps its first two blocks:
	// nothing can run until another goroutine releases them, later.
	err := NewFetcher(cfg).Fetch(context.Background(), c.shuffle, c.wants(0), func(b Block) error {
		if count++; count <= 2 {
			held = append(held, b)
			if count == 2 {
				hs := slices.Clone(held)
				go func() {
					defer close(done)
					<-release
					for _, h := range hs {
						h.Release()
					}
				}()
				// A delay that lets the Fetch find the budget held with
				// nothing running, the state this test is about.
				time.AfterFunc(100*time.Millisecond, func() { close(release) })
			}
			return nil
		}
		b.Release()
		return nil
	})
	<-done
	if err != nil || count != c.maps {
		t.Fatalf("delivered %d of %d blocks: %v", count, c.maps, err)
	}
}
