package ui_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mesoproject/meso/examples/seeddemo"
	"github.com/mesoproject/meso/internal/webui/browsertest"
	"github.com/mesoproject/meso/rdd"
	"github.com/mesoproject/meso/rdd/internal/ui"
)

// TestDriverUIInABrowser runs, on a local session with the UI on, the seed
// demo (job 0: the groups, cached; zipWithIndex of a range needs no job for
// its sizes) and a count of its cached groups (job 1), then a groupBy
// without cache twice (jobs 2 and 3: the second finds the shuffle's
// outputs, so its map stage is skipped); then reads every page in headless Chromium, asserting on the
// DOM; then the history server shows the same application from its event
// log. Screenshots go to MESO_TEST_ARTIFACTS.
func TestDriverUIInABrowser(t *testing.T) {
	ctx := browsertest.New(t, 2*time.Minute)
	shots := browsertest.ArtifactDir(t)
	logDir := t.TempDir()
	cfg := rdd.Config{Master: "local[2]", AppName: "ui-demo", UIEnabled: true, UIPort: 0, EventLogDir: logDir}
	s, err := rdd.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			s.Close()
		}
	}()
	base := s.UIURL()
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("UI URL = %q", base)
	}
	groups := seeddemo.Demo(20000, 8)
	if _, err := rdd.Collect(context.Background(), s, groups); err != nil {
		t.Fatal(err)
	}
	if n, err := rdd.Count(context.Background(), s, groups); err != nil || n != 201 {
		t.Fatalf("count = %d, %v", n, err)
	}
	plain := rdd.GroupBy(rdd.Range(0, 1000, 4), func(v int) int { return v % 10 })
	for range 2 {
		if n, err := rdd.Count(context.Background(), s, plain); err != nil || n != 10 {
			t.Fatalf("count = %d, %v", n, err)
		}
	}
	defer runtime.KeepAlive(groups) // its cached blocks stay while the storage page is read

	shot := func(name string) chromedp.Action {
		return chromedp.ActionFunc(func(ctx context.Context) error {
			var png []byte
			if err := chromedp.FullScreenshot(&png, 100).Do(ctx); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644)
		})
	}
	count := func(sel string, n *int) chromedp.Action {
		return chromedp.Evaluate(`document.querySelectorAll(`+"`"+sel+"`"+`).length`, n)
	}
	text := func(sel string, s *string) chromedp.Action { return chromedp.Text(sel, s, chromedp.ByQuery) }

	check := func(prefix, tag string) {
		t.Helper()
		var jobs, skippedNodes, stageRows, taskRows, cached, settings int
		var jobsText, envText string
		err := chromedp.Run(ctx,
			chromedp.Navigate(prefix+"/jobs/"), chromedp.WaitVisible("#jobs", chromedp.ByQuery),
			count(`tr.job[data-status="SUCCEEDED"]`, &jobs), text("#jobs", &jobsText), shot(tag+"-jobs"),
			chromedp.Navigate(prefix+"/jobs/job/?id=3"), chromedp.WaitVisible("svg.dag", chromedp.ByQuery),
			count(`svg.dag g.stage-node.skipped`, &skippedNodes), shot(tag+"-job3"),
			chromedp.Navigate(prefix+"/stages/"), chromedp.WaitVisible("table.stages", chromedp.ByQuery),
			count(`tr.stage`, &stageRows), shot(tag+"-stages"),
			chromedp.Navigate(prefix+"/stages/stage/?id=0&attempt=0"), chromedp.WaitVisible("#tasks", chromedp.ByQuery),
			count(`tr.task[data-status="SUCCEEDED"]`, &taskRows), shot(tag+"-stage0"),
			chromedp.Navigate(prefix+"/storage/"), chromedp.WaitVisible("#storage", chromedp.ByQuery),
			count(`tr.cached`, &cached), shot(tag+"-storage"),
			chromedp.Navigate(prefix+"/environment/"), chromedp.WaitVisible("#environment", chromedp.ByQuery),
			count(`tr.setting`, &settings), text("#environment", &envText), shot(tag+"-environment"),
			chromedp.Navigate(prefix+"/executors/"), chromedp.WaitVisible("#executors", chromedp.ByQuery), shot(tag+"-executors"),
		)
		if err != nil {
			t.Fatalf("%s: %v", prefix, err)
		}
		if jobs != 4 || !strings.Contains(jobsText, "1 skipped") {
			t.Errorf("%s jobs: %d succeeded, text %q", prefix, jobs, jobsText)
		}
		if skippedNodes != 1 {
			t.Errorf("%s job 3 DAG: %d skipped stage nodes, want 1", prefix, skippedNodes)
		}
		if stageRows != 7 || taskRows != 8 {
			t.Errorf("%s: %d stage rows (want 6 run and 1 skipped), %d succeeded tasks of stage 0 (want 8)", prefix, stageRows, taskRows)
		}
		if !strings.Contains(envText, "spark.app.name") || !strings.Contains(envText, "ui-demo") || settings < 5 {
			t.Errorf("%s environment: %d settings: %q", prefix, settings, envText)
		}
		if prefix == base && cached != 1 {
			t.Errorf("live storage: %d cached datasets, want 1", cached)
		}
	}
	check(base, "live")

	// The history server shows the finished application from its log.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	closed = true
	hist := httptest.NewServer(&ui.History{Dir: logDir})
	defer hist.Close()
	var apps int
	if err := chromedp.Run(ctx, chromedp.Navigate(hist.URL+"/"), chromedp.WaitVisible("#apps", chromedp.ByQuery),
		count(`tr.app`, &apps), shot("history")); err != nil {
		t.Fatal(err)
	}
	if apps != 1 {
		t.Fatalf("history lists %d applications, want 1", apps)
	}
	check(hist.URL+"/history/"+filepath.Base(s.EventLogPath()), "history")
}
