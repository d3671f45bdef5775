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

	"github.com/mesoproject/meso/internal/containerizer"
	"github.com/mesoproject/meso/internal/launcher"
)

// Config configures a posix containerizer.
type Config struct {
	// Environment is the base environment of every container, KEY=VALUE
	// (Mesos' --executor_environment_variables). Empty means none.
	Environment []string
	// Isolation lists the isolators (--isolation); empty means
	// posix/cpu,posix/mem.
	Isolation []string
	Logger    *slog.Logger
}

// Isolators this package provides.
var supportedIsolators = []string{"posix/cpu", "posix/mem", "filesystem/posix"}

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

	mu         sync.Mutex
	containers map[string]*container // guarded by mu
}

type container struct {
	id       string
	sandbox  string
	proc     *launcher.Process
	cpus     float64
	memBytes uint64
	done     chan struct{}
	term     containerizer.Termination // guarded by Containerizer.mu; final once done is closed
}

var (
	_ containerizer.Containerizer = (*Containerizer)(nil)
	_ containerizer.UsageReporter = (*Containerizer)(nil)
	_ containerizer.Supporter     = (*Containerizer)(nil)
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
	return &Containerizer{
		env:        launcher.MergeEnv(cfg.Environment),
		log:        log,
		containers: map[string]*container{},
	}, nil
}

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
	if c.proc, err = launcher.Start(cmd); err != nil {
		return launchErr("start %s: %v", cmd.Path, err)
	}
	z.containers[c.id] = c
	go z.reap(c)
	z.log.Info("launched container", "container", c.id, "pid", c.proc.Pid(), "sandbox", c.sandbox)
	return nil
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
	}
	z.mu.Lock()
	c.term = term
	z.mu.Unlock()
	close(c.done)
	z.log.Info("container terminated", "container", c.id, "status", term.Message)
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
	if err := c.proc.Signal(sig); errors.Is(err, launcher.ErrNoProcess) {
		return fmt.Errorf("%w: %q", containerizer.ErrNotRunning, id)
	} else if err != nil {
		return err
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
