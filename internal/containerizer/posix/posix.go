package posix

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/cgroups"
	"github.com/mesoproject/meso/internal/containerizer"
	"github.com/mesoproject/meso/internal/launcher"
)

// Config configures a posix containerizer.
type Config struct {
	// Environment is the base environment of every container, KEY=VALUE
	// (Mesos' --executor_environment_variables). Empty means none.
	Environment []string
	// Isolation lists the isolators (--isolation); empty means
	// posix/cpu,posix/mem. cgroups/cpu, cgroups/mem, cgroups/pids and
	// cgroups/all put each container in a cgroup of its own (package
	// cgroups); New then fails if cgroups cannot be used on this host.
	Isolation []string
	// CgroupsRoot is --cgroups_root (default "meso"): containers' cgroups
	// are <agent's cgroup>/<CgroupsRoot>/<container id>. Agents sharing a
	// host (or a process) with cgroups isolation need distinct roots: each
	// removes the others' cgroups under its root at start.
	CgroupsRoot string
	// CgroupsEnableCFS is --cgroups_enable_cfs: cap cpu with a CFS quota.
	CgroupsEnableCFS bool
	// CgroupsPidsLimit is --cgroups_pids_limit: pids.max per container
	// with cgroups/pids or cgroups/all (0: count only).
	CgroupsPidsLimit uint64
	// Recovered lists containers an earlier agent run started that the
	// agent will Adopt: their cgroups are kept, not removed as orphans.
	Recovered []string
	Logger    *slog.Logger
}

// Isolators this package provides.
var supportedIsolators = []string{"posix/cpu", "posix/mem", "filesystem/posix",
	cgroups.IsolatorCPU, cgroups.IsolatorMem, cgroups.IsolatorPids, cgroups.IsolatorAll}

