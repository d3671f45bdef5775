package statusupdate

import (
	"bytes"
	"cmp"
	"container/heap"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
)

// Errors callers branch on.
var (
	// ErrDuplicate: an update with this uuid was received before; it is
	// ignored, which is not a failure.
	ErrDuplicate = errors.New("statusupdate: duplicate update")
	// ErrInvalidUpdate: the update lacks a task id or a uuid.
	ErrInvalidUpdate = errors.New("statusupdate: invalid update")
	// ErrStreamTerminated: the task already had a terminal update.
	ErrStreamTerminated = errors.New("statusupdate: stream terminated")
	// ErrUnknownStream: an acknowledgement for a task with no pending update.
	ErrUnknownStream = errors.New("statusupdate: unknown stream")
	// ErrUnexpectedAck: an acknowledgement whose uuid is not the head's.
	ErrUnexpectedAck = errors.New("statusupdate: unexpected acknowledgement")
)

// Default retry intervals, as in Mesos.
const (
	DefaultRetryMin = 10 * time.Second
	DefaultRetryMax = 10 * time.Minute
)

// Forward is an update to send to the master now.
type Forward struct {
	FrameworkID string
	Status      *mesospb.TaskStatus
	// LatestState is the state of the newest update received for the task,
	// which may be ahead of Status.State while older updates wait.
	LatestState mesospb.TaskState
}

// Key names a stream.
type Key struct {
	FrameworkID string
	TaskID      string
}

func compareKeys(a, b Key) int {
	if c := cmp.Compare(a.FrameworkID, b.FrameworkID); c != 0 {
		return c
	}
	return cmp.Compare(a.TaskID, b.TaskID)
}

type stream struct {
	pending    []*mesospb.TaskStatus // FIFO; pending[0] is in flight
	received   map[string]struct{}   // uuids ever received
	terminated bool                  // a terminal update was received
	sent       bool                  // the head was forwarded at least once
	backoff    time.Duration         // the current retry interval
	next       time.Time             // when the head is due again
	seq        uint64                // bumped whenever next is set (see due)
}

// Manager holds the streams of every task. The zero value is not usable;
// call New.
type Manager struct {
	min, max time.Duration
	paused   bool
	streams  map[Key]*stream
	// due orders the streams' retry times, so that Tick and NextDeadline
	// look at the streams whose time came, not at all of them. Entries
	// are never updated in place: setting next pushes a new one, and an
	// entry whose stream is gone, not in flight or rescheduled since
	// (another seq) is stale and dropped when it surfaces (see live).
	due dueHeap
}

// New returns a paused manager (no link to the master yet) with the given
// retry bounds; zero values mean the Mesos defaults.
func New(retryMin, retryMax time.Duration) *Manager {
	if retryMin <= 0 {
		retryMin = DefaultRetryMin
	}
	if retryMax <= 0 {
		retryMax = DefaultRetryMax
	}
	retryMax = max(retryMax, retryMin)
	return &Manager{min: retryMin, max: retryMax, paused: true, streams: make(map[Key]*stream)}
}

// Update adds st to its task's stream. It returns st as a Forward when it
// became the head of its stream and the manager is not paused. A duplicate
// (a uuid already received) is ignored and reported as ErrDuplicate.
func (m *Manager) Update(frameworkID string, st *mesospb.TaskStatus, now time.Time) ([]Forward, error) {
	if st.GetTaskId().GetValue() == "" || len(st.GetUuid()) == 0 {
		return nil, fmt.Errorf("%w: task id and uuid are required", ErrInvalidUpdate)
	}
	key := Key{frameworkID, st.GetTaskId().GetValue()}
	s := m.streams[key]
	if s == nil {
		s = &stream{received: make(map[string]struct{})}
		m.streams[key] = s
	}
	if _, dup := s.received[string(st.GetUuid())]; dup {
		return nil, fmt.Errorf("%w: uuid %x of task %s", ErrDuplicate, st.GetUuid(), key.TaskID)
	}
	if s.terminated {
		return nil, fmt.Errorf("%w: task %s of framework %s already had a terminal update",
			ErrStreamTerminated, key.TaskID, key.FrameworkID)
	}
	s.received[string(st.GetUuid())] = struct{}{}
	s.pending = append(s.pending, st)
	if mesospb.IsTerminal(st.GetState()) {
		s.terminated = true
	}
	if len(s.pending) == 1 {
		return m.sendHead(key, s, now), nil
	}
	return nil, nil
}

