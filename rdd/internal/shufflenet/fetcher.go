package shufflenet

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mesoproject/meso/rdd/internal/shuffle"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Config tunes a Fetcher. Zero fields take the defaults named.
type Config struct {
	// MaxBytesInFlight bounds the bytes of remote blocks requested and
	// not yet released by one Fetch (spark.reducer.maxSizeInFlight,
	// 48 MiB). A single block larger than the limit is fetched alone.
	MaxBytesInFlight int64
	// MaxBlocksPerRequest bounds one batch request (4096); servers accept
	// up to ServerConfig.MaxBlocks.
	MaxBlocksPerRequest int
	// MaxRequestsPerAddr bounds the requests in flight to one executor (2).
	MaxRequestsPerAddr int
	// MaxRetries is how many times a request that failed for want of an
	// answer is retried, for its blocks not yet received
	// (spark.shuffle.io.maxRetries, 3). Negative: none.
	MaxRetries int
	// RetryWait is the wait before each retry (spark.shuffle.io.retryWait,
	// 5 s).
	RetryWait time.Duration
	// Timeout bounds the silence of an executor: connecting, and between
	// frames of a response (spark.network.timeout, 120 s).
	Timeout time.Duration
	// Token is sent in TokenHeader when set.
	Token string
	// Prefix is the servers' mount path (PathPrefix).
	Prefix string
	// LocalAddr names this executor's own server: blocks it holds are read
	// from Local directly.
	LocalAddr string
	Local     *shuffle.Store
	// Client sends the requests (a client with its own transport).
	Client *http.Client
	// Observe, when set, is called with a Fetch's bytes in flight after
	// every change (for tests and metrics); calls are serialized per Fetch.
	Observe func(inFlight int64)
	// HostLocal reads the blocks of other executors on the same host from
	// their directories instead of over HTTP (spark.shuffle.readHostLocalDisk):
	// an executor whose server announces its directory, and whose marker
	// this process reads there with the announced token. A block that
	// cannot be opened that way is fetched over HTTP.
	HostLocal bool
	// OnPeer, when set, is told how an address's blocks will be read from
	// now on (disk true: from its directory) and why, for logs and tests.
	OnPeer func(addr string, disk bool, why string)
}

func (c Config) withDefaults() Config {
	if c.MaxBytesInFlight <= 0 {
		c.MaxBytesInFlight = 48 << 20
	}
	if c.MaxBlocksPerRequest <= 0 {
		c.MaxBlocksPerRequest = 4096
	}
	if c.MaxRequestsPerAddr <= 0 {
		c.MaxRequestsPerAddr = 2
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = 3
	} else if c.MaxRetries < 0 {
		c.MaxRetries = 0
	}
	if c.RetryWait < 0 {
		c.RetryWait = 0
	} else if c.RetryWait == 0 {
		c.RetryWait = 5 * time.Second
	}
	if c.Timeout <= 0 {
		c.Timeout = 120 * time.Second
	}
	if c.Prefix == "" {
		c.Prefix = PathPrefix
	}
	if c.Client == nil {
		c.Client = &http.Client{Transport: &http.Transport{
			MaxIdleConnsPerHost:   8,
			ResponseHeaderTimeout: c.Timeout,
			IdleConnTimeout:       90 * time.Second,
		}}
	}
	return c
}

// Want is one block a reducer needs: where its map output lives and its
// size as the map task reported it.
type Want struct {
	Map, Reduce int
	Addr        string // the executor's shuffle server, "host:port"
	Size        int64  // exact block size (a different length is ErrCorrupt)
}

// Block is one fetched block. Data stays valid until Release, which the
// consumer must call exactly once.
type Block struct {
	shuffle.BlockID
	Addr    string
	From    Source
	Data    []byte
	release func()
}

// Release gives the block's bytes back to the in-flight budget (and, for a
// local block, its reference to the mapping).
func (b Block) Release() { b.release() }

