package rdd

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/mesoproject/meso/rdd/internal/blocks"
	"github.com/mesoproject/meso/rdd/internal/shufflenet"
	"github.com/mesoproject/meso/rdd/internal/task"
)

// Cached partitions in cluster mode. Each executor caches the partitions
// of persisted datasets its tasks computed (under the driver's dataset
// ids) and reports them with the task's result; the driver keeps where
// each is (cacheBook), so the planner skips what is cached anywhere, as
// Spark's BlockManagerMaster does. A task that misses its executor's cache
// asks the driver where the partition is (GET /cache-locations/{node}/{part})
// and reads it from that executor (GET /cache/{node}/{part}, the
// application's token); when no holder answers, it recomputes the partition
// from the lineage (and caches it in turn). An executor's loss forgets its
// partitions; Unpersist and the cleaner (a dataset that is garbage) forget
// a dataset's. The book is bounded (maxCacheLocs): past it a new location
// is not recorded, which costs only a recomputation. The book belongs to
// the session, so it ends with the application.

// cacheBook is the driver's record of which executors hold which cached
// partitions.
type cacheBook struct {
	mu   sync.Mutex
	locs map[blocks.Key]map[string]bool // guarded by mu; partition -> executor ids

	// dataServed counts the bytes of driver data (Parallelize partitions)
	// sent to executors.
	dataServed atomic.Int64
	// remote counts the tasks that missed their executor's cache while
	// another executor held the partition (cache-location answers naming
	// a holder).
	remote atomic.Int64
}

// maxCacheLocs bounds the cached partitions the driver records.
const maxCacheLocs = 1 << 20

func newCacheBook() *cacheBook { return &cacheBook{locs: map[blocks.Key]map[string]bool{}} }

// add records that executor holds the partitions; a partition new to the
// book is not recorded once it holds maxCacheLocs (it reports whether all
// were).
func (b *cacheBook) add(executor string, cached []task.CachedBlock) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	all := true
	for _, c := range cached {
		k := blocks.Key{Node: c.Node, Part: c.Part}
		if b.locs[k] == nil {
			if len(b.locs) >= maxCacheLocs {
				all = false
				continue
			}
			b.locs[k] = map[string]bool{}
		}
		b.locs[k][executor] = true
	}
	return all
}

// size is the number of cached partitions recorded.
func (b *cacheBook) size() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.locs)
}

// lose forgets what an executor held.
func (b *cacheBook) lose(executor string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k, ex := range b.locs {
		delete(ex, executor)
		if len(ex) == 0 {
			delete(b.locs, k)
		}
	}
}

// forget drops a dataset's partitions (Unpersist).
func (b *cacheBook) forget(node int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k := range b.locs {
		if k.Node == node {
			delete(b.locs, k)
		}
	}
}

// bookEntry is one dataset's partitions cached on executors.
type bookEntry struct {
	node, parts int
	executors   []string // sorted
}

// summary lists, by dataset id, how many partitions executors cache and
// which executors hold them.
func (b *cacheBook) summary() []bookEntry {
	b.mu.Lock()
	parts := map[int]int{}
	execs := map[int]map[string]bool{}
	for k, ex := range b.locs {
		parts[k.Node]++
		if execs[k.Node] == nil {
			execs[k.Node] = map[string]bool{}
		}
		for id := range ex {
			execs[k.Node][id] = true
		}
	}
	b.mu.Unlock()
	var out []bookEntry
	for _, n := range slices.Sorted(maps.Keys(parts)) {
		out = append(out, bookEntry{node: n, parts: parts[n], executors: slices.Sorted(maps.Keys(execs[n]))})
	}
	return out
}

// holders lists the executors holding k.
func (b *cacheBook) holders(k blocks.Key) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for ex := range b.locs[k] {
		out = append(out, ex)
	}
	return out
}

// drop forgets that executor holds k (it could not serve it).
func (b *cacheBook) drop(k blocks.Key, executor string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.locs[k], executor)
	if len(b.locs[k]) == 0 {
		delete(b.locs, k)
	}
}

// cacheState returns the planner's view of the session's cache: the local
// block manager, and in cluster mode what the executors hold.
func (s *Session) cacheState() cacheState {
	cs := cacheState{bm: s.cache}
	if s.cluster != nil {
		cs.book = s.cluster.cached
	}
	return cs
}

