package agent

import (
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mesoproject/meso/internal/acl"
	"github.com/mesoproject/meso/internal/authn"
)

// With --authenticate_http_readonly/_readwrite the agent's state, files
// and operator endpoints answer 401 without credentials; with --acls the
// files API serves a framework's sandbox only to principals allowed its
// user (access_sandboxes), and 403 names the rule to the others.
func TestAgentAuthenticationAndSandboxACL(t *testing.T) {
	creds, err := authn.New([]authn.Credential{{Principal: "ops", Secret: "o"}, {Principal: "eve", Secret: "e"}})
	if err != nil {
		t.Fatal(err)
	}
	acls, err := acl.Parse([]byte(`{"permissive": false, "access_sandboxes": [
	  {"principals": {"values": ["ops"]}, "users": {"type": "ANY"}},
	  {"principals": {"values": ["eve"]}, "users": {"values": ["someone-else"]}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	m := newFakeMaster(t)
	a := startAgent(t, m, func(cfg *Config) {
		cfg.Credentials, cfg.ACLs = creds, acls
		cfg.AuthenticateHTTPReadOnly, cfg.AuthenticateHTTPReadWrite = true, true
	})
	m.session().send(runTask("f1", commandTask("t1", "true")))
	spec := a.cz.launch(t)
	if err := os.WriteFile(filepath.Join(spec.Sandbox, "stdout"), []byte("secret output\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	get := func(path, user, pass string) (int, string) { return basicGet(t, a.url+path, user, pass) }
	read := "/files/read?offset=0&path=" + url.QueryEscape(filepath.Join(spec.Sandbox, "stdout"))
	for _, p := range []string{"/state", read, "/metrics/snapshot"} {
		if code, _ := get(p, "", ""); code != http.StatusUnauthorized {
			t.Errorf("%s without credentials: %d, want 401", p, code)
		}
		if code, _ := get(p, "ops", "wrong"); code != http.StatusUnauthorized {
			t.Errorf("%s with a wrong secret: %d, want 401", p, code)
		}
	}
	if code, body := get(read, "ops", "o"); code != http.StatusOK || !strings.Contains(body, "secret output") {
		t.Errorf("ops reading the sandbox: %d %s", code, body)
	}
	if code, body := get(read, "eve", "e"); code != http.StatusForbidden || !strings.Contains(body, "access_sandboxes") {
		t.Errorf("eve reading the sandbox: %d %s, want 403 naming the ACL", code, body)
	}
	browse := "/files/browse?path=" + url.QueryEscape(spec.Sandbox)
	if code, _ := get(browse, "eve", "e"); code != http.StatusForbidden {
		t.Errorf("eve browsing the sandbox: %d, want 403", code)
	}
	resp, err := http.Post(a.url+"/api/v1", "application/json", strings.NewReader(`{"type":"GET_HEALTH"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("operator API without credentials: %d, want 401", resp.StatusCode)
	}
	if code, _ := get("/health", "", ""); code != http.StatusOK {
		t.Errorf("/health: %d, want it open", code)
	}
}

// basicGet GETs url with HTTP Basic credentials (none for user "") and
// returns the status and the body.
func basicGet(t *testing.T, url, user, pass string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
