package docker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/mesoproject/meso/internal/containerizer"
)

// Recover looks at the containers this package created for Config.Owner
// (all meso.* containers when Owner is empty), running or not. Those whose
// Mesos container id is in known are adopted: Wait, Kill, Destroy and Usage
// work on them as on launched ones, and a running one's new output is
// appended to its sandbox files again. The others are orphans: killed and
// removed with their anonymous volumes. It returns the adopted ids, sorted.
// Call it once at agent start, before launching.
func (z *Containerizer) Recover(ctx context.Context, known []string) ([]string, error) {
	f := make(client.Filters).Add("label", LabelContainer)
	if z.opts.owner != "" {
		f.Add("label", LabelOwner+"="+z.opts.owner)
	}
	list, err := z.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, fmt.Errorf("docker: recover: list containers: %w", err)
	}
	var adopted []string
	var errs []error
	for _, s := range list.Items {
		id := s.Labels[LabelContainer]
		if slices.Contains(known, id) {
			ok, err := z.adopt(ctx, id, s.ID)
			if err != nil {
				errs = append(errs, err)
			} else if ok {
				adopted = append(adopted, id)
			}
			continue
		}
		_, err := z.cli.ContainerRemove(ctx, s.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		if err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("docker: recover: remove orphan container %s of %q: %w", shortID(s.ID), id, err))
			continue
		}
		z.log.Info("removed orphan docker container", "container", id, "docker_id", shortID(s.ID), "state", s.State)
	}
	slices.Sort(adopted)
	return adopted, errors.Join(errs...)
}

// adopt takes over a container found by Recover. It reports false when the
// id is already in use here.
func (z *Containerizer) adopt(ctx context.Context, id, dockerID string) (bool, error) {
	if err := z.reserve(id); err != nil {
		if errors.Is(err, containerizer.ErrExists) {
			return false, nil
		}
		return false, err
	}
	defer z.unreserve(id)
	res, err := z.cli.ContainerInspect(ctx, dockerID, client.ContainerInspectOptions{})
	if err != nil {
		return false, fmt.Errorf("docker: recover %q: inspect: %w", id, err)
	}
	ic := res.Container
	c := &dcontainer{id: id, dockerID: dockerID, done: make(chan struct{})}
	if ic.Config != nil {
		c.sandbox = ic.Config.Labels[LabelSandbox]
	}
	if ic.HostConfig != nil {
		c.cpus = float64(ic.HostConfig.CPUShares) / cpuSharesPerCPU
		c.memBytes = uint64(max(ic.HostConfig.Memory, 0))
	}
	switch st := ic.State; {
	case st == nil || st.Status == container.StateCreated:
		c.term = containerizer.Termination{Status: -1, Message: "Container was never started"}
		close(c.done)
	case !st.Running:
		c.term = termination(exitState{code: int64(st.ExitCode), oomKilled: st.OOMKilled, err: st.Error, memLimit: int64(c.memBytes)})
		close(c.done)
	default:
		c.out = z.followLogs(c)
		wait := z.cli.ContainerWait(z.ctx, dockerID, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
		if !z.spawn(func() { z.watch(c, wait) }) {
			discard(wait)
			if c.out != nil {
				c.out.abort()
			}
			return false, ErrClosed
		}
	}
	z.mu.Lock()
	z.containers[id] = c
	z.mu.Unlock()
	z.log.Info("recovered docker container", "container", id, "docker_id", shortID(dockerID), "running", !c.ended())
	return true, nil
}

// followLogs appends the output a recovered container writes from now on
// to its sandbox files; nil when that cannot be done (logged). Output
// written while no agent followed it stays in Docker's log only.
func (z *Containerizer) followLogs(c *dcontainer) *output {
	if c.sandbox == "" {
		return nil
	}
	if st, err := os.Stat(c.sandbox); err != nil || !st.IsDir() {
		z.log.Warn("recovered container's sandbox is gone; not following its output", "container", c.id, "sandbox", c.sandbox)
		return nil
	}
	since := strconv.FormatInt(time.Now().Unix(), 10)
	logs, err := z.cli.ContainerLogs(z.ctx, c.dockerID, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Follow: true, Since: since})
	if err != nil {
		z.log.Warn("cannot follow recovered container's output", "container", c.id, "err", err)
		return nil
	}
	stdout, stderr, err := openOutputs(c.sandbox)
	if err != nil {
		logs.Close()
		z.log.Warn("cannot follow recovered container's output", "container", c.id, "err", err)
		return nil
	}
	return z.copyOutput(logs, logs, stdout, stderr)
}

var _ containerizer.Adopter = (*Containerizer)(nil)

// Handle implements containerizer.Adopter. A Docker container is found
// again by its labels (see Recover), so the handle only names it.
func (z *Containerizer) Handle(id string) (containerizer.Handle, error) {
	c, err := z.get(id)
	if err != nil {
		return containerizer.Handle{}, err
	}
	return containerizer.Handle{ContainerID: id, Kind: containerizer.NameDocker, Name: NamePrefix + id,
		Sandbox: c.sandbox, CPUs: c.cpus, MemBytes: c.memBytes}, nil
}

// Adopt implements containerizer.Adopter: the container must have been
// adopted by Recover (called with its id among the known ones) when the
// agent started; Adopt only checks that it was.
func (z *Containerizer) Adopt(_ context.Context, h containerizer.Handle) error {
	if h.Kind != containerizer.NameDocker {
		return fmt.Errorf("%w: adopt %q: kind %q", containerizer.ErrUnsupported, h.ContainerID, h.Kind)
	}
	_, err := z.get(h.ContainerID)
	return err
}
