package dispatcher

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mesoproject/meso/internal/authn"
	"github.com/mesoproject/meso/internal/resources"
	"github.com/mesoproject/meso/internal/webui/browsertest"
)

// uiService is a dispatcher (not subscribed) holding one driver in each
// state: queued, launched (TASK_RUNNING), retrying, failed.
func uiService(t *testing.T, creds *authn.Credentials) (*Service, *httptest.Server, []string) {
	t.Helper()
	s, err := NewService(Config{Master: "127.0.0.1:5050", WorkDir: t.TempDir(), Credentials: creds})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	res := resources.MustParse("cpus:1;mem:1408")
	rack1, err := resources.ParseAttributes("rack:r1")
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.fwID = "fw-dispatcher"
	var ids []string
	for _, name := range []string{"running", "retrying", "failing", "queued"} {
		id, err := s.core.Submit(Description{Name: name, Command: "./" + name + " --master mesos://127.0.0.1:5050",
			Resources: res, Supervise: name == "retrying", Constraints: resources.Constraints{{Attr: "rack", Values: []string{"r1"}}}}, now)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		if name != "queued" {
			s.core.Offers([]Offer{{ID: "o-" + name, AgentID: "agent-" + name, Resources: resources.MustParse("cpus:4;mem:8192"), Attributes: rack1}}, now)
		}
	}
	s.core.TaskUpdate(ids[0], "TASK_RUNNING")
	s.core.TaskEnded(ids[1], EndFailed, "TASK_FAILED: exit status 1", now)
	s.core.TaskEnded(ids[2], EndFailed, "TASK_FAILED: exit status 2", now)
	s.mu.Unlock()
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return s, srv, ids
}

// The dispatcher's pages in headless Chromium: the four tables hold the
// drivers of their state with the task state, agent and retry columns;
// a driver's page has its description, its state history and links into
// the master's UI; the master UI's style sheet is served.
func TestDispatcherUIInABrowser(t *testing.T) {
	_, srv, ids := uiService(t, nil)
	ctx := browsertest.New(t, 60*time.Second)
	var launched, taskState, agent, retrying, retries, nextRetry, finished, queued, css string
	var shot []byte
	if err := chromedp.Run(ctx,
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible("#launched"),
		chromedp.Text("#launched tbody tr[data-id] a.driver", &launched),
		chromedp.Text("#launched td.task-state", &taskState),
		chromedp.Text("#launched td.agent", &agent),
		chromedp.Text("#retrying tbody tr[data-id] a.driver", &retrying),
		chromedp.Text("#retrying td.retries", &retries),
		chromedp.Text("#retrying td.next-retry", &nextRetry),
		chromedp.Text("#finished tbody tr[data-id]", &finished),
		chromedp.Text("#queued tbody tr[data-id] a.driver", &queued),
		chromedp.Evaluate(`getComputedStyle(document.querySelector("header")).position`, &css),
		chromedp.FullScreenshot(&shot, 90),
	); err != nil {
		t.Fatal(err)
	}
	if launched != ids[0] || taskState != "TASK_RUNNING" || agent != "agent-running" {
		t.Errorf("launched row: %q %q %q", launched, taskState, agent)
	}
	if retrying != ids[1] || retries != "1" || nextRetry == "" {
		t.Errorf("retrying row: %q retries %q next %q", retrying, retries, nextRetry)
	}
	if !strings.Contains(finished, ids[2]) || !strings.Contains(finished, "FAILED") || !strings.Contains(finished, "exit status 2") {
		t.Errorf("finished row: %q", finished)
	}
	if queued != ids[3] {
		t.Errorf("queued row: %q", queued)
	}
	if css != "sticky" {
		t.Errorf("header position %q: the master UI's style sheet did not apply", css)
	}
	_ = os.WriteFile(filepath.Join(browsertest.ArtifactDir(t), "drivers.jpg"), shot, 0o644)

	var id, state, resourcesText, constraints, history, taskHref, agentHref string
	if err := chromedp.Run(ctx,
		chromedp.Click(`#retrying a.driver`, chromedp.NodeVisible),
		chromedp.WaitVisible("#history"),
		chromedp.Text("#driver-id", &id),
		chromedp.Text("#state", &state),
		chromedp.Text("#resources", &resourcesText),
		chromedp.Text("#constraints", &constraints),
		chromedp.Text("#history tbody", &history),
		chromedp.AttributeValue("#task-link", "href", &taskHref, nil),
		chromedp.AttributeValue("#agent-link", "href", &agentHref, nil),
		chromedp.FullScreenshot(&shot, 90),
	); err != nil {
		t.Fatal(err)
	}
	_ = os.WriteFile(filepath.Join(browsertest.ArtifactDir(t), "driver.jpg"), shot, 0o644)
	if id != ids[1] || state != "RETRYING" || !strings.Contains(resourcesText, "cpus:1") || !strings.Contains(resourcesText, "mem:1408") {
		t.Errorf("driver page: %q %q %q", id, state, resourcesText)
	}
	if constraints != "rack:r1" {
		t.Errorf("constraints %q", constraints)
	}
	for _, want := range []string{"QUEUED", "RUNNING", "RETRYING", "TASK_FAILED: exit status 1; retry 1 after 1s"} {
		if !strings.Contains(history, want) {
			t.Errorf("history %q lacks %q", history, want)
		}
	}
	if taskHref != "http://127.0.0.1:5050/#/tasks/fw-dispatcher/"+ids[1] || agentHref != "http://127.0.0.1:5050/#/agents/agent-retrying" {
		t.Errorf("links into the master UI: %q %q", taskHref, agentHref)
	}
}

