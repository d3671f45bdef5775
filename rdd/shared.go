package rdd

import (
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
)

var sharedSeq atomic.Int64

// Accumulator sums values added by tasks. Updates from a task count once,
// when the task succeeds: a failed or retried attempt's updates are dropped.
// Pass it to a Func as an argument; inside tasks call Add with the task's
// context (see MapPartitionsWithContext and ForeachPartition).
type Accumulator[T any] struct {
	ID    int64
	Name  string
	merge func(a, b T) T
	mu    sync.Mutex
	value T // guarded by mu
}

type accumulable interface {
	mergeAny(v any) error
}

// sharedVar is an accumulator or a broadcast variable passed to a Func: its
// id travels in task descriptors (task.Pipeline).
type sharedVar interface {
	sharedID() (id int64, accumulator bool)
}

func (a *Accumulator[T]) sharedID() (int64, bool) { return a.ID, true }
func (b *Broadcast[T]) sharedID() (int64, bool)   { return b.ID, false }

// NewAccumulator makes an accumulator of a session, starting at zero and
// merging updates with merge (associative and commutative).
func NewAccumulator[T any](s *Session, name string, zero T, merge func(a, b T) T) *Accumulator[T] {
	a := &Accumulator[T]{ID: sharedSeq.Add(1), Name: name, merge: merge, value: zero}
	s.mu.Lock()
	s.accums[a.ID] = a
	s.mu.Unlock()
	return a
}

// addInt64 is Counter's merge, registered so that executors have it.
var addInt64 = func() func(a, b int64) int64 {
	f := func(a, b int64) int64 { return a + b }
	register(reflect.ValueOf(f), "rdd.Counter", true)
	return f
}()

// Counter is an int64 accumulator that adds.
func Counter(s *Session, name string) *Accumulator[int64] {
	return NewAccumulator(s, name, 0, addInt64)
}

// Add adds v to the task's pending update.
func (a *Accumulator[T]) Add(tc *TaskContext, v T) {
	if tc.accums == nil {
		tc.accums = map[int64]any{}
	}
	if cur, ok := tc.accums[a.ID]; ok {
		tc.accums[a.ID] = a.merge(cur.(T), v)
	} else {
		tc.accums[a.ID] = v
	}
}

// Value returns the sum of the updates of the tasks that succeeded so far.
func (a *Accumulator[T]) Value() T {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.value
}

func (a *Accumulator[T]) mergeAny(v any) (err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	defer func() {
		if x := recover(); x != nil {
			err = fmt.Errorf("%w: merging an update of %v on the driver: user function panicked: %v", ErrJobFailed, a, x)
		}
	}()
	if b, ok := v.(gobValue); ok { // an update from a remote executor
		u, err := gobDecode[T](b)
		if err != nil {
			return fmt.Errorf("%w: decoding an update of %v: %v", ErrJobFailed, a, err)
		}
		v = u
	}
	a.value = a.merge(a.value, v.(T))
	return nil
}

func (a *Accumulator[T]) String() string { return fmt.Sprintf("accumulator %d (%s)", a.ID, a.Name) }

// applyAccums merges a successful task's accumulator updates; a merge
// function that panics fails the job (it runs on the driver).
func (s *Session) applyAccums(updates map[int64]any) error {
	for id, v := range updates {
		s.mu.Lock()
		a, ok := s.accums[id]
		s.mu.Unlock()
		if ok {
			if err := a.mergeAny(v); err != nil {
				return err
			}
		}
	}
	return nil
}

// An accumulator among a Func's arguments travels as its id, name and the
// registry index of its merge function (accumulatorWire), so that several
// Adds in one task merge on the executor. A merge function that is not
// registered (Register) cannot travel.
type accumulatorArg interface {
	wire() ([]byte, error)
	restore(b []byte) error
}

func (a *Accumulator[T]) wire() ([]byte, error) {
	v, err := registered(a.merge, "merging "+a.String(), "NewAccumulator")
	if err != nil {
		return nil, err
	}
	return gobEncode(accumulatorWire{ID: a.ID, Name: a.Name, Merge: v.index})
}

// restore makes a an executor's copy of the accumulator: it collects the
// task's updates, which the driver merges into the value.
func (a *Accumulator[T]) restore(b []byte) error {
	w, err := gobDecode[accumulatorWire](b)
	if err != nil {
		return err
	}
	merge, err := registeredAs[func(a, b T) T](w.Merge)
	if err != nil {
		return fmt.Errorf("accumulator %d (%s): %w", w.ID, w.Name, err)
	}
	a.ID, a.Name, a.merge = w.ID, w.Name, merge
	return nil
}

type accumulatorWire struct {
	ID    int64
	Name  string
	Merge int
}

// Broadcast is a read-only value shared by all tasks. Make it on the driver
// and pass it to a Func as an argument; tasks read it with Value. In local
// mode tasks read the driver's copy; a cluster executor fetches the value
// from the driver once (gob-encoded, so T must be gob-encodable) and keeps
// it for all its tasks.
type Broadcast[T any] struct {
	ID    int64
	value T
}

// NewBroadcast makes a broadcast variable of a session.
func NewBroadcast[T any](s *Session, v T) *Broadcast[T] {
	b := &Broadcast[T]{ID: sharedSeq.Add(1), value: v}
	s.mu.Lock()
	s.broadcasts[b.ID] = sync.OnceValues(func() ([]byte, error) { return gobEncode(v) })
	s.mu.Unlock()
	return b
}

// broadcastValue is how an executor fills in a decoded broadcast variable
// (which carries only its id) from the driver's encoded value.
type broadcastValue interface {
	sharedVar
	setEncoded(b []byte) error
}

func (b *Broadcast[T]) setEncoded(p []byte) error {
	v, err := gobDecode[T](p)
	if err != nil {
		return fmt.Errorf("rdd: decoding broadcast %d: %w", b.ID, err)
	}
	b.value = v
	return nil
}

// Value returns the broadcast value. Tasks must not modify it.
func (b *Broadcast[T]) Value() T { return b.value }
