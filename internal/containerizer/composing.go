package containerizer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Names of containerizers accepted by the agent's --containerizers flag.
const (
	NameMesos  = "mesos"
	NameDocker = "docker"
)

// ParseNames reads the --containerizers flag ("mesos", "docker,mesos"):
// comma-separated known names, in order of preference, no duplicates.
func ParseNames(flag string) ([]string, error) {
	var out []string
	for _, n := range strings.Split(flag, ",") {
		n = strings.TrimSpace(n)
		switch {
		case n != NameMesos && n != NameDocker:
			return nil, fmt.Errorf("containerizer: unknown containerizer %q in %q (want %s or %s)", n, flag, NameMesos, NameDocker)
		case slices.Contains(out, n):
			return nil, fmt.Errorf("containerizer: %q listed twice in %q", n, flag)
		}
		out = append(out, n)
	}
	return out, nil
}

// Composing launches each container with the first of its containerizers
// that supports it and routes later calls to that one.
type Composing struct {
	list []Containerizer

	mu    sync.Mutex
	owner map[string]Containerizer // guarded by mu; container id -> its containerizer
}

var (
	_ Containerizer = (*Composing)(nil)
	_ UsageReporter = (*Composing)(nil)
	_ Adopter       = (*Composing)(nil)
)

// NewComposing composes list, in order of preference.
func NewComposing(list ...Containerizer) *Composing {
	return &Composing{list: slices.Clone(list), owner: map[string]Containerizer{}}
}

func supports(c Containerizer, spec Spec) bool {
	if s, ok := c.(Supporter); ok {
		return s.Supports(spec)
	}
	return MesosOnly(spec)
}

// Launch implements Containerizer.
func (c *Composing) Launch(ctx context.Context, spec Spec) error {
	var chosen Containerizer
	for _, x := range c.list {
		if supports(x, spec) {
			chosen = x
			break
		}
	}
	if chosen == nil {
		return fmt.Errorf("%w: %w: no containerizer supports container type %s", ErrLaunchFailed, ErrUnsupported, TypeName(spec))
	}
	c.mu.Lock()
	if _, ok := c.owner[spec.ContainerID]; ok {
		c.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrExists, spec.ContainerID)
	}
	c.owner[spec.ContainerID] = chosen // reserve the id while launching
	c.mu.Unlock()
	if err := chosen.Launch(ctx, spec); err != nil {
		c.mu.Lock()
		delete(c.owner, spec.ContainerID)
		c.mu.Unlock()
		return err
	}
	return nil
}

// Handle implements Adopter for the containerizer running id.
func (c *Composing) Handle(id string) (Handle, error) {
	x, err := c.lookup(id)
	if err != nil {
		return Handle{}, err
	}
	a, ok := x.(Adopter)
	if !ok {
		return Handle{}, fmt.Errorf("%w: container %q cannot be recovered", ErrUnsupported, id)
	}
	return a.Handle(id)
}

// Adopt implements Adopter: the first containerizer that adopts h owns the
// container from then on.
func (c *Composing) Adopt(ctx context.Context, h Handle) error {
	var errs []error
	for _, x := range c.list {
		a, ok := x.(Adopter)
		if !ok {
			continue
		}
		err := a.Adopt(ctx, h)
		if err == nil {
			c.mu.Lock()
			c.owner[h.ContainerID] = x
			c.mu.Unlock()
			return nil
		}
		if !errors.Is(err, ErrUnsupported) {
			return err
		}
		errs = append(errs, err)
	}
	return fmt.Errorf("%w: no containerizer adopts %q (%s): %w", ErrUnknownContainer, h.ContainerID, h.Kind, errors.Join(errs...))
}

func (c *Composing) lookup(id string) (Containerizer, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if x, ok := c.owner[id]; ok {
		return x, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownContainer, id)
}

// Wait implements Containerizer.
func (c *Composing) Wait(ctx context.Context, id string) (Termination, error) {
	x, err := c.lookup(id)
	if err != nil {
		return Termination{}, err
	}
	return x.Wait(ctx, id)
}

// Kill implements Containerizer.
func (c *Composing) Kill(id string, sig syscall.Signal) error {
	x, err := c.lookup(id)
	if err != nil {
		return err
	}
	return x.Kill(id, sig)
}

// Destroy implements Containerizer.
func (c *Composing) Destroy(ctx context.Context, id string, grace time.Duration) error {
	x, err := c.lookup(id)
	if err != nil {
		return err
	}
	err = x.Destroy(ctx, id, grace)
	if err != nil && !errors.Is(err, ErrUnknownContainer) {
		return err
	}
	c.mu.Lock()
	if c.owner[id] == x {
		delete(c.owner, id)
	}
	c.mu.Unlock()
	return err
}

// Containers implements Containerizer.
func (c *Composing) Containers() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.owner))
	for id := range c.owner {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// Usage implements UsageReporter when the container's containerizer does.
func (c *Composing) Usage(ctx context.Context, id string) (Usage, error) {
	x, err := c.lookup(id)
	if err != nil {
		return Usage{}, err
	}
	u, ok := x.(UsageReporter)
	if !ok {
		return Usage{}, fmt.Errorf("%w: usage of container %q", ErrUnsupported, id)
	}
	return u.Usage(ctx, id)
}
