package cgroups

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containerd/cgroups/v3/cgroup1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// v1 places each container in <own>/<root>/<id> of the cpu, cpuacct,
// memory, pids and freezer hierarchies it uses, <own> being the agent's
// cgroup in that hierarchy.
type v1 struct {
	root string
	subs []cgroup1.Subsystem
	own  map[cgroup1.Name]string // agent's cgroup per hierarchy
	home cgroup1.Cgroup          // the agent's own cgroups, to move a thread back
}

type pather interface{ Path(string) string }

// v1Names are the hierarchies a controller needs.
func v1Names(c Controller) []cgroup1.Name {
	switch c {
	case CPU:
		return []cgroup1.Name{cgroup1.Cpu, cgroup1.Cpuacct}
	case Memory:
		return []cgroup1.Name{cgroup1.Memory}
	case Pids:
		return []cgroup1.Name{cgroup1.Pids}
	}
	return nil
}

func newV1(cfg Config, sel Selection) (*v1, error) {
	first := sel.Flag(sel.Controllers[0])
	mounted, err := cgroup1.Default()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: cgroup v1 hierarchies: %v", ErrUnavailable, first, err)
	}
	paths, err := cgroup1.ParseCgroupFile("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("%w: %s: own cgroup: %v", ErrUnavailable, first, err)
	}
	ownPath := cgroup1.NestedPath("") // maps /proc/self/cgroup through the mounts' roots
	v := &v1{root: cfg.Root, own: map[cgroup1.Name]string{}}
	want := map[cgroup1.Name]string{cgroup1.Freezer: ""} // freezer: optional, for killing
	for _, c := range sel.Controllers {
		for _, n := range v1Names(c) {
			want[n] = sel.Flag(c)
		}
	}
	for _, s := range mounted {
		flag, ok := want[s.Name()]
		if !ok {
			continue
		}
		if _, inProc := paths[string(s.Name())]; !inProc {
			continue
		}
		own, err := ownPath(s.Name())
		if err != nil {
			if flag == "" {
				continue
			}
			return nil, fmt.Errorf("%w: %s: own %s cgroup: %v", ErrUnavailable, flag, s.Name(), err)
		}
		dir := s.(pather).Path(path.Join(own, cfg.Root))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			if flag == "" {
				continue
			}
			return nil, creationError(flag, dir, err)
		}
		v.subs = append(v.subs, s)
		v.own[s.Name()] = own
	}
	for n, flag := range want {
		if _, ok := v.own[n]; !ok && flag != "" {
			return nil, fmt.Errorf("%w: %s: the %s cgroup hierarchy is not mounted", ErrUnavailable, flag, n)
		}
	}
	if cfg.EnableCFS && sel.Has(CPU) {
		f := filepath.Join(v.dir(cgroup1.Cpu, ""), "cpu.cfs_quota_us")
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("%w: --cgroups_enable_cfs: the kernel has no CFS bandwidth control (%v)", ErrUnavailable, err)
		}
	}
	if v.home, err = cgroup1.Load(v.pathOf(""), cgroup1.WithHierarchy(v.hierarchy)); err != nil {
		return nil, fmt.Errorf("%w: %s: load own cgroup: %v", ErrUnavailable, first, err)
	}
	return v, nil
}

func (v *v1) version() int { return 1 }

func (v *v1) hierarchy() ([]cgroup1.Subsystem, error) { return v.subs, nil }

// pathOf maps each hierarchy to <own>/<sub> (sub "" is the agent's own).
func (v *v1) pathOf(sub string) cgroup1.Path {
	return func(n cgroup1.Name) (string, error) {
		own, ok := v.own[n]
		if !ok {
			return "", cgroup1.ErrControllerNotActive
		}
		return path.Join(own, sub), nil
	}
}

func (v *v1) sub(n cgroup1.Name) cgroup1.Subsystem {
	for _, s := range v.subs {
		if s.Name() == n {
			return s
		}
	}
	return nil
}

// dir is the directory of container id ("" for the root) in hierarchy n.
func (v *v1) dir(n cgroup1.Name, id string) string {
	s := v.sub(n)
	if s == nil {
		return ""
	}
	return s.(pather).Path(path.Join(v.own[n], v.root, id))
}

func (v *v1) ids() ([]string, error) {
	var ids []string
	for _, s := range v.subs {
		entries, err := os.ReadDir(v.dir(s.Name(), ""))
		if err != nil {
			return nil, fmt.Errorf("cgroups: list %s: %w", s.Name(), err)
		}
		for _, e := range entries {
			if e.IsDir() && !slices.Contains(ids, e.Name()) {
				ids = append(ids, e.Name())
			}
		}
	}
	slices.Sort(ids)
	return ids, nil
}

