package cgroups

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestV2Lifecycle runs the v2 code path on the unified hierarchy of a
// hybrid host (/sys/fs/cgroup/unified), which has no cpu, memory or pids
// controller: it checks cloning into the cgroup, listing, freezing,
// killing, removal and orphan recovery, not the limits.
func TestV2Lifecycle(t *testing.T) {
	const mount = "/sys/fs/cgroup/unified"
	var st unix.Statfs_t
	if err := unix.Statfs(mount, &st); err != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
		t.Skipf("no cgroup v2 hierarchy at %s to exercise the v2 code path", mount)
	}
	i := newIsolator(t, Config{Isolation: []string{IsolatorAll}, forceV2Mount: mount, v2IgnoreMissing: true})
	if i.Version() != 2 {
		t.Fatalf("version %d", i.Version())
	}
	c, err := i.Create("v2c", i.Limits(1, 64<<20))
	if err != nil {
		t.Fatal(err)
	}
	cmd, done := startIn(t, c, "/bin/sh", "-c", "setsid sleep 1000 & sleep 1000")
	self, _ := os.ReadFile("/proc/self/cgroup")
	child, _ := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/cgroup")
	if want := "0::/" + i.cfg.Root + "/v2c"; !strings.Contains(string(child), want) || strings.Contains(string(self), i.cfg.Root) {
		t.Errorf("child cgroups %q (want %q), agent's %q", child, want, self)
	}
	st2, err := c.Stats()
	if err != nil || st2.Processes < 1 {
		t.Errorf("stats %+v, %v", st2, err)
	}
	if _, limited := c.Limitation(); limited {
		t.Error("limited")
	}
	// A second isolator (agent restart) finds and removes it.
	again, err := New(Config{Isolation: i.cfg.Isolation, Root: i.cfg.Root, forceV2Mount: mount, v2IgnoreMissing: true})
	if err != nil {
		t.Fatal(err)
	}
	if ids, err := again.b.ids(); err != nil || len(ids) != 1 || ids[0] != "v2c" {
		t.Errorf("ids %v, %v", ids, err)
	}
	removed, err := again.Recover(context.Background(), nil)
	if err != nil || len(removed) != 1 {
		t.Fatalf("Recover = %v, %v", removed, err)
	}
	if err := waitDone(t, done); err == nil {
		t.Error("process survived")
	}
	if _, err := os.Stat(filepath.Join(mount, i.cfg.Root, "v2c")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cgroup left: %v", err)
	}
	if err := c.Destroy(context.Background()); err != nil {
		t.Errorf("Destroy after removal: %v", err)
	}
}
