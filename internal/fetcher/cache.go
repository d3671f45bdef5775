package fetcher

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// errNotCacheable marks an entry that was fetched directly instead: its
// size is unknown, larger than the cache, or held by entries in use.
var errNotCacheable = errors.New("not cacheable")

// cache is the agent's fetcher cache: files in one directory, described by
// an lruTable. Fetches of the same (user, URI) share one download: the
// first creates the entry and downloads, the others wait for it.
type cache struct {
	dir string
	log *slog.Logger

	mu    sync.Mutex
	table *lruTable // guarded by mu

	onWait func() // tests: called when a fetch starts waiting for another's download
}

// openCache creates dir and empties it of earlier cache files: like Mesos,
// the cache does not survive an agent restart. Only names the cache writes
// are removed, so a mistaken directory loses nothing else.
func openCache(dir string, capacity int64, log *slog.Logger) (*cache, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, de := range des {
		if isCacheFileName(de.Name()) && !de.IsDir() {
			if err := os.Remove(filepath.Join(dir, de.Name())); err != nil {
				return nil, err
			}
		}
	}
	return &cache{dir: dir, log: log, table: newLRUTable(capacity)}, nil
}

// isCacheFileName matches cacheFileName's and tempName's output.
func isCacheFileName(n string) bool {
	if strings.HasPrefix(n, ".meso-fetch-") {
		return true
	}
	digits := strings.TrimLeft(strings.TrimPrefix(n, "c"), "0123456789")
	return strings.HasPrefix(n, "c") && len(digits) < len(n)-1 && strings.HasPrefix(digits, "-")
}

func (c *cache) path(e *cacheEntry) string { return filepath.Join(c.dir, e.file) }

func (c *cache) acquire(key, base string) (*cacheEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.table.acquire(key, base)
}

func (c *cache) release(e *cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.table.release(e)
}

// reserve claims space for e, deleting the files of evicted entries.
func (c *cache) reserve(e *cacheEntry, size int64) bool {
	c.mu.Lock()
	victims, ok := c.table.reserve(e, size)
	c.mu.Unlock()
	for _, v := range victims {
		c.log.Debug("evicting cache entry", "file", v.file, "bytes", v.size)
		if err := os.Remove(c.path(v)); err != nil {
			c.log.Warn("cannot delete evicted cache file", "file", v.file, "err", err)
		}
	}
	return ok
}

func (c *cache) complete(e *cacheEntry) {
	c.mu.Lock()
	c.table.complete(e)
	c.mu.Unlock()
	close(e.done)
}

// fail drops e and wakes its waiters with err.
func (c *cache) fail(e *cacheEntry, err error) {
	c.mu.Lock()
	c.table.fail(e, err)
	c.mu.Unlock()
	os.Remove(c.path(e))
	close(e.done)
}

// wait blocks until e is downloaded (nil) or failed (its error).
func (c *cache) wait(ctx context.Context, e *cacheEntry) error {
	if c.onWait != nil {
		c.onWait()
	}
	select {
	case <-e.done:
		return e.failed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// download streams b into e's file: a temporary file renamed into place.
// The source must deliver exactly the reserved size.
func (c *cache) download(ctx context.Context, e *cacheEntry, b *body) error {
	tmp, err := os.CreateTemp(c.dir, ".meso-fetch-*")
	if err != nil {
		return err
	}
	n, err := copyCtx(ctx, tmp, io.LimitReader(b, e.size+1))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != e.size {
		err = fmt.Errorf("got %d bytes where %d were announced", n, e.size)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), c.path(e))
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}
