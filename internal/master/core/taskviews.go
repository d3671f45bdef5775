package core

import (
	"slices"
	"strings"
	"sync"

	"github.com/mesoproject/meso/api/mesospb"
)

// Task records and what state queries share of them.
//
// A task's record (task.proto) is also its view: what the operator API
// shows (its resources carry their allocation role). State queries and
// operator events hand records out as they are, to be read on other
// goroutines, so a record is immutable once shared: the core changes a
// task's record only through Core.editTask, which gives a shared record's
// task a fresh copy first (versioned records; Core.recGen says which are
// shared). Sub-messages are shared between a record and its copies and
// are never modified in place either: the core replaces them
// (TestRecordsNotEditedInPlace).
//
// Each framework's live tasks sit in a copy-on-write table of their
// current records (taskViews), written as each task changes (publish), so
// that the loop's share of a query is a copy of the table's index (one
// pointer per viewChunkSize tasks), not one operation per task, however
// many tasks changed since the previous query.

// taskViews is a framework's live tasks as state queries show them, kept
// up to date as the core changes them.
//
// Each task has a slot holding its current record. The slots live in
// fixed-size chunks; a query (snapshot) shares the chunks it took, and the
// first write to a shared chunk copies it (a chunk made or copied since
// the last snapshot carries the current gen and is written in place).
//
// It also counts the tasks by state (setState keeps the counts) for the
// master/tasks_* gauges.
type taskViews struct {
	chunks []*viewChunk
	tasks  []*task // by slot
	gen    uint64  // chunks with an older gen are shared with a snapshot
	states map[mesospb.TaskState]int
	// order is the table's tasks by id as the last finished query sorted
	// them, for the next (viewSnap.sorted).
	order *viewOrder
}

const viewChunkSize = 128

type viewChunk struct {
	gen     uint64
	entries [viewChunkSize]viewEntry
}

// viewEntry is one slot: the task's record and whether it is listed among
// the unreachable tasks rather than the live ones.
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
	v.publish(t)
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

