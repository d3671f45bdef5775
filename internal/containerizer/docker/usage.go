package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/mesoproject/meso/internal/containerizer"
)

// Usage implements containerizer.UsageReporter from Docker's stats of the
// container's cgroup: cpu times, memory (RSS where the kernel reports it,
// else all charged memory), the number of processes, and the cpus/mem the
// container was given as limits.
func (z *Containerizer) Usage(ctx context.Context, id string) (containerizer.Usage, error) {
	c, err := z.get(id)
	if err != nil {
		return containerizer.Usage{}, err
	}
	if c.ended() {
		return containerizer.Usage{}, fmt.Errorf("%w: %q", containerizer.ErrNotRunning, id)
	}
	res, err := z.cli.ContainerStats(ctx, c.dockerID, client.ContainerStatsOptions{})
	if err != nil {
		return containerizer.Usage{}, fmt.Errorf("docker: stats of %q: %w", id, err)
	}
	defer res.Body.Close()
	var s container.StatsResponse
	if err := json.NewDecoder(res.Body).Decode(&s); err != nil {
		return containerizer.Usage{}, fmt.Errorf("docker: stats of %q: %w", id, err)
	}
	return usage(s, c.cpus, c.memBytes), nil
}

// usage converts one stats sample.
func usage(s container.StatsResponse, cpus float64, memBytes uint64) containerizer.Usage {
	u := containerizer.Usage{
		Timestamp:     s.Read,
		Processes:     int(s.PidsStats.Current),
		CPUUser:       time.Duration(s.CPUStats.CPUUsage.UsageInUsermode),
		CPUSystem:     time.Duration(s.CPUStats.CPUUsage.UsageInKernelmode),
		RSSBytes:      s.MemoryStats.Usage,
		CPUsLimit:     cpus,
		MemLimitBytes: memBytes,
	}
	for _, k := range []string{"rss", "anon"} { // cgroup v1, v2
		if v, ok := s.MemoryStats.Stats[k]; ok {
			u.RSSBytes = v
			break
		}
	}
	return u
}
