package webui_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"

	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mesoproject/meso/internal/webui"
	"github.com/mesoproject/meso/internal/webui/browsertest"
)

func get(t *testing.T, h http.Handler, method, path string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Result()
}

func TestHandlerServesThePageAndItsFilesOnly(t *testing.T) {
	h := webui.Handler()
	resp := get(t, h, "GET", "/")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `src="js/app.js"`) {
		t.Fatalf("GET /: %d %q", resp.StatusCode, body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("CSP = %q", csp)
	}
	for path, ctype := range map[string]string{"/js/app.js": "javascript", "/js/state.js": "javascript", "/style.css": "text/css"} {
		resp := get(t, h, "GET", path)
		if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), ctype) {
			t.Errorf("GET %s: %d %q", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	for _, path := range []string{"/api/v1", "/js/", "/js", "/index.html", "/nope", "/../webui.go"} {
		if resp := get(t, h, "GET", path); resp.StatusCode != 404 {
			t.Errorf("GET %s: %d, want 404", path, resp.StatusCode)
		}
	}
	if resp := get(t, h, "POST", "/"); resp.StatusCode != 405 {
		t.Errorf("POST /: %d, want 405", resp.StatusCode)
	}
}

func TestAgentPageLinksToTheMaster(t *testing.T) {
	h := webui.AgentPage(func() webui.AgentInfo {
		return webui.AgentInfo{ID: "A-S0", Version: "1.2", Master: webui.MasterURL("m1:5050,m2:5050")}
	})
	resp := get(t, h, "GET", "/")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `href="http://m1:5050/#/agents/A-S0"`) {
		t.Fatalf("GET /: %d %s", resp.StatusCode, body)
	}
	if resp := get(t, h, "GET", "/other"); resp.StatusCode != 404 {
		t.Errorf("GET /other: %d", resp.StatusCode)
	}
	for in, want := range map[string]string{"": "", "h:1": "http://h:1/", "https://h:1/": "https://h:1/", " a:1 , b:2": "http://a:1/"} {
		if got := webui.MasterURL(in); got != want {
			t.Errorf("MasterURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCORSAnswersTheMastersOriginsOnly(t *testing.T) {
	served := false
	h := webui.CORS(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { served = true }),
		func() []string { return webui.MasterOrigins("master:5050, http://other:5050") })
	do := func(method, origin string) *httptest.ResponseRecorder {
		served = false
		req := httptest.NewRequest(method, "/api/v1", nil)
		req.Header.Set("Origin", origin)
		if method == "OPTIONS" {
			req.Header.Set("Access-Control-Request-Method", "POST")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for _, origin := range []string{"http://master:5050", "http://other:5050"} {
		rec := do("OPTIONS", origin)
		if rec.Code != 204 || served || rec.Header().Get("Access-Control-Allow-Origin") != origin ||
			!strings.Contains(rec.Header().Get("Access-Control-Allow-Headers"), "Content-Type") ||
			!strings.Contains(rec.Header().Get("Access-Control-Allow-Headers"), "Authorization") {
			t.Fatalf("preflight from %s: %d served=%v %v", origin, rec.Code, served, rec.Header())
		}
		if rec.Header().Get("Access-Control-Allow-Credentials") != "" {
			t.Error("credentials allowed across origins")
		}
		if rec := do("POST", origin); !served || rec.Header().Get("Access-Control-Allow-Origin") != origin {
			t.Fatalf("POST from %s: served=%v %v", origin, served, rec.Header())
		}
	}
	for _, origin := range []string{"http://evil.example", "http://master:5051", "null"} {
		if rec := do("OPTIONS", origin); rec.Header().Get("Access-Control-Allow-Origin") != "" || rec.Code == 204 {
			t.Errorf("preflight from %s allowed: %d %v", origin, rec.Code, rec.Header())
		}
	}
}

// The live view's bookkeeping (state.js) and the RecordIO reader, tested
// by testdata/state_test.js in node when it is installed.
func TestStateJSInNode(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the JavaScript unit tests run in Chromium only (TestStateJSInChromium)")
	}
	cmd := exec.Command(node, "testdata/run_node.js")
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("node: %v", err)
	}
}

// The same JavaScript unit tests in headless Chromium.
func TestStateJSInChromium(t *testing.T) {
	ctx := browsertest.New(t, 2*time.Minute)
	srv := httptest.NewServer(http.FileServer(http.Dir(".")))
	defer srv.Close()
	var raw string
	if err := chromedp.Run(ctx,
		chromedp.Navigate(srv.URL+"/testdata/test.html"),
		chromedp.WaitVisible("body[data-results]", chromedp.ByQuery),
		chromedp.AttributeValue("body", "data-results", &raw, nil, chromedp.ByQuery),
	); err != nil {
		t.Fatal(err)
	}
	var results []struct{ Name, Error string }
	if err := json.Unmarshal([]byte(raw), &results); err != nil {
		t.Fatal(err)
	}
	if len(results) < 8 {
		t.Fatalf("only %d JavaScript tests ran", len(results))
	}
	for _, r := range results {
		if r.Error != "" {
			t.Errorf("%s: %s", r.Name, r.Error)
		}
	}
}
