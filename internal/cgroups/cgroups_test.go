package cgroups

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

var rootSeq atomic.Int64

// newIsolator creates an isolator under a root of its own, removed after
// the test. It skips only when cgroups cannot be created here.
func newIsolator(t *testing.T, cfg Config) *Isolator {
	t.Helper()
	if cfg.Root == "" {
		cfg.Root = fmt.Sprintf("meso-test-%d-%d", os.Getpid(), rootSeq.Add(1))
	}
	i, err := New(cfg)
	if errors.Is(err, ErrNotWritable) || errors.Is(err, ErrUnavailable) {
		t.Skipf("cgroups isolation is not possible on this host (needs root and writable cgroup hierarchies): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cleanupRoot(t, i) })
	return i
}

// cleanupRoot removes every container cgroup and then the root itself.
func cleanupRoot(t *testing.T, i *Isolator) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := i.Recover(ctx, nil); err != nil {
		t.Errorf("cleanup: %v", err)
	}
	switch b := i.b.(type) {
	case *v1:
		for _, s := range b.subs {
			_ = syscall.Rmdir(b.dir(s.Name(), ""))
		}
	case *v2:
		_ = syscall.Rmdir(filepath.Join(b.mount, b.base))
	}
}

// startIn starts argv in c and reaps it in the background; the channel
// gets its wait error.
func startIn(t *testing.T, c *Cgroup, argv ...string) (*exec.Cmd, <-chan error) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	if err := c.Start(cmd, cmd.Start); err != nil {
		t.Fatalf("start %v: %v", argv, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	return cmd, done
}

func readTrim(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func waitDone(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("process did not end")
		return nil
	}
}

func TestV1LimitsLifecycle(t *testing.T) {
	i := newIsolator(t, Config{Isolation: []string{IsolatorAll}, EnableCFS: true, PidsLimit: 50})
	if i.Version() != 1 {
		t.Skipf("host uses cgroup v%d", i.Version())
	}
	v := i.b.(*v1)
	c, err := i.Create("c1", i.Limits(0.5, 64<<20))
	if err != nil {
		t.Fatal(err)
	}
	cmd, done := startIn(t, c, "sleep", "1000")
	pid := cmd.Process.Pid

	want := map[string]string{
		v.dir("cpu", "c1") + "/cpu.shares":                    "512",
		v.dir("cpu", "c1") + "/cpu.cfs_period_us":             "100000",
		v.dir("cpu", "c1") + "/cpu.cfs_quota_us":              "50000",
		v.dir("memory", "c1") + "/memory.limit_in_bytes":      "67108864",
		v.dir("memory", "c1") + "/memory.soft_limit_in_bytes": "67108864",
		v.dir("pids", "c1") + "/pids.max":                     "50",
	}
	for f, w := range want {
		if got := readTrim(t, f); got != w {
			t.Errorf("%s = %q, want %q", f, got, w)
		}
	}
	// The process is in the container's cgroup in every hierarchy.
	procCg := readTrim(t, fmt.Sprintf("/proc/%d/cgroup", pid))
	for _, s := range v.subs {
		if !strings.Contains(procCg, filepath.Join(v.own[s.Name()], i.cfg.Root, "c1")) {
			t.Errorf("%s: process cgroups %q lack the container's", s.Name(), procCg)
		}
	}
	// The agent is not (its thread went back home).
	self := readTrim(t, "/proc/self/cgroup")
	if strings.Contains(self, i.cfg.Root) {
		t.Errorf("agent left in a container cgroup: %q", self)
	}
	pids, err := c.Pids()
	if err != nil || len(pids) != 1 || pids[0] != pid {
		t.Errorf("Pids = %v, %v; want [%d]", pids, err, pid)
	}
	st, err := c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Processes != 1 || st.Memory == nil || st.Memory.Limit != 64<<20 || st.Memory.SoftLimit != 64<<20 || st.Throttling == nil || st.PidsCount != 1 {
		t.Errorf("stats %+v (memory %+v)", st, st.Memory)
	}
	if _, limited := c.Limitation(); limited {
		t.Error("limited without an OOM")
	}

	if err := c.Destroy(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := waitDone(t, done); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("sleep ended with %v, want killed", err)
	}
	for _, d := range c.Dirs() {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still exists after Destroy: %v", d, err)
		}
	}
	if err := c.Destroy(context.Background()); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
}

func TestOOMKill(t *testing.T) {
	i := newIsolator(t, Config{Isolation: []string{IsolatorMem}})
	c, err := i.Create("oom", i.Limits(0, 32<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Destroy(context.Background())
	// tail keeps the newline-free stream in memory: 100MB against 32MB.
	_, done := startIn(t, c, "/bin/sh", "-c", "head -c 100m /dev/zero | tail")
	select {
	case <-c.OOM():
	case <-time.After(30 * time.Second):
		t.Fatal("no OOM event")
	}
	waitDone(t, done)
	msg, limited := c.Limitation()
	if !limited {
		t.Fatal("not limited after OOM")
	}
	if !strings.HasPrefix(msg, "Memory limit exceeded: Requested: 32MB Maximum Used: ") || !strings.Contains(msg, "MEMORY STATISTICS") {
		t.Errorf("message %q", msg)
	}
}

func TestCFSQuotaHalfCore(t *testing.T) {
	i := newIsolator(t, Config{Isolation: []string{IsolatorCPU}, EnableCFS: true})
	// Other work on a shared host must not starve the measurement: the
	// test's root cgroup gets the largest weight (children still compete
	// with cpus:0.5 shares between them).
	switch b := i.b.(type) {
	case *v1:
		if err := os.WriteFile(b.dir("cpu", "")+"/cpu.shares", []byte("262144"), 0); err != nil {
			t.Fatal(err)
		}
	case *v2:
		if err := os.WriteFile(filepath.Join(b.mount, b.base, "cpu.weight"), []byte("10000"), 0); err != nil {
			t.Fatal(err)
		}
	}
	spin := func(id string, l Limits) *Cgroup {
		c, err := i.Create(id, l)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Destroy(context.Background()) })
		startIn(t, c, "/bin/sh", "-c", "while :; do :; done")
		return c
	}
	limited := spin("spin", i.Limits(0.5, 0))
	free := i.Limits(0.5, 0)
	free.CFSQuota, free.CFSPeriod = 0, 0
	control := spin("control", free) // same shares, no quota: what the host gives
	cpu := func(c *Cgroup) time.Duration {
		st, err := c.Stats()
		if err != nil {
			t.Fatal(err)
		}
		return st.CPUUser + st.CPUSystem
	}
	// A measurement window: the quota is the feature being measured.
	start, l0, c0 := time.Now(), cpu(limited), cpu(control)
	<-time.After(2 * time.Second)
	wall := float64(time.Since(start))
	used, avail := float64(cpu(limited)-l0)/wall, float64(cpu(control)-c0)/wall
	t.Logf("cores used by a spinning process: with cpus:0.5 and CFS %.2f, without a quota %.2f", used, avail)
	if used > 0.7 {
		t.Errorf("used %.2f cores with a 0.5 quota", used)
	}
	if avail < 0.7 {
		t.Logf("host too busy (an unlimited spinner got %.2f cores): not checking the lower bound", avail)
		return
	}
	if used < 0.3 {
		t.Errorf("used %.2f cores, want about 0.5", used)
	}
	if st, _ := limited.Stats(); st.Throttling == nil || st.Throttling.Throttled == 0 {
		t.Errorf("throttling %+v, want throttled periods", st.Throttling)
	}
}

func TestRecoverOrphans(t *testing.T) {
	first := newIsolator(t, Config{Isolation: []string{IsolatorCPU, IsolatorMem}})
	orphan, err := first.Create("orphan", first.Limits(1, 64<<20))
	if err != nil {
		t.Fatal(err)
	}
	_, done := startIn(t, orphan, "sleep", "1000")
	kept, err := first.Create("kept", first.Limits(1, 64<<20))
	if err != nil {
		t.Fatal(err)
	}
	// The agent restarts: a new isolator on the same root.
	second, err := New(Config{Isolation: first.cfg.Isolation, Root: first.cfg.Root})
	if err != nil {
		t.Fatal(err)
	}
	removed, err := second.Recover(context.Background(), func(id string) bool { return id == "kept" })
	if err != nil || len(removed) != 1 || removed[0] != "orphan" {
		t.Fatalf("Recover = %v, %v", removed, err)
	}
	if err := waitDone(t, done); err == nil {
		t.Error("orphan's process survived")
	}
	for _, d := range orphan.Dirs() {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s survived Recover", d)
		}
	}
	for _, d := range kept.Dirs() {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("kept cgroup removed: %v", err)
		}
	}
}