// Fetcher fetches reducers' blocks from executors. It is safe for
// concurrent use; every Fetch has its own in-flight budget.
type Fetcher struct {
	cfg Config

	mu    sync.Mutex
	peers map[string]*peer // guarded by mu; by address, with HostLocal

	stats struct{ local, hostLocal, remote, fallbacks atomic.Int64 }
}

// NewFetcher returns a fetcher.
func NewFetcher(cfg Config) *Fetcher {
	return &Fetcher{cfg: cfg.withDefaults(), peers: map[string]*peer{}}
}

// Close closes the fetcher's idle connections (Fetch calls may continue
// and open new ones) and its host-local stores: no host-local block may
// be used afterwards.
func (f *Fetcher) Close() {
	f.cfg.Client.CloseIdleConnections()
	f.closePeers()
}

// batch is one request's worth of wanted blocks from one address.
type batch struct {
	addr  string
	wants []Want
	size  int64
}

// event is what request goroutines tell the Fetch loop.
type event struct {
	block   *Block
	fail    *Failure
	done    *batch // the request goroutine ended
	dead    error  // with done: the address failed for want of an answer
	unauthz error  // with done: the address refused the token
}

// budget is one Fetch's bytes in flight.
type budget struct {
	mu       sync.Mutex
	inFlight int64 // guarded by mu
	limit    int64
	wake     chan struct{} // signalled on every give
	observe  func(int64)
}

func (b *budget) tryTake(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.inFlight > 0 && b.inFlight+n > b.limit {
		return false
	}
	b.inFlight += n
	if b.observe != nil {
		b.observe(b.inFlight)
	}
	return true
}

