package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/cdproto/performance"
	"github.com/chromedp/chromedp"

	"github.com/mesoproject/meso/internal/webui/browsertest"
)

// TestWebUILoad opens the overview against a real master holding
// MESO_WEBUI_LOAD_AGENTS simulated agents (200) running
// MESO_WEBUI_LOAD_TASKS tasks (5,000) from `meso bench`, and logs the time
// to the first full render and the page's memory (docs/BENCHMARKS.md).
// A measurement, not a check: it runs only with MESO_WEBUI_LOAD=1.
func TestWebUILoad(t *testing.T) {
	if os.Getenv("MESO_WEBUI_LOAD") == "" {
		t.Skip("a measurement: set MESO_WEBUI_LOAD=1 to run it")
	}
	num := func(env string, def int) int {
		if n, err := strconv.Atoi(os.Getenv(env)); err == nil {
			return n
		}
		return def
	}
	agents, tasks := num("MESO_WEBUI_LOAD_AGENTS", 200), num("MESO_WEBUI_LOAD_TASKS", 5000)
	ctx := browsertest.New(t, 10*time.Minute)

	dir := t.TempDir()
	port := freePort(t)
	m := start(t, "master", port, "master", "--ip=127.0.0.1", "--port="+strconv.Itoa(port),
		"--work_dir="+filepath.Join(dir, "master"), "--allocation_interval=100ms")
	m.waitHealthy()
	waitLeader(t, 30*time.Second, m)
	start(t, "bench", 0, "bench", "--master="+m.addr, "--quiet", "--state_interval=0",
		fmt.Sprintf("--agents=%d", agents), fmt.Sprintf("--tasks=%d", tasks), "--frameworks=10",
		"--task_duration=30mins", "--timeout=40mins")
	eventually(t, 5*time.Minute, func() error {
		var snap map[string]float64
		if err := getJSON(m.url("/metrics/snapshot"), &snap); err != nil {
			return err
		}
		if int(snap["master/tasks_running"]) < tasks {
			return fmt.Errorf("%v of %d tasks running", snap["master/tasks_running"], tasks)
		}
		return nil
	})

	begin := time.Now()
	want := strconv.Itoa(tasks)
	if err := chromedp.Run(ctx,
		chromedp.Navigate(m.url("/")),
		chromedp.WaitVisible(fmt.Sprintf(`//dd[@data-tasks="TASK_RUNNING" and text()=%q]`, want)),
	); err != nil {
		t.Fatal(err)
	}
	firstRender := time.Since(begin)
	begin = time.Now()
	if err := chromedp.Run(ctx,
		chromedp.Evaluate(`location.hash = "#/tasks"`, nil),
		chromedp.WaitVisible(fmt.Sprintf(`//p[@data-count="tasks" and text()="%s of %s"]`, want, want)),
	); err != nil {
		t.Fatal(err)
	}
	tasksPage := time.Since(begin)
	var heap, nodes float64
	if err := chromedp.Run(ctx, chromedp.ActionFunc(func(ctx context.Context) error {
		if err := performance.Enable().Do(ctx); err != nil {
			return err
		}
		ms, err := performance.GetMetrics().Do(ctx)
		for _, m := range ms {
			switch m.Name {
			case "JSHeapUsedSize":
				heap = m.Value
			case "Nodes":
				nodes = m.Value
			}
		}
		return err
	})); err != nil {
		t.Fatal(err)
	}
	load, _ := os.ReadFile("/proc/loadavg")
	t.Logf("%d agents, %d running tasks: overview fully rendered %s after navigation; tasks page %s; JS heap %.1f MiB, %d DOM nodes; loadavg %s",
		agents, tasks, firstRender.Round(time.Millisecond), tasksPage.Round(time.Millisecond), heap/(1<<20), int(nodes), load)
}
