package promexport

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestName(t *testing.T) {
	for in, want := range map[string]string{
		"master/tasks_running":            "meso_master_tasks_running",
		"allocator/mesos/allocation_runs": "meso_allocator_mesos_allocation_runs",
		"slave/cpus_used":                 "meso_slave_cpus_used",
		"a.b-c d":                         "meso_a_b_c_d",
	} {
		if got := Name(in); got != want {
			t.Errorf("Name(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHandlerServesSnapshotAndExtra(t *testing.T) {
	snap := func(context.Context) (map[string]float64, error) {
		return map[string]float64{"master/tasks_running": 3, "master/elected": 1}, nil
	}
	extra := prometheus.NewGauge(prometheus.GaugeOpts{Name: "meso_extra", Help: "an extra collector"})
	extra.Set(7)
	body := scrape(t, Handler(snap, extra))
	for _, want := range []string{"meso_master_tasks_running 3", "meso_master_elected 1", "meso_extra 7", "go_goroutines "} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %q:\n%s", want, body)
		}
	}
}

// A failing snapshot leaves its metrics out; the scrape still answers.
func TestHandlerSnapshotError(t *testing.T) {
	snap := func(context.Context) (map[string]float64, error) { return nil, errors.New("busy") }
	body := scrape(t, Handler(snap))
	if strings.Contains(body, "meso_master") || !strings.Contains(body, "go_goroutines ") {
		t.Errorf("unexpected scrape:\n%s", body)
	}
}

func scrape(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("scrape: %v %s", err, resp.Status)
	}
	return string(b)
}
