package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/performance"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/mesoproject/meso/internal/webui/browsertest"
)

// TestWebUILoad holds a real master with simulated agents running tasks
// from `meso bench` (the tasks run for 30 minutes, so the cluster stays
// put), opens the UI in headless Chromium and measures: the time to the
// overview's first full render and the tasks page's, the page's JS heap,
// how long a keystroke in the tasks filter takes to update the list, and
// how the page keeps up with a burst of events (the teardown of one of
// the ten frameworks: a tenth of the tasks killed at once). It also times the master's
// SUBSCRIBED snapshot read by a Go client, the part of the first render
// that is the master's.
//
// By default a short variant checks the same path (20 agents, 400
// tasks): the filter narrows the list and the burst is applied.
// MESO_WEBUI_LOAD=1 runs the measurement of docs/BENCHMARKS.md: 1,000
// agents and 20,000 tasks (MESO_WEBUI_LOAD_AGENTS, MESO_WEBUI_LOAD_TASKS).
func TestWebUILoad(t *testing.T) {
	num := func(env string, long, short int) int {
		if n, err := strconv.Atoi(os.Getenv(env)); err == nil {
			return n
		}
		if os.Getenv("MESO_WEBUI_LOAD") != "" {
			return long
		}
		return short
	}
	agents := num("MESO_WEBUI_LOAD_AGENTS", 1000, 20)
	tasks := num("MESO_WEBUI_LOAD_TASKS", 20000, 400)
	ctx := browsertest.New(t, 15*time.Minute)

	dir := t.TempDir()
	port := freePort(t)
	m := start(t, "master", port, "master", "--ip=127.0.0.1", "--port="+strconv.Itoa(port),
		"--work_dir="+filepath.Join(dir, "master"), "--allocation_interval=100ms")
	m.waitHealthy()
	waitLeader(t, 30*time.Second, m)
	start(t, "bench", 0, "bench", "--master="+m.addr, "--quiet", "--state_interval=0",
		fmt.Sprintf("--agents=%d", agents), fmt.Sprintf("--tasks=%d", tasks), "--frameworks=10",
		"--task_duration=30mins", "--timeout=40mins")
	eventually(t, 10*time.Minute, func() error {
		var snap map[string]float64
		if err := getJSON(m.url("/metrics/snapshot"), &snap); err != nil {
			return err
		}
		if int(snap["master/tasks_running"]) < tasks {
			return fmt.Errorf("%v of %d tasks running", snap["master/tasks_running"], tasks)
		}
		return nil
	})
	watch := watchStream(t, m.url("/api/v1"))

	// eval runs an expression in the page (awaiting a promise) into out.
	eval := func(js string, out any) {
		t.Helper()
		if err := chromedp.Run(ctx, chromedp.Evaluate(js, out, func(p *runtime.EvaluateParams) *runtime.EvaluateParams {
			return p.WithAwaitPromise(true)
		})); err != nil {
			t.Fatalf("%s: %v", js, err)
		}
	}
	type stats struct {
		Events, Renders                int
		ApplyMs, RenderMs, MaxRenderMs float64
		SnapshotMs, SnapshotApplyMs    float64
		SnapshotParseMs, SnapshotBytes float64
		SubscribeAt, FirstLiveRenderAt float64
	}
	readStats := func() stats {
		var s stats
		eval(`({Events: mesoStats.events, Renders: mesoStats.renders, ApplyMs: mesoStats.applyMs,
			RenderMs: mesoStats.renderMs, MaxRenderMs: mesoStats.maxRenderMs, SnapshotMs: mesoStats.snapshotMs,
			SnapshotApplyMs: mesoStats.snapshotApplyMs, SnapshotParseMs: mesoStats.snapshotParseMs,
			SnapshotBytes: mesoStats.snapshotBytes, SubscribeAt: mesoStats.subscribeAt,
			FirstLiveRenderAt: mesoStats.firstLiveRenderAt})`, &s)
		return s
	}

	begin := time.Now()
	want := strconv.Itoa(tasks)
	if err := chromedp.Run(ctx,
		chromedp.Navigate(m.url("/")),
		chromedp.WaitVisible(fmt.Sprintf(`//dd[@data-tasks="TASK_RUNNING" and text()=%q]`, want)),
	); err != nil {
		t.Fatal(err)
	}
	firstRender := time.Since(begin)
	first := readStats()
	begin = time.Now()
	if err := chromedp.Run(ctx,
		chromedp.Evaluate(`location.hash = "#/tasks"`, nil),
		chromedp.WaitVisible(fmt.Sprintf(`//p[@data-count="tasks" and text()="%s of %s"]`, want, want)),
	); err != nil {
		t.Fatal(err)
	}
	tasksPage := time.Since(begin)
	heap, nodes := pageMemory(t, ctx)

	// Keystrokes in the tasks filter, timed in the page from the input
	// event to the list's count changing. Task ids are fFFF-tNNNNNNN.
	type keystroke struct {
		Ms    float64
		Count string
	}
	key := func(filter string) keystroke {
		var k keystroke
		eval(fmt.Sprintf(`(async () => {
			const count = () => document.querySelector('[data-count="tasks"]').textContent;
			const input = document.querySelector('input.filter[data-list="tasks"]');
			const before = count(), t0 = performance.now();
			input.value = %q;
			input.dispatchEvent(new Event("input", {bubbles: true}));
			while (count() === before) await new Promise((r) => requestAnimationFrame(r));
			return {Ms: performance.now() - t0, Count: count()};
		})()`, filter), &k)
		return k
	}
	k1, k2, k3 := key("f002-"), key("f002-t000001"), key("")
	perFramework := tasks / 10
	if !strings.HasPrefix(k1.Count, strconv.Itoa(perFramework)+" of ") || k3.Count != want+" of "+want {
		t.Errorf("filter counts: %q, %q, %q; want %d of %d first, all at the end", k1.Count, k2.Count, k3.Count, perFramework, tasks)
	}
	if n, _ := strconv.Atoi(strings.Fields(k2.Count)[0]); n < 1 || n >= perFramework {
		t.Errorf("a narrower filter shows %q", k2.Count)
	}

	// A burst: tearing one framework down makes the master end its tasks
	// at once, a TASK_UPDATED (TASK_KILLED) each; the overview must count
	// every one.
	var st masterState
	if err := getJSON(m.url("/master/state"), &st); err != nil || len(st.Frameworks) == 0 {
		t.Fatalf("frameworks: %v %d", err, len(st.Frameworks))
	}
	if err := chromedp.Run(ctx, chromedp.Evaluate(`location.hash = "#/"`, nil)); err != nil {
		t.Fatal(err)
	}
	before := readStats()
	begin = time.Now()
	teardown := fmt.Sprintf(`{"type":"TEARDOWN","teardown":{"framework_id":{"value":%q}}}`, st.Frameworks[0].ID)
	resp, err := http.Post(m.url("/api/v1"), "application/json", strings.NewReader(teardown))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("TEARDOWN: %s", resp.Status)
	}
	eventually(t, 2*time.Minute, func() error {
		var got string
		if err := chromedp.Run(ctx, chromedp.Evaluate(`(document.querySelector('[data-tasks="TASK_KILLED"]') || {}).textContent || "0"`, &got)); err != nil {
			return err
		}
		if n, _ := strconv.Atoi(got); n < perFramework {
			return fmt.Errorf("%s of %d killed tasks on the page", got, perFramework)
		}
		return nil
	})
	burstShown := time.Since(begin)
	eventually(t, time.Minute, func() error {
		if watch.killedBy(perFramework).IsZero() {
			return fmt.Errorf("the Go client's stream has not had %d TASK_KILLED updates", perFramework)
		}
		return nil
	})
	streamed := watch.killedBy(perFramework).Sub(begin)
	after := readStats()

	load, _ := os.ReadFile("/proc/loadavg")
	t.Logf("%d agents, %d running tasks; loadavg %s", agents, tasks, strings.TrimSpace(string(load)))
	t.Logf("master: SUBSCRIBED snapshot %.1f MiB read by a Go client in %s", float64(watch.snapshotBytes)/(1<<20), watch.snapshotTook.Round(time.Millisecond))
	t.Logf("overview fully rendered %s after navigation (page: subscribed at %.0f ms, snapshot in %.0f ms after subscribing, %.1f MiB parsed in %.0f ms, applied in %.0f ms, first render of it at %.0f ms); tasks page %s",
		firstRender.Round(time.Millisecond), first.SubscribeAt, first.SnapshotMs, first.SnapshotBytes/(1<<20), first.SnapshotParseMs,
		first.SnapshotApplyMs, first.FirstLiveRenderAt, tasksPage.Round(time.Millisecond))
	t.Logf("JS heap %.1f MiB, %d DOM nodes (tasks page)", heap/(1<<20), int(nodes))
	t.Logf("filter keystrokes: %q %.0f ms (%s), %q %.0f ms (%s), cleared %.0f ms", "f002-", k1.Ms, k1.Count, "f002-t000001", k2.Ms, k2.Count, k3.Ms)
	t.Logf("burst: a teardown of %d tasks: the Go client's stream had every TASK_KILLED %s after the call, the overview showed them %s after it; %d events applied in %.0f ms, %d renders in %.0f ms (longest render of the run %.0f ms)",
		perFramework, streamed.Round(time.Millisecond), burstShown.Round(time.Millisecond), after.Events-before.Events, after.ApplyMs-before.ApplyMs,
		after.Renders-before.Renders, after.RenderMs-before.RenderMs, after.MaxRenderMs)
}

