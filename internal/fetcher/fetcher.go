package fetcher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"syscall"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
)

// Defaults, as in Mesos (--fetcher_cache_size, --fetcher_stall_timeout).
const (
	DefaultCacheSize      int64 = 2 << 30
	DefaultStallTimeout         = time.Minute
	DefaultMaxExtractSize int64 = 32 << 30
)

// ErrFetch is wrapped by every error Fetch returns. The message names the
// URI and the cause, e.g. `fetcher: "http://x/y.tgz": GET: 404 Not Found`.
var ErrFetch = errors.New("fetcher")

// Config configures a Fetcher. Zero values mean the Mesos defaults.
type Config struct {
	// CacheDir holds cached downloads (Mesos: --fetcher_cache_dir; the agent
	// passes <work_dir>/fetch). Earlier cache files in it are deleted by New.
	// "" disables the cache: URIs with cache=true are fetched directly.
	CacheDir string
	// CacheSize bounds the cache in bytes (--fetcher_cache_size; default
	// 2 GiB). Least recently used entries not in use are evicted.
	CacheSize int64
	// StallTimeout aborts an HTTP download when no byte arrived for this
	// long (--fetcher_stall_timeout; default 1 minute). The overall bound
	// is the context given to Fetch.
	StallTimeout time.Duration
	// MaxExtractSize bounds the bytes one archive may expand to (default
	// 32 GiB; negative: no bound), against decompression bombs.
	MaxExtractSize int64
	// HTTPClient makes the downloads (default: a client with Go's default
	// transport and no overall timeout).
	HTTPClient *http.Client
	// Logger receives one line per URI (nil: discard).
	Logger *slog.Logger
}

// Fetcher fetches CommandInfo URIs into sandboxes. It is safe for
// concurrent use; one Fetcher (one cache) serves a whole agent.
type Fetcher struct {
	cfg    Config
	client *http.Client
	log    *slog.Logger
	cache  *cache // nil when disabled
}

// New returns a Fetcher, creating and emptying the cache directory.
func New(cfg Config) (*Fetcher, error) {
	if cfg.CacheSize < 0 || cfg.StallTimeout < 0 {
		return nil, fmt.Errorf("%w: negative cache size or stall timeout", ErrFetch)
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	if cfg.StallTimeout == 0 {
		cfg.StallTimeout = DefaultStallTimeout
	}
	if cfg.MaxExtractSize == 0 {
		cfg.MaxExtractSize = DefaultMaxExtractSize
	}
	f := &Fetcher{cfg: cfg, client: cfg.HTTPClient, log: cfg.Logger}
	if f.client == nil {
		f.client = &http.Client{}
	}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	if cfg.CacheDir != "" {
		c, err := openCache(cfg.CacheDir, cfg.CacheSize, f.log)
		if err != nil {
			return nil, fmt.Errorf("%w: cache: %w", ErrFetch, err)
		}
		f.cache = c
	}
	return f, nil
}

// uriError is a failed URI: it wraps ErrFetch and the cause.
type uriError struct {
	uri string
	err error
}

func (e *uriError) Error() string   { return fmt.Sprintf("fetcher: %q: %v", e.uri, e.err) }
func (e *uriError) Unwrap() []error { return []error{ErrFetch, e.err} }

// job is one call of Fetch: the sandbox and whom it is for.
type job struct {
	root *os.Root
	user string // the cache key's user
	own  *owner // nil: files are read and kept with the agent's identity
}

// item is one URI, validated.
type item struct {
	uri  *mesospb.CommandInfo_URI
	src  source
	name string // output path relative to the sandbox
}

// Fetch fetches every URI, in order, into sandbox (an existing directory),
// the way Mesos' fetcher does: each lands at output_file or the URI's base
// name; executable files get mode 0755; otherwise archives recognised by
// their name are extracted into the sandbox (extract defaults to true);
// cache=true goes through the agent's cache, keyed by (user, URI). When
// user is set and the agent runs as root, the sandbox is then chowned to
// user recursively. All URIs are validated before anything is fetched.
// Errors wrap ErrFetch and name the URI.
func (f *Fetcher) Fetch(ctx context.Context, uris []*mesospb.CommandInfo_URI, sandbox, user string) error {
	if len(uris) == 0 {
		return nil
	}
	items := make([]item, len(uris))
	for i, u := range uris {
		src, err := parseSource(u.GetValue())
		if err == nil {
			items[i].name, err = outputName(u.GetOutputFile(), src)
		}
		if err != nil {
			return &uriError{u.GetValue(), err}
		}
		items[i].uri, items[i].src = u, src
	}
	own, err := lookupOwner(user)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrFetch, err)
	}
	root, err := os.OpenRoot(sandbox)
	if err != nil {
		return fmt.Errorf("%w: sandbox: %w", ErrFetch, err)
	}
	defer root.Close()
	j := &job{root: root, user: user, own: own}
	for _, it := range items {
		if err := f.fetchOne(ctx, j, it); err != nil {
			return &uriError{it.uri.GetValue(), err}
		}
	}
	if own != nil {
		if err := own.chownTree(sandbox); err != nil {
			return fmt.Errorf("%w: %w", ErrFetch, err)
		}
	} else if user != "" {
		f.log.Debug("not running as root: fetched files keep the agent's owner", "user", user)
	}
	return nil
}

