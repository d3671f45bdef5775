package docker

import (
	"context"
	"encoding/json"
	"fmt"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/mesoproject/meso/internal/containerizer"
)

// Containers of this owner that another process launched: the command
// executor runs a DOCKER command task's container itself (with its own
// Containerizer and the agent's Config.Owner), named after the executor's
// container id. The agent's containerizer does not know them, but it can
// measure them (UsageOf) and remove what such an executor left behind
// (Reap).

// inspectOwned inspects the container meso.<id>, if it belongs to this
// owner. It returns nil (and no error) when there is none.
func (z *Containerizer) inspectOwned(ctx context.Context, id string) (*container.InspectResponse, error) {
	res, err := z.cli.ContainerInspect(ctx, NamePrefix+id, client.ContainerInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("docker: inspect %s%s: %w", NamePrefix, id, err)
	}
	ic := res.Container
	if ic.Config == nil || ic.Config.Labels[LabelContainer] != id {
		return nil, nil // not one of ours
	}
	if z.opts.owner != "" && ic.Config.Labels[LabelOwner] != z.opts.owner {
		return nil, nil // another agent's
	}
	return &ic, nil
}

// UsageOf returns the usage of the running container meso.<id> of this
// owner, whether this containerizer launched it or not; limits come from
// the container's Docker settings (a CFS quota, else cpu shares; the
// memory limit). It fails with containerizer.ErrUnknownContainer when
// there is no such container, and ErrNotRunning when it has stopped.
func (z *Containerizer) UsageOf(ctx context.Context, id string) (containerizer.Usage, error) {
	if _, err := z.get(id); err == nil {
		return z.Usage(ctx, id)
	}
	ic, err := z.inspectOwned(ctx, id)
	if err != nil {
		return containerizer.Usage{}, err
	}
	if ic == nil {
		return containerizer.Usage{}, fmt.Errorf("%w: no docker container %s%s", containerizer.ErrUnknownContainer, NamePrefix, id)
	}
	if ic.State == nil || !ic.State.Running {
		return containerizer.Usage{}, fmt.Errorf("%w: docker container %s%s", containerizer.ErrNotRunning, NamePrefix, id)
	}
	var cpus float64
	var mem uint64
	if h := ic.HostConfig; h != nil {
		switch {
		case h.CPUQuota > 0 && h.CPUPeriod > 0:
			cpus = float64(h.CPUQuota) / float64(h.CPUPeriod)
		case h.CPUShares > 0:
			cpus = float64(h.CPUShares) / cpuSharesPerCPU
		}
		mem = uint64(max(h.Memory, 0))
	}
	res, err := z.cli.ContainerStats(ctx, ic.ID, client.ContainerStatsOptions{})
	if err != nil {
		return containerizer.Usage{}, fmt.Errorf("docker: stats of %s%s: %w", NamePrefix, id, err)
	}
	defer res.Body.Close()
	var s container.StatsResponse
	if err := json.NewDecoder(res.Body).Decode(&s); err != nil {
		return containerizer.Usage{}, fmt.Errorf("docker: stats of %s%s: %w", NamePrefix, id, err)
	}
	return usage(s, cpus, mem), nil
}

// Reap kills and removes the container meso.<id> of this owner, with its
// anonymous volumes, when this containerizer does not know it (a container
// it launched or adopted is left to Destroy). It reports whether there was
// one. The agent calls it when a command executor that ran a DOCKER task
// has ended, in case the executor died before removing its container.
func (z *Containerizer) Reap(ctx context.Context, id string) (bool, error) {
	if _, err := z.get(id); err == nil {
		return false, nil
	}
	ic, err := z.inspectOwned(ctx, id)
	if err != nil || ic == nil {
		return false, err
	}
	_, err = z.cli.ContainerRemove(ctx, ic.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return false, fmt.Errorf("docker: remove %s%s: %w", NamePrefix, id, err)
	}
	z.log.Info("removed docker container left by an executor", "container", id, "docker_id", shortID(ic.ID))
	return true, nil
}