func (v *v1) create(id string, l Limits) (group, error) {
	// Limits are applied once the process is in (see start): the cgroup
	// is created without them.
	cg, err := cgroup1.New(v.pathOf(path.Join(v.root, id)), &specs.LinuxResources{}, cgroup1.WithHierarchy(v.hierarchy))
	if err != nil {
		return nil, fmt.Errorf("cgroups: create %s: %w", id, err)
	}
	return &v1group{v: v, id: id, cg: cg, res: v1Resources(l)}, nil
}

func (v *v1) load(id string) (group, error) {
	cg, err := cgroup1.Load(v.pathOf(path.Join(v.root, id)), cgroup1.WithHierarchy(v.hierarchy))
	if err != nil {
		return nil, fmt.Errorf("cgroups: load %s: %w", id, err)
	}
	return &v1group{v: v, id: id, cg: cg}, nil
}

// v1Resources is l in the OCI form cgroup1 writes.
func v1Resources(l Limits) *specs.LinuxResources {
	r := &specs.LinuxResources{}
	if l.CPUShares > 0 {
		r.CPU = &specs.LinuxCPU{Shares: &l.CPUShares}
		if l.CFSQuota > 0 {
			period := uint64(l.CFSPeriod.Microseconds())
			quota := l.CFSQuota.Microseconds()
			r.CPU.Period, r.CPU.Quota = &period, &quota
		}
	}
	if l.MemoryBytes > 0 {
		hard, soft := int64(l.MemoryBytes), int64(l.MemorySoftBytes)
		r.Memory = &specs.LinuxMemory{Limit: &hard, Reservation: &soft}
	}
	if l.Pids > 0 {
		n := int64(l.Pids)
		r.Pids = &specs.LinuxPids{Limit: &n}
	}
	return r
}

type v1group struct {
	v   *v1
	id  string
	cg  cgroup1.Cgroup
	res *specs.LinuxResources

	oomSeen atomic.Bool
}

func (g *v1group) dirs() []string {
	var out []string
	for _, s := range g.v.subs {
		if d := g.v.dir(s.Name(), g.id); !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

// start forks the process from an OS thread moved into the cgroup, so the
// child is born there (v1 has no CLONE_INTO_CGROUP), moves the thread
// back, and only then applies the limits: the agent's thread is never
// inside a limited cgroup, so an OOM kill in the container can never pick
// the agent. The thread is never the main thread, whose cgroup decides
// how the agent's own memory is charged.
func (g *v1group) start(start func() error, _ *exec.Cmd) error {
	errc := make(chan error, 1)
	go func() { errc <- g.startOnThread(start) }()
	if err := <-errc; err != nil {
		return err
	}
	if err := g.cg.Update(g.res); err != nil {
		return fmt.Errorf("cgroups: set limits of %s: %w", g.id, err)
	}
	return nil
}

func (g *v1group) startOnThread(start func() error) error {
	runtime.LockOSThread()
	tid := unix.Gettid()
	if tid == unix.Getpid() {
		// Keep the main thread busy here; the nested goroutine cannot
		// run on it.
		errc := make(chan error, 1)
		go func() { errc <- g.startOnThread(start) }()
		err := <-errc
		runtime.UnlockOSThread()
		return err
	}
	if err := g.cg.AddTask(cgroup1.Process{Pid: tid}); err != nil {
		if g.v.home.AddTask(cgroup1.Process{Pid: tid}) == nil {
			runtime.UnlockOSThread()
		} // else the thread ends with this goroutine
		return fmt.Errorf("cgroups: enter %s: %w", g.id, err)
	}
	err := start()
	if herr := g.v.home.AddTask(cgroup1.Process{Pid: tid}); herr != nil {
		// The locked thread exits with this goroutine, leaving the cgroup.
		return errors.Join(err, fmt.Errorf("cgroups: leave %s: %w", g.id, herr))
	}
	runtime.UnlockOSThread()
	return err
}

// primary is the hierarchy whose process list is read: freezer when
// there, which is also what freezes.
func (g *v1group) primary() cgroup1.Name {
	if g.v.sub(cgroup1.Freezer) != nil {
		return cgroup1.Freezer
	}
	return g.v.subs[0].Name()
}

func (g *v1group) procs() ([]int, error) {
	return readIDs(filepath.Join(g.v.dir(g.primary(), g.id), "cgroup.procs"))
}

func (g *v1group) threads() (int, error) {
	ids, err := readIDs(filepath.Join(g.v.dir(g.primary(), g.id), "tasks"))
	return len(ids), err
}

// readIDs reads a cgroup.procs or tasks file; a missing cgroup is empty.
func readIDs(file string) ([]int, error) {
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENODEV) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []int
	for _, f := range bytes.Fields(b) {
		n, err := strconv.Atoi(string(f))
		if err != nil {
			return nil, fmt.Errorf("cgroups: %s: %w", file, err)
		}
		out = append(out, n)
	}
	return out, nil
}

// freeze freezes the cgroup (waiting at most freezeWait), and returns the
// thaw.
func (g *v1group) freeze() func() {
	d := g.v.dir(cgroup1.Freezer, g.id)
	if d == "" {
		return func() {}
	}
	state := filepath.Join(d, "freezer.state")
	if os.WriteFile(state, []byte("FROZEN"), 0) != nil {
		return func() {}
	}
	waitFor(func() bool {
		b, err := os.ReadFile(state)
		return err != nil || strings.TrimSpace(string(b)) == "FROZEN"
	})
	return func() { _ = os.WriteFile(state, []byte("THAWED"), 0) }
}

// freezeWait bounds how long a freeze may take: a task stuck in the
// kernel can keep a cgroup FREEZING; killing goes on regardless.
const freezeWait = 500 * time.Millisecond

func waitFor(done func() bool) {
	deadline := time.Now().Add(freezeWait)
	for delay := 100 * time.Microsecond; !done() && time.Now().Before(deadline); delay = min(2*delay, 10*time.Millisecond) {
		time.Sleep(delay) // polling a kernel state file; nothing to wait on
	}
}

func (g *v1group) fastKill() {}

func (g *v1group) stats() (Stats, error) {
	m, err := g.cg.Stat(cgroup1.IgnoreNotExist)
	if err != nil {
		return Stats{}, err
	}
	var st Stats
	if c := m.GetCPU(); c != nil && g.v.sub(cgroup1.Cpuacct) != nil {
		st.CPUUser = time.Duration(c.GetUsage().GetUser())
		st.CPUSystem = time.Duration(c.GetUsage().GetKernel())
		if t := c.GetThrottling(); t != nil {
			st.Throttling = &Throttling{Periods: t.GetPeriods(), Throttled: t.GetThrottledPeriods(), ThrottledTime: time.Duration(t.GetThrottledTime())}
		}
	}
	if mem := m.GetMemory(); mem != nil && g.v.sub(cgroup1.Memory) != nil {
		soft, _ := readUint(filepath.Join(g.v.dir(cgroup1.Memory, g.id), "memory.soft_limit_in_bytes"))
		st.Memory = &MemoryStats{
			Usage: mem.GetUsage().GetUsage(), MaxUsage: mem.GetUsage().GetMax(),
			Limit: mem.GetUsage().GetLimit(), SoftLimit: soft,
			RSS: mem.GetTotalRSS(), Cache: mem.GetTotalCache(), MappedFile: mem.GetTotalMappedFile(),
			Unevictable: mem.GetTotalUnevictable(),
		}
		if sw := mem.GetSwap().GetUsage(); sw > st.Memory.Usage { // memsw = memory + swap
			st.Memory.Swap = sw - st.Memory.Usage
		}
	}
	if p := m.GetPids(); p != nil {
		st.PidsCount = p.GetCurrent()
	}
	return st, nil
}

func readUint(file string) (uint64, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return 0, nil
	}
	return strconv.ParseUint(s, 10, 64)
}

