package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// logWriter is where a daemon logs: stderr, and with --log_dir also the
// file name in that directory (created if needed, appended to), whose path
// is returned for the files API ("" without --log_dir). The file stays
// open for the life of the process.
func logWriter(dir, name string) (io.Writer, string, error) {
	if dir == "" {
		return os.Stderr, "", nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", fmt.Errorf("--log_dir: %w", err)
	}
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, "", fmt.Errorf("--log_dir: %w", err)
	}
	return io.MultiWriter(os.Stderr, f), path, nil
}
