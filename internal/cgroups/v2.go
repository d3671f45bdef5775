package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/containerd/cgroups/v3/cgroup2"
	"golang.org/x/sys/unix"
)

// v2 places each container in <own>/<root>/<id> of the unified hierarchy,
// with the selected controllers enabled down to it.
type v2 struct {
	mount string
	base  string   // group path of <own>/<root>
	ctrls []string // enabled controllers
	log   *slog.Logger
}

// v2Controllers are the unified-hierarchy controllers of sel.
func v2Controllers(sel Selection) []string {
	var out []string
	for _, c := range sel.Controllers {
		out = append(out, string(c)) // the v2 names are cpu, memory, pids
	}
	return out
}

// agentLeaf names the cgroup the agent moves itself to on v2 when its own
// cgroup must give up its processes to enable controllers for children
// (v2's "no internal processes" rule).
func agentLeaf(root string) string { return strings.ReplaceAll(root, "/", "_") + ".agent" }

func newV2(cfg Config, sel Selection, mount string, log *slog.Logger) (*v2, error) {
	first := sel.Flag(sel.Controllers[0])
	own, err := ownV2Group()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: own cgroup: %v", ErrUnavailable, first, err)
	}
	v := &v2{mount: mount, base: path.Join(own, cfg.Root), log: log}
	avail, err := os.ReadFile(filepath.Join(mount, own, "cgroup.controllers"))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrUnavailable, first, err)
	}
	for _, c := range sel.Controllers {
		if slices.Contains(strings.Fields(string(avail)), string(c)) {
			v.ctrls = append(v.ctrls, string(c))
		} else if !cfg.v2IgnoreMissing {
			return nil, fmt.Errorf("%w: %s: the %s controller is not available in cgroup %s", ErrUnavailable, sel.Flag(c), c, own)
		}
	}
	dir := filepath.Join(mount, v.base)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, creationError(first, dir, err)
	}
	if err := v.enable(own, cfg.Root); err != nil {
		return nil, fmt.Errorf("%w: %s: cannot enable controllers %v for %s: %v", ErrNotWritable, first, v.ctrls, dir, err)
	}
	return v, nil
}

// ownV2Group is the agent's cgroup in the unified hierarchy ("0::<path>").
func ownV2Group() (string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	return parseV2Group(string(b))
}

// parseV2Group finds the unified-hierarchy line of a /proc/<pid>/cgroup.
func parseV2Group(s string) (string, error) {
	for _, line := range strings.Split(s, "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			if !strings.HasPrefix(p, "/") {
				return "", fmt.Errorf("%w: cgroup path %q", ErrInvalid, p)
			}
			return path.Clean(p), nil
		}
	}
	return "", fmt.Errorf("%w: no cgroup v2 entry", ErrUnavailable)
}

// enable turns the controllers on in <own>'s and <own>/<root>'s
// subtree_control. A non-root <own> holding processes cannot (EBUSY): the
// agent then moves itself to the leaf <own>/<root>.agent and tries again.
func (v *v2) enable(own, root string) error {
	if len(v.ctrls) == 0 {
		return nil
	}
	err := writeSubtree(filepath.Join(v.mount, own), v.ctrls)
	if errors.Is(err, unix.EBUSY) && own != "/" {
		leaf := filepath.Join(v.mount, own, agentLeaf(root))
		if err := os.MkdirAll(leaf, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(leaf, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0); err != nil {
			return fmt.Errorf("move the agent to %s: %w", leaf, err)
		}
		v.log.Info("moved the agent to a leaf cgroup to enable controllers for containers", "cgroup", leaf)
		err = writeSubtree(filepath.Join(v.mount, own), v.ctrls)
	}
	if err != nil {
		return err
	}
	return writeSubtree(filepath.Join(v.mount, v.base), v.ctrls)
}

func writeSubtree(dir string, ctrls []string) error {
	var plus []string
	for _, c := range ctrls {
		plus = append(plus, "+"+c)
	}
	return os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte(strings.Join(plus, " ")), 0)
}

func (v *v2) version() int { return 2 }

// V2Resources is l in the form cgroup2 writes: cpu.weight and cpu.max,
// memory.max, memory.low and memory.oom.group (the whole container dies
// together on OOM), pids.max. Controllers not in ctrls are left out.
func V2Resources(l Limits, ctrls []string) *cgroup2.Resources {
	r := &cgroup2.Resources{}
	if slices.Contains(ctrls, string(CPU)) {
		r.CPU = &cgroup2.CPU{}
		if w := V2Weight(l.CPUShares); w > 0 {
			r.CPU.Weight = &w
			r.CPU.Max = cgroup2.CPUMax(V2CPUMax(l))
		}
	}
	if slices.Contains(ctrls, string(Memory)) {
		group := true
		r.Memory = &cgroup2.Memory{OOMGroup: &group}
		if l.MemoryBytes > 0 {
			hard, soft := int64(l.MemoryBytes), int64(l.MemorySoftBytes)
			r.Memory.Max, r.Memory.Low = &hard, &soft
		}
	}
	if slices.Contains(ctrls, string(Pids)) {
		r.Pids = &cgroup2.Pids{}
		if l.Pids > 0 {
			r.Pids.Max = int64(l.Pids)
		}
	}
	return r
}

func (v *v2) create(id string, l Limits) (group, error) {
	// Controllers are enabled down to <own>/<root> already; NewManager
	// writes only the limits and never touches the cgroups above ours.
	g := path.Join(v.base, id)
	dir := filepath.Join(v.mount, g)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cgroups: create %s: %w", id, err)
	}
	m, err := cgroup2.Load(g, cgroup2.WithMountpoint(v.mount))
	if err == nil {
		err = m.Update(V2Resources(l, v.ctrls))
	}
	if err != nil {
		_ = unix.Rmdir(dir)
		return nil, fmt.Errorf("cgroups: create %s: %w", id, err)
	}
	return &v2group{v: v, id: id, m: m, dir: dir}, nil
}

