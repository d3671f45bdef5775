package files

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults for Config's bounds.
const (
	DefaultMaxRequests = 64
	DefaultTimeout     = 30 * time.Second
)

// Config configures a Handler.
type Config struct {
	// Root is the directory tree served; required.
	Root string
	// MaxRead caps the bytes one /files/read returns; 0 means Mesos' 16
	// pages.
	MaxRead int
	// MaxRequests bounds the requests served at once; one more is answered
	// 503 at once. 0 means DefaultMaxRequests.
	MaxRequests int
	// Timeout bounds a browse, read or debug request as a whole, and a
	// download's progress: a download whose client took no bytes for this
	// long is ended. 0 means DefaultTimeout.
	Timeout time.Duration
	// Authorize, when set, is asked about every file or directory before
	// it is opened, with the request's context and the path relative to
	// Root (symlinks resolved; "." for Root); an error is answered 403
	// with its message. The agent checks access_sandboxes with it.
	Authorize func(ctx context.Context, rel string) error
	Logger    *slog.Logger
}

// Handler serves the files API. Create it with New.
type Handler struct {
	root      string // as configured, cleaned
	rootReal  string // symlinks resolved
	maxRead   int
	timeout   time.Duration
	slots     chan struct{} // one token per request being served
	log       *slog.Logger
	names     *nameCache
	authorize func(context.Context, string) error

	mu       sync.RWMutex
	attached map[string]string // guarded by mu; virtual name -> real path inside root
}

// New checks cfg.Root and returns a Handler for it.
func New(cfg Config) (*Handler, error) {
	if cfg.Root == "" {
		return nil, errors.New("files: no root directory")
	}
	if cfg.MaxRequests < 0 || cfg.Timeout < 0 {
		return nil, errors.New("files: negative MaxRequests or Timeout")
	}
	if cfg.MaxRequests == 0 {
		cfg.MaxRequests = DefaultMaxRequests
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	abs, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("files: root: %w", err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("files: root: %w", err)
	}
	if st, err := os.Stat(real); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("files: root %q is not a directory", cfg.Root)
	}
	h := &Handler{
		root:      abs,
		rootReal:  real,
		maxRead:   cfg.MaxRead,
		timeout:   cfg.Timeout,
		slots:     make(chan struct{}, cfg.MaxRequests),
		log:       cfg.Logger,
		names:     newNameCache(),
		authorize: cfg.Authorize,
		attached:  map[string]string{},
	}
	if h.maxRead <= 0 {
		h.maxRead = 16 * os.Getpagesize()
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	return h, nil
}

// Attach makes the directory or file at real (inside the root) reachable
// under the virtual path name, as Mesos' agent attaches
// /frameworks/F/executors/E/runs/latest. Attaching a name again replaces it.
func (h *Handler) Attach(name, real string) error {
	if name == "" || hasDotDot(name) || strings.ContainsRune(name, 0) {
		return fmt.Errorf("files: invalid name %q", name)
	}
	name = cleanName(name)
	resolved, err := filepath.EvalSymlinks(real)
	if err != nil {
		return fmt.Errorf("files: attach %q: %w", real, err)
	}
	if _, ok := h.within(resolved); !ok {
		return fmt.Errorf("files: attach %q: outside %s", real, h.root)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.attached[name] = real
	return nil
}

// Detach removes a name given to Attach.
func (h *Handler) Detach(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.attached, cleanName(name))
}

func cleanName(name string) string {
	if name == "" {
		return ""
	}
	return path.Clean("/" + name)
}

func hasDotDot(p string) bool {
	for _, e := range strings.Split(p, "/") {
		if e == ".." {
			return true
		}
	}
	return false
}

// ServeHTTP implements http.Handler, dispatching on the last path element.
// At most MaxRequests are served at once (503 beyond); browse, read and
// debug get Timeout to finish, downloads Timeout per step of progress.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "files: method not allowed", http.StatusMethodNotAllowed)
		return
	}
	select {
	case h.slots <- struct{}{}:
		defer func() { <-h.slots }()
	default:
		h.log.Debug("files request refused: limit reached", "limit", cap(h.slots), "url", r.URL.String())
		w.Header().Set("Retry-After", "1")
		http.Error(w, "files: "+strconv.Itoa(cap(h.slots))+" requests are being served already; retry later",
			http.StatusServiceUnavailable)
		return
	}
	endpoint := strings.TrimSuffix(path.Base(r.URL.Path), ".json")
	if endpoint == "download" {
		h.download(w, r) // bounded by its progress, see progressReader
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
	defer cancel()
	r = r.WithContext(ctx)
	// A client that does not take the answer is cut off too. Not every
	// ResponseWriter supports deadlines; the context still bounds the work.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(h.timeout))
	switch endpoint {
	case "browse":
		h.browse(w, r)
	case "read":
		h.read(w, r)
	case "debug":
		h.debug(w, r)
	default:
		http.NotFound(w, r)
	}
}

// inFlight is the number of requests being served.
func (h *Handler) inFlight() int { return len(h.slots) }

var jsonpName = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$.]*$`)

// writeJSON answers v as JSON, or as a JSONP call when asked.
func writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "files: "+err.Error(), http.StatusInternalServerError)
		return
	}
	if cb := r.URL.Query().Get("jsonp"); cb != "" {
		if !jsonpName.MatchString(cb) {
			http.Error(w, "files: invalid jsonp callback name", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/javascript")
		fmt.Fprintf(w, "%s(%s);", cb, b)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

func (h *Handler) debug(w http.ResponseWriter, r *http.Request) {
	h.mu.RLock()
	m := make(map[string]string, len(h.attached))
	for k, v := range h.attached {
		m[k] = v
	}
	h.mu.RUnlock()
	writeJSON(w, r, m)
}

// httpError is an error with the status to answer.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func fail(w http.ResponseWriter, err error) {
	var he *httpError
	if errors.As(err, &he) {
		http.Error(w, "files: "+he.msg, he.status)
		return
	}
	http.Error(w, "files: "+err.Error(), http.StatusInternalServerError)
}

// Status is the HTTP status an error of List or Read calls for: 400, 403,
// 404, or 500 for anything else.
func Status(err error) int {
	var he *httpError
	if errors.As(err, &he) {
		return he.status
	}
	return http.StatusInternalServerError
}

func statusErr(status int, format string, args ...any) error {
	return &httpError{status: status, msg: fmt.Sprintf(format, args...)}
}

// errTimeout answers a request that ran out of time.
func errTimeout(ctx context.Context, p string) error {
	return statusErr(http.StatusServiceUnavailable, "%q: gave up: %v", p, context.Cause(ctx))
}

// errStatus classifies a file system error: missing is 404, the rest 403.
func errStatus(p string, err error) error {
	var he *httpError
	if errors.As(err, &he) {
		return err
	}
	if errors.Is(err, fs.ErrNotExist) {
		return statusErr(http.StatusNotFound, "%q not found", p)
	}
	return statusErr(http.StatusForbidden, "%q is inaccessible", p)
}
