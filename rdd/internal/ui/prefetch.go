package ui

import "slices"

// TaskID names a task attempt as the events do.
type TaskID struct{ Job, Stage, StageAttempt, Partition, Attempt int }

// Waiting follows prefetched tasks (a TaskStart with prefetched set): a
// task handed to an executor beyond its free slots waits there until one
// of the executor's tasks ends, and counts as running from then. An
// executor's slots take its waiting tasks in the order it was handed them.
// The zero value is ready to use.
type Waiting struct{ byExec map[string][]TaskID }

// Start records a TaskStart and reports whether the task runs now (false:
// it waits for a slot).
func (w *Waiting) Start(exec string, id TaskID, prefetched bool) bool {
	if !prefetched {
		return true
	}
	if w.byExec == nil {
		w.byExec = map[string][]TaskID{}
	}
	w.byExec[exec] = append(w.byExec[exec], id)
	return false
}

// End records a TaskEnd: whether the task was counted as running (false:
// it ended while waiting, as the tasks of a lost executor do), and the
// waiting task, if any, that starts in the slot it freed.
func (w *Waiting) End(exec string, id TaskID) (wasRunning bool, next TaskID, started bool) {
	q := w.byExec[exec]
	if i := slices.Index(q, id); i >= 0 {
		q = slices.Delete(q, i, i+1)
		wasRunning = false
	} else if wasRunning = true; len(q) > 0 {
		next, started = q[0], true
		q = q[1:]
	}
	if len(q) == 0 {
		delete(w.byExec, exec)
	} else {
		w.byExec[exec] = q
	}
	return wasRunning, next, started
}

// Len is how many tasks wait.
func (w *Waiting) Len() int {
	n := 0
	for _, q := range w.byExec {
		n += len(q)
	}
	return n
}
