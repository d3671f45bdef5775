package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// pipeWriter hands what the command prints to the test as it comes.
type pipeWriter struct{ lines chan string }

func (w pipeWriter) Write(p []byte) (int, error) { w.lines <- string(p); return len(p), nil }

// meso history serves an application's pages from its event log.
func TestHistoryServesEventLogs(t *testing.T) {
	dir := t.TempDir()
	log := `{"event":"AppStart","time":"2026-12-07T03:00:00Z","job":0,"stage":0,"shuffle":-1,"partition":0,"app":"wc","master":"local[2]","slots":2}
{"event":"JobStart","time":"2026-12-07T03:00:01Z","job":0,"stage":0,"shuffle":-1,"partition":0,"name":"count at wc.go:3"}
{"event":"JobEnd","time":"2026-12-07T03:00:02Z","job":0,"stage":0,"shuffle":-1,"partition":0}
{"event":"AppEnd","time":"2026-12-07T03:00:03Z","job":0,"stage":0,"shuffle":-1,"partition":0}
`
	if err := os.WriteFile(filepath.Join(dir, "wc-1.jsonl"), []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := pipeWriter{make(chan string, 4)}
	cmd := newRootCmd()
	cmd.SetOut(out)
	cmd.SetArgs([]string{"history", "--dir", dir, "--port", "0"})
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	var base string
	select {
	case line := <-out.lines:
		m := regexp.MustCompile(`http://\S+/`).FindString(line)
		if m == "" {
			t.Fatalf("no address in %q", line)
		}
		base = strings.TrimSuffix(m, "/")
	case err := <-done:
		t.Fatalf("history exited: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("history printed nothing")
	}
	for path, want := range map[string]string{"/": `data-file="wc-1.jsonl"`, "/history/wc-1.jsonl/jobs/": "count at wc.go:3"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("%s: %d, no %q in %s", path, resp.StatusCode, want, b)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("history: %v", err)
	}
	if err := newRootCmdRun(t, "history", "--dir", filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("missing dir: %v", err)
	}
}

func newRootCmdRun(t *testing.T, args ...string) error {
	t.Helper()
	cmd := newRootCmd()
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	cmd.SetArgs(args)
	return cmd.Execute()
}