func (f *Fetcher) fetchOne(ctx context.Context, j *job, it item) error {
	start := time.Now()
	how := "direct"
	var err error
	if it.uri.GetCache() && f.cache != nil {
		how, err = f.fetchCached(ctx, j, it)
	} else {
		err = f.fetchDirect(ctx, j, it)
	}
	if err != nil {
		return err
	}
	f.log.Info("fetched uri", "uri", it.uri.GetValue(), "to", it.name, "via", how,
		"duration", time.Since(start))
	return nil
}

func (f *Fetcher) fetchDirect(ctx context.Context, j *job, it item) error {
	b, err := f.open(ctx, it.src, j.own)
	if err != nil {
		return err
	}
	return f.deliverBody(ctx, j.root, it, b)
}

// deliverBody writes a download into the sandbox, then makes it executable
// or extracts it.
func (f *Fetcher) deliverBody(ctx context.Context, root *os.Root, it item, b *body) error {
	_, err := writeSandboxFile(ctx, root, it.name, b, 0o644)
	b.Close()
	if err != nil {
		return fmt.Errorf("write %s: %w", it.name, err)
	}
	if it.uri.GetExecutable() {
		return root.Chmod(it.name, 0o755)
	}
	if !it.uri.GetExtract() || kindOf(it.name) == notArchive {
		return nil
	}
	file, err := openSandboxRegular(root, it.name)
	if err != nil {
		return err
	}
	defer file.Close()
	return newExtractor(ctx, root, f.cfg.MaxExtractSize).extract(file, it.name, kindOf(it.name))
}

// openSandboxRegular opens the regular file name in the sandbox for
// reading, without blocking should a FIFO have been swapped in.
func openSandboxRegular(root *os.Root, name string) (*os.File, error) {
	file, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	st, err := file.Stat()
	if err == nil && !st.Mode().IsRegular() {
		err = &os.PathError{Op: "open", Path: name, Err: errNotRegular}
	}
	if err != nil {
		file.Close()
		return nil, err
	}
	return file, nil
}

// fetchCached fetches through the cache and says how: "cache hit", "cache
// miss", or "direct" when the entry could not be cached.
func (f *Fetcher) fetchCached(ctx context.Context, j *job, it item) (string, error) {
	key := j.user + "\x00" + it.uri.GetValue()
	for {
		e, created := f.cache.acquire(key, it.src.base)
		if created {
			return f.fillCache(ctx, j, it, e)
		}
		err := f.cache.wait(ctx, e)
		if err == nil {
			defer f.cache.release(e)
			return "cache hit", f.deliverCached(ctx, j.root, it, e)
		}
		f.cache.release(e)
		switch {
		case ctx.Err() != nil:
			return "", ctx.Err()
		case errors.Is(err, errNotCacheable):
			return "direct", f.fetchDirect(ctx, j, it)
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			continue // the downloading launch gave up; try again ourselves
		default:
			return "", err
		}
	}
}

// fillCache downloads a new entry into the cache, then delivers it. An
// entry that cannot be cached is streamed straight into the sandbox.
func (f *Fetcher) fillCache(ctx context.Context, j *job, it item, e *cacheEntry) (string, error) {
	b, err := f.open(ctx, it.src, j.own)
	if err != nil {
		f.cache.fail(e, err)
		return "", err
	}
	if !f.cache.reserve(e, b.size) {
		f.cache.fail(e, errNotCacheable)
		f.log.Debug("fetching directly: size unknown or over the cache's free space",
			"uri", it.uri.GetValue(), "bytes", b.size)
		return "direct", f.deliverBody(ctx, j.root, it, b)
	}
	err = f.cache.download(ctx, e, b)
	b.Close()
	if err != nil {
		f.cache.fail(e, err)
		return "", err
	}
	f.cache.complete(e)
	defer f.cache.release(e)
	return "cache miss", f.deliverCached(ctx, j.root, it, e)
}

// deliverCached puts a cached file into the sandbox. As in Mesos, an
// archive to extract is extracted from the cache without a copy of it in
// the sandbox.
func (f *Fetcher) deliverCached(ctx context.Context, root *os.Root, it item, e *cacheEntry) error {
	file, err := os.Open(f.cache.path(e))
	if err != nil {
		return err
	}
	defer file.Close()
	if it.uri.GetExtract() && !it.uri.GetExecutable() && kindOf(it.name) != notArchive {
		return newExtractor(ctx, root, f.cfg.MaxExtractSize).extract(file, it.name, kindOf(it.name))
	}
	if _, err := writeSandboxFile(ctx, root, it.name, file, 0o644); err != nil {
		return fmt.Errorf("copy %s from the cache: %w", it.name, err)
	}
	if it.uri.GetExecutable() {
		return root.Chmod(it.name, 0o755)
	}
	return nil
}
