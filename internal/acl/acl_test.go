package acl

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const doc = `{
  "permissive": false,
  "register_frameworks": [
    {"principals": {"values": ["web"]}, "roles": {"values": ["web", "ops/%"]}},
    {"principals": {"type": "ANY"}, "roles": {"type": "NONE"}}
  ],
  "run_tasks": [
    {"principals": {"values": ["web"]}, "users": {"values": ["nobody"]}},
    {"principals": {"type": "ANY"}, "users": {"values": ["root"]}, "_": null}
  ]
}`

func TestAuthorizedTable(t *testing.T) {
	a, err := Parse([]byte(strings.Replace(doc, `, "_": null`, "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	perm, err := Parse([]byte(`{
	  "teardown_frameworks": [
	    {"principals": {"values": ["ops"]}, "framework_principals": {"type": "ANY"}},
	    {"principals": {"type": "ANY"}, "framework_principals": {"type": "NONE"}}
	  ],
	  "access_mesos_logs": [{"principals": {"values": ["ops"]}, "logs": {"type": "ANY"}}],
	  "mark_agents_gone": [{"principals": {"type": "NONE"}, "agents": {"type": "ANY"}}],
	  "view_tasks": [{"principals": {"type": "ANY"}, "users": {"values": ["nobody"]}}]
	}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		acls            *ACLs
		action          Action
		subject, object string
		want            bool
		rule            int
	}{
		{a, RegisterFrameworks, "web", "web", true, 0},
		{a, RegisterFrameworks, "web", "ops/db", true, 0},  // recursive
		{a, RegisterFrameworks, "web", "ops/a/b", true, 0}, // deeper
		{a, RegisterFrameworks, "web", "ops", false, 1},    // "ops/%" is below ops, not ops
		{a, RegisterFrameworks, "web", "other", false, 1},  // falls to rule 1: NONE refuses
		{a, RegisterFrameworks, "batch", "web", false, 1},  // ANY subjects, NONE objects
		{a, RegisterFrameworks, "", "web", false, 1},       // no principal: ANY matches ANY
		{a, RunTasks, "web", "nobody", true, 0},            // listed
		{a, RunTasks, "web", "root", true, 1},              // rule 0 does not match root; rule 1 allows
		{a, RunTasks, "batch", "nobody", false, -1},        // nothing matches: not permissive
		{a, RunTasks, "", "root", true, 1},                 // no principal matches ANY subjects
		{a, TeardownFrameworks, "ops", "web", false, -1},   // no rules: permissive false
		{perm, TeardownFrameworks, "ops", "web", true, 0},  // ANY objects
		{perm, TeardownFrameworks, "web", "web", false, 1}, // NONE
		{perm, TeardownFrameworks, "", "web", false, 1},    // unauthenticated matches ANY subjects
		{perm, AccessMesosLogs, "ops", "", true, 0},        // implicit object
		{perm, AccessMesosLogs, "web", "", true, -1},       // permissive default
		{perm, AccessMesosLogs, "", "", true, -1},          // an ANY subject does not match a SOME rule
		{perm, MarkAgentsGone, "ops", "", false, 0},        // NONE subjects match everyone named... and refuse
		{perm, MarkAgentsGone, "", "", false, 0},           // ANY request matches NONE
		{perm, ViewTasks, "ops", "nobody", true, 0},
		{perm, ViewTasks, "ops", "root", true, -1},
		{nil, RunTasks, "x", "root", true, -1},
	} {
		got, r := tc.acls.Authorized(tc.action, tc.subject, tc.object)
		if got != tc.want || r.Index != tc.rule || r.Action != tc.action {
			t.Errorf("%s(%q, %q) = %v by %v, want %v by rule %d", tc.action, tc.subject, tc.object, got, r, tc.want, tc.rule)
		}
		if err := tc.acls.Check(tc.action, tc.subject, tc.object); (err == nil) != tc.want || (err != nil && !errors.Is(err, ErrDenied)) {
			t.Errorf("Check %s(%q, %q) = %v", tc.action, tc.subject, tc.object, err)
		}
	}
	err = a.Check(RegisterFrameworks, "batch", "web")
	if msg := err.Error(); !strings.Contains(msg, "register_frameworks[1]") || !strings.Contains(msg, "'batch'") || !strings.Contains(msg, "role 'web'") {
		t.Errorf("message does not name the ACL, principal and role: %q", msg)
	}
}

func TestParseErrors(t *testing.T) {
	for _, bad := range []string{
		``, `[]`, `null`, `{"permissive": "yes"}`, `{"register_framework": []}`,
		`{"run_tasks": [{"principals": {"type": "ANY"}}]}`,
		`{"run_tasks": [{"users": {"type": "ANY"}}]}`,
		`{"run_tasks": [{"principals": {"type": "ANY"}, "roles": {"type": "ANY"}}]}`,
		`{"run_tasks": [{"principals": {"type": "ALL"}, "users": {"type": "ANY"}}]}`,
		`{"run_tasks": [{"principals": {"value": ["a"]}, "users": {"type": "ANY"}}]}`,
		`{"run_tasks": {}}`, `{} {}`, doc,
	} {
		if _, err := Parse([]byte(bad)); !errors.Is(err, ErrACLs) {
			t.Errorf("Parse(%q) = %v, want ErrACLs", bad, err)
		}
	}
	a, err := Parse([]byte(`{}`))
	if err != nil || !a.Permissive {
		t.Fatalf("empty document: %v, permissive %v", err, a.Permissive)
	}
}

func TestLoadForms(t *testing.T) {
	path := filepath.Join(t.TempDir(), "acls.json")
	text := `{"permissive": false, "view_flags": [{"principals": {"values": ["ops"]}, "flags": {"type": "ANY"}}]}`
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, flag := range []string{text, " " + text, path, "file://" + path} {
		a, err := Load(flag)
		if err != nil {
			t.Fatalf("Load(%q): %v", flag, err)
		}
		if ok, _ := a.Authorized(ViewFlags, "ops", ""); !ok {
			t.Errorf("Load(%q): ops refused", flag)
		}
		if ok, _ := a.Authorized(ViewFlags, "web", ""); ok {
			t.Errorf("Load(%q): web allowed", flag)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, ErrACLs) {
		t.Errorf("missing file: %v", err)
	}
}

// naive is Mesos' algorithm written out again without the split of role
// rules, for plain (non-recursive) rules.
func naive(rules []rule, permissive bool, subject, object string) bool {
	for _, r := range rules {
		subjOK := r.subjects.Type != Some || (subject != "" && subset([]string{subject}, r.subjects.Values))
		if subject == "" && r.subjects.Type == Some {
			continue
		}
		if r.objects.Type == Some && !subset([]string{object}, r.objects.Values) {
			continue
		}
		if r.subjects.Type == Some && !subjOK {
			continue
		}
		return r.subjects.Type != None && r.objects.Type != None
	}
	return permissive
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(doc), "web", "nobody")
	f.Add([]byte(`{"permissive":false,"run_tasks":[{"principals":{"type":"NONE"},"users":{"values":["a"]}}]}`), "", "a")
	f.Add([]byte(`{"register_frameworks":[{"principals":{"values":["p"]},"roles":{"values":["a/%","b"]}}]}`), "p", "a/b")
	f.Fuzz(func(t *testing.T, data []byte, subject, object string) {
		a, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrACLs) {
				t.Fatalf("error without ErrACLs: %v", err)
			}
			return
		}
		for action, rules := range a.rules {
			if !Known(action) {
				t.Fatalf("unknown action %q kept", action)
			}
			got, r := a.Authorized(action, subject, object)
			if r.Action != action || (r.Index >= 0 && (len(rules) == 0 || r.Index > rules[len(rules)-1].index)) {
				t.Fatalf("rule %v out of range", r)
			}
			if actions[action].kind != explicit {
				continue
			}
			if want := naive(rules, a.Permissive, subject, object); got != want {
				t.Fatalf("%s(%q, %q) = %v, naive says %v", action, subject, object, got, want)
			}
		}
	})
}

