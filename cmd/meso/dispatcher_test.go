package main

import (
	"strings"
	"testing"
)

// The dispatcher's bounds must be positive: 0 or less is refused up front,
// naming the flags, instead of standing for Spark's default.
func TestDispatcherRefusesBadBounds(t *testing.T) {
	for _, flag := range []string{"--max_drivers=0", "--retained_drivers=-5"} {
		err := newRootCmdRun(t, "dispatcher", "--master", "127.0.0.1:1", "--port", "0", "--work_dir", t.TempDir(), flag)
		if err == nil || !strings.Contains(err.Error(), "--max_drivers") || !strings.Contains(err.Error(), "at least 1") {
			t.Errorf("%s: %v; want an error naming the bounds", flag, err)
		}
	}
}