// Acknowledge pops the head of the task's stream when uuid matches it, and
// returns the next update to forward, if any. acked is the update that was
// acknowledged; closed reports that it was terminal and the stream is gone.
func (m *Manager) Acknowledge(frameworkID, taskID string, uuid []byte, now time.Time) (fwd []Forward, acked *mesospb.TaskStatus, closed bool, err error) {
	key := Key{frameworkID, taskID}
	s := m.streams[key]
	if s == nil || len(s.pending) == 0 {
		return nil, nil, false, fmt.Errorf("%w: task %s of framework %s", ErrUnknownStream, taskID, frameworkID)
	}
	head := s.pending[0]
	if !bytes.Equal(head.GetUuid(), uuid) {
		return nil, nil, false, fmt.Errorf("%w: task %s of framework %s: uuid %x, expecting %x",
			ErrUnexpectedAck, taskID, frameworkID, uuid, head.GetUuid())
	}
	s.pending[0] = nil
	s.pending = s.pending[1:]
	s.sent = false
	if len(s.pending) == 0 {
		if mesospb.IsTerminal(head.GetState()) {
			delete(m.streams, key)
			return nil, head, true, nil
		}
		return nil, head, false, nil
	}
	return m.sendHead(key, s, now), head, false, nil
}

// sendHead forwards the head of s now, unless paused, and schedules its
// first retry.
func (m *Manager) sendHead(key Key, s *stream, now time.Time) []Forward {
	if m.paused {
		return nil
	}
	s.sent = true
	s.backoff = m.min
	m.schedule(key, s, now.Add(s.backoff))
	return []Forward{forward(key, s)}
}

func forward(key Key, s *stream) Forward {
	return Forward{
		FrameworkID: key.FrameworkID,
		Status:      s.pending[0],
		LatestState: s.pending[len(s.pending)-1].GetState(),
	}
}

// Tick forwards again every head whose retry time has come, doubling its
// interval up to the maximum. Output is ordered by framework, then task.
func (m *Manager) Tick(now time.Time) []Forward {
	if m.paused {
		return nil
	}
	var due []Key
	for len(m.due) > 0 {
		e := m.due[0]
		if m.live(e) && now.Before(e.at) {
			break
		}
		heap.Pop(&m.due)
		if m.live(e) {
			due = append(due, e.key)
		}
	}
	slices.SortFunc(due, compareKeys)
	var out []Forward
	for _, key := range due {
		s := m.streams[key]
		s.backoff = min(2*s.backoff, m.max)
		m.schedule(key, s, now.Add(s.backoff))
		out = append(out, forward(key, s))
	}
	return out
}

// NextDeadline returns the earliest time Tick has work to do; ok is false
// when there is none (paused, or nothing in flight).
func (m *Manager) NextDeadline() (t time.Time, ok bool) {
	if m.paused {
		return time.Time{}, false
	}
	for len(m.due) > 0 {
		if e := m.due[0]; m.live(e) {
			return e.at, true
		}
		heap.Pop(&m.due)
	}
	return time.Time{}, false
}

// schedule sets the stream's next retry time.
func (m *Manager) schedule(key Key, s *stream, at time.Time) {
	s.next = at
	s.seq++
	heap.Push(&m.due, dueEntry{at: at, key: key, s: s, seq: s.seq})
	if len(m.due) > 2*len(m.streams)+64 { // mostly stale: rebuild
		m.due = m.due[:0]
		for key, s := range m.streams {
			if len(s.pending) > 0 && s.sent {
				m.due = append(m.due, dueEntry{at: s.next, key: key, s: s, seq: s.seq})
			}
		}
		heap.Init(&m.due)
	}
}

