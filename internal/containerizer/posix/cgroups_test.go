package posix

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/cgroups"
	"github.com/mesoproject/meso/internal/containerizer"
	"google.golang.org/protobuf/proto"
)

var cgroupsRootSeq atomic.Int64

// newCgroupsPosix makes a containerizer with cgroups isolation under a
// root of its own; it skips only when cgroups are not usable here.
func newCgroupsPosix(t *testing.T, cfg Config) *Containerizer {
	t.Helper()
	if cfg.CgroupsRoot == "" {
		cfg.CgroupsRoot = fmt.Sprintf("meso-posix-test-%d-%d", os.Getpid(), cgroupsRootSeq.Add(1))
	}
	z, err := New(cfg)
	if errors.Is(err, cgroups.ErrNotWritable) || errors.Is(err, cgroups.ErrUnavailable) {
		t.Skipf("cgroups isolation is not possible on this host (needs root and writable cgroups): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, id := range z.Containers() {
			_ = z.Destroy(context.Background(), id, 0)
		}
		removeRoot(t, cfg)
	})
	return z
}

// removeRoot removes the (empty) root directories of cfg's cgroups root.
func removeRoot(t *testing.T, cfg Config) {
	for _, dir := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/*", "/sys/fs/cgroup/*/*", "/sys/fs/cgroup/*/*/*"} {
		matches, _ := filepath.Glob(filepath.Join(dir, cfg.CgroupsRoot))
		for _, m := range matches {
			if err := syscall.Rmdir(m); err != nil {
				t.Errorf("remove %s: %v", m, err)
			}
		}
	}
}

func scalar(name string, v float64) *mesospb.Resource {
	return &mesospb.Resource{Name: proto.String(name), Type: mesospb.Value_SCALAR.Enum(), Scalar: &mesospb.Value_Scalar{Value: proto.Float64(v)}}
}

func (z *Containerizer) cgroupOf(t *testing.T, id string) *cgroups.Cgroup {
	t.Helper()
	c, err := z.lookup(id)
	if err != nil {
		t.Fatal(err)
	}
	if c.cg == nil {
		t.Fatalf("container %s has no cgroup", id)
	}
	return c.cg
}

// A task that allocates more than its mem ends the container with Mesos'
// memory limitation, even though the executor (here: the shell) survives
// the OOM kill of its child.
func TestCgroupsMemoryLimitation(t *testing.T) {
	z := newCgroupsPosix(t, Config{Isolation: []string{"cgroups/cpu", "cgroups/mem"}})
	spec := shellSpec(t, "hog", `head -c 100m /dev/zero | tail; echo survived; sleep 1000`)
	spec.Resources = []*mesospb.Resource{scalar("cpus", 1), scalar("mem", 32)}
	if err := z.Launch(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	term := wait(t, z, "hog")
	if !term.Limited || term.Reason != mesospb.TaskStatus_REASON_CONTAINER_LIMITATION_MEMORY {
		t.Fatalf("termination %+v, want a memory limitation", term)
	}
	if !strings.HasPrefix(term.Message, "Memory limit exceeded: Requested: 32MB Maximum Used: ") {
		t.Errorf("message %q", term.Message)
	}
	if ws := syscall.WaitStatus(term.Status); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Errorf("status %v", ws)
	}
}

