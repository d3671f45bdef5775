package shuffleservice

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/mesoproject/meso/internal/httpbound"
	"github.com/mesoproject/meso/rdd/internal/shuffle"
	"github.com/mesoproject/meso/rdd/internal/shufflenet"
)

// Defaults.
const (
	DefaultPort             = 7337
	DefaultCleanerInterval  = 30 * time.Second
	DefaultHeartbeatTimeout = 120 * time.Second
	Prefix                  = "/shuffle-service/v1/"
	MaxBody                 = 64 << 10
	MaxApps                 = 1024
	MaxExecutors            = 4096
)

// EnvAddr is the variable the agent gives every task: this agent's
// service as host:port (not MESO_SHUFFLE_SERVICE, which would set the
// agent's own --shuffle_service flag from the environment).
const EnvAddr = "MESO_SHUFFLE_SERVICE_ADDR"

// Config configures a Service. Zero fields take the defaults.
type Config struct {
	// CleanerInterval is how often applications whose heartbeats stopped
	// are removed (DefaultCleanerInterval).
	CleanerInterval time.Duration
	// Bounds bound request bodies (httpbound defaults).
	Bounds httpbound.Config
	// Fetch bounds the fetch calls (shufflenet's defaults; Token and
	// Prefix are set per executor).
	Fetch shufflenet.ServerConfig
	// Logger receives registrations and removals (discarded).
	Logger *slog.Logger
}

// Service is the shuffle service. It is an http.Handler; call Clean (or
// Run) to remove dead applications.
type Service struct {
	cfg    Config
	bounds *httpbound.Bounds
	log    *slog.Logger

	mu   sync.Mutex
	apps map[string]*app // guarded by mu
}

type app struct {
	token    string
	timeout  time.Duration
	lastBeat time.Time
	execs    map[string]*executor
}

type executor struct {
	dir   string
	store *shuffle.Store
	h     http.Handler // shufflenet's batch fetch and single blocks, below the executor's address
}

// New returns a service.
func New(cfg Config) (*Service, error) {
	if cfg.CleanerInterval <= 0 {
		cfg.CleanerInterval = DefaultCleanerInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	b, err := httpbound.New(cfg.Bounds)
	if err != nil {
		return nil, err
	}
	return &Service{cfg: cfg, bounds: b, log: cfg.Logger, apps: map[string]*app{}}, nil
}

// Server returns an http.Server serving the service under its bounds.
func (s *Service) Server() *http.Server { return s.bounds.Server(s) }

// Addr is where a reducer reaches executor exec's outputs through the
// service at hostport, as a shufflenet address.
func Addr(hostport, app, exec string) string {
	return hostport + Prefix + "apps/" + app + "/executors/" + exec
}

// ids are what application and executor ids may be: they become URL path
// segments and log fields.
var ids = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

// ServeHTTP routes the calls of the package doc.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, Prefix+"apps/")
	if !ok {
		http.Error(w, "shuffleservice: no such endpoint", http.StatusNotFound)
		return
	}
	parts := strings.SplitN(rest, "/", 4)
	if !ids.MatchString(parts[0]) {
		http.Error(w, "shuffleservice: bad application id", http.StatusBadRequest)
		return
	}
	appID := parts[0]
	switch {
	case len(parts) == 1 && r.Method == http.MethodPost:
		s.register(w, r, appID)
	case len(parts) == 1 && r.Method == http.MethodDelete:
		s.withApp(w, r, appID, func(a *app) { s.removeLocked(appID, "the application ended") })
	case len(parts) == 2 && parts[1] == "heartbeat" && r.Method == http.MethodPost:
		s.withApp(w, r, appID, func(a *app) { a.lastBeat = time.Now() })
	case len(parts) == 3 && parts[1] == "executors" && r.Method == http.MethodPost:
		s.registerExecutor(w, r, appID, parts[2])
	case len(parts) == 4 && parts[1] == "executors":
		s.fetch(w, r, appID, parts[2])
	default:
		http.Error(w, "shuffleservice: no such endpoint", http.StatusNotFound)
	}
}

