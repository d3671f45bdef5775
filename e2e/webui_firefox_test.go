package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/webui/browsertest"
)

// The web UI in headless Firefox (Debian's firefox-esr) against a real
// master and agent: the page's JavaScript modules load, the SUBSCRIBE
// stream (fetch with a ReadableStream) goes live, a task the test
// launched shows as running, and its stdout shows in the sandbox tail,
// read from the agent across origins (CORS). Driven over WebDriver BiDi
// (browsertest.Firefox); skips when Firefox is not installed.
func TestWebUIFirefox(t *testing.T) {
	ff := browsertest.NewFirefox(t, 2*time.Minute)
	cl := newCluster(t, 0, agentRes, masterFlags...)
	cl.addAgent(agentRes, "--hostname=127.0.0.1")
	cl.waitAgents(1)
	f := newFramework(t, cl.master.addr, fwOptions{})
	offer := f.launch("in-firefox", "echo hello-from-firefox-test; sleep 600", "cpus:0.5;mem:64", "")
	f.waitState("in-firefox", mesospb.TaskState_TASK_RUNNING, 60*time.Second)
	fid, aid := f.client.FrameworkID().GetValue(), offer.GetAgentId().GetValue()

	// waitText polls the text of the first element matching sel until it
	// contains want.
	waitText := func(sel, want string) {
		t.Helper()
		js := fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ""`, sel)
		eventually(t, 30*time.Second, func() error {
			got, err := ff.Eval(js)
			if err != nil {
				return err
			}
			if !strings.Contains(got, want) {
				return fmt.Errorf("%s: %q does not contain %q", sel, got, want)
			}
			return nil
		})
	}
	hash := func(h string) {
		t.Helper()
		if _, err := ff.Eval(fmt.Sprintf(`location.hash = %q`, h)); err != nil {
			t.Fatal(err)
		}
	}
	if err := ff.Navigate(cl.master.url("/#/tasks")); err != nil {
		t.Fatal(err)
	}
	waitText("#conn", "live")
	waitText(fmt.Sprintf(`tr[data-id=%q] .state`, fid+"/in-firefox"), "RUNNING")
	hash("#/agents")
	waitText(`[data-count="agents"]`, "1 of 1")
	hash("#/")
	waitText(`[data-tasks="TASK_RUNNING"]`, "1")
	hash("#/agents/" + aid + "/file?path=/frameworks/" + fid + "/executors/in-firefox/runs/latest/stdout")
	waitText("#tail", "hello-from-firefox-test")
}