// With credentials, every endpoint (API and UI) answers 401 with Mesos'
// Basic challenge to a request without them, or with a wrong secret, and
// serves a request with them; an unknown driver's page is 404; a
// malformed or invalid submission is 400 with the reason.
func TestDispatcherAuthAndBadInput(t *testing.T) {
	creds, err := authn.New([]authn.Credential{{Principal: "alice", Secret: "s3cret"}})
	if err != nil {
		t.Fatal(err)
	}
	_, srv, ids := uiService(t, creds)
	do := func(method, path, user, pass, body string) (int, string, http.Header) {
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String(), resp.Header
	}
	create, _ := json.Marshal(CreateRequest{Action: "CreateSubmissionRequest", AppResource: "http://files/app",
		SparkProperties: map[string]string{"spark.driver.memory": "512m"}})
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/", ""}, {"GET", "/driver/" + ids[0], ""}, {"GET", "/v1/submissions/status/" + ids[0], ""},
		{"POST", "/v1/submissions/create", string(create)}, {"POST", "/v1/submissions/kill/" + ids[3], ""},
	} {
		for _, pass := range []string{"", "wrong"} {
			user := ""
			if pass != "" {
				user = "alice"
			}
			code, _, h := do(c.method, c.path, user, pass, c.body)
			if code != http.StatusUnauthorized || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("%s %s with %q: %d %q, want 401 with a Basic challenge", c.method, c.path, pass, code, h.Get("WWW-Authenticate"))
			}
		}
		if code, body, _ := do(c.method, c.path, "alice", "s3cret", c.body); code != http.StatusOK {
			t.Errorf("%s %s authenticated: %d %s", c.method, c.path, code, body)
		}
	}
	if code, _, _ := do("GET", "/driver/driver-nope", "alice", "s3cret", ""); code != http.StatusNotFound {
		t.Errorf("unknown driver page: %d", code)
	}
	for _, bad := range []struct{ body, want string }{
		{"{not json", "malformed request"},
		{`{"action":"CreateSubmissionRequest","appResource":"x","sparkProperties":{"spark.driver.cores":"lots"}}`, "spark.driver.cores"},
		{`{"action":"CreateSubmissionRequest"}`, "appResource"},
	} {
		code, body, _ := do("POST", "/v1/submissions/create", "alice", "s3cret", bad.body)
		if code != http.StatusBadRequest || !strings.Contains(body, bad.want) || !strings.Contains(body, "ErrorResponse") {
			t.Errorf("create %s: %d %s, want 400 naming %s", bad.body, code, body, bad.want)
		}
	}
	big := `{"action":"CreateSubmissionRequest","appResource":"` + strings.Repeat("a", maxBody) + `"}`
	if code, _, _ := do("POST", "/v1/submissions/create", "alice", "s3cret", big); code != http.StatusRequestEntityTooLarge {
		t.Errorf("a body over %d bytes: %d, want 413", maxBody, code)
	}
}