// An unknown object (ANY) matches only rules with ANY or NONE objects.
func TestAuthorizedAny(t *testing.T) {
	a, err := Parse([]byte(`{"permissive": false, "access_sandboxes": [
	  {"principals": {"values": ["web"]}, "users": {"values": ["nobody"]}},
	  {"principals": {"values": ["ops"]}, "users": {"type": "ANY"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if ok, r := a.AuthorizedAny(AccessSandboxes, "web"); ok || r.Index != -1 {
		t.Errorf("web on an unknown sandbox: %v by %v", ok, r)
	}
	if ok, r := a.AuthorizedAny(AccessSandboxes, "ops"); !ok || r.Index != 1 {
		t.Errorf("ops on an unknown sandbox: %v by %v", ok, r)
	}
	if err := a.CheckAny(AccessSandboxes, "web"); !errors.Is(err, ErrDenied) {
		t.Errorf("CheckAny: %v", err)
	}
}

// The example docs/security.md gives for forbidding root.
func TestForbidRootExample(t *testing.T) {
	a, err := Parse([]byte(`{
	  "run_tasks": [
	    {"principals": {"type": "NONE"}, "users": {"values": ["root"]}},
	    {"principals": {"type": "ANY"}, "users": {"type": "ANY"}}
	  ]
	}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"", "web", "ops"} {
		if ok, _ := a.Authorized(RunTasks, p, "root"); ok {
			t.Errorf("principal %q may run as root", p)
		}
		if ok, _ := a.Authorized(RunTasks, p, "nobody"); !ok {
			t.Errorf("principal %q may not run as nobody", p)
		}
	}
}
