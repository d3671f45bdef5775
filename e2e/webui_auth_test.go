package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/webui/browsertest"
)

// uiPage drives one tab of the web UI in the browser tests.
type uiPage struct {
	t         *testing.T
	ctx       context.Context
	artifacts string
}

// text returns the text of the first element matching sel ("" if none).
func (p uiPage) text(sel string) string {
	p.t.Helper()
	var s string
	js := fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ""`, sel)
	if err := chromedp.Run(p.ctx, chromedp.Evaluate(js, &s)); err != nil {
		p.t.Fatalf("reading %s: %v", sel, err)
	}
	return s
}

// count is the number of elements matching sel.
func (p uiPage) count(sel string) int {
	p.t.Helper()
	var n int
	if err := chromedp.Run(p.ctx, chromedp.Evaluate(fmt.Sprintf(`document.querySelectorAll(%q).length`, sel), &n)); err != nil {
		p.t.Fatal(err)
	}
	return n
}

// waitText polls the DOM until sel's text contains want.
func (p uiPage) waitText(sel, want string) {
	p.t.Helper()
	eventually(p.t, 30*time.Second, func() error {
		if got := p.text(sel); !strings.Contains(got, want) {
			return fmt.Errorf("%s: %q does not contain %q", sel, got, want)
		}
		return nil
	})
}

func (p uiPage) navigate(hash string) {
	p.t.Helper()
	if err := chromedp.Run(p.ctx, chromedp.Evaluate(fmt.Sprintf(`location.hash = %q`, hash), nil)); err != nil {
		p.t.Fatal(err)
	}
}

func (p uiPage) shot(name string) {
	p.t.Helper()
	var png []byte
	if err := chromedp.Run(p.ctx, chromedp.FullScreenshot(&png, 100)); err != nil {
		p.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(p.artifacts, name+".png"), png, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// signIn fills the page's own credentials form once it is open.
func (p uiPage) signIn(principal, secret string) {
	p.t.Helper()
	if err := chromedp.Run(p.ctx,
		chromedp.WaitVisible("#login[open] input[name=principal]", chromedp.ByQuery),
		chromedp.SetValue("#login input[name=principal]", principal, chromedp.ByQuery),
		chromedp.SetValue("#login input[name=secret]", secret, chromedp.ByQuery),
		chromedp.Click("#login button[type=submit]", chromedp.ByQuery),
		chromedp.WaitNotPresent("#login[open]", chromedp.ByQuery),
	); err != nil {
		p.t.Fatal(err)
	}
}

// cancelNativeAuth makes headless Chromium pass a 401 with
// WWW-Authenticate to the page instead of holding the request for its own
// credentials dialog, which it cannot show: as a user pressing Cancel
// would. Call it before the first navigation.
func cancelNativeAuth(ctx context.Context) error {
	chromedp.ListenTarget(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *fetch.EventRequestPaused:
			go chromedp.Run(ctx, fetch.ContinueRequest(ev.RequestID))
		case *fetch.EventAuthRequired:
			go chromedp.Run(ctx, fetch.ContinueWithAuth(ev.RequestID,
				&fetch.AuthChallengeResponse{Response: fetch.AuthChallengeResponseResponseCancelAuth}))
		}
	})
	return chromedp.Run(ctx, fetch.Enable().WithHandleAuthRequests(true))
}

// The UI against an agent that authenticates its endpoints and enforces
// access_sandboxes (ops may read every sandbox, eve none), behind a
// master that asks for credentials too. The credentials entered on the
// page go to the agent: as eve the task's sandbox links are replaced by a
// "no access" message, and deep links to its files say so; as viewer (a
// principal the master knows and the agent does not) the page says the
// agent refused the credentials; as ops the listing, the live tail and an
// authenticated download work.
func TestWebUISandboxAccess(t *testing.T) {
	ctx := browsertest.New(t, 4*time.Minute)
	dir := t.TempDir()
	masterCreds := filepath.Join(dir, "master-credentials.json")
	agentCreds := filepath.Join(dir, "agent-credentials.json")
	writeFile(t, dir, filepath.Base(masterCreds), []byte(`{"credentials": [{"principal": "ops", "secret": "o-secret"},
	  {"principal": "eve", "secret": "e-secret"}, {"principal": "viewer", "secret": "v-secret"}]}`), 0o600)
	writeFile(t, dir, filepath.Base(agentCreds), []byte(securityCredentials), 0o600) // ops and eve
	acls := `{"permissive": false, "access_sandboxes": [{"principals": {"values": ["ops"]}, "users": {"type": "ANY"}}]}`

	cl := newCluster(t, 0, agentRes, append(masterFlags, "--credentials="+masterCreds, "--authenticate_http_readwrite")...)
	cl.addAgent(agentRes, "--hostname=127.0.0.1", "--acls="+acls, "--credentials="+agentCreds,
		"--authenticate_http_readonly", "--authenticate_http_readwrite")
	cl.waitAgents(1)

	trigger := filepath.Join(dir, "write-now")
	f := newFramework(t, cl.master.addr, fwOptions{})
	cmd := fmt.Sprintf(`echo started; while true; do if [ -f %s ]; then echo late-line-from-the-task; rm -f %s; fi; sleep 0.1; done`, trigger, trigger)
	offer := f.launch("guarded", cmd, "cpus:0.5;mem:64", "")
	f.waitState("guarded", mesospb.TaskState_TASK_RUNNING, 60*time.Second)
	fid, aid := f.client.FrameworkID().GetValue(), offer.GetAgentId().GetValue()
	sandbox := "/frameworks/" + fid + "/executors/guarded/runs/latest"
	taskPage, filePage := "#/tasks/"+fid+"/guarded", "#/agents/"+aid+"/file?path="+sandbox+"/stdout"

	p := uiPage{t: t, ctx: ctx, artifacts: browsertest.ArtifactDir(t)}
	if err := cancelNativeAuth(ctx); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Run(ctx, chromedp.Navigate(cl.master.url("/"+taskPage))); err != nil {
		t.Fatal(err)
	}
	switchTo := func(principal, secret string) {
		t.Helper()
		if err := chromedp.Run(ctx, chromedp.Click("#signin", chromedp.ByQuery)); err != nil {
			t.Fatal(err)
		}
		p.signIn(principal, secret)
		p.waitText("#who", principal)
	}

	// eve: signed in for the master, refused by the agent's ACL.
	p.signIn("eve", "e-secret")
	p.waitText("#conn", "live")
	p.waitText("#task-state", "RUNNING")
	p.waitText("#sandbox", "no access")
	p.waitText("#sandbox", `principal "eve"`)
	if n := p.count("#sandbox a[href*='/browse'], #sandbox a[href*='/file']"); n != 0 {
		t.Errorf("eve sees %d sandbox links", n)
	}
	p.shot("eve-task")
	p.navigate(filePage)
	p.waitText("#no-access", "No access")
	p.waitText("#no-access", "access_sandboxes")
	if got := p.text("#tail"); got != "" {
		t.Errorf("eve's tail shows %q", got)
	}
	p.shot("eve-file")
	p.navigate("#/agents/" + aid + "/browse?path=" + sandbox)
	p.waitText("#no-access", "No access")
	if n := p.count("#files"); n != 0 {
		t.Error("eve sees the sandbox listing")
	}

	// viewer: the master knows it, the agent does not.
	switchTo("viewer", "v-secret")
	p.navigate(taskPage)
	p.waitText("#sandbox", `refused the credentials of "viewer"`)
	p.navigate(filePage)
	p.waitText("#no-access", `refused the credentials of "viewer"`)
	p.shot("viewer-file")

	// ops: the links, the listing, the live tail and a download.
	switchTo("ops", "o-secret")
	p.navigate(taskPage)
	p.waitText("#sandbox", "stdout")
	if err := clickLive(ctx, "#stdout-link"); err != nil {
		t.Fatal(err)
	}
	p.waitText("#tail", "started")
	if err := os.WriteFile(trigger, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	p.waitText("#tail", "late-line-from-the-task")
	if got := p.text("#no-access"); got != "" {
		t.Errorf("ops gets %q", got)
	}
	p.shot("ops-tail")
	downloads := t.TempDir()
	if err := chromedp.Run(ctx,
		browser.SetDownloadBehavior(browser.SetDownloadBehaviorBehaviorAllow).WithDownloadPath(downloads),
		chromedp.Click("#download", chromedp.ByQuery),
	); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		b, err := os.ReadFile(filepath.Join(downloads, "stdout"))
		if err != nil || !strings.Contains(string(b), "late-line-from-the-task") {
			return fmt.Errorf("downloaded stdout: %q %v", b, err)
		}
		return nil
	})
	p.navigate("#/agents/" + aid + "/browse?path=" + sandbox)
	p.waitText(`#files tr[data-id="stdout"]`, "stdout")
	p.shot("ops-browse")
}