func (b *budget) give(n int64) {
	b.mu.Lock()
	b.inFlight -= n
	if b.observe != nil {
		b.observe(b.inFlight)
	}
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// Fetch fetches the wanted blocks of one shuffle and calls fn with each, in
// arrival order, from the calling goroutine. Blocks at Config.LocalAddr are
// read from the local store. Blocks that cannot be fetched are not passed
// to fn; when every other block has been, Fetch returns a
// *FetchFailedError naming each failed map and why. An error from fn, a
// refused token (ErrUnauthorized) or ctx's end stops every request and
// returns at once; blocks not yet passed to fn are released.
func (f *Fetcher) Fetch(ctx context.Context, shuffleID int, wants []Want, fn func(Block) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	bud := &budget{limit: f.cfg.MaxBytesInFlight, wake: make(chan struct{}, 1), observe: f.cfg.Observe}
	var local []Want
	byAddr := map[string][]Want{}
	for _, w := range wants {
		if f.cfg.Local != nil && w.Addr == f.cfg.LocalAddr {
			local = append(local, w)
		} else {
			byAddr[w.Addr] = append(byAddr[w.Addr], w)
		}
	}
	// Executors on this host: read their directories (outside the budget,
	// like the local store), falling back to HTTP block by block.
	type onDisk struct {
		addr  string
		store *shuffle.Store
		wants []Want
	}
	var disk []onDisk
	if f.cfg.HostLocal {
		for addr, ws := range byAddr {
			if st := f.hostLocal(ctx, addr); st != nil {
				disk = append(disk, onDisk{addr, st, ws})
				delete(byAddr, addr)
			}
		}
		slices.SortFunc(disk, func(a, b onDisk) int { return cmp.Compare(a.addr, b.addr) })
	}
	pending := map[string][]*batch{}
	var addrs []string
	for addr, ws := range byAddr {
		pending[addr] = f.batches(addr, ws)
		addrs = append(addrs, addr)
	}
	slices.Sort(addrs)

	// Every want ends in one block or failure event and every batch in one
	// done event, so request goroutines never wait for the consumer: what
	// they read is within the budget, and a slow consumer does not stall
	// the servers' writes.
	nb := 0
	for _, q := range pending {
		nb += len(q)
	}
	maxBatches := nb // those of the host-local blocks that fall back below
	for _, d := range disk {
		maxBatches += len(d.wants)
	}
	events := make(chan event, len(wants)+maxBatches)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		go func() { wg.Wait(); close(events) }()
		for ev := range events { // request goroutines end: drop what they bring
			if ev.block != nil {
				ev.block.Release()
			}
		}
	}()
	active := map[string]int{}
	fails := failures{}
	running := 0
	launch := func() {
		for progress := true; progress; {
			progress = false
			for _, addr := range addrs {
				q := pending[addr]
				if len(q) == 0 || active[addr] >= f.cfg.MaxRequestsPerAddr || !bud.tryTake(q[0].size) {
					continue
				}
				b := q[0]
				pending[addr] = q[1:]
				nb--
				active[addr]++
				running++
				progress = true
				wg.Add(1)
				go func() {
					defer wg.Done()
					f.run(ctx, shuffleID, b, bud, events)
				}()
			}
		}
	}
	failAddr := func(addr string, err error) {
		for _, b := range pending[addr] {
			for _, w := range b.wants {
				fails.add(Failure{Map: w.Map, Addr: addr, Err: err})
			}
		}
		nb -= len(pending[addr])
		pending[addr] = nil
	}
	launch()
	for _, w := range local {
		if err := ctx.Err(); err != nil {
			return err
		}
		id := blockID(shuffleID, w)
		data, release, err := f.cfg.Local.Fetch(id)
		if err != nil {
			kind := ErrCorrupt
			if errors.Is(err, fs.ErrNotExist) {
				kind = ErrMissing
			}
			fails.add(Failure{Map: w.Map, Addr: w.Addr, Err: fmt.Errorf("%w: %w", kind, err)})
			continue
		}
		f.stats.local.Add(1)
		if err := fn(Block{BlockID: id, Addr: w.Addr, From: Local, Data: data, release: release}); err != nil {
			return err
		}
	}
	for _, d := range disk {
		var back []Want // to fetch over HTTP
		for i, w := range d.wants {
			if err := ctx.Err(); err != nil {
				return err
			}
			id := blockID(shuffleID, w)
			data, release, err := d.store.Fetch(id)
			if err != nil && !errors.Is(err, shuffle.ErrDamaged) {
				// Not opened or mapped: the server answers for it. A
				// directory this process may not read (another user) or
				// map is not tried again.
				if errors.Is(err, fs.ErrNotExist) {
					back = append(back, w)
					continue
				}
				f.demote(d.addr, d.store, "reading its directory: "+err.Error())
				back = append(back, d.wants[i:]...)
				break
			}
			if err == nil && int64(len(data)) != w.Size {
				release()
				err = fmt.Errorf("reduce %d: %d bytes, the map task reported %d", w.Reduce, len(data), w.Size)
			}
			if err != nil {
				fails.add(Failure{Map: w.Map, Addr: w.Addr, Err: fmt.Errorf("%w: %w", ErrCorrupt, err)})
				continue
			}
			f.stats.hostLocal.Add(1)
			if err := fn(Block{BlockID: id, Addr: w.Addr, From: HostLocal, Data: data, release: release}); err != nil {
				return err
			}
		}
		if len(back) > 0 {
			f.stats.fallbacks.Add(int64(len(back)))
			bs := f.batches(d.addr, back)
			if _, ok := pending[d.addr]; !ok {
				addrs = append(addrs, d.addr)
				slices.Sort(addrs)
			}
			pending[d.addr] = append(pending[d.addr], bs...)
			nb += len(bs)
			launch()
		}
	}
	// With nothing running and batches pending, the consumer holds the
	// budget: wait for a release.
	for running > 0 || nb > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-bud.wake:
		case ev := <-events:
			switch {
			case ev.block != nil:
				if err := ctx.Err(); err != nil {
					ev.block.Release()
					return err
				}
				if err := fn(*ev.block); err != nil {
					return err
				}
			case ev.fail != nil:
				fails.add(*ev.fail)
			case ev.done != nil:
				running--
				active[ev.done.addr]--
				if ev.unauthz != nil {
					return ev.unauthz
				}
				if ev.dead != nil {
					failAddr(ev.done.addr, ev.dead)
				}
			}
		}
		launch()
	}
	return fails.err(shuffleID)
}

