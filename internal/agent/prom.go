package agent

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/promexport"
)

// prometheusHandler serves /metrics: the /metrics/snapshot numbers under
// Prometheus names ("slave/tasks_running" -> "meso_slave_tasks_running")
// and, for every running executor container, each numeric field of its
// ResourceStatistics (what /monitor/statistics reports) as a gauge
// "meso_container_<field>" labelled with framework_id and executor_id.
func (a *Agent) prometheusHandler() http.Handler {
	snap := func(context.Context) (map[string]float64, error) {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.metricsLocked(), nil
	}
	return promexport.Handler(snap, containerCollector{a})
}

// containerCollector measures the running containers at each scrape. It is
// unchecked: which statistics a container has depends on its isolation.
type containerCollector struct{ a *Agent }

func (containerCollector) Describe(chan<- *prometheus.Desc) {}

func (c containerCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), statisticsTimeout)
	defer cancel()
	for _, m := range c.a.runningContainers() {
		u, err := c.a.usage(ctx, m)
		if err != nil {
			continue
		}
		fields, err := numericFields(u.Statistics())
		if err != nil {
			continue
		}
		names := make([]string, 0, len(fields))
		for name := range fields {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			desc := prometheus.NewDesc(promexport.Name("container/"+name),
				"ResourceStatistics."+name+" of an executor's container",
				[]string{"framework_id", "executor_id"}, nil)
			ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, fields[name],
				m.frameworkID, m.executorID)
		}
	}
}

// numericFields renders stats in Mesos JSON and keeps its top-level
// numbers, so every statistic a containerizer fills in is exported
// without a list to keep in step with the proto.
func numericFields(stats *mesospb.ResourceStatistics) (map[string]float64, error) {
	b, err := codec.JSON.Marshal(stats)
	if err != nil {
		return nil, err
	}
	var all map[string]any
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, err
	}
	out := make(map[string]float64, len(all))
	for k, v := range all {
		if f, ok := v.(float64); ok {
			out[k] = f
		}
	}
	return out, nil
}
