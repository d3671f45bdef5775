package rdd

import (
	"errors"
	"fmt"
	"iter"
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

// With every slot busy, a task that ends is replaced by the next one: the
// line shows all slots running, not one fewer (it is drawn at the start,
// not at the end that comes just before it).
func TestProgressCountsEveryBusySlot(t *testing.T) {
	var out strings.Builder
	b := newProgressBar(&out)
	at := time.Unix(0, 0)
	b.record(Event{Kind: StageSubmitted, Time: at, Job: 0, Stage: 0, Tasks: 10})
	b.record(Event{Kind: TaskStart, Time: at, Job: 0, Stage: 0})
	b.record(Event{Kind: TaskStart, Time: at, Job: 0, Stage: 0})
	for i := 1; i <= 8; i++ {
		at = at.Add(time.Second)
		out.Reset()
		b.record(Event{Kind: TaskEnd, Time: at, Job: 0, Stage: 0})
		if out.Len() != 0 {
			t.Fatalf("drawn at a task end while another runs: %q", out.String())
		}
		b.record(Event{Kind: TaskStart, Time: at, Job: 0, Stage: 0})
		if want := fmt.Sprintf("(%d + 2) / 10]", i); !strings.Contains(out.String(), want) {
			t.Fatalf("after %d ends: %q, want %q", i, out.String(), want)
		}
	}
	at = at.Add(time.Second)
	b.record(Event{Kind: TaskEnd, Time: at, Job: 0, Stage: 0})
	at = at.Add(time.Second)
	out.Reset()
	b.record(Event{Kind: TaskEnd, Time: at, Job: 0, Stage: 0})
	if !strings.Contains(out.String(), "(10 + 0) / 10]") {
		t.Fatalf("after the last end: %q", out.String())
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

// An accumulator whose merge function panics on the driver fails the job;
// the session stays usable.
func TestAccumulatorMergePanic(t *testing.T) {
	s, err := Start(Config{Master: "local[2]", LocalDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	acc := NewAccumulator(s, "bad", 0, func(a, b int) int {
		if a > 0 && b > 0 {
			panic("merge boom") // only the driver merges two non-empty task updates
		}
		return a + b
	})
	r := MapPartitionsWithContext(Range(0, 100, 4), func(tc *TaskContext, in iter.Seq[int]) iter.Seq[int] {
		return func(yield func(int) bool) {
			acc.Add(tc, 1)
			for v := range in {
				if !yield(v) {
					return
				}
			}
		}
	})
	if _, err := Count(t.Context(), s, r); !errors.Is(err, ErrJobFailed) || !strings.Contains(err.Error(), "merge boom") {
		t.Fatalf("got %v", err)
	}
	if n, err := Count(t.Context(), s, Range(0, 10, 2)); err != nil || n != 10 {
		t.Fatalf("after: %d, %v", n, err)
	}
}

// Prefetched tasks (one per slot beyond the slots) are not drawn as
// running: with 2 one-slot executors the line says "+ 2", not "+ 4", and
// a prefetched task counts from its executor's task end on.
func TestProgressLeavesPrefetchedTasksOut(t *testing.T) {
	var out strings.Builder
	b := newProgressBar(&out)
	at := time.Unix(0, 0)
	b.record(Event{Kind: StageSubmitted, Time: at, Job: 0, Stage: 0, Tasks: 10})
	next := 0
	start := func(exec string, prefetched bool) {
		at = at.Add(200 * time.Millisecond) // past the redraw interval
		b.record(Event{Kind: TaskStart, Time: at, Job: 0, Stage: 0, Partition: next, Executor: exec, Prefetched: prefetched})
		next++
	}
	start("e1", false)
	start("e2", false)
	start("e1", true)
	out.Reset()
	start("e2", true)
	if !strings.Contains(out.String(), "(0 + 2) / 10]") {
		t.Fatalf("with 2 tasks running, 2 prefetched: %q", out.String())
	}
	for p := range 6 { // e1 and e2 in turn: each end starts a prefetched task and prefetches one
		at = at.Add(time.Second)
		b.record(Event{Kind: TaskEnd, Time: at, Job: 0, Stage: 0, Partition: p, Executor: []string{"e1", "e2"}[p%2]})
		out.Reset()
		start([]string{"e1", "e2"}[p%2], true)
		if want := fmt.Sprintf("(%d + 2) / 10]", p+1); !strings.Contains(out.String(), want) {
			t.Fatalf("after %d ends: %q, want %q", p+1, out.String(), want)
		}
	}
}