// streamWatch is a Go client on the master's operator stream: the
// SUBSCRIBED snapshot's size and the time until its last byte, then the
// TASK_KILLED updates as they arrive (the master's side of the burst).
type streamWatch struct {
	snapshotBytes int64
	snapshotTook  time.Duration

	mu     sync.Mutex
	killed []time.Time // guarded by mu; arrival of each TASK_KILLED update
}

func watchStream(t *testing.T, url string) *streamWatch {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(`{"type":"SUBSCRIBE"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	begin := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(resp.Body)
	record := func() ([]byte, error) {
		head, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		n, err := strconv.ParseInt(strings.TrimSpace(head), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("RecordIO header %q: %w", head, err)
		}
		b := make([]byte, n)
		_, err = io.ReadFull(r, b)
		return b, err
	}
	snap, err := record()
	if err != nil {
		t.Fatal(err)
	}
	w := &streamWatch{snapshotBytes: int64(len(snap)), snapshotTook: time.Since(begin)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			b, err := record()
			if err != nil {
				return
			}
			var ev struct {
				Type        string `json:"type"`
				TaskUpdated struct {
					State string `json:"state"`
				} `json:"task_updated"`
			}
			if json.Unmarshal(b, &ev) == nil && ev.Type == "TASK_UPDATED" && ev.TaskUpdated.State == "TASK_KILLED" {
				w.mu.Lock()
				w.killed = append(w.killed, time.Now())
				w.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { cancel(); resp.Body.Close(); <-done })
	return w
}

// killedBy is when the stream had delivered n TASK_KILLED updates (zero
// if it has not).
func (w *streamWatch) killedBy(n int) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.killed) < n {
		return time.Time{}
	}
	return w.killed[n-1]
}

// pageMemory is the page's JS heap in use and its DOM nodes (DevTools
// Performance.getMetrics).
func pageMemory(t *testing.T, ctx context.Context) (heap, nodes float64) {
	t.Helper()
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
	return heap, nodes
}
