package agent

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/agentpb"
	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/internal/acl"
	"github.com/mesoproject/meso/internal/authn"
)

// With a log file, the agent serves it as /slave/log (Mesos' path)
// through the files API and READ_FILE, to principals access_mesos_logs
// allows; nothing else of the log's directory is reachable, and the
// sandboxes are served as before.
func TestAgentLogFile(t *testing.T) {
	dir := t.TempDir()
	logFile := filepath.Join(dir, "meso-agent.log")
	if err := os.WriteFile(logFile, []byte("level=INFO msg=agent-hello\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte("no"), 0o600); err != nil {
		t.Fatal(err)
	}
	creds, err := authn.New([]authn.Credential{{Principal: "ops", Secret: "o"}, {Principal: "eve", Secret: "e"}})
	if err != nil {
		t.Fatal(err)
	}
	acls, err := acl.Parse([]byte(`{"permissive": false,
	  "access_mesos_logs": [{"principals": {"values": ["ops"]}, "logs": {"type": "ANY"}}],
	  "access_sandboxes": [{"principals": {"values": ["ops"]}, "users": {"type": "ANY"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	m := newFakeMaster(t)
	a := startAgent(t, m, func(cfg *Config) {
		cfg.Credentials, cfg.ACLs, cfg.LogFile = creds, acls, logFile
		cfg.AuthenticateHTTPReadOnly = true
	})
	m.session().send(runTask("f1", commandTask("t1", "true")))
	spec := a.cz.launch(t)
	if err := os.WriteFile(filepath.Join(spec.Sandbox, "stdout"), []byte("task output\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	get := func(path, user, pass string) (int, string) { return basicGet(t, a.url+path, user, pass) }
	code, body := get("/files/read?offset=0&path=/slave/log", "ops", "o")
	var read struct{ Data string }
	if code != http.StatusOK || json.Unmarshal([]byte(body), &read) != nil || !strings.Contains(read.Data, "agent-hello") {
		t.Fatalf("ops reading /slave/log: %d %s", code, body)
	}
	for _, tc := range []struct {
		path, user, pass string
		want             int
	}{
		{"/files/read?offset=0&path=/slave/log", "eve", "e", http.StatusForbidden},
		{"/files/download?path=/slave/log", "ops", "o", http.StatusOK},
		{"/files/read?offset=0&path=" + filepath.Join(dir, "secret"), "ops", "o", http.StatusForbidden},
		{"/files/read?offset=0&path=/slave/log/../secret", "ops", "o", http.StatusBadRequest},
		{"/files/read?offset=0&path=" + filepath.Join(spec.Sandbox, "stdout"), "ops", "o", http.StatusOK},
	} {
		if code, body := get(tc.path, tc.user, tc.pass); code != tc.want {
			t.Errorf("GET %s as %s: %d %s; want %d", tc.path, tc.user, code, body, tc.want)
		}
	}

	// READ_FILE and LIST_FILES of /slave/log (no ACLs: everyone may).
	open := startAgent(t, newFakeMaster(t), func(cfg *Config) { cfg.LogFile = logFile })
	rf := agentQuery(t, open.url, codec.JSON, &agentpb.Call{Type: agentpb.Call_READ_FILE.Enum(),
		ReadFile: &agentpb.Call_ReadFile{Path: proto.String("/slave/log"), Offset: proto.Uint64(0)}}).GetReadFile()
	if !strings.Contains(string(rf.GetData()), "agent-hello") {
		t.Errorf("READ_FILE /slave/log: %v", rf)
	}
	lf := agentQuery(t, open.url, codec.JSON, &agentpb.Call{Type: agentpb.Call_LIST_FILES.Enum(),
		ListFiles: &agentpb.Call_ListFiles{Path: proto.String("/slave/log")}}).GetListFiles()
	if lf == nil {
		t.Errorf("LIST_FILES /slave/log: no answer")
	}
}
