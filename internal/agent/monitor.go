package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/internal/agent/lifecycle"
	"github.com/mesoproject/meso/internal/containerizer"
)

// statisticsEntry is one element of /monitor/statistics, Mesos' shape:
// the executor and its container's ResourceStatistics (Mesos JSON).
type statisticsEntry struct {
	ExecutorID   string          `json:"executor_id"`
	ExecutorName string          `json:"executor_name"`
	FrameworkID  string          `json:"framework_id"`
	Source       string          `json:"source"`
	Statistics   json.RawMessage `json:"statistics"`
}

// monitored is a running executor container to measure.
type monitored struct {
	frameworkID, executorID, name, source string
	containerID                           string
	dockerTask                            bool
}

// statisticsTimeout bounds the measurement of all containers.
const statisticsTimeout = 10 * time.Second

// serveStatistics is GET /monitor/statistics: the resource usage of every
// running executor container, from its containerizer (cgroups accounting
// with cgroups isolation, /proc without, Docker's stats for Docker
// containers). Containers that cannot be measured are left out, as in Mesos.
func (a *Agent) serveStatistics(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed: use GET", http.StatusMethodNotAllowed)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), statisticsTimeout)
	defer cancel()
	out := []statisticsEntry{}
	for _, m := range a.runningContainers() {
		u, err := a.usage(ctx, m)
		if err != nil {
			a.log.Debug("no usage for container", "container", m.containerID, "err", err)
			continue
		}
		stats, err := codec.JSON.Marshal(u.Statistics())
		if err != nil {
			a.log.Warn("cannot render usage", "container", m.containerID, "err", err)
			continue
		}
		out = append(out, statisticsEntry{ExecutorID: m.executorID, ExecutorName: m.name,
			FrameworkID: m.frameworkID, Source: m.source, Statistics: stats})
	}
	writeJSON(w, r, out)
}

// runningContainers lists the executors whose container is up.
func (a *Agent) runningContainers() []monitored {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []monitored
	for _, fw := range a.core.Snapshot().Frameworks {
		for _, ex := range fw.Executors {
			run := a.containers[ex.ContainerID]
			if ex.State == lifecycle.ExecutorTerminated || run == nil || run.launching {
				continue
			}
			out = append(out, monitored{
				frameworkID: ex.FrameworkID, executorID: ex.Info.GetExecutorId().GetValue(),
				name: ex.Info.GetName(), source: ex.Info.GetSource(),
				containerID: ex.ContainerID, dockerTask: run.dockerTask,
			})
		}
	}
	return out
}

// usage measures one container. A command executor running its task in
// Docker is measured by the task's container (the executor itself is
// small); if that fails, by the executor's own.
func (a *Agent) usage(ctx context.Context, m monitored) (containerizer.Usage, error) {
	if m.dockerTask && a.docker != nil {
		u, err := a.docker.UsageOf(ctx, m.containerID)
		if err == nil {
			return u, nil
		}
		if !errors.Is(err, containerizer.ErrUnknownContainer) && !errors.Is(err, containerizer.ErrNotRunning) {
			a.log.Debug("no usage of the task's docker container", "container", m.containerID, "err", err)
		}
	}
	ur, ok := a.cz.(containerizer.UsageReporter)
	if !ok {
		return containerizer.Usage{}, fmt.Errorf("%w: the containerizer reports no usage", containerizer.ErrUnsupported)
	}
	return ur.Usage(ctx, m.containerID)
}