// authorized checks the call's token against a's (constant time).
func authorized(r *http.Request, a *app) bool {
	return subtle.ConstantTimeCompare([]byte(r.Header.Get(shufflenet.TokenHeader)), []byte(a.token)) == 1
}

// withApp runs f under mu on a known application whose token the call has.
func (s *Service) withApp(w http.ResponseWriter, r *http.Request, appID string, f func(*app)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.apps[appID]
	switch {
	case a == nil:
		http.Error(w, "shuffleservice: unknown application "+appID, http.StatusNotFound)
	case !authorized(r, a):
		http.Error(w, "shuffleservice: missing or wrong "+shufflenet.TokenHeader, http.StatusUnauthorized)
	default:
		f(a)
		w.WriteHeader(http.StatusNoContent)
	}
}

// appLocked returns appID's entry, creating it for a first call with a
// token; nil after writing the refusal.
func (s *Service) appLocked(w http.ResponseWriter, r *http.Request, appID string) *app {
	a := s.apps[appID]
	if a == nil {
		tok := r.Header.Get(shufflenet.TokenHeader)
		switch {
		case tok == "":
			http.Error(w, "shuffleservice: missing "+shufflenet.TokenHeader, http.StatusUnauthorized)
			return nil
		case len(s.apps) >= MaxApps:
			http.Error(w, fmt.Sprintf("shuffleservice: %d applications registered", MaxApps), http.StatusServiceUnavailable)
			return nil
		}
		a = &app{token: tok, timeout: DefaultHeartbeatTimeout, lastBeat: time.Now(), execs: map[string]*executor{}}
		s.apps[appID] = a
		return a
	}
	if !authorized(r, a) {
		http.Error(w, "shuffleservice: missing or wrong "+shufflenet.TokenHeader, http.StatusUnauthorized)
		return nil
	}
	return a
}

