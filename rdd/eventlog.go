package rdd

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// eventLog appends every scheduler event as one JSON object per line to
// <dir>/<app>-<start unix ns>.jsonl; it flushes at the end of each job.
type eventLog struct {
	mu  sync.Mutex
	f   *os.File      // guarded by mu
	w   *bufio.Writer // guarded by mu
	enc *json.Encoder // guarded by mu
	err error         // guarded by mu; first write error
}

func openEventLog(dir, app string) (*eventLog, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%w: event log dir: %v", ErrConfig, err)
	}
	name := filepath.Join(dir, app+"-"+strconv.FormatInt(time.Now().UnixNano(), 10)+".jsonl")
	f, err := os.Create(name)
	if err != nil {
		return nil, fmt.Errorf("%w: event log: %v", ErrConfig, err)
	}
	w := bufio.NewWriter(f)
	return &eventLog{f: f, w: w, enc: json.NewEncoder(w)}, nil
}

func (l *eventLog) record(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return
	}
	if err := l.enc.Encode(e); err != nil {
		l.err = err
		return
	}
	if e.Kind == JobEnd {
		l.err = l.w.Flush()
	}
}

// Path returns the log file's name.
func (l *eventLog) path() string { return l.f.Name() }

func (l *eventLog) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.w.Flush(); err != nil && l.err == nil {
		l.err = err
	}
	if err := l.f.Close(); err != nil && l.err == nil {
		l.err = err
	}
	return l.err
}

// EventLogPath returns the session's event log file, or "" when the event
// log is off.
func (s *Session) EventLogPath() string {
	if s.elog == nil {
		return ""
	}
	return s.elog.path()
}
