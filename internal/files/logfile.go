package files

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
)

// ForLog returns a Handler serving one daemon log file, and nothing else,
// under the virtual path name (Mesos' /master/log and /slave/log):
// `/files/read?path=/master/log`. The caller decides who may read it
// (access_mesos_logs).
func ForLog(name, file string, logger *slog.Logger) (*Handler, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, err
	}
	base := filepath.Base(abs)
	h, err := New(Config{Root: filepath.Dir(abs), Logger: logger,
		Authorize: func(_ context.Context, rel string) error {
			if rel != base {
				return fmt.Errorf("only %s (the daemon's log) is served here", name)
			}
			return nil
		}})
	if err != nil {
		return nil, err
	}
	if err := h.Attach(name, abs); err != nil {
		return nil, err
	}
	return h, nil
}

// IsName reports whether the request path p names name (cleaned as
// Attach's names are), e.g. for a daemon to send /slave/log to the Handler
// of ForLog and everything else to its sandboxes'.
func IsName(p, name string) bool { return cleanName(p) == cleanName(name) }
