package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/webui/browsertest"
)

// The master's web UI in headless Chromium against real `meso master` and
// `meso agent` processes: a task the test launches shows on the frameworks
// and tasks pages with its state, output it writes after the page opened
// shows in the sandbox tail, a kill updates the page without a reload, and
// an agent killed with SIGKILL shows as removed. Every page is
// screenshotted into browsertest.ArtifactDir (MESO_TEST_ARTIFACTS).
func TestWebUI(t *testing.T) {
	ctx := browsertest.New(t, 4*time.Minute)
	artifacts := browsertest.ArtifactDir(t)

	cl := newCluster(t, 0, agentRes, fastLossFlags...)
	// Advertised as 127.0.0.1 so the page reaches the agents by that name.
	for range 2 {
		cl.addAgent(agentRes, "--hostname=127.0.0.1")
	}
	cl.waitAgents(2)
	base := cl.master.url("/")

	shot := func(name string) {
		t.Helper()
		var png []byte
		if err := chromedp.Run(ctx, chromedp.FullScreenshot(&png, 100)); err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(artifacts, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// text returns the text of the first element matching sel ("" if none).
	text := func(sel string) string {
		t.Helper()
		var s string
		js := fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ""`, sel)
		if err := chromedp.Run(ctx, chromedp.Evaluate(js, &s)); err != nil {
			t.Fatalf("reading %s: %v", sel, err)
		}
		return s
	}
	// waitText polls the DOM until sel's text contains want.
	waitText := func(bound time.Duration, sel, want string) time.Duration {
		t.Helper()
		start := time.Now()
		eventually(t, bound, func() error {
			if got := text(sel); !strings.Contains(got, want) {
				return fmt.Errorf("%s: %q does not contain %q", sel, got, want)
			}
			return nil
		})
		return time.Since(start)
	}
	navigate := func(hash string) {
		t.Helper()
		if err := chromedp.Run(ctx, chromedp.Evaluate(fmt.Sprintf(`location.hash = %q`, hash), nil)); err != nil {
			t.Fatal(err)
		}
	}
	// A marker on window survives hash navigation but not a reload.
	setMarker := func() {
		if err := chromedp.Run(ctx, chromedp.Evaluate(`window.notReloaded = true`, nil)); err != nil {
			t.Fatal(err)
		}
	}
	checkMarker := func(what string) {
		t.Helper()
		var ok bool
		if err := chromedp.Run(ctx, chromedp.Evaluate(`window.notReloaded === true`, &ok)); err != nil || !ok {
			t.Fatalf("%s: the page was reloaded (%v)", what, err)
		}
	}

	if err := chromedp.Run(ctx, chromedp.Navigate(base+"#/frameworks")); err != nil {
		t.Fatal(err)
	}
	waitText(60*time.Second, "#conn", "live")
	setMarker()
	shot("frameworks-empty")

	trigger := filepath.Join(t.TempDir(), "write-now")
	f := newFramework(t, cl.master.addr, fwOptions{})
	cmd := fmt.Sprintf(`echo started; while true; do if [ -f %s ]; then echo late-line-from-the-task; rm -f %s; fi; sleep 0.1; done`, trigger, trigger)
	offer := f.launch("ui-task", cmd, "cpus:0.5;mem:64", "")
	f.waitState("ui-task", mesospb.TaskState_TASK_RUNNING, 60*time.Second)
	fid := f.client.FrameworkID().GetValue()
	aid := offer.GetAgentId().GetValue()

	// The frameworks page shows the framework with its live task, and the
	// tasks page the task as running: pushed by the stream, no reload.
	took := waitText(30*time.Second, fmt.Sprintf(`tr[data-id=%q] .tasks-live`, fid), "1")
	t.Logf("framework row showed its running task %s after the task was RUNNING", took.Round(time.Millisecond))
	shot("frameworks")
	navigate("#/tasks")
	took = waitText(30*time.Second, fmt.Sprintf(`tr[data-id=%q] .state`, fid+"/ui-task"), "RUNNING")
	t.Logf("tasks page showed RUNNING after %s", took.Round(time.Millisecond))
	shot("tasks")
	navigate("#/frameworks/" + fid)
	waitText(30*time.Second, "#fw-state", "active")
	shot("framework")

	// Task detail, then its stdout in the tail view; a line written after
	// the view opened appears in it.
	navigate("#/tasks/" + fid + "/ui-task")
	waitText(30*time.Second, "#task-state", "RUNNING")
	waitText(30*time.Second, "#history", "RUNNING")
	shot("task")
	if err := clickLive(ctx, "#stdout-link"); err != nil {
		t.Fatal(err)
	}
	waitText(30*time.Second, "#tail", "started")
	if strings.Contains(text("#tail"), "late-line") {
		t.Fatal("the late line is shown before the task wrote it")
	}
	if err := os.WriteFile(trigger, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	took = waitText(30*time.Second, "#tail", "late-line-from-the-task")
	t.Logf("tail showed the new line %s after the trigger", took.Round(time.Millisecond))
	shot("tail")
	var href string
	if err := chromedp.Run(ctx, chromedp.AttributeValue("#download", "href", &href, nil, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	if got := fetchText(t, href); !strings.Contains(got, "late-line-from-the-task") {
		t.Errorf("download link %s gave %q", href, got)
	}

	// The sandbox listing.
	sandbox := "/frameworks/" + fid + "/executors/ui-task/runs/latest"
	navigate("#/agents/" + aid + "/browse?path=" + sandbox)
	waitText(30*time.Second, `#files tr[data-id="stdout"]`, "stdout")
	shot("browse")
	// The agent page's sandboxes row browses the agent's sandbox tree,
	// framework by framework, down to the task's files; the crumbs lead
	// back up.
	navigate("#/agents/" + aid)
	waitText(30*time.Second, "#sandbox", "browse")
	click := func(sel string) {
		t.Helper()
		if err := clickLive(ctx, sel); err != nil {
			t.Fatalf("click %s: %v", sel, err)
		}
	}
	click("#sandbox-link")
	waitText(30*time.Second, fmt.Sprintf(`#files tr[data-id=%q]`, fid), fid)
	shot("agent-sandboxes")
	for _, dir := range []string{fid, "executors", "ui-task", "runs"} {
		click(fmt.Sprintf(`#files tr[data-id=%q] a`, dir))
		waitText(30*time.Second, ".crumbs", dir)
	}
	waitText(30*time.Second, `#files tr[data-id="latest"]`, "latest")
	click(`.crumbs a[href*="frameworks%2F` + fid + `"]:not([href*="executors"])`)
	waitText(30*time.Second, `#files tr[data-id="executors"]`, "executors")
	// Deep links work on a cold load too: the tail waits for the stream's
	// snapshot to find its agent.
	navigate("#/agents/" + aid + "/file?path=" + sandbox + "/stdout")
	if err := chromedp.Run(ctx, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	waitText(30*time.Second, "#tail", "late-line-from-the-task")
	setMarker()

	// Killing the task changes its state on the open page.
	navigate("#/tasks/" + fid + "/ui-task")
	waitText(30*time.Second, "#task-state", "RUNNING")
	if err := f.client.Kill(context.Background(), taskID("ui-task"), offer.GetAgentId()); err != nil {
		t.Fatal(err)
	}
	waitText(60*time.Second, "#task-state", "KILLED")
	waitText(30*time.Second, "#history", "KILLED")
	checkMarker("after the kill")
	shot("task-killed")

	// The other pages render.
	for _, p := range []struct{ hash, sel, want string }{
		{"#/overview", "#version", "."},
		{"#/agents", `[data-count="agents"]`, "2 of 2"},
		{"#/agents/" + aid, "#agent-flags", "work_dir"},
		{"#/roles", "#roles", "*"},
		{"#/offers", "#offers", ""},
		{"#/maintenance", "main", "not available"},
	} {
		navigate(p.hash)
		waitText(30*time.Second, p.sel, p.want)
		shot("page-" + strings.NewReplacer("#/", "", "/", "-").Replace(p.hash))
	}
	// Offers are asked again every few seconds while the offers page is
	// open (the stream has no offer events): once the framework declines
	// the ones shown, the new ones the allocator makes show without a
	// reload.
	navigate("#/offers")
	shownOffers := func() map[string]bool {
		var ids []string
		if err := chromedp.Run(ctx, chromedp.Evaluate(`[...document.querySelectorAll("#offer-table tbody tr")].map((r) => r.dataset.id)`, &ids)); err != nil {
			t.Fatal(err)
		}
		m := map[string]bool{}
		for _, id := range ids {
			m[id] = true
		}
		return m
	}
	var firstOffers map[string]bool
	eventually(t, 30*time.Second, func() error {
		if firstOffers = shownOffers(); len(firstOffers) == 0 {
			return fmt.Errorf("no offers shown")
		}
		return nil
	})
	f.declineAll()
	eventually(t, 30*time.Second, func() error {
		for id := range shownOffers() {
			if !firstOffers[id] {
				return nil
			}
		}
		return fmt.Errorf("still the first offers %v", firstOffers)
	})
	checkMarker("after new offers")

	if got := text(`[data-agents="active"]`); got != "2" {
		navigate("#/")
		waitText(30*time.Second, `[data-agents="active"]`, "2")
	}

	// An agent killed with SIGKILL shows as removed once the master gives
	// up on it (2 s of missed pings here).
	var victim *proc
	for _, a := range cl.agents {
		var s struct {
			ID string `json:"id"`
		}
		if err := getJSON(a.url("/state"), &s); err == nil && s.ID != aid {
			victim = a
			aid = s.ID
		}
	}
	if victim == nil {
		t.Fatal("no second agent")
	}
	navigate("#/agents")
	waitText(30*time.Second, fmt.Sprintf(`tr[data-id=%q] .agent-state`, aid), "active")
	victim.kill()
	waitText(60*time.Second, fmt.Sprintf(`tr[data-id=%q] .agent-state`, aid), "removed")
	checkMarker("after the agent was lost")
	shot("agents-after-kill")
	t.Logf("screenshots in %s", artifacts)
}

// `meso dev` prints where its web UI is, and the master serves it there.
// clickLive clicks the element sel on a page that re-renders as events
// arrive: when the node found is replaced before the click reaches it
// (CDP's "Could not find node with given id"), it finds the new one and
// clicks again, for at most 30 s.
func clickLive(ctx context.Context, sel string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := chromedp.Run(ctx, chromedp.Click(sel, chromedp.ByQuery))
		if err == nil || !strings.Contains(err.Error(), "Could not find node with given id") || time.Now().After(deadline) {
			return err
		}
	}
}

func TestDevPrintsWebUI(t *testing.T) {
	port := freePort(t)
	dev := start(t, "dev", port, "dev", "--port="+strconv.Itoa(port))
	dev.waitHealthy()
	want := fmt.Sprintf("web UI: http://127.0.0.1:%d/\n", port)
	eventually(t, 30*time.Second, func() error {
		if !strings.Contains(dev.out.String(), want) {
			return fmt.Errorf("no %q in the output:\n%s", want, dev.out.String())
		}
		return nil
	})
	if page := fetchText(t, dev.url("/")); !strings.Contains(page, `src="js/app.js"`) {
		t.Errorf("GET / is not the UI's page:\n%s", page)
	}
}

// Under --authenticate_http_readwrite the page asks for credentials when
// the master answers 401, and goes live with them; wrong ones are asked
// for again.
func TestWebUIAsksForCredentials(t *testing.T) {
	ctx := browsertest.New(t, 2*time.Minute)
	creds := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(creds, []byte("ops s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cl := newCluster(t, 1, agentRes, "--credentials="+creds, "--authenticate_http_readwrite")
	signIn := func(secret string) {
		t.Helper()
		if err := chromedp.Run(ctx,
			chromedp.WaitVisible("#login[open] input[name=principal]", chromedp.ByQuery),
			chromedp.SetValue("#login input[name=principal]", "ops", chromedp.ByQuery),
			chromedp.SetValue("#login input[name=secret]", secret, chromedp.ByQuery),
			chromedp.Click("#login button[type=submit]", chromedp.ByQuery),
		); err != nil {
			t.Fatal(err)
		}
	}
	if err := cancelNativeAuth(ctx); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Run(ctx, chromedp.Navigate(cl.master.url("/#/agents"))); err != nil {
		t.Fatal(err)
	}
	signIn("wrong")
	signIn("s3cret")
	var count string
	if err := chromedp.Run(ctx,
		chromedp.WaitVisible(`//span[@id="conn" and text()="live"]`),
		chromedp.WaitVisible(`//p[@data-count="agents" and text()="1 of 1"]`),
		chromedp.Text(`[data-count="agents"]`, &count, chromedp.ByQuery),
	); err != nil {
		t.Fatal(err)
	}
}