// decode reads a bounded JSON body into v; false after writing the refusal.
func (s *Service) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body, release, err := s.bounds.ReadBody(w, r, MaxBody)
	if err != nil {
		http.Error(w, "shuffleservice: "+err.Error(), httpbound.Status(err))
		return false
	}
	defer release()
	if err := json.Unmarshal(body, v); err != nil {
		http.Error(w, "shuffleservice: bad body: "+err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

type registerApp struct {
	HeartbeatTimeoutMS int64 `json:"heartbeat_timeout_ms"`
}

func (s *Service) register(w http.ResponseWriter, r *http.Request, appID string) {
	var req registerApp
	if !s.decode(w, r, &req) {
		return
	}
	if req.HeartbeatTimeoutMS < 0 {
		http.Error(w, "shuffleservice: negative heartbeat_timeout_ms", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.appLocked(w, r, appID)
	if a == nil {
		return
	}
	if req.HeartbeatTimeoutMS > 0 {
		a.timeout = time.Duration(req.HeartbeatTimeoutMS) * time.Millisecond
	}
	a.lastBeat = time.Now()
	s.log.Info("application registered", "app", appID, "heartbeat_timeout", a.timeout)
	w.WriteHeader(http.StatusNoContent)
}

type registerExecutor struct {
	Dir string `json:"dir"`
}

// checkDir is the rule for a registered directory (see the package doc).
func checkDir(dir string) error {
	if !filepath.IsAbs(dir) || filepath.Clean(dir) != dir {
		return fmt.Errorf("dir %q: want a clean absolute path", dir)
	}
	if !strings.HasPrefix(filepath.Base(dir), "rdd-") {
		return fmt.Errorf("dir %q: not an rdd local directory (rdd-*)", dir)
	}
	for _, p := range []string{dir, filepath.Join(dir, "shuffle")} {
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return fmt.Errorf("%s: not a directory", p)
		}
	}
	return nil
}

func (s *Service) registerExecutor(w http.ResponseWriter, r *http.Request, appID, execID string) {
	if !ids.MatchString(execID) {
		http.Error(w, "shuffleservice: bad executor id", http.StatusBadRequest)
		return
	}
	var req registerExecutor
	if !s.decode(w, r, &req) {
		return
	}
	if err := checkDir(req.Dir); err != nil {
		http.Error(w, "shuffleservice: "+err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.appLocked(w, r, appID)
	if a == nil {
		return
	}
	if old := a.execs[execID]; old != nil {
		if old.dir == req.Dir {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		http.Error(w, "shuffleservice: executor "+execID+" registered with another directory", http.StatusConflict)
		return
	}
	if len(a.execs) >= MaxExecutors {
		http.Error(w, fmt.Sprintf("shuffleservice: %d executors registered", MaxExecutors), http.StatusServiceUnavailable)
		return
	}
	store, err := shuffle.NewStore(filepath.Join(req.Dir, "shuffle"))
	if err != nil {
		http.Error(w, "shuffleservice: "+err.Error(), http.StatusBadRequest)
		return
	}
	fc := s.cfg.Fetch
	fc.Token, fc.Prefix, fc.Logger = a.token, shufflenet.PathPrefix, s.log
	mux := http.NewServeMux()
	mux.Handle(shufflenet.PathPrefix, shufflenet.NewServer(store, fc))
	blocks := shufflenet.BlockHandler(store)
	tok := a.token
	mux.Handle("/block/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get(shufflenet.TokenHeader)), []byte(tok)) != 1 {
			http.Error(w, "shuffleservice: missing or wrong "+shufflenet.TokenHeader, http.StatusUnauthorized)
			return
		}
		blocks.ServeHTTP(w, r)
	}))
	a.execs[execID] = &executor{dir: req.Dir, store: store, h: mux}
	s.log.Info("executor registered", "app", appID, "executor", execID, "dir", req.Dir)
	w.WriteHeader(http.StatusNoContent)
}

// fetch hands a fetch call to the executor's shufflenet handlers, with
// the path below the executor's address.
func (s *Service) fetch(w http.ResponseWriter, r *http.Request, appID, execID string) {
	s.mu.Lock()
	var e *executor
	if a := s.apps[appID]; a != nil {
		e = a.execs[execID]
	}
	s.mu.Unlock()
	if e == nil {
		// No such output here: shufflenet's 404 (ErrMissing), so that the
		// reducer reports a fetch failure and the maps are recomputed.
		http.Error(w, "shufflenet: unknown executor "+execID, http.StatusNotFound)
		return
	}
	http.StripPrefix(Addr("", appID, execID), e.h).ServeHTTP(w, r)
}

// Clean removes the applications whose last heartbeat is older than their
// timeout at now, deleting their executors' directories; it returns their
// ids.
func (s *Service) Clean(now time.Time) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var gone []string
	for id, a := range s.apps {
		if now.Sub(a.lastBeat) > a.timeout {
			gone = append(gone, id)
			s.removeLocked(id, fmt.Sprintf("no heartbeat for %s", a.timeout))
		}
	}
	return gone
}

// removeLocked forgets an application and deletes its files.
func (s *Service) removeLocked(appID, why string) {
	a := s.apps[appID]
	delete(s.apps, appID)
	var errs []error
	for _, e := range a.execs {
		e.store.Close()
		errs = append(errs, os.RemoveAll(e.dir))
	}
	s.log.Info("application removed; its shuffle files are deleted", "app", appID, "why", why,
		"executors", len(a.execs), "err", errors.Join(errs...))
}

// Apps returns the ids of the registered applications.
func (s *Service) Apps() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.apps))
	for id := range s.apps {
		out = append(out, id)
	}
	return out
}

// Run cleans every CleanerInterval until stop is closed.
func (s *Service) Run(stop <-chan struct{}) {
	t := time.NewTicker(s.cfg.CleanerInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			s.Clean(now)
		}
	}
}