// blockKey parses the {node}/{part} of a block request.
func blockKey(r *http.Request) (blocks.Key, error) {
	n, err1 := strconv.Atoi(r.PathValue("node"))
	p, err2 := strconv.Atoi(r.PathValue("part"))
	if err1 != nil || err2 != nil || n < 0 || p < 0 {
		return blocks.Key{}, fmt.Errorf("bad block id %q/%q", r.PathValue("node"), r.PathValue("part"))
	}
	return blocks.Key{Node: n, Part: p}, nil
}

// serveCacheLocations tells an executor the shuffle addresses of the live
// executors holding a cached partition, one per line.
func (c *cluster) serveCacheLocations(w http.ResponseWriter, r *http.Request) {
	k, err := blockKey(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var addrs []string
	for _, id := range c.cached.holders(k) {
		c.mu.Lock()
		if e := c.execs[id]; e != nil && !e.gone {
			addrs = append(addrs, id+" "+e.addr)
		}
		c.mu.Unlock()
	}
	if len(addrs) > 0 {
		c.cached.remote.Add(1)
	}
	io.WriteString(w, strings.Join(addrs, "\n"))
}

// serveData sends partition part of a dataset the driver holds
// (Parallelize) to an executor, encoded in the dataset's codec. The dataset
// must belong to a running job, whose resolution gives its partitioning.
func (c *cluster) serveData(w http.ResponseWriter, r *http.Request) {
	k, err := blockKey(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s := c.s
	var n *node
	s.mu.Lock()
	for _, jt := range s.jobTasks {
		if x := jt.nodes[k.Node]; x != nil && x.driverPart != nil {
			n = x
			break
		}
	}
	s.mu.Unlock()
	if n == nil {
		http.Error(w, fmt.Sprintf("no driver dataset %d in a running job", k.Node), http.StatusNotFound)
		return
	}
	parts := s.partsOf(n)
	if k.Part >= parts {
		http.Error(w, fmt.Sprintf("dataset %d has %d partitions", k.Node, parts), http.StatusNotFound)
		return
	}
	b := n.driverPart(k.Part, parts)
	c.cached.dataServed.Add(int64(len(b)))
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}

// cacheHandler serves this executor's cached partitions to other executors.
func cacheHandler(bm *blocks.Manager) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k, err := blockKey(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		b, ok, err := bm.Encoded(k)
		switch {
		case err != nil:
			http.Error(w, err.Error(), http.StatusInternalServerError)
		case !ok:
			http.Error(w, fmt.Sprintf("partition %d of dataset %d is not cached here", k.Part, k.Node), http.StatusNotFound)
		default:
			w.Header().Set("Content-Length", strconv.Itoa(len(b)))
			w.Write(b)
		}
	})
}

// maxBlock bounds a cached partition or driver data partition an executor
// accepts.
const maxBlock = 1 << 30

// get fetches url with the application's token (at most maxBlock bytes).
func (e *executor) get(url string) ([]byte, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set(shufflenet.TokenHeader, e.token)
	resp, err := e.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBlock+1))
	switch {
	case err != nil:
		return nil, err
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
	case len(b) > maxBlock:
		return nil, fmt.Errorf("larger than %d bytes", maxBlock)
	}
	return b, nil
}

// fetchData fetches partition p of the driver's dataset id.
func (e *executor) fetchData(id, p int) ([]byte, error) {
	b, err := e.get(fmt.Sprintf("%s/data/%d/%d", e.driverURL, id, p))
	if err != nil {
		return nil, fmt.Errorf("fetching from the driver: %w", err)
	}
	return b, nil
}

// remoteBlock reads cached partition k from another executor that holds
// it, as the driver says; false when none can serve it (the caller
// recomputes it).
func (e *executor) remoteBlock(k blocks.Key) ([]byte, bool) {
	list, err := e.get(fmt.Sprintf("%s/cache-locations/%d/%d", e.driverURL, k.Node, k.Part))
	if err != nil {
		e.log.Warn("asking the driver where a cached partition is", "rdd", k.Node, "partition", k.Part, "err", err)
		return nil, false
	}
	for _, line := range strings.Split(string(list), "\n") {
		id, addr, ok := strings.Cut(line, " ")
		if !ok || id == e.id {
			continue
		}
		b, err := e.get(fmt.Sprintf("http://%s/cache/%d/%d", addr, k.Node, k.Part))
		if err == nil {
			return b, true
		}
		e.log.Warn("reading a cached partition from another executor", "rdd", k.Node, "partition", k.Part, "from", id, "err", err)
	}
	return nil, false
}