func TestKillCatchesEscapees(t *testing.T) {
	i := newIsolator(t, Config{Isolation: []string{IsolatorPids}})
	c, err := i.Create("esc", i.Limits(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Destroy(context.Background())
	// The child leaves the process group and session; the cgroup keeps it.
	_, done := startIn(t, c, "/bin/sh", "-c", "setsid sleep 1000 & sleep 1000")
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids, _ := c.Pids()
		if len(pids) >= 3 { // sh, setsid'ed sleep, sleep
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pids %v", pids)
		}
		time.Sleep(5 * time.Millisecond) // poll interval
	}
	if err := c.Kill(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitDone(t, done)
	if pids, _ := c.Pids(); len(pids) != 0 {
		t.Errorf("left after Kill: %v", pids)
	}
}

func TestNewErrorsNameTheFlag(t *testing.T) {
	if _, err := New(Config{Isolation: []string{"cgroups/net"}}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "--isolation=cgroups/net") {
		t.Errorf("unknown isolator: %v", err)
	}
	if _, err := New(Config{Isolation: []string{"posix/cpu"}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("no cgroups isolator: %v", err)
	}
	if _, err := New(Config{Isolation: []string{IsolatorMem}, Root: "../x"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad root: %v", err)
	}
	err := creationError("--isolation=cgroups/mem", "/sys/fs/cgroup/memory/meso", &os.PathError{Op: "mkdir", Path: "/sys/fs/cgroup/memory/meso", Err: syscall.EACCES})
	want := "--isolation=cgroups/mem: cannot create cgroup at /sys/fs/cgroup/memory/meso: permission denied"
	if !errors.Is(err, ErrNotWritable) || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("creationError = %v", err)
	}
}