// live reports whether e is the current retry time of a stream in flight.
func (m *Manager) live(e dueEntry) bool {
	s := e.s
	return m.streams[e.key] == s && s.seq == e.seq && s.sent && len(s.pending) > 0
}

// dueEntry is one retry time in Manager.due.
type dueEntry struct {
	at  time.Time
	key Key
	s   *stream
	seq uint64
}

// dueHeap is a container/heap of dueEntry, earliest first.
type dueHeap []dueEntry

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(dueEntry)) }
func (h *dueHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = dueEntry{}
	*h = old[:len(old)-1]
	return e
}

// Pause stops forwarding (the link to the master is down).
func (m *Manager) Pause() { m.paused = true }

// Paused reports whether the manager is paused.
func (m *Manager) Paused() bool { return m.paused }

// Resume starts forwarding again and forwards every head at once, with its
// backoff restarted. It is also how to flush after the master changed.
func (m *Manager) Resume(now time.Time) []Forward {
	m.paused = false
	var out []Forward
	for _, key := range m.sortedKeys() {
		s := m.streams[key]
		if len(s.pending) == 0 {
			continue
		}
		out = append(out, m.sendHead(key, s, now)...)
	}
	return out
}

// RemoveFramework drops every stream of a framework (it was shut down and
// will acknowledge nothing more).
func (m *Manager) RemoveFramework(frameworkID string) {
	for key := range m.streams {
		if key.FrameworkID == frameworkID {
			delete(m.streams, key)
		}
	}
}

// Restore puts back the stream of a task after an agent restart: pending
// are its unacknowledged updates, head first; received are the uuids of
// updates taken before (acknowledged ones included), so that an executor
// resending one is recognised as a duplicate; terminated says a terminal
// update was taken. Nothing is forwarded until Resume. The stream must
// not exist yet.
func (m *Manager) Restore(frameworkID, taskID string, pending []*mesospb.TaskStatus, received [][]byte, terminated bool) error {
	key := Key{frameworkID, taskID}
	if taskID == "" || m.streams[key] != nil {
		return fmt.Errorf("%w: stream of task %q restored twice or without id", ErrInvalidUpdate, taskID)
	}
	s := &stream{received: make(map[string]struct{}), terminated: terminated}
	for _, u := range received {
		s.received[string(u)] = struct{}{}
	}
	for _, st := range pending {
		if st.GetTaskId().GetValue() != taskID || len(st.GetUuid()) == 0 {
			return fmt.Errorf("%w: restored update of task %q needs a uuid and task id %q", ErrInvalidUpdate, st.GetTaskId().GetValue(), taskID)
		}
		s.received[string(st.GetUuid())] = struct{}{}
		s.pending = append(s.pending, st)
		if mesospb.IsTerminal(st.GetState()) {
			s.terminated = true
		}
	}
	m.streams[key] = s
	return nil
}

// RemoveTask drops the stream of one task.
func (m *Manager) RemoveTask(frameworkID, taskID string) {
	delete(m.streams, Key{frameworkID, taskID})
}

// Pending returns the updates waiting for acknowledgement for a task, head
// first. The slice is a copy; the statuses are shared and must not be
// modified.
func (m *Manager) Pending(frameworkID, taskID string) []*mesospb.TaskStatus {
	s := m.streams[Key{frameworkID, taskID}]
	if s == nil {
		return nil
	}
	return slices.Clone(s.pending)
}

// Len returns the number of updates waiting for acknowledgement.
func (m *Manager) Len() int {
	n := 0
	for _, s := range m.streams {
		n += len(s.pending)
	}
	return n
}

func (m *Manager) sortedKeys() []Key {
	keys := make([]Key, 0, len(m.streams))
	for k := range m.streams {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareKeys)
	return keys
}
