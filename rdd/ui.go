package rdd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"syscall"
	"time"

	"github.com/mesoproject/meso/rdd/internal/ui"
)

// uiPortRetries is how many ports after spark.ui.port are tried, as
// Spark's spark.port.maxRetries (16).
const uiPortRetries = 16

// uiMaxConcurrent bounds the UI's requests in progress; more get 503.
const uiMaxConcurrent = 32

// driverUI is the session's web UI (package ui): a live State fed by a
// listener, served over HTTP.
type driverUI struct {
	live *ui.Live
	srv  *http.Server
	url  string
}

// startUI serves the UI on host, at the first free port from the
// configured one; it fails when all of them are taken, as Spark does.
func startUI(s *Session, host string) (*driverUI, error) {
	port := s.cfg.UIPort
	if port == 0 {
		port = 4040
	}
	var ln net.Listener
	var err error
	for i := 0; i <= uiPortRetries && port+i <= 65535; i++ {
		ln, err = net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port+i)))
		if err == nil || !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: driver UI (spark.ui.port=%d and the %d after it): %v", ErrConfig, port, uiPortRetries, err)
	}
	u := &driverUI{live: ui.NewLive(s.storageSummary), url: "http://" + ln.Addr().String()}
	u.srv = &http.Server{
		Handler:           boundUI(u.live, uiMaxConcurrent),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	go func() { _ = u.srv.Serve(ln) }()
	s.AddListener(u.record)
	s.log.Info("driver UI", "url", u.url)
	return u, nil
}

// uiMaxBody bounds a request body the UI reads (its pages take none).
const uiMaxBody = 1 << 10

// boundUI serves h with at most max requests in progress (more get 503
// with Retry-After) and bodies of at most uiMaxBody bytes.
func boundUI(h http.Handler, max int) http.Handler {
	sem := make(chan struct{}, max)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case sem <- struct{}{}:
			defer func() { <-sem }()
		default:
			w.Header().Set("Retry-After", "1")
			http.Error(w, "too many requests", http.StatusServiceUnavailable)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, uiMaxBody)
		h.ServeHTTP(w, r)
	})
}

// record feeds one event to the UI in its event-log form.
func (u *driverUI) record(e Event) {
	b, err := json.Marshal(e)
	if err == nil {
		u.live.ApplyJSON(b)
	}
}

func (u *driverUI) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = u.srv.Shutdown(ctx)
}

// UIURL returns the driver UI's address ("http://host:port"), or "" when
// the session serves none.
func (s *Session) UIURL() string {
	if s.ui == nil {
		return ""
	}
	return s.ui.url
}

// storageSummary lists the partitions the driver's block manager caches
// and, in cluster mode, those the executors cache (the driver's cache
// locations).
func (s *Session) storageSummary() []ui.Cached {
	var out []ui.Cached
	for _, b := range s.cache.Summaries() {
		out = append(out, ui.Cached{Dataset: b.Node, Name: fmt.Sprintf("dataset %d", b.Node), Level: b.Level.String(),
			Partitions: b.Partitions, Memory: b.Memory, Disk: b.Disk})
	}
	if s.cluster != nil {
		out = append(out, bookCached(s.cluster.cached.summary())...)
	}
	return out
}

// bookCached is the storage page's rows for partitions cached on executors.
func bookCached(entries []bookEntry) []ui.Cached {
	var out []ui.Cached
	for _, e := range entries {
		out = append(out, ui.Cached{Dataset: e.node, Name: fmt.Sprintf("dataset %d", e.node), Level: "on executors",
			Partitions: e.parts, Executors: e.executors})
	}
	return out
}

// redacted matches the settings whose values the UI and the event log do
// not show (Spark's spark.redaction.regex default).
var redacted = regexp.MustCompile(`(?i)secret|password|token|access[.]key`)

// settings lists the session's configuration by Spark names, for the
// environment page; secrets are redacted.
func (c Config) settings() map[string]string {
	m := map[string]string{
		"spark.master":                       c.Master,
		"spark.app.name":                     c.AppName,
		"spark.default.parallelism":          strconv.Itoa(c.DefaultParallelism),
		"spark.task.maxFailures":             strconv.Itoa(c.TaskMaxFailures),
		"spark.stage.maxConsecutiveAttempts": strconv.Itoa(c.StageMaxConsecutiveAttempts),
		"spark.shuffle.memory":               strconv.FormatInt(c.ShuffleMemory, 10),
		"spark.storage.memory":               strconv.FormatInt(c.StorageMemory, 10),
		"spark.rdd.checkPortable":            strconv.FormatBool(c.CheckPortable),
	}
	if c.LocalDir != "" {
		m["spark.local.dir"] = c.LocalDir
	}
	if c.EventLogDir != "" {
		m["spark.eventLog.enabled"], m["spark.eventLog.dir"] = "true", c.EventLogDir
	}
	for k, v := range c.Cluster {
		m[k] = v
	}
	for k := range m {
		if redacted.MatchString(k) {
			m[k] = "*********(redacted)"
		}
	}
	return m
}

// HistoryHandler serves the driver UI of every finished (or running)
// application whose event log (spark.eventLog.dir) is in dir: a list at /,
// each application under /history/<log file>/. `meso history` serves it.
func HistoryHandler(dir string) http.Handler { return &ui.History{Dir: dir} }