// batches splits one address's wants into requests of at most a fifth of
// the in-flight budget (so that several executors are read at once) and
// MaxBlocksPerRequest blocks.
func (f *Fetcher) batches(addr string, ws []Want) []*batch {
	slices.SortFunc(ws, func(a, b Want) int {
		return cmp.Or(cmp.Compare(a.Map, b.Map), cmp.Compare(a.Reduce, b.Reduce))
	})
	target := max(f.cfg.MaxBytesInFlight/5, 1)
	var out []*batch
	cur := &batch{addr: addr}
	for _, w := range ws {
		if len(cur.wants) > 0 && (cur.size+w.Size > target || len(cur.wants) >= f.cfg.MaxBlocksPerRequest) {
			out = append(out, cur)
			cur = &batch{addr: addr}
		}
		cur.wants = append(cur.wants, w)
		cur.size += w.Size
	}
	if len(cur.wants) > 0 {
		out = append(out, cur)
	}
	return out
}

// spans encodes wants (sorted) as a request.
func spans(shuffleID int, ws []Want) request {
	r := request{Shuffle: shuffleID}
	for _, w := range ws {
		if n := len(r.Spans); n > 0 {
			last := &r.Spans[n-1]
			if last.Map == w.Map && last.Reduce+last.Count == w.Reduce {
				last.Count++
				continue
			}
		}
		r.Spans = append(r.Spans, span{Map: w.Map, Reduce: w.Reduce, Count: 1})
	}
	return r
}

// errRetryable marks an attempt that failed for want of an answer.
type errRetryable struct{ err error }

func (e errRetryable) Error() string { return e.err.Error() }
func (e errRetryable) Unwrap() error { return e.err }

// run fetches one batch, retrying the blocks not yet received, and reports
// every block or failure, then done. It gives back the budget of every
// want it does not deliver.
func (f *Fetcher) run(ctx context.Context, shuffleID int, b *batch, bud *budget, events chan<- event) {
	ev := event{done: b}
	send := func(e event) bool {
		select {
		case events <- e:
			return true
		case <-ctx.Done():
			return false
		}
	}
	left := b.wants
	defer func() {
		for _, w := range left {
			bud.give(w.Size)
		}
		send(ev)
	}()
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			t := time.NewTimer(f.cfg.RetryWait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return
			}
		}
		var err error
		left, err = f.attempt(ctx, shuffleID, b.addr, left, bud, send)
		if err == nil || ctx.Err() != nil {
			return
		}
		if errors.Is(err, ErrUnauthorized) {
			ev.unauthz = err
			return
		}
		var re errRetryable
		if errors.As(err, &re) && attempt < f.cfg.MaxRetries {
			continue
		}
		kind := ErrUnreachable
		if errors.Is(err, ErrTimeout) {
			kind = ErrTimeout
		}
		cause := fmt.Errorf("%w: %w", kind, err)
		if errors.As(err, &re) {
			ev.dead = cause
		}
		for len(left) > 0 {
			w := left[0]
			left = left[1:]
			bud.give(w.Size)
			if !send(event{fail: &Failure{Map: w.Map, Addr: b.addr, Err: cause}}) {
				return
			}
		}
		return
	}
}

