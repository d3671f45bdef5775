package shuffleservice

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzCalls sends arbitrary calls: the service never panics, answers
// every one, and deletes nothing but registered rdd directories.
func FuzzCalls(f *testing.F) {
	f.Add("POST", "apps/a", "tok", `{"heartbeat_timeout_ms": 5}`)
	f.Add("DELETE", "apps/a", "tok", "")
	f.Add("POST", "apps/a/executors/e1/shuffle/v1/fetch", "tok", "MSF1\x00\x01\x00\x00\x01")
	f.Add("GET", "apps/a/executors/e1/block/0/0/0", "tok", "")
	f.Add("POST", "apps/../../x/executors/e", "tok", `{"dir": "/"}`)
	keep := f.TempDir()
	marker := filepath.Join(keep, "marker")
	if err := os.WriteFile(marker, []byte("x"), 0o644); err != nil {
		f.Fatal(err)
	}
	rdd := filepath.Join(keep, "rdd-1")
	os.MkdirAll(filepath.Join(rdd, "shuffle"), 0o755)
	f.Add("POST", "apps/a/executors/e1", "tok", `{"dir": "`+rdd+`"}`)
	future := time.Now().Add(100 * 365 * 24 * time.Hour)
	f.Fuzz(func(t *testing.T, method, path, tok, body string) {
		// Only directories under keep may be registered: the fuzzer must
		// not register (and the cleaner delete) a real one elsewhere.
		var reg registerExecutor
		if json.Unmarshal([]byte(body), &reg) == nil && reg.Dir != "" && !strings.HasPrefix(reg.Dir, keep+"/") {
			return
		}
		s, err := New(Config{})
		if err != nil {
			t.Fatal(err)
		}
		req, err := http.NewRequest(method, "http://svc"+Prefix+path, strings.NewReader(body))
		if err != nil {
			return
		}
		if tok != "" {
			req.Header.Set("X-Meso-Shuffle-Token", tok)
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code == 0 {
			t.Fatal("no status")
		}
		s.Clean(future)
		if _, err := os.Stat(marker); err != nil {
			t.Fatalf("a file outside registered dirs is gone: %v", err)
		}
	})
}
