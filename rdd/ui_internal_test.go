package rdd

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestUIBounds shows the driver UI's bounds: past uiMaxConcurrent requests
// in progress the next gets 503 with Retry-After (and is served again once
// one ends), and a body longer than uiMaxBody cannot be read.
func TestUIBounds(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	bodies := 0
	h := boundUI(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/body" {
			bodies++
			if _, err := io.ReadAll(r.Body); err == nil {
				t.Error("a body past uiMaxBody was read whole")
			}
			return
		}
		entered <- struct{}{}
		<-release
	}), 2)
	done := make(chan struct{})
	for range 2 {
		go func() {
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/slow", nil))
			done <- struct{}{}
		}()
		<-entered
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/body", nil))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("a third request with two in progress: %d, Retry-After %q; want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
	close(release)
	<-done
	<-done
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/body", strings.NewReader(strings.Repeat("x", uiMaxBody+1))))
	if rec.Code == http.StatusServiceUnavailable || bodies != 1 {
		t.Fatalf("a request after the others ended: %d, served %d times; want it served once", rec.Code, bodies)
	}
}