// ParseIsolation splits the --isolation flag ("posix/cpu,posix/mem").
func ParseIsolation(flag string) []string {
	var out []string
	for _, s := range strings.Split(flag, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Containerizer runs containers as posix processes. Safe for concurrent use.
type Containerizer struct {
	env []string
	log *slog.Logger
	iso *cgroups.Isolator // nil without cgroups isolation

	mu         sync.Mutex
	containers map[string]*container // guarded by mu
}

type container struct {
	id       string
	sandbox  string
	proc     *launcher.Process
	cpus     float64
	memBytes uint64
	cg       *cgroups.Cgroup // nil without cgroups isolation
	started  uint64          // the leader's start time (launcher.StartTime)
	adopted  bool            // started by an earlier agent run (Adopt)
	done     chan struct{}
	term     containerizer.Termination // guarded by Containerizer.mu; final once done is closed
}

var (
	_ containerizer.Containerizer = (*Containerizer)(nil)
	_ containerizer.UsageReporter = (*Containerizer)(nil)
	_ containerizer.Supporter     = (*Containerizer)(nil)
	_ containerizer.Adopter       = (*Containerizer)(nil)
)

// New returns a posix containerizer, or an error naming an isolator it
// does not provide.
func New(cfg Config) (*Containerizer, error) {
	for _, iso := range cfg.Isolation {
		if !slices.Contains(supportedIsolators, iso) {
			return nil, fmt.Errorf("%w: isolator %q (posix provides %s)",
				containerizer.ErrUnsupported, iso, strings.Join(supportedIsolators, ", "))
		}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	z := &Containerizer{
		env:        launcher.MergeEnv(cfg.Environment),
		log:        log,
		containers: map[string]*container{},
	}
	if len(cgroups.Select(cfg.Isolation).Controllers) > 0 {
		iso, err := cgroups.New(cgroups.Config{
			Isolation: cfg.Isolation,
			Root:      cfg.CgroupsRoot,
			EnableCFS: cfg.CgroupsEnableCFS,
			PidsLimit: cfg.CgroupsPidsLimit,
			Logger:    log,
		})
		if err != nil {
			return nil, err
		}
		// A new containerizer knows no container: whatever is under the
		// root was left by an agent that is gone, except the containers
		// the agent recovers.
		ctx, cancel := context.WithTimeout(context.Background(), recoverTimeout)
		defer cancel()
		keep := func(id string) bool { return slices.Contains(cfg.Recovered, id) }
		if _, err := iso.Recover(ctx, keep); err != nil {
			return nil, fmt.Errorf("posix: clean up orphan cgroups: %w", err)
		}
		z.iso = iso
	}
	return z, nil
}

// recoverTimeout bounds killing and removing orphan cgroups at start.
const recoverTimeout = 30 * time.Second

// Supports reports whether spec is a plain MESOS container.
func (z *Containerizer) Supports(spec containerizer.Spec) bool {
	return containerizer.MesosOnly(spec)
}

func launchErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", containerizer.ErrLaunchFailed, fmt.Sprintf(format, args...))
}

// Launch implements containerizer.Containerizer.
func (z *Containerizer) Launch(ctx context.Context, spec containerizer.Spec) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if spec.ContainerID == "" {
		return launchErr("empty container id")
	}
	if !z.Supports(spec) {
		return fmt.Errorf("%w: %w: container type %s (posix runs plain MESOS containers without images)",
			containerizer.ErrLaunchFailed, containerizer.ErrUnsupported, containerizer.TypeName(spec))
	}
	if st, err := os.Stat(spec.Sandbox); err != nil || !st.IsDir() {
		return launchErr("sandbox %q is not a directory: %v", spec.Sandbox, err)
	}
	cmd, err := launcher.Command(spec.Command, spec.Sandbox, launcher.MergeEnv(z.env, spec.Env))
	if err != nil {
		return fmt.Errorf("%w: %w", containerizer.ErrLaunchFailed, err)
	}
	owner, err := z.applyUser(cmd, spec)
	if err != nil {
		return fmt.Errorf("%w: %w", containerizer.ErrLaunchFailed, err)
	}
	stdout, stderr, err := openOutputs(spec.Sandbox, owner)
	if err != nil {
		return fmt.Errorf("%w: %w", containerizer.ErrLaunchFailed, err)
	}
	defer stdout.Close() // the child has its own copies once started
	defer stderr.Close()
	cmd.Stdout, cmd.Stderr = stdout, stderr

	cpus, mem := containerizer.Limits(spec.Resources)
	c := &container{id: spec.ContainerID, sandbox: spec.Sandbox, cpus: cpus, memBytes: mem, done: make(chan struct{})}
	z.mu.Lock()
	defer z.mu.Unlock()
	if _, ok := z.containers[c.id]; ok {
		return fmt.Errorf("%w: %q", containerizer.ErrExists, c.id)
	}
	if err := z.start(c, cmd); err != nil {
		return err
	}
	if c.started, err = launcher.StartTime(c.proc.Pid()); err != nil {
		// Our unreaped child: /proc has it. Without it, no recovery.
		z.log.Warn("cannot read the executor's start time; it cannot be recovered after an agent restart",
			"container", c.id, "err", err)
	}
	z.containers[c.id] = c
	go z.reap(c)
	if c.cg != nil {
		go z.watchLimits(c)
	}
	z.log.Info("launched container", "container", c.id, "pid", c.proc.Pid(), "sandbox", c.sandbox)
	return nil
}

// Handle implements containerizer.Adopter: the pid and start time of the
// container's main process.
func (z *Containerizer) Handle(id string) (containerizer.Handle, error) {
	c, err := z.lookup(id)
	if err != nil {
		return containerizer.Handle{}, err
	}
	return containerizer.Handle{ContainerID: id, Kind: containerizer.NameMesos, Pid: c.proc.Pid(), StartTime: c.started,
		Sandbox: c.sandbox, CPUs: c.cpus, MemBytes: c.memBytes}, nil
}

// Adopt implements containerizer.Adopter: it watches the main process an
// earlier agent run started (by pid, checked against its start time so a
// reused pid is never taken for it) and, with cgroups isolation, takes its
// cgroup back. A container whose process is gone is cleaned up (its cgroup
// removed) and reported as ErrUnknownContainer.
func (z *Containerizer) Adopt(ctx context.Context, h containerizer.Handle) error {
	if h.Kind != containerizer.NameMesos {
		return fmt.Errorf("%w: adopt %q: kind %q", containerizer.ErrUnsupported, h.ContainerID, h.Kind)
	}
	var cg *cgroups.Cgroup
	if z.iso != nil {
		var err error
		if cg, err = z.iso.Open(h.ContainerID, z.iso.Limits(h.CPUs, h.MemBytes)); err != nil {
			z.log.Warn("recovered container has no cgroup", "container", h.ContainerID, "err", err)
		}
	}
	proc, err := launcher.Adopt(h.Pid, h.StartTime)
	if err != nil {
		if cg != nil {
			_ = cg.Destroy(ctx)
		}
		return fmt.Errorf("%w: %q: %w", containerizer.ErrUnknownContainer, h.ContainerID, err)
	}
	c := &container{id: h.ContainerID, sandbox: h.Sandbox, proc: proc, cpus: h.CPUs, memBytes: h.MemBytes,
		cg: cg, started: h.StartTime, adopted: true, done: make(chan struct{})}
	z.mu.Lock()
	defer z.mu.Unlock()
	if _, ok := z.containers[c.id]; ok {
		return fmt.Errorf("%w: %q", containerizer.ErrExists, c.id)
	}
	z.containers[c.id] = c
	go z.reap(c)
	if c.cg != nil {
		go z.watchLimits(c)
	}
	z.log.Info("recovered container", "container", c.id, "pid", h.Pid, "sandbox", c.sandbox)
	return nil
}

// start starts cmd for c, inside a new cgroup with cgroups isolation.
func (z *Containerizer) start(c *container, cmd *exec.Cmd) error {
	if z.iso == nil {
		var err error
		if c.proc, err = launcher.Start(cmd); err != nil {
			return launchErr("start %s: %v", cmd.Path, err)
		}
		return nil
	}
	cg, err := z.iso.Create(c.id, z.iso.Limits(c.cpus, c.memBytes))
	if err != nil {
		return launchErr("cgroup: %v", err)
	}
	err = cg.Start(cmd, func() error {
		var err error
		c.proc, err = launcher.Start(cmd)
		return err
	})
	if err != nil {
		if c.proc != nil {
			_ = c.proc.Terminate(context.Background(), 0)
		}
		_ = cg.Destroy(context.Background())
		return launchErr("start %s in its cgroup: %v", cmd.Path, err)
	}
	c.cg = cg
	return nil
}

// watchLimits ends the container when the kernel reports that it went
// over its memory limit (its OOM killer may have killed only a task, not
// the executor: Mesos ends the whole container).
func (z *Containerizer) watchLimits(c *container) {
	select {
	case <-c.done:
	case <-c.cg.OOM():
		z.log.Info("container exceeded its memory limit; killing it", "container", c.id)
		_ = c.proc.Signal(syscall.SIGKILL)
		_ = c.cg.Signal(syscall.SIGKILL)
	}
}

// applyUser runs cmd as spec.User when we can; it returns the uid/gid to
// hand the sandbox outputs to (-1 when unchanged).
func (z *Containerizer) applyUser(c *exec.Cmd, spec containerizer.Spec) (owner [2]int, err error) {
	owner = [2]int{-1, -1}
	if spec.User == "" {
		return owner, nil
	}
	err = launcher.SetUser(c, spec.User)
	switch {
	case errors.Is(err, launcher.ErrNotRoot):
		z.log.Info("not switching user: the agent is not root", "container", spec.ContainerID, "user", spec.User)
		return owner, nil
	case err != nil:
		return owner, err
	}
	if cred := c.SysProcAttr.Credential; cred != nil {
		owner = [2]int{int(cred.Uid), int(cred.Gid)}
		if err := os.Chown(spec.Sandbox, owner[0], owner[1]); err != nil {
			return owner, fmt.Errorf("chown sandbox to %q: %w", spec.User, err)
		}
	}
	return owner, nil
}

// openOutputs opens <sandbox>/stdout and <sandbox>/stderr for appending.
func openOutputs(sandbox string, owner [2]int) (stdout, stderr *os.File, err error) {
	open := func(name string) (*os.File, error) {
		p := filepath.Join(sandbox, name)
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return nil, err
		}
		if owner[0] >= 0 {
			if err := f.Chown(owner[0], owner[1]); err != nil {
				f.Close()
				return nil, err
			}
		}
		return f, nil
	}
	if stdout, err = open("stdout"); err != nil {
		return nil, nil, err
	}
	if stderr, err = open("stderr"); err != nil {
		stdout.Close()
		return nil, nil, err
	}
	return stdout, stderr, nil
}

