package operator

import (
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// LogLevel is a daemon's logging level as the operator API sees it:
// glog's verbosity (0 by default; higher is more verbose), mapped onto a
// slog.LevelVar as level = base - 4*verbosity, so that verbosity 1 turns
// Info into Debug. SET_LOGGING_LEVEL changes it for a duration, after which
// it reverts to the level the daemon started with, as Mesos does; a later
// change replaces the pending revert.
type LogLevel struct {
	v    *slog.LevelVar
	base slog.Level

	mu     sync.Mutex
	revert *time.Timer // guarded by mu; the pending revert, if any
}

// NewLogLevel wraps the level v the daemon's log handler reads; nil means
// a level of its own (reported and changed, but read by no handler).
func NewLogLevel(v *slog.LevelVar) *LogLevel {
	if v == nil {
		v = new(slog.LevelVar)
	}
	return &LogLevel{v: v, base: v.Level()}
}

// Verbosity is the current glog-style verbosity.
func (l *LogLevel) Verbosity() uint32 {
	if d := l.base - l.v.Level(); d > 0 {
		return uint32(d / 4)
	}
	return 0
}

// maxVerbosity bounds a requested verbosity (slog levels are ints; far
// below Debug nothing changes anyway).
const maxVerbosity = 1 << 20

// Set makes verbosity the level for d, then reverts to the base level.
func (l *LogLevel) Set(verbosity uint32, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("operator: duration must be positive, got %v", d)
	}
	if verbosity > maxVerbosity {
		return fmt.Errorf("operator: level %d is too large", verbosity)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.revert != nil {
		l.revert.Stop()
	}
	l.v.Set(l.base - slog.Level(4*verbosity))
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.revert == t {
			l.v.Set(l.base)
			l.revert = nil
		}
	})
	l.revert = t
	return nil
}

// Stop cancels a pending revert (the daemon is stopping).
func (l *LogLevel) Stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.revert != nil {
		l.revert.Stop()
		l.revert = nil
	}
}