func TestCgroupsLifecycleAndUsage(t *testing.T) {
	z := newCgroupsPosix(t, Config{Isolation: []string{"cgroups/all"}, CgroupsEnableCFS: true, CgroupsPidsLimit: 64})
	// The background sleep leaves the process group: only the cgroup
	// holds it.
	spec := shellSpec(t, "c1", `setsid sleep 1000 & echo started; sleep 1000`)
	spec.Resources = []*mesospb.Resource{scalar("cpus", 0.5), scalar("mem", 64)}
	if err := z.Launch(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	waitForFile(t, filepath.Join(spec.Sandbox, "stdout"), "started")
	cg := z.cgroupOf(t, "c1")
	dirs := cg.Dirs()
	files := map[string]string{"cpu.shares": "512", "cpu.cfs_quota_us": "50000", "memory.limit_in_bytes": "67108864", "pids.max": "64", // v1
		"cpu.max": "50000 100000", "memory.max": "67108864"} // v2
	found := 0
	for _, d := range dirs {
		for f, want := range files {
			b, err := os.ReadFile(filepath.Join(d, f))
			if err != nil {
				continue
			}
			found++
			if got := strings.TrimSpace(string(b)); got != want {
				t.Errorf("%s/%s = %q, want %q", d, f, got, want)
			}
		}
	}
	if found < 3 {
		t.Errorf("limit files found in %v: %d", dirs, found)
	}
	u, err := z.Usage(context.Background(), "c1")
	if err != nil {
		t.Fatal(err)
	}
	if u.Processes != 3 || u.Memory == nil || u.Memory.TotalBytes == 0 || u.Throttling == nil || u.MemLimitBytes != 64<<20 {
		t.Errorf("usage %+v (memory %+v)", u, u.Memory)
	}
	st := u.Statistics()
	if st.MemTotalBytes == nil || st.CpusNrPeriods == nil || st.GetCpusLimit() != 0.5 {
		t.Errorf("statistics %v", st)
	}
	pids, _ := cg.Pids()
	if err := z.Destroy(context.Background(), "c1", time.Second); err != nil {
		t.Fatal(err)
	}
	for _, p := range pids {
		gone(t, p)
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s survived Destroy: %v", d, err)
		}
	}
}

// When the executor exits on its own, whatever it left in the cgroup is
// killed, and the container ends normally (no limitation).
func TestCgroupsExitKillsLeftovers(t *testing.T) {
	z := newCgroupsPosix(t, Config{Isolation: []string{"cgroups/pids"}})
	spec := shellSpec(t, "c2", `setsid sleep 1000 & echo $! > bg; exit 3`)
	if err := z.Launch(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	term := wait(t, z, "c2")
	if term.Limited || term.Message != "Command exited with status 3" {
		t.Errorf("termination %+v", term)
	}
	var bg int
	fmt.Sscan(readFile(t, filepath.Join(spec.Sandbox, "bg")), &bg)
	gone(t, bg)
	if err := z.Kill("c2", syscall.SIGTERM); !errors.Is(err, containerizer.ErrNotRunning) {
		t.Errorf("Kill after exit: %v", err)
	}
}

// A restarted agent (a new containerizer on the same root) kills and
// removes the cgroups the previous one left.
func TestCgroupsOrphansCleanedAtStart(t *testing.T) {
	cfg := Config{Isolation: []string{"cgroups/mem"}}
	first := newCgroupsPosix(t, cfg)
	cfg.CgroupsRoot = first.iso.Root()
	spec := shellSpec(t, "orphan", `echo started; sleep 1000`)
	spec.Resources = []*mesospb.Resource{scalar("mem", 64)}
	if err := first.Launch(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	waitForFile(t, filepath.Join(spec.Sandbox, "stdout"), "started")
	dirs := first.cgroupOf(t, "orphan").Dirs()
	if _, err := New(cfg); err != nil {
		t.Fatal(err)
	}
	wait(t, first, "orphan") // its process was killed by the new one
	for _, d := range dirs {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s survived the restart: %v", d, err)
		}
	}
}

// Kill reaches every process of the cgroup, also one that left the
// process group.
func TestCgroupsKillSignalsTheCgroup(t *testing.T) {
	z := newCgroupsPosix(t, Config{Isolation: []string{"cgroups/pids"}})
	// The executor survives SIGTERM (a handler); the escaped sleep dies.
	spec := shellSpec(t, "k", `setsid sleep 1000 & echo $! > bg
		trap 'echo executor got TERM' TERM; echo started; while :; do sleep 0.01; done`)
	if err := z.Launch(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	waitForFile(t, filepath.Join(spec.Sandbox, "stdout"), "started")
	var bg int
	fmt.Sscan(readFile(t, filepath.Join(spec.Sandbox, "bg")), &bg)
	if err := z.Kill("k", syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	gone(t, bg)
	waitForFile(t, filepath.Join(spec.Sandbox, "stdout"), "executor got TERM")
	if err := z.Kill("k", syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if term := wait(t, z, "k"); term.Message != "Command terminated with signal Killed" {
		t.Errorf("termination %+v", term)
	}
}