// reap waits for the container's main process and records its end.
func (z *Containerizer) reap(c *container) {
	state, err := c.proc.Wait(context.Background())
	term := containerizer.Termination{Status: -1, Message: launcher.DescribeExit(state)}
	if state != nil {
		if ws, ok := state.Sys().(syscall.WaitStatus); ok {
			term.Status = int(ws)
		}
	}
	if err != nil {
		term.Message = "Failed to get exit status: " + err.Error()
	} else if state == nil && c.adopted {
		term.Message = "Executor exited (status unknown: it was started by an earlier run of the agent)"
	}
	if c.cg != nil {
		z.endCgroup(c, &term)
	}
	z.mu.Lock()
	c.term = term
	z.mu.Unlock()
	close(c.done)
	z.log.Info("container terminated", "container", c.id, "status", term.Message)
}

// endCgroup kills what is left in the container's cgroup (processes that
// left the process group, too) and records a memory limitation.
func (z *Containerizer) endCgroup(c *container, term *containerizer.Termination) {
	ctx, cancel := context.WithTimeout(context.Background(), recoverTimeout)
	defer cancel()
	if err := c.cg.Kill(ctx); err != nil {
		z.log.Warn("cannot empty the container's cgroup", "container", c.id, "err", err)
	}
	if msg, limited := c.cg.Limitation(); limited {
		term.Limited = true
		term.Reason = mesospb.TaskStatus_REASON_CONTAINER_LIMITATION_MEMORY
		term.Message = msg
	}
}