func (v *v2) load(id string) (group, error) {
	g := path.Join(v.base, id)
	m, err := cgroup2.Load(g, cgroup2.WithMountpoint(v.mount))
	if err != nil {
		return nil, fmt.Errorf("cgroups: load %s: %w", id, err)
	}
	return &v2group{v: v, id: id, m: m, dir: filepath.Join(v.mount, g)}, nil
}

func (v *v2) ids() ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(v.mount, v.base))
	if err != nil {
		return nil, fmt.Errorf("cgroups: list: %w", err)
	}
	var ids []string
	for _, e := range entries {
		if e.IsDir() {
			ids = append(ids, e.Name())
		}
	}
	return ids, nil
}

type v2group struct {
	v   *v2
	id  string
	m   *cgroup2.Manager
	dir string

	oomSeen atomic.Bool
}

func (g *v2group) dirs() []string { return []string{g.dir} }

// start clones the process straight into the cgroup (clone3 with
// CLONE_INTO_CGROUP, Linux 5.7+).
func (g *v2group) start(start func() error, cmd *exec.Cmd) error {
	fd, err := unix.Open(g.dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("cgroups: open %s: %w", g.dir, err)
	}
	defer unix.Close(fd)
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.UseCgroupFD = true
	cmd.SysProcAttr.CgroupFD = fd
	return start()
}

func (g *v2group) procs() ([]int, error) {
	return readIDs(filepath.Join(g.dir, "cgroup.procs"))
}

func (g *v2group) threads() (int, error) {
	ids, err := readIDs(filepath.Join(g.dir, "cgroup.threads"))
	return len(ids), err
}

func (g *v2group) freeze() func() {
	f := filepath.Join(g.dir, "cgroup.freeze")
	if os.WriteFile(f, []byte("1"), 0) != nil {
		return func() {}
	}
	waitFor(func() bool {
		kv, err := readKV(filepath.Join(g.dir, "cgroup.events"))
		return err != nil || kv["frozen"] == 1
	})
	return func() { _ = os.WriteFile(f, []byte("0"), 0) }
}

func (g *v2group) fastKill() {
	_ = os.WriteFile(filepath.Join(g.dir, "cgroup.kill"), []byte("1"), 0) // Linux 5.14+
}

func (g *v2group) stats() (Stats, error) {
	m, err := g.m.StatFiltered(cgroup2.StatPids | cgroup2.StatCPU | cgroup2.StatMemory)
	if err != nil {
		return Stats{}, err
	}
	var st Stats
	if c := m.GetCPU(); c != nil {
		st.CPUUser = time.Duration(c.GetUserUsec()) * time.Microsecond
		st.CPUSystem = time.Duration(c.GetSystemUsec()) * time.Microsecond
		st.Throttling = &Throttling{Periods: c.GetNrPeriods(), Throttled: c.GetNrThrottled(), ThrottledTime: time.Duration(c.GetThrottledUsec()) * time.Microsecond}
	}
	if mem := m.GetMemory(); mem != nil && slices.Contains(g.v.ctrls, string(Memory)) {
		low, _ := readUint(filepath.Join(g.dir, "memory.low"))
		st.Memory = &MemoryStats{
			Usage: mem.GetUsage(), MaxUsage: mem.GetMaxUsage(), Limit: mem.GetUsageLimit(), SoftLimit: low,
			RSS: mem.GetAnon(), Cache: mem.GetFile(), MappedFile: mem.GetFileMapped(),
			Swap: mem.GetSwapUsage(), Unevictable: mem.GetUnevictable(),
		}
	}
	if p := m.GetPids(); p != nil {
		st.PidsCount = p.GetCurrent()
	}
	return st, nil
}

func (g *v2group) oomKilled() bool {
	if g.oomSeen.Load() {
		return true
	}
	kv, err := readKV(filepath.Join(g.dir, "memory.events"))
	return err == nil && kv["oom_kill"] > 0
}

func (g *v2group) memoryMessage() string {
	limit, _ := readUint(filepath.Join(g.dir, "memory.max"))
	peak, err := readUint(filepath.Join(g.dir, "memory.peak")) // Linux 5.19+
	if err != nil {
		peak, _ = readUint(filepath.Join(g.dir, "memory.current"))
	}
	stat, _ := os.ReadFile(filepath.Join(g.dir, "memory.stat"))
	return MemoryLimitMessage(limit, peak, string(stat))
}

// watchOOM follows memory.events (through cgroup2's inotify watcher) until
// an oom_kill shows up or the cgroup goes away.
func (g *v2group) watchOOM() (<-chan struct{}, func(), error) {
	events, errs := g.m.EventChan()
	ch := make(chan struct{})
	stop := make(chan struct{})
	go func() {
		fired := false
		for {
			select {
			case e := <-events:
				if !fired && e.OOMKill > 0 {
					fired = true
					g.oomSeen.Store(true)
					close(ch)
				}
			case <-errs:
				return // the watcher ended (cgroup removed) or failed
			case <-stop:
				// Keep draining until the watcher ends with the cgroup's
				// removal, so its goroutine never blocks on a send.
				stop = nil
			}
		}
	}()
	return ch, sync.OnceFunc(func() { close(stop) }), nil
}

func (g *v2group) remove() error {
	if err := unix.Rmdir(g.dir); err != nil && !errors.Is(err, unix.ENOENT) {
		return &fs.PathError{Op: "rmdir", Path: g.dir, Err: err}
	}
	return nil
}