// readKV reads a "key value" per line file (memory.oom_control,
// memory.events) into a map.
func readKV(file string) (map[string]uint64, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64); err == nil {
			out[k] = n
		}
	}
	return out, nil
}

func (g *v1group) oomKilled() bool {
	if g.oomSeen.Load() {
		return true
	}
	d := g.v.dir(cgroup1.Memory, g.id)
	if d == "" {
		return false
	}
	kv, err := readKV(filepath.Join(d, "memory.oom_control"))
	return err == nil && kv["oom_kill"] > 0
}

func (g *v1group) memoryMessage() string {
	d := g.v.dir(cgroup1.Memory, g.id)
	limit, _ := readUint(filepath.Join(d, "memory.limit_in_bytes"))
	peak, _ := readUint(filepath.Join(d, "memory.max_usage_in_bytes"))
	stat, _ := os.ReadFile(filepath.Join(d, "memory.stat"))
	return MemoryLimitMessage(limit, peak, string(stat))
}

// watchOOM listens on memory.oom_control through an eventfd (registered
// by cgroup1); the kernel signals it when the cgroup hits its limit and
// the OOM killer is about to act.
func (g *v1group) watchOOM() (<-chan struct{}, func(), error) {
	fd, err := g.cg.OOMEventFD()
	if err != nil {
		return nil, nil, err
	}
	if err := unix.SetNonblock(int(fd), true); err != nil {
		unix.Close(int(fd))
		return nil, nil, err
	}
	f := os.NewFile(fd, "oom-eventfd") // non-blocking: Close interrupts Read
	ch := make(chan struct{})
	go func() {
		var buf [8]byte
		if _, err := f.Read(buf[:]); err != nil {
			return // stopped
		}
		g.oomSeen.Store(true)
		close(ch)
	}()
	return ch, sync.OnceFunc(func() { f.Close() }), nil
}

func (g *v1group) remove() error {
	var errs []error
	for _, d := range g.dirs() {
		if err := unix.Rmdir(d); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, &fs.PathError{Op: "rmdir", Path: d, Err: err})
		}
	}
	return errors.Join(errs...)
}
