package master

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// prometheusHandler serves /metrics: the /metrics/snapshot numbers under
// Prometheus names ("master/tasks_running" -> "meso_master_tasks_running",
// "allocator/mesos/allocation_runs" -> "meso_allocator_mesos_allocation_runs"),
// all as gauges, plus the Go runtime collectors.
func (m *Master) prometheusHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(snapshotCollector{m}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: nil})
}

// snapshotCollector exports the metrics snapshot at each scrape. It is
// unchecked (its metric set is not fixed up front).
type snapshotCollector struct{ m *Master }

func (snapshotCollector) Describe(chan<- *prometheus.Desc) {}

func (s snapshotCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
	defer cancel()
	snap, err := s.m.metrics(ctx)
	if err != nil {
		return
	}
	names := make([]string, 0, len(snap))
	for name := range snap {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		desc := prometheus.NewDesc(PrometheusName(name), "Mesos metric "+name, nil, nil)
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, snap[name])
	}
}

// PrometheusName converts a Mesos metric name to the Prometheus name meso
// exports it under.
func PrometheusName(name string) string {
	var b strings.Builder
	b.WriteString("meso_")
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}
