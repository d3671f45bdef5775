package cgroups

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"sync"
	"syscall"
	"time"

	cgroupsv3 "github.com/containerd/cgroups/v3"
)

// Errors callers branch on.
var (
	// ErrInvalid: a bad root, container id or configuration.
	ErrInvalid = errors.New("cgroups: invalid")
	// ErrUnavailable: the host has no cgroup file system, or lacks a
	// controller an isolator needs.
	ErrUnavailable = errors.New("cgroups: unavailable")
	// ErrNotWritable: the agent may not create cgroups where it must.
	ErrNotWritable = errors.New("cgroups: not writable")
)

// DefaultRoot is the default --cgroups_root.
const DefaultRoot = "meso"

// Config configures cgroups isolation. The cobra flags map to it 1:1.
type Config struct {
	// Isolation is the --isolation list; its cgroups/* entries select the
	// controllers, others are ignored.
	Isolation []string
	// Root is --cgroups_root: containers live at <own>/<Root>/<container-id>
	// in each hierarchy, <own> being the agent's own cgroup. Empty means
	// DefaultRoot.
	Root string
	// EnableCFS is --cgroups_enable_cfs: hard-cap cpu with a CFS quota.
	EnableCFS bool
	// PidsLimit is --cgroups_pids_limit: pids.max of each container (with
	// cgroups/pids or cgroups/all); 0 means no limit (accounting only).
	PidsLimit uint64
	Logger    *slog.Logger

	// For tests: use cgroup v2 at this mount (e.g. the unified hierarchy
	// of a hybrid host), dropping selected controllers it lacks.
	forceV2Mount    string
	v2IgnoreMissing bool
}

// Isolator creates and cleans up container cgroups. Safe for concurrent
// use.
type Isolator struct {
	cfg Config
	sel Selection
	log *slog.Logger
	b   backend
}

// backend is one cgroup version's way of doing things.
type backend interface {
	version() int
	create(id string, l Limits) (group, error)
	load(id string) (group, error)
	ids() ([]string, error) // container cgroups under the root
}

// group is one container's cgroup (in every hierarchy on v1).
type group interface {
	dirs() []string
	start(start func() error, cmd *exec.Cmd) error
	procs() ([]int, error)
	threads() (int, error)
	freeze() func() // freezes if it can; the result thaws
	fastKill()      // kills everything at once where the kernel can (v2 cgroup.kill)
	stats() (Stats, error)
	oomKilled() bool
	memoryMessage() string
	watchOOM() (<-chan struct{}, func(), error)
	remove() error
}

