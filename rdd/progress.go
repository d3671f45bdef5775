package rdd

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mesoproject/meso/rdd/internal/ui"
)

// progressBar draws Spark's console progress line: one
// "[Stage N:====>   (done + running) / total]" segment per active stage,
// redrawn at most every 100ms and erased when no stage is active.
type progressBar struct {
	w     io.Writer
	width int

	mu     sync.Mutex
	stages map[int]*stageProgress // guarded by mu; by stage id
	// waiting holds the prefetched tasks not started yet (guarded by mu):
	// they are not drawn as running.
	waiting ui.Waiting
	last    time.Time // guarded by mu
	shown   bool      // guarded by mu
}

type stageProgress struct {
	job                  int
	total, done, running int
}

func newProgressBar(w io.Writer) *progressBar {
	return &progressBar{w: w, width: 80, stages: map[int]*stageProgress{}}
}

func (b *progressBar) record(e Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.stages[e.Stage]
	switch e.Kind {
	case StageSubmitted:
		b.stages[e.Stage] = &stageProgress{job: e.Job, total: e.Tasks}
	case TaskStart:
		if b.waiting.Start(e.Executor, taskID(e), e.Prefetched) && st != nil {
			st.running++
		}
	case TaskEnd:
		wasRunning, next, started := b.waiting.End(e.Executor, taskID(e))
		if ns := b.stages[next.Stage]; started && ns != nil {
			ns.running++ // a prefetched task took the slot
		}
		if st == nil {
			return
		}
		if wasRunning {
			st.running--
		}
		if e.Error == "" {
			st.done++
		}
		// A slot that frees is refilled at once while tasks are
		// pending: drawing now would show one running task too few
		// (with one slot per core, always "+ N-1"). Draw when the next
		// task starts, or when nothing runs any more.
		if st.running > 0 {
			return
		}
	case StageCompleted:
		delete(b.stages, e.Stage)
		if len(b.stages) == 0 {
			b.clearLocked()
			return
		}
	case JobEnd:
		// A failed or cancelled job leaves stages that never completed:
		// forget them, or they would be drawn with the next job's.
		for id, st := range b.stages {
			if st.job == e.Job {
				delete(b.stages, id)
			}
		}
		b.clearLocked()
		return
	default:
		return
	}
	if e.Time.Sub(b.last) < 100*time.Millisecond && e.Kind != StageSubmitted {
		return
	}
	b.last = e.Time
	b.drawLocked()
}

func taskID(e Event) ui.TaskID {
	return ui.TaskID{Job: e.Job, Stage: e.Stage, StageAttempt: e.StageAttempt, Partition: e.Partition, Attempt: e.Attempt}
}

func (b *progressBar) drawLocked() {
	ids := make([]int, 0, len(b.stages))
	for id := range b.stages {
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return
	}
	slices.Sort(ids)
	per := b.width / len(ids)
	var line strings.Builder
	for _, id := range ids {
		line.WriteString(renderStage(id, b.stages[id], per))
	}
	fmt.Fprintf(b.w, "\r%s", line.String())
	b.shown = true
}

// renderStage renders one stage's segment in width columns.
func renderStage(id int, st *stageProgress, width int) string {
	header := fmt.Sprintf("[Stage %d:", id)
	tailer := fmt.Sprintf("(%d + %d) / %d]", st.done, max(st.running, 0), st.total)
	w := width - len(header) - len(tailer)
	if w <= 0 {
		return header + tailer
	}
	filled := 0
	if st.total > 0 {
		filled = w * st.done / st.total
	}
	bar := strings.Repeat("=", filled)
	if filled < w {
		bar += ">" + strings.Repeat(" ", w-filled-1)
	}
	return header + bar + tailer
}

func (b *progressBar) clearLocked() {
	if b.shown {
		fmt.Fprintf(b.w, "\r%s\r", strings.Repeat(" ", b.width))
		b.shown = false
	}
}

// Summary renders a session's statistics as the few lines the examples
// print after their jobs.
func (st Stats) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "jobs %d, stages %d (skipped %d, resubmitted %d), tasks %d (failed %d)\n",
		st.Jobs, st.Stages, st.StagesSkipped, st.StageResubmissions, st.Tasks, st.TasksFailed)
	fmt.Fprintf(&b, "shuffle: %s written (%d records), %s read; spilled %s\n",
		bytesString(st.ShuffleBytesWritten), st.ShuffleRecords, bytesString(st.ShuffleBytesRead), bytesString(st.SpillBytes))
	fmt.Fprintf(&b, "cache: %d partitions computed and stored, %d read back; job time %v",
		st.CacheMisses, st.CacheHits, st.JobTime.Round(time.Millisecond))
	return b.String()
}

func bytesString(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
