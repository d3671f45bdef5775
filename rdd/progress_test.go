package rdd

import (
	"log/slog"
	"strings"
	"testing"
	"time"
)

// A job that fails leaves stages that never complete; the next job's
// progress line must not show them.
func TestProgressForgetsStagesOfEndedJobs(t *testing.T) {
	var out strings.Builder
	b := newProgressBar(&out)
	at := time.Unix(0, 0)
	b.record(Event{Kind: StageSubmitted, Time: at, Job: 0, Stage: 0, Tasks: 4})
	b.record(Event{Kind: TaskStart, Time: at, Job: 0, Stage: 0})
	b.record(Event{Kind: JobEnd, Time: at, Job: 0, Error: "boom"})
	out.Reset()
	b.record(Event{Kind: StageSubmitted, Time: at.Add(time.Second), Job: 1, Stage: 1, Tasks: 2})
	if line := out.String(); strings.Contains(line, "Stage 0") || !strings.Contains(line, "[Stage 1:") {
		t.Fatalf("progress after a failed job: %q", line)
	}
}

// A listener that panics is logged; the job goes on.
func TestPanickingListener(t *testing.T) {
	var logs strings.Builder
	s, err := Start(Config{Master: "local[2]", LocalDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.AddListener(func(e Event) {
		if e.Kind == TaskEnd {
			panic("listener bug")
		}
	})
	n, err := Count(t.Context(), s, Range(0, 100, 4))
	if err != nil || n != 100 || !strings.Contains(logs.String(), "listener bug") {
		t.Fatalf("count %d, %v; logs %q", n, err, logs.String())
	}
}