// New detects the host's cgroup version, checks that the selected
// controllers are there and that the agent can create cgroups under its
// own, and returns the isolator. Errors name the flag:
// "--isolation=cgroups/mem: cannot create cgroup at ...: permission denied".
func New(cfg Config) (*Isolator, error) {
	if cfg.Root == "" {
		cfg.Root = DefaultRoot
	}
	if err := CheckRoot(cfg.Root); err != nil {
		return nil, err
	}
	for _, iso := range cfg.Isolation {
		if len(iso) > 8 && iso[:8] == "cgroups/" && !IsIsolator(iso) {
			return nil, fmt.Errorf("%w: unknown isolator --isolation=%s (cgroups provides %s, %s, %s, %s)",
				ErrInvalid, iso, IsolatorCPU, IsolatorMem, IsolatorPids, IsolatorAll)
		}
	}
	sel := Select(cfg.Isolation)
	if len(sel.Controllers) == 0 {
		return nil, fmt.Errorf("%w: no cgroups isolator in --isolation", ErrInvalid)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	i := &Isolator{cfg: cfg, sel: sel, log: log}
	var err error
	switch {
	case cfg.forceV2Mount != "":
		i.b, err = newV2(cfg, sel, cfg.forceV2Mount, log)
	case cgroupsv3.Mode() == cgroupsv3.Unified:
		i.b, err = newV2(cfg, sel, "/sys/fs/cgroup", log)
	case cgroupsv3.Mode() == cgroupsv3.Unavailable:
		err = fmt.Errorf("%w: %s: no cgroup file system at /sys/fs/cgroup", ErrUnavailable, sel.Flag(sel.Controllers[0]))
	default: // legacy or hybrid: the controllers are on v1 hierarchies
		i.b, err = newV1(cfg, sel)
	}
	if err != nil {
		return nil, err
	}
	log.Info("cgroups isolation", "version", i.b.version(), "root", cfg.Root, "controllers", sel.Controllers, "cfs", cfg.EnableCFS)
	return i, nil
}

// creationError turns a failure to create a cgroup into the startup error
// that names the flag.
func creationError(flag, dir string, err error) error {
	sentinel := ErrUnavailable
	if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EACCES) {
		sentinel = ErrNotWritable
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("%w: %s: cannot create cgroup at %s: %v", sentinel, flag, dir, err)
}

// Root is the --cgroups_root in use.
func (i *Isolator) Root() string { return i.cfg.Root }

// Version is 1 or 2.
func (i *Isolator) Version() int { return i.b.version() }

// Selection is what the isolator controls.
func (i *Isolator) Selection() Selection { return i.sel }

// Limits computes a container's limits from its cpus and memory.
func (i *Isolator) Limits(cpus float64, memBytes uint64) Limits {
	return ComputeLimits(i.sel, cpus, memBytes, i.cfg.EnableCFS, i.cfg.PidsLimit)
}

// Create makes the cgroup of container id with limits l (see Limits) and
// starts watching it for OOM kills. The caller must Destroy it.
func (i *Isolator) Create(id string, l Limits) (*Cgroup, error) {
	if err := CheckID(id); err != nil {
		return nil, err
	}
	g, err := i.b.create(id, l)
	if err != nil {
		return nil, err
	}
	c := &Cgroup{id: id, g: g, limits: l, sel: i.sel, log: i.log, oom: closedNever}
	if i.sel.Has(Memory) {
		oom, stop, err := g.watchOOM()
		if err != nil {
			_ = g.remove()
			return nil, fmt.Errorf("cgroups: listen for OOM events of %s: %w", id, err)
		}
		c.oom, c.stopOOM = oom, stop
	}
	return c, nil
}

// Open returns the existing cgroup of container id, one an earlier agent
// created (see Recover's keep), with limits l as they were set, watching it
// for OOM kills again. The caller must Destroy it.
func (i *Isolator) Open(id string, l Limits) (*Cgroup, error) {
	if err := CheckID(id); err != nil {
		return nil, err
	}
	g, err := i.b.load(id)
	if err != nil {
		return nil, err
	}
	c := &Cgroup{id: id, g: g, limits: l, sel: i.sel, log: i.log, oom: closedNever}
	if i.sel.Has(Memory) {
		if oom, stop, err := g.watchOOM(); err == nil {
			c.oom, c.stopOOM = oom, stop
		} else {
			i.log.Warn("cannot watch recovered cgroup for OOM events", "container", id, "err", err)
		}
	}
	return c, nil
}

// closedNever is a channel that is never closed: no OOM watching.
var closedNever = make(chan struct{})

// Recover kills and removes the cgroups under the root whose container id
// keep does not claim (nil keep claims none): orphans left by an agent
// that died. It returns the ids it removed.
func (i *Isolator) Recover(ctx context.Context, keep func(id string) bool) ([]string, error) {
	ids, err := i.b.ids()
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, id := range ids {
		if keep != nil && keep(id) {
			continue
		}
		g, err := i.b.load(id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c := &Cgroup{id: id, g: g, sel: i.sel, log: i.log, oom: closedNever}
		if err := c.Destroy(ctx); err != nil {
			errs = append(errs, err)
			continue
		}
		i.log.Info("removed orphan cgroup", "container", id)
		removed = append(removed, id)
	}
	slices.Sort(removed)
	return removed, errors.Join(errs...)
}

// Cgroup is one container's cgroup. Safe for concurrent use.
type Cgroup struct {
	id      string
	g       group
	limits  Limits
	sel     Selection
	log     *slog.Logger
	oom     <-chan struct{}
	stopOOM func()

	mu        sync.Mutex
	destroyed bool // guarded by mu
}

// Dirs are the cgroup's directories (one per hierarchy on v1).
func (c *Cgroup) Dirs() []string { return c.g.dirs() }

// Selection is what the cgroup's isolator controls.
func (c *Cgroup) Selection() Selection { return c.sel }

// Limits are the limits the cgroup was created with.
func (c *Cgroup) Limits() Limits { return c.limits }

// Start calls start, which must start cmd (e.g. launcher.Start(cmd)), so
// that cmd's process is born inside the cgroup: its first instruction, and
// everything it forks, run under the limits. On v2 cmd is cloned into the
// cgroup (CLONE_INTO_CGROUP); on v1 it is forked from an OS thread that has
// been moved into the cgroup for the occasion.
func (c *Cgroup) Start(cmd *exec.Cmd, start func() error) error {
	return c.g.start(start, cmd)
}

// Pids lists the processes in the cgroup (never the agent itself).
func (c *Cgroup) Pids() ([]int, error) {
	pids, err := c.g.procs()
	if err != nil {
		return nil, err
	}
	self := os.Getpid()
	return slices.DeleteFunc(pids, func(p int) bool { return p == self }), nil
}

// Signal sends sig to every process in the cgroup, frozen while it is
// done so that none can fork or exit in between.
func (c *Cgroup) Signal(sig syscall.Signal) error {
	_, err := c.signal(sig)
	return err
}

// signal is Signal that also says how many processes it found.
func (c *Cgroup) signal(sig syscall.Signal) (int, error) {
	if pids, err := c.Pids(); err != nil || len(pids) == 0 {
		return 0, err // nothing to freeze (freezing takes milliseconds)
	}
	thaw := c.g.freeze()
	defer thaw()
	pids, err := c.Pids()
	if err != nil {
		return 0, err
	}
	var errs []error
	for _, p := range pids {
		if err := syscall.Kill(p, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("signal %d: %w", p, err))
		}
	}
	return len(pids), errors.Join(errs...)
}

// Kill SIGKILLs every process in the cgroup and waits until it is empty
// (or ctx ends).
func (c *Cgroup) Kill(ctx context.Context) error {
	delay := time.Millisecond
	for {
		c.g.fastKill()
		n, err := c.signal(syscall.SIGKILL)
		if err != nil || n == 0 {
			return err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("cgroups: kill %s: %w", c.id, ctx.Err())
		case <-t.C:
		}
		delay = min(2*delay, 50*time.Millisecond)
	}
}

// Destroy kills what is left in the cgroup, stops watching it and removes
// its directories. Destroying twice is a no-op.
func (c *Cgroup) Destroy(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.destroyed {
		return nil
	}
	if err := c.Kill(ctx); err != nil {
		return err
	}
	if c.stopOOM != nil {
		c.stopOOM()
	}
	if err := c.removeRetry(ctx); err != nil {
		return err
	}
	c.destroyed = true
	return nil
}

// removeRetry removes the directories, retrying while the kernel still
// counts exiting tasks in them (EBUSY).
func (c *Cgroup) removeRetry(ctx context.Context) error {
	delay := time.Millisecond
	for {
		err := c.g.remove()
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EBUSY) {
			return fmt.Errorf("cgroups: remove %s: %w", c.id, err)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("cgroups: remove %s: %w (%w)", c.id, err, ctx.Err())
		case <-t.C:
		}
		delay = min(2*delay, 50*time.Millisecond)
	}
}