// attempt sends one request for wants and reads its frames, delivering
// blocks and per-block failures through send; it returns the wants not yet
// settled. Giving back budget: a delivered block gives its own at release,
// a failed want's is given here.
func (f *Fetcher) attempt(ctx context.Context, shuffleID int, addr string, wants []Want, bud *budget, send func(event) bool) ([]Want, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var timedOut bool
	var mu sync.Mutex
	watchdog := time.AfterFunc(f.cfg.Timeout, func() { mu.Lock(); timedOut = true; mu.Unlock(); cancel() })
	defer watchdog.Stop()
	wrap := func(err error) error {
		mu.Lock()
		defer mu.Unlock()
		// The watchdog and the transport's ResponseHeaderTimeout bound the
		// same silence; whichever fires first, it is a timeout.
		var ne net.Error
		if timedOut || errors.As(err, &ne) && ne.Timeout() {
			err = fmt.Errorf("%w after %v: %w", ErrTimeout, f.cfg.Timeout, err)
		}
		return errRetryable{err}
	}
	body := appendRequest(nil, spans(shuffleID, wants))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+f.cfg.Prefix+"fetch", bytes.NewReader(body))
	if err != nil {
		return wants, fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	req.Header.Set("Content-Type", ContentType)
	if f.cfg.Token != "" {
		req.Header.Set(TokenHeader, f.cfg.Token)
	}
	resp, err := f.cfg.Client.Do(req)
	if err != nil {
		return wants, wrap(err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return wants, fmt.Errorf("%w by %s: %s", ErrUnauthorized, addr, statusText(resp))
	case resp.StatusCode == http.StatusNotFound:
		err := fmt.Errorf("%w: %s", ErrMissing, statusText(resp))
		for _, w := range wants {
			bud.give(w.Size)
			if !send(event{fail: &Failure{Map: w.Map, Addr: addr, Err: err}}) {
				return nil, ctx.Err()
			}
		}
		return nil, nil
	case resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode >= 500:
		return wants, errRetryable{fmt.Errorf("%s", statusText(resp))}
	default:
		return wants, fmt.Errorf("%w: %s", ErrProtocol, statusText(resp))
	}
	br := bufio.NewReaderSize(resp.Body, 64<<10)
	for len(wants) > 0 {
		watchdog.Reset(f.cfg.Timeout)
		fr, err := readFrameHeader(br)
		if err != nil {
			return wants, wrap(err)
		}
		w := wants[0]
		if fr.Kind == frameEnd || fr.Map != w.Map || fr.Reduce != w.Reduce {
			return wants, wrap(fmt.Errorf("%w: frame for map %d reduce %d, want map %d reduce %d", ErrProtocol, fr.Map, fr.Reduce, w.Map, w.Reduce))
		}
		var fail error
		var data []byte
		switch fr.Kind {
		case frameMissing:
			fail = fmt.Errorf("%w: %s", ErrMissing, fr.Msg)
		case frameError:
			fail = fmt.Errorf("%w: %s", ErrCorrupt, fr.Msg)
		case frameBlock:
			if fr.Len != w.Size {
				fail = fmt.Errorf("%w: reduce %d: %d bytes, the map task reported %d", ErrCorrupt, w.Reduce, fr.Len, w.Size)
				if _, err := io.CopyN(io.Discard, br, fr.Len); err != nil {
					return wants, wrap(err)
				}
				break
			}
			data = make([]byte, fr.Len)
			if _, err := io.ReadFull(br, data); err != nil {
				return wants, wrap(err)
			}
			if crc32.Checksum(data, castagnoli) != fr.CRC {
				fail = fmt.Errorf("%w: reduce %d: checksum mismatch", ErrCorrupt, w.Reduce)
			}
		}
		wants = wants[1:]
		if fail != nil {
			bud.give(w.Size)
			if !send(event{fail: &Failure{Map: w.Map, Addr: addr, Err: fail}}) {
				return wants, ctx.Err()
			}
			continue
		}
		size := w.Size
		f.stats.remote.Add(1)
		blk := &Block{
			BlockID: shuffle.BlockID{Shuffle: shuffleID, Map: w.Map, Reduce: w.Reduce},
			Addr:    addr, From: Remote, Data: data,
			release: sync.OnceFunc(func() { bud.give(size) }),
		}
		if !send(event{block: blk}) {
			blk.Release()
			return wants, ctx.Err()
		}
	}
	// Every block arrived; read the end frame so that the connection can
	// be reused (a bad ending changes nothing).
	watchdog.Reset(f.cfg.Timeout)
	readFrameHeader(br)
	return nil, nil
}

func statusText(resp *http.Response) string {
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return fmt.Sprintf("status %d: %s", resp.StatusCode, bytes.TrimSpace(msg))
}

func blockID(shuffleID int, w Want) shuffle.BlockID {
	return shuffle.BlockID{Shuffle: shuffleID, Map: w.Map, Reduce: w.Reduce}
}
