package core

import (
	"slices"

	"github.com/mesoproject/meso/api/mesospb"
)

// taskViews is a framework's live tasks as state queries show them, kept
// up to date as the core changes them, so that a query's share of the
// loop is the tasks changed since the previous query plus a copy of a
// short index (one pointer per viewChunkSize tasks), not every task.
//
// Each task has a slot. The slots live in fixed-size chunks; a query
// (snapshot) shares the chunks it took, and the first write to a shared
// chunk copies it (copy-on-write: a chunk made or copied since the last
// snapshot carries the current gen and is written in place). A task that
// changes is marked dirty (task.changed) and gets its new view at the next
// snapshot, so a task changed many times between two queries is copied
// once.
//
// It also counts the tasks by state (setState keeps the counts) for the
// master/tasks_* gauges.
type taskViews struct {
	chunks []*viewChunk
	tasks  []*task // by slot
	gen    uint64  // chunks with an older gen are shared with a snapshot
	dirty  []*task // tasks whose slot is stale (task.dirty set)
	states map[mesospb.TaskState]int
}

const viewChunkSize = 128

type viewChunk struct {
	gen     uint64
	entries [viewChunkSize]viewEntry
}

// viewEntry is one slot: the task's shared view (taskProto) and whether
// it is listed among the unreachable tasks rather than the live ones.
type viewEntry struct {
	view    *mesospb.Task
	unreach bool
}

// put adds a task (not in any table) to the table.
func (v *taskViews) put(t *task) {
	t.views, t.slot = v, len(v.tasks)
	v.tasks = append(v.tasks, t)
	if t.slot/viewChunkSize == len(v.chunks) {
		v.chunks = append(v.chunks, &viewChunk{gen: v.gen})
	}
	v.count(t.state(), 1)
	v.markDirty(t)
}

// drop takes a task out of the table: the last slot's task moves into its
// slot.
func (v *taskViews) drop(t *task) {
	i, last := t.slot, len(v.tasks)-1
	moved := v.tasks[last]
	v.tasks[i], moved.slot = moved, i
	v.set(i, v.chunks[last/viewChunkSize].entries[last%viewChunkSize])
	v.set(last, viewEntry{})
	v.tasks[last] = nil
	v.tasks = v.tasks[:last]
	if len(v.chunks) > (last+viewChunkSize-1)/viewChunkSize {
		v.chunks[len(v.chunks)-1] = nil
		v.chunks = v.chunks[:len(v.chunks)-1]
	}
	v.count(t.state(), -1)
	t.views = nil
}

func (v *taskViews) count(s mesospb.TaskState, n int) {
	if v.states == nil {
		v.states = map[mesospb.TaskState]int{}
	}
	v.states[s] += n
}

func (v *taskViews) markDirty(t *task) {
	if !t.dirty {
		t.dirty = true
		v.dirty = append(v.dirty, t)
	}
}

// set writes slot i, copying its chunk first when a snapshot shares it.
func (v *taskViews) set(i int, e viewEntry) {
	ch := v.chunks[i/viewChunkSize]
	if ch.gen != v.gen {
		cp := *ch
		cp.gen = v.gen
		ch = &cp
		v.chunks[i/viewChunkSize] = ch
	}
	ch.entries[i%viewChunkSize] = e
}

// flush gives the dirty tasks still in the table their current views.
func (v *taskViews) flush() {
	for _, t := range v.dirty {
		t.dirty = false
		if t.views != v {
			continue // dropped since
		}
		v.set(t.slot, viewEntry{
			view:    taskProto(t),
			unreach: t.held != nil && t.state() == mesospb.TaskState_TASK_UNREACHABLE,
		})
	}
	clear(v.dirty)
	v.dirty = v.dirty[:0]
}

// snapshot is the table as of now, which the core will not modify: it may
// be read on any goroutine.
func (v *taskViews) snapshot() viewSnap {
	v.flush()
	s := viewSnap{chunks: slices.Clone(v.chunks), n: len(v.tasks)}
	v.gen++
	return s
}

// viewSnap is a snapshot of a taskViews.
type viewSnap struct {
	chunks []*viewChunk
	n      int
}

// split appends the snapshot's views to the live and unreachable lists.
func (s viewSnap) split(live, unreach []*mesospb.Task) ([]*mesospb.Task, []*mesospb.Task) {
	for i := range s.n {
		e := s.chunks[i/viewChunkSize].entries[i%viewChunkSize]
		if e.unreach {
			unreach = append(unreach, e.view)
		} else {
			live = append(live, e.view)
		}
	}
	return live, unreach
}
