package authn

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

func TestParseForms(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "creds.json")
	if err := os.WriteFile(path, []byte(`{"credentials":[{"principal":"ops","secret":"s3"},{"principal":"fw","secret":"x"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{path, "file://" + path} {
		c, err := Load(name)
		if err != nil {
			t.Fatalf("Load(%s): %v", name, err)
		}
		if c.Len() != 2 || !c.Check("ops", "s3") || !c.Check("fw", "x") {
			t.Fatalf("Load(%s): wrong credentials", name)
		}
		if c.Check("ops", "x") || c.Check("nobody", "s3") || c.Check("ops", "") || c.Check("", "") {
			t.Fatalf("Load(%s): accepted a wrong pair", name)
		}
	}
	text, err := Parse([]byte("ops s3\n\nfw x\n"))
	if err != nil || !text.Check("fw", "x") {
		t.Fatalf("text form: %v", err)
	}
	for _, bad := range []string{`{"credentials":[{"principal":"","secret":"a"}]}`, `{"credentials":[{"principal":"a"},{"principal":"a"}]}`, `{`, "a b c"} {
		if _, err := Parse([]byte(bad)); !errors.Is(err, ErrCredentials) {
			t.Errorf("Parse(%q) = %v, want ErrCredentials", bad, err)
		}
	}
	if _, err := Load(filepath.Join(dir, "missing")); !errors.Is(err, ErrCredentials) {
		t.Errorf("missing file: %v", err)
	}
	var none *Credentials
	if none.Check("a", "b") || none.Len() != 0 {
		t.Error("nil credentials accepted a pair")
	}
}

func TestRequireOverHTTP(t *testing.T) {
	c, err := New([]Credential{{Principal: "ops", Secret: "s3"}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := Principal(r.Context())
		io.WriteString(w, p)
	})))
	defer srv.Close()
	get := func(user, pass string, auth bool) (*http.Response, string) {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		if auth {
			req.SetBasicAuth(user, pass)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}
	for name, tc := range map[string]struct {
		user, pass string
		auth       bool
	}{"none": {}, "wrong secret": {"ops", "nope", true}, "unknown": {"eve", "s3", true}} {
		resp, _ := get(tc.user, tc.pass, tc.auth)
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != `Basic realm="mesos"` {
			t.Errorf("%s: %d %q, want 401 with the Basic challenge", name, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}
	if resp, body := get("ops", "s3", true); resp.StatusCode != http.StatusOK || body != "ops" {
		t.Errorf("good credentials: %d %q", resp.StatusCode, body)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"credentials":[{"principal":"a","secret":"b"}]}`))
	f.Add([]byte("a b\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			return
		}
		for _, e := range c.list {
			if !c.Check(e.Principal, e.Secret) {
				t.Fatalf("parsed %q cannot check itself", e.Principal)
			}
		}
	})
}
