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
// container was given as limits; the memory cgroup's figures and, with a
// CFS quota, its throttling.
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
	ms := s.MemoryStats.Stats
	stat := func(keys ...string) uint64 { // the cgroup v1 name, then v2's
		for _, k := range keys {
			if v, ok := ms[k]; ok {
				return v
			}
		}
		return 0
	}
	if _, ok := ms["rss"]; ok {
		u.RSSBytes = ms["rss"]
	} else if _, ok := ms["anon"]; ok {
		u.RSSBytes = ms["anon"]
	}
	if s.MemoryStats.Usage > 0 {
		u.Memory = &containerizer.MemoryUsage{
			TotalBytes:       s.MemoryStats.Usage,
			MaxBytes:         s.MemoryStats.MaxUsage,
			CacheBytes:       stat("cache", "file"),
			MappedFileBytes:  stat("mapped_file", "file_mapped"),
			SwapBytes:        stat("swap"),
			UnevictableBytes: stat("unevictable"),
		}
	}
	if th := s.CPUStats.ThrottlingData; th.Periods > 0 {
		u.Throttling = &containerizer.CPUThrottling{
			Periods:       uint32(th.Periods),
			Throttled:     uint32(th.ThrottledPeriods),
			ThrottledTime: time.Duration(th.ThrottledTime),
		}
	}
	return u
}