// publish writes the task's current record into its slot.
func (v *taskViews) publish(t *task) {
	v.set(t.slot, viewEntry{
		view:    t.proto,
		unreach: t.held != nil && t.state() == mesospb.TaskState_TASK_UNREACHABLE,
	})
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

// snapshot is the table as of now, which the core will not modify: it may
// be read on any goroutine. The records it holds are shared from now on:
// the caller advances Core.recGen (taskLists).
func (v *taskViews) snapshot() viewSnap {
	if v.order == nil {
		v.order = &viewOrder{}
	}
	s := viewSnap{chunks: slices.Clone(v.chunks), n: len(v.tasks), order: v.order}
	v.gen++
	return s
}

// viewSnap is a snapshot of a taskViews.
type viewSnap struct {
	chunks []*viewChunk
	n      int
	order  *viewOrder // the table's, shared by its snapshots
}

// viewOrder is a table's tasks sorted by id as of one snapshot (chunks,
// n), kept between queries: a chunk that is the same in the next snapshot
// (shared chunks are never written: the same pointer, the same entries)
// keeps its tasks' places, so a query sorts only the tasks of the chunks
// written since and merges them in. Queries finish on any goroutine,
// perhaps two at once: mu guards it.
type viewOrder struct {
	mu     sync.Mutex
	chunks []*viewChunk
	n      int
	list   []orderEntry // by id
	spare  []orderEntry // the list before, written over by the next
}

// orderEntry is a slot's task in a viewOrder.
type orderEntry struct {
	keyedTask
	slot    int
	unreach bool
}

// used is how many slots of chunk i a table of n tasks uses.
func used(n, i int) int { return min(max(n-i*viewChunkSize, 0), viewChunkSize) }

// sorted appends the snapshot's views to the live and unreachable lists,
// each sorted by task id: the order kept from the previous query for the
// chunks that did not change, the others' tasks sorted and merged in.
func (s viewSnap) sorted(live, unreach []*mesospb.Task) ([]*mesospb.Task, []*mesospb.Task) {
	o := s.order
	o.mu.Lock()
	defer o.mu.Unlock()
	same := func(i int) bool {
		return i < len(o.chunks) && i < len(s.chunks) && o.chunks[i] == s.chunks[i] && used(o.n, i) == used(s.n, i)
	}
	kept := o.list[:0]
	for _, e := range o.list {
		if same(e.slot / viewChunkSize) {
			kept = append(kept, e)
		}
	}
	changed := 0
	for i := range s.chunks {
		if !same(i) {
			changed++
		}
	}
	added := make([]orderEntry, 0, changed*viewChunkSize)
	for i, ch := range s.chunks {
		if same(i) {
			continue
		}
		for j := range used(s.n, i) {
			e := ch.entries[j]
			added = append(added, orderEntry{keyedTask{id: e.view.GetTaskId().GetValue(), t: e.view}, i*viewChunkSize + j, e.unreach})
		}
	}
	sortEntries(added)
	// Merge: each added task's place found by binary search in what is
	// kept (few added, many kept, in the steady state).
	list := slices.Grow(o.spare[:0], len(kept)+len(added))
	k := 0
	for _, a := range added {
		at, _ := slices.BinarySearchFunc(kept[k:], a.id, func(e orderEntry, id string) int { return strings.Compare(e.id, id) })
		list = append(append(list, kept[k:k+at]...), a)
		k += at
	}
	list = append(list, kept[k:]...)
	// The old list is the next one's room (it holds records no longer
	// current until then).
	o.chunks, o.n, o.list, o.spare = s.chunks, s.n, list, o.list
	for _, e := range list {
		if e.unreach {
			unreach = append(unreach, e.t)
		} else {
			live = append(live, e.t)
		}
	}
	return live, unreach
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

// editTask returns the task's record for the caller to modify in place:
// the record itself while nothing shares it, else (a state query or an
// operator event took it) a copy that replaces it. The copy is shallow:
// it shares the record's sub-messages, which nobody modifies, but not its
// status list (recordStatus appends to and trims it in place). The caller
// publishes the change (task.changed) once done.
func (c *Core) editTask(t *task) *mesospb.Task {
	if t.recGen != c.recGen {
		t.proto, t.recGen = copyRecord(t.proto), c.recGen
	}
	return t.proto
}

// shareRecord returns the task's record to hand out (an operator event):
// from now on it is immutable (editTask copies it).
func shareRecord(t *task) *mesospb.Task {
	t.recGen = 0
	return t.proto
}

// copyRecord is a shallow copy of a task record, its status list copied.
func copyRecord(r *mesospb.Task) *mesospb.Task {
	p := &mesospb.Task{ // every field (TestCopyRecordFields)
		Name: r.Name, TaskId: r.TaskId, FrameworkId: r.FrameworkId, ExecutorId: r.ExecutorId,
		AgentId: r.AgentId, State: r.State, Resources: r.Resources,
		Statuses:          slices.Clone(r.Statuses),
		StatusUpdateState: r.StatusUpdateState, StatusUpdateUuid: r.StatusUpdateUuid,
		Labels: r.Labels, Discovery: r.Discovery, Container: r.Container, HealthCheck: r.HealthCheck,
		KillPolicy: r.KillPolicy, User: r.User, Limits: r.Limits,
	}
	if u := r.ProtoReflect().GetUnknown(); u != nil {
		p.ProtoReflect().SetUnknown(u)
	}
	return p
}

// doneTask is a completed task and its record as of its removal.
type doneTask struct {
	t    *task
	view *mesospb.Task
}

// completedTasks is a framework's completed tasks, oldest first, capped.
// State queries share the list as it is (taskLists), so the core never
// writes an element a query may read: it appends, trims the front by
// reslicing, and builds a new list to take a task out of the middle.
type completedTasks []doneTask

// add appends a removed task (its record shared from now on), keeping at
// most max.
func (l *completedTasks) add(t *task, max int) {
	*l = append(*l, doneTask{t, shareRecord(t)})
	if n := len(*l) - max; n > 0 {
		*l = (*l)[n:] // not cleared: a query may hold them; the next growth drops them
	}
}

// remove takes out the tasks drop says to, into a new list.
func (l *completedTasks) remove(drop func(*task) bool) {
	if !slices.ContainsFunc(*l, func(d doneTask) bool { return drop(d.t) }) {
		return
	}
	*l = slices.DeleteFunc(slices.Clone(*l), func(d doneTask) bool { return drop(d.t) })
}
