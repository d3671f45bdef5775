package operator

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mesoproject/meso/api/masterpb"
	"github.com/mesoproject/meso/internal/httpbound"
)

// SET_LOGGING_LEVEL raises the verbosity for its duration, then the level
// reverts to the start level; a second change replaces the first's revert.
func TestLogLevelReverts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var v slog.LevelVar
		l := NewLogLevel(&v)
		if l.Verbosity() != 0 || v.Level() != slog.LevelInfo {
			t.Fatalf("start: verbosity %d level %v", l.Verbosity(), v.Level())
		}
		if err := l.Set(1, time.Minute); err != nil {
			t.Fatal(err)
		}
		if l.Verbosity() != 1 || v.Level() != slog.LevelDebug {
			t.Fatalf("after Set(1): verbosity %d level %v", l.Verbosity(), v.Level())
		}
		time.Sleep(30 * time.Second) // fake time inside the bubble
		if err := l.Set(2, time.Minute); err != nil {
			t.Fatal(err)
		}
		time.Sleep(45 * time.Second)
		synctest.Wait()
		if l.Verbosity() != 2 {
			t.Fatalf("the first Set's revert undid the second: verbosity %d", l.Verbosity())
		}
		time.Sleep(20 * time.Second)
		synctest.Wait()
		if l.Verbosity() != 0 || v.Level() != slog.LevelInfo {
			t.Fatalf("after the duration: verbosity %d level %v", l.Verbosity(), v.Level())
		}
		if err := l.Set(1, 0); err == nil {
			t.Fatal("a zero duration was accepted")
		}
	})
}

func TestReadCallRejects(t *testing.T) {
	b, err := httpbound.New(httpbound.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, method, ctype, accept, body string
		status                            int
		msg                               string
	}{
		{"GET", http.MethodGet, "application/json", "", "", http.StatusMethodNotAllowed, "POST"},
		{"no content type", http.MethodPost, "", "", `{}`, http.StatusBadRequest, "Content-Type"},
		{"bad content type", http.MethodPost, "text/html", "", `{}`, http.StatusUnsupportedMediaType, ""},
		{"bad accept", http.MethodPost, "application/json", "text/html", `{"type":"GET_HEALTH"}`, http.StatusNotAcceptable, ""},
		{"malformed", http.MethodPost, "application/json", "", `{"type":`, http.StatusBadRequest, "Failed to parse"},
		{"no type", http.MethodPost, "application/json", "", `{}`, http.StatusBadRequest, "'type'"},
		{"unknown type name", http.MethodPost, "application/json", "", `{"type":"NO_SUCH_CALL"}`, http.StatusBadRequest, "'type'"},
		{"unknown type number", http.MethodPost, "application/json", "", `{"type":999}`, http.StatusBadRequest, "type"},
		{"UNKNOWN", http.MethodPost, "application/json", "", `{"type":"UNKNOWN"}`, http.StatusBadRequest, "UNKNOWN"},
		{"missing required", http.MethodPost, "application/json", "", `{"type":"SET_LOGGING_LEVEL","set_logging_level":{"level":1}}`,
			http.StatusBadRequest, "duration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, Path, strings.NewReader(tc.body))
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			rec := httptest.NewRecorder()
			if _, ok := ReadCall(rec, req, b, 1<<20, &masterpb.Call{}); ok {
				t.Fatal("accepted")
			}
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.msg) {
				t.Fatalf("answer %d %q, want %d containing %q", rec.Code, rec.Body.String(), tc.status, tc.msg)
			}
		})
	}
}
