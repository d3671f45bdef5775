package sim

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// finisher ends tasks when their time is up: one goroutine and one timer
// for every task of every simulated agent, over a heap ordered by due
// time.
type finisher struct {
	mu   sync.Mutex
	due  dueHeap // guarded by mu
	wake chan struct{}
}

type dueTask struct {
	at  time.Time
	a   *simAgent
	key taskKey
}

type dueHeap []dueTask

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(dueTask)) }
func (h *dueHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = dueTask{}
	*h = old[:len(old)-1]
	return x
}

func newFinisher() *finisher { return &finisher{wake: make(chan struct{}, 1)} }

// add schedules a.finish(key) at at.
func (f *finisher) add(at time.Time, a *simAgent, key taskKey) {
	f.mu.Lock()
	heap.Push(&f.due, dueTask{at: at, a: a, key: key})
	earliest := f.due[0].a == a && f.due[0].key == key
	f.mu.Unlock()
	if earliest {
		select {
		case f.wake <- struct{}{}:
		default:
		}
	}
}

// takeDue pops the tasks due at now and returns them with the next due
// time (zero when none is left).
func (f *finisher) takeDue(now time.Time) ([]dueTask, time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []dueTask
	for len(f.due) > 0 && !f.due[0].at.After(now) {
		out = append(out, heap.Pop(&f.due).(dueTask))
	}
	if len(f.due) == 0 {
		return out, time.Time{}
	}
	return out, f.due[0].at
}

func (f *finisher) run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		due, next := f.takeDue(time.Now())
		for _, d := range due {
			d.a.finish(d.key)
		}
		if next.IsZero() {
			timer.Reset(time.Hour)
		} else {
			timer.Reset(time.Until(next))
		}
		select {
		case <-ctx.Done():
			return
		case <-f.wake:
		case <-timer.C:
		}
	}
}
