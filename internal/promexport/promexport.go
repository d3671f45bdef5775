package promexport

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Snapshot returns the current Mesos-named metrics.
type Snapshot func(ctx context.Context) (map[string]float64, error)

// scrapeTimeout bounds one scrape's call of a Snapshot.
const scrapeTimeout = 10 * time.Second

// Handler serves snap, the runtime collectors and extra in the Prometheus
// text format.
func Handler(snap Snapshot, extra ...prometheus.Collector) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(snapshotCollector(snap), collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(extra...)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// Name converts a Mesos metric name to the Prometheus name meso exports it
// under: "meso_" followed by the name with every character outside
// [a-zA-Z0-9] replaced by '_'.
func Name(mesosName string) string {
	var b strings.Builder
	b.WriteString("meso_")
	for _, r := range mesosName {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// snapshotCollector exports the snapshot at each scrape. It is unchecked:
// its metric set is not fixed up front.
type snapshotCollector Snapshot

func (snapshotCollector) Describe(chan<- *prometheus.Desc) {}

func (s snapshotCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	snap, err := s(ctx)
	if err != nil {
		return
	}
	names := make([]string, 0, len(snap))
	for name := range snap {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		desc := prometheus.NewDesc(Name(name), "Mesos metric "+name, nil, nil)
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, snap[name])
	}
}