func (z *Containerizer) lookup(id string) (*container, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	c, ok := z.containers[id]
	if !ok {
		return nil, fmt.Errorf("%w: %q", containerizer.ErrUnknownContainer, id)
	}
	return c, nil
}

// Wait implements containerizer.Containerizer.
func (z *Containerizer) Wait(ctx context.Context, id string) (containerizer.Termination, error) {
	c, err := z.lookup(id)
	if err != nil {
		return containerizer.Termination{}, err
	}
	select {
	case <-c.done:
		z.mu.Lock()
		defer z.mu.Unlock()
		return c.term, nil
	case <-ctx.Done():
		return containerizer.Termination{}, ctx.Err()
	}
}

// Kill implements containerizer.Containerizer.
func (z *Containerizer) Kill(id string, sig syscall.Signal) error {
	c, err := z.lookup(id)
	if err != nil {
		return err
	}
	groupSig := sig
	if c.cg != nil {
		groupSig = 0 // only check that the executor still runs
	}
	if err := c.proc.Signal(groupSig); errors.Is(err, launcher.ErrNoProcess) {
		return fmt.Errorf("%w: %q", containerizer.ErrNotRunning, id)
	} else if err != nil {
		return err
	}
	if c.cg != nil {
		return c.cg.Signal(sig) // every process of the cgroup, also those that left the group
	}
	return nil
}

// Destroy implements containerizer.Containerizer.
func (z *Containerizer) Destroy(ctx context.Context, id string, grace time.Duration) error {
	c, err := z.lookup(id)
	if err != nil {
		return err
	}
	if err := c.proc.Terminate(ctx, grace); err != nil {
		return fmt.Errorf("containerizer: destroy %q: %w", id, err)
	}
	<-c.done // reap has recorded the termination
	if c.cg != nil {
		if err := c.cg.Destroy(ctx); err != nil {
			return fmt.Errorf("containerizer: destroy %q: %w", id, err)
		}
	}
	z.mu.Lock()
	if z.containers[id] == c {
		delete(z.containers, id)
	}
	z.mu.Unlock()
	z.log.Info("destroyed container", "container", id)
	return nil
}

// Containers implements containerizer.Containerizer.
func (z *Containerizer) Containers() []string {
	z.mu.Lock()
	defer z.mu.Unlock()
	out := make([]string, 0, len(z.containers))
	for id := range z.containers {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}