// OOM is closed when the kernel's OOM killer has killed a process of the
// cgroup for exceeding the memory limit. Never closed without cgroups/mem.
func (c *Cgroup) OOM() <-chan struct{} { return c.oom }

// Limitation reports whether the container exceeded its memory limit (the
// OOM killer acted in it) and, if so, Mesos' message with the limit and
// the peak usage.
func (c *Cgroup) Limitation() (message string, limited bool) {
	if !c.g.oomKilled() {
		return "", false
	}
	return c.g.memoryMessage(), true
}

// Stats are a cgroup's resource usage. Fields whose controller is not
// selected are zero (pointers nil).
type Stats struct {
	Processes  int
	Threads    int
	CPUUser    time.Duration // with cgroups/cpu
	CPUSystem  time.Duration
	Throttling *Throttling  // with cgroups/cpu and CFS
	Memory     *MemoryStats // with cgroups/mem
	PidsCount  uint64       // with cgroups/pids
}

// Throttling is CFS bandwidth accounting.
type Throttling struct {
	Periods       uint64
	Throttled     uint64
	ThrottledTime time.Duration
}

// MemoryStats is memory accounting (bytes).
type MemoryStats struct {
	Usage, MaxUsage, Limit, SoftLimit         uint64
	RSS, Cache, MappedFile, Swap, Unevictable uint64
}

// Stats reads the cgroup's usage.
func (c *Cgroup) Stats() (Stats, error) {
	st, err := c.g.stats()
	if err != nil {
		return Stats{}, fmt.Errorf("cgroups: stats of %s: %w", c.id, err)
	}
	if c.limits.CFSQuota == 0 {
		st.Throttling = nil
	}
	if pids, err := c.Pids(); err == nil {
		st.Processes = len(pids)
	}
	if n, err := c.g.threads(); err == nil {
		st.Threads = n
	}
	return st, nil
}
