package ui

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Live is a running driver's UI: events go in through ApplyJSON, pages
// come out of ServeHTTP. Safe for concurrent use.
//
// The driver emits events synchronously from its scheduler, so ApplyJSON
// never waits for a page: when a render holds the state, the event waits
// in a bounded queue that the next ApplyJSON or render folds in. Past
// maxPending queued events (a render stuck on a slow client while a job
// runs) new events are dropped and counted (Dropped), rather than stall
// the scheduler.
type Live struct {
	mu      sync.Mutex // the state; held by renders
	state   *State
	storage func() []Cached // may be nil

	qmu     sync.Mutex // the queue; never held while rendering
	pending [][]byte
	dropped int
}

// maxPending bounds the events queued while a render holds the state.
const maxPending = 1 << 16

// NewLive returns an empty live UI; storage, when not nil, lists the
// partitions cached now (asked on each storage page).
func NewLive(storage func() []Cached) *Live {
	return &Live{state: NewState(), storage: storage}
}

// ApplyJSON folds one event (its event-log JSON) into the UI, or queues it
// when a render holds the state; it never blocks on a render.
func (l *Live) ApplyJSON(line []byte) {
	l.qmu.Lock()
	if len(l.pending) >= maxPending {
		l.dropped++
	} else {
		l.pending = append(l.pending, line)
	}
	l.qmu.Unlock()
	if l.mu.TryLock() {
		l.drainLocked()
		l.mu.Unlock()
	}
}

// drainLocked folds the queued events into the state; l.mu is held.
func (l *Live) drainLocked() {
	l.qmu.Lock()
	q := l.pending
	l.pending = nil
	l.qmu.Unlock()
	for _, line := range q {
		l.state.ApplyJSON(line)
	}
}

// Dropped is the number of events dropped because the queue was full.
func (l *Live) Dropped() int {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	return l.dropped
}

// ServeHTTP serves the application's pages.
func (l *Live) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "only GET", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Path == "/" {
		http.Redirect(w, r, "/jobs/", http.StatusFound)
		return
	}
	var cached []Cached
	if l.storage != nil && strings.HasPrefix(r.URL.Path, "/storage") {
		cached = l.storage() // outside the lock: it asks the block manager
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.drainLocked()
	render(w, r, l.state, "", r.URL.Path, cached)
}

// History serves the UI of every application whose event log (*.jsonl) is
// in Dir: a list at /, each application under /history/<file>/. A file is
// read again when its size or modification time changed, so a running
// application's log can be watched too.
type History struct {
	Dir string

	mu    sync.Mutex
	cache map[string]*historyApp // by file name
}

type historyApp struct {
	size  int64
	mtime time.Time
	state *State
}

// maxLogLine bounds one event-log line (a task's error with its stack is the
// longest); a longer line fails the log's load with an error naming the file.
const maxLogLine = 4 << 20

// ServeHTTP serves the list and the applications' pages.
func (h *History) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "only GET", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Path == "/" {
		h.list(w)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/history/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	escName, page, _ := strings.Cut(rest, "/")
	name, err := url.PathUnescape(escName)
	if err != nil || name == "" || name != filepath.Base(name) || !strings.HasSuffix(name, ".jsonl") {
		http.Error(w, "no such application", http.StatusNotFound)
		return
	}
	st, err := h.load(name)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	if page == "" {
		http.Redirect(w, r, appPath(name)+"/jobs/", http.StatusFound)
		return
	}
	render(w, r, st, appPath(name), "/"+page, nil)
}

type historyRow struct {
	File, Link string
	App        App
}

func (h *History) list(w http.ResponseWriter) {
	names, err := filepath.Glob(filepath.Join(h.Dir, "*.jsonl"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	var rows []historyRow
	for _, p := range names {
		name := filepath.Base(p)
		st, err := h.load(name)
		if err != nil {
			continue
		}
		rows = append(rows, historyRow{File: name, Link: appPath(name), App: st.App})
	}
	sort.Slice(rows, func(a, b int) bool { return rows[a].App.Start.After(rows[b].App.Start) })
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := pages.ExecuteTemplate(w, "history.html", struct {
		Dir  string
		Apps []historyRow
	}{h.Dir, rows}); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

// load returns the State of one event log, read again if it changed.
// The State returned must not be changed; it is replaced, never updated,
// so it may be rendered while another request loads a newer one.
func (h *History) load(name string) (*State, error) {
	p := filepath.Join(h.Dir, name)
	fi, err := os.Stat(p)
	if err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("no event log %q", name)
	}
	h.mu.Lock()
	if a := h.cache[name]; a != nil && a.size == fi.Size() && a.mtime.Equal(fi.ModTime()) {
		h.mu.Unlock()
		return a.state, nil
	}
	h.mu.Unlock()
	st, err := ReadLog(p)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cache == nil {
		h.cache = map[string]*historyApp{}
	}
	h.cache[name] = &historyApp{size: fi.Size(), mtime: fi.ModTime(), state: st}
	return st, nil
}

// ReadLog folds an event log file into a State.
func ReadLog(path string) (*State, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st := NewState()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), maxLogLine)
	for sc.Scan() {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			st.ApplyJSON(line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading event log %s: %w", path, err)
	}
	return st, nil
}
