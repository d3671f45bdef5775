package ui

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(b)
}

func TestLivePages(t *testing.T) {
	l := NewLive(func() []Cached {
		return []Cached{{Dataset: 4, Name: "dataset 4", Level: "MEMORY_ONLY", Partitions: 3, Memory: 2048}}
	})
	for _, e := range events() {
		b, _ := json.Marshal(e)
		l.ApplyJSON(b)
	}
	for _, c := range []struct {
		path string
		code int
		want []string
	}{
		{"/jobs/", 200, []string{`data-job="0" data-status="SUCCEEDED"`, `data-job="1" data-status="FAILED"`, "(1 skipped)", "collect at main.go:10"}},
		{"/jobs/job/?id=1", 200, []string{`<svg class="dag"`, "Stage 0 (skipped)", `data-stage="2"`, "job 1 failed: fetch failed"}},
		{"/stages/", 200, []string{`data-stage="0" data-attempt="0" data-status="COMPLETE"`, `data-status="SKIPPED"`, "150 B"}},
		{"/stages/stage/?id=0&attempt=0", 200, []string{`data-partition="1" data-status="FAILED"`, "boom", "e1"}},
		{"/executors/", 200, []string{`data-executor="e1" data-alive="false"`, "idle for 15s", `<svg class="timeline"`}},
		{"/storage/", 200, []string{`data-dataset="4"`, "MEMORY_ONLY", "2.0 KiB"}},
		{"/environment/", 200, []string{"spark.a", "spark.b"}},
		{"/jobs/job/?id=9", 404, nil},
		{"/stages/stage/?id=x&attempt=0", 404, nil},
		{"/nope", 404, nil},
	} {
		code, body := get(t, l, c.path)
		if code != c.code {
			t.Errorf("%s: %d, want %d", c.path, code, c.code)
		}
		for _, w := range c.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: no %q in the page", c.path, w)
			}
		}
	}
	rec := httptest.NewRecorder()
	l.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/jobs/", strings.NewReader("x")))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", rec.Code)
	}
}

func TestHistory(t *testing.T) {
	dir := t.TempDir()
	var lines []string
	for _, e := range events() {
		b, _ := json.Marshal(e)
		lines = append(lines, string(b))
	}
	if err := os.WriteFile(filepath.Join(dir, "demo-1.jsonl"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A running application's log: no AppEnd yet.
	if err := os.WriteFile(filepath.Join(dir, "live-2.jsonl"), []byte(lines[0]+"\n"+lines[2]+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := &History{Dir: dir}
	code, body := get(t, h, "/")
	if code != 200 || !strings.Contains(body, `data-file="demo-1.jsonl"`) || !strings.Contains(body, `data-file="live-2.jsonl"`) || !strings.Contains(body, "incomplete") {
		t.Fatalf("list: %d %s", code, body)
	}
	if code, body := get(t, h, "/history/demo-1.jsonl/jobs/"); code != 200 || !strings.Contains(body, `data-job="1" data-status="FAILED"`) ||
		!strings.Contains(body, `href="/history/demo-1.jsonl/jobs/job/?id=0"`) {
		t.Errorf("app jobs: %d %s", code, body)
	}
	if code, _ := get(t, h, "/history/demo-1.jsonl/executors/"); code != 200 {
		t.Errorf("app executors: %d", code)
	}
	// The log grows: the page follows.
	f, _ := os.OpenFile(filepath.Join(dir, "live-2.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(lines[3] + "\n")
	f.Close()
	if _, body := get(t, h, "/history/live-2.jsonl/stages/"); !strings.Contains(body, `data-stage="0"`) {
		t.Errorf("grown log not read again: %s", body)
	}
	for _, p := range []string{"/history/..%2Fx.jsonl/jobs/", "/history/missing.jsonl/jobs/", "/history/demo-1.txt/jobs/", "/elsewhere"} {
		if code, _ := get(t, h, p); code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", p, code)
		}
	}
}

// stuckWriter is a client that takes no bytes until released: a render
// writing to it holds the live state.
type stuckWriter struct {
	httptest.ResponseRecorder
	writing chan struct{} // closed at the first Write
	release chan struct{}
	once    sync.Once
}

func (w *stuckWriter) Write(b []byte) (int, error) {
	w.once.Do(func() { close(w.writing) })
	<-w.release
	return w.ResponseRecorder.Write(b)
}

// TestLiveEventsFlowDuringRender shows a render stuck on a slow client does
// not hold up the events the scheduler emits: ApplyJSON returns while the
// render holds the state, the events are queued (past the bound dropped
// and counted), and the next page shows the queued ones.
func TestLiveEventsFlowDuringRender(t *testing.T) {
	l := NewLive(nil)
	w := &stuckWriter{ResponseRecorder: *httptest.NewRecorder(), writing: make(chan struct{}), release: make(chan struct{})}
	rendered := make(chan struct{})
	go func() {
		defer close(rendered)
		l.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/jobs/", nil))
	}()
	<-w.writing // the render holds the state now

	applied := make(chan struct{})
	go func() {
		defer close(applied)
		for _, e := range events() {
			b, _ := json.Marshal(e)
			l.ApplyJSON(b)
		}
		for range maxPending {
			l.ApplyJSON([]byte(`{"Kind":"JobStart","Job":99,"Name":"flood"}`))
		}
	}()
	select {
	case <-applied:
	case <-time.After(20 * time.Second):
		t.Fatal("ApplyJSON blocked behind a render")
	}
	if d := l.Dropped(); d != len(events()) {
		t.Errorf("dropped %d events past the queue's bound, want %d", d, len(events()))
	}
	close(w.release)
	<-rendered
	code, body := get(t, l, "/jobs/")
	if code != 200 || !strings.Contains(body, `data-job="0" data-status="SUCCEEDED"`) || !strings.Contains(body, `data-job="1" data-status="FAILED"`) {
		t.Fatalf("after the render the queued events are not on the page (%d):\n%s", code, body)
	}
}
