package master

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMasterLogFiles: with a log file, the files API serves it as
// /master/log (Mesos' path) to a principal access_mesos_logs allows; eve
// gets 403, no credentials 401, and no other file of the directory is
// reachable. Without a log file there is no /files endpoint.
func TestMasterLogFiles(t *testing.T) {
	dir := t.TempDir()
	logFile := filepath.Join(dir, "meso-master.log")
	if err := os.WriteFile(logFile, []byte("level=INFO msg=hello\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte("no"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, base := startMaster(t, withOps(t), withACLs(t, `{
	  "access_mesos_logs": [{"principals": {"values": ["ops"]}, "logs": {"type": "ANY"}},
	                        {"principals": {"type": "ANY"}, "logs": {"type": "NONE"}}]
	}`), func(cfg *Config) { cfg.LogFile = logFile })
	ops, eve := basic{"ops", "o-secret"}, basic{"eve", "e-secret"}

	resp := send(t, http.MethodGet, base+"/files/read?path=/master/log&offset=0", nil, ops, nil)
	var read struct {
		Data   string `json:"data"`
		Offset int64  `json:"offset"`
	}
	err := json.NewDecoder(resp.Body).Decode(&read)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || err != nil || !strings.Contains(read.Data, "msg=hello") {
		t.Fatalf("ops reading /master/log: %d %+v (%v)", resp.StatusCode, read, err)
	}
	for _, tc := range []struct {
		url    string
		who    basic
		status int
	}{
		{"/files/read?path=/master/log&offset=0", eve, http.StatusForbidden},
		{"/files/read?path=/master/log&offset=0", basic{}, http.StatusUnauthorized},
		{"/files/read.json?path=/master/log", ops, http.StatusOK},
		{"/files/download?path=/master/log", ops, http.StatusOK},
		{"/files/read?path=secret&offset=0", ops, http.StatusForbidden},
		{"/files/read?path=/master/log/../secret", ops, http.StatusBadRequest},
	} {
		resp := send(t, http.MethodGet, base+tc.url, nil, tc.who, nil)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("GET %s as %q: %d; want %d", tc.url, tc.who.user, resp.StatusCode, tc.status)
		}
	}

	_, bare := startMaster(t)
	resp = send(t, http.MethodGet, bare+"/files/read?path=/master/log", nil, basic{}, nil)
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Fatalf("a master without a log file served /files/read: %d", resp.StatusCode)
	}
}
