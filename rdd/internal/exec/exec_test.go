package exec

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mesoproject/meso/rdd/internal/job"
	"github.com/mesoproject/meso/rdd/internal/plan"
	"github.com/mesoproject/meso/rdd/internal/task"
)

// runnerFunc adapts a function to Runner.
type runnerFunc func(ctx context.Context, d *task.Desc) task.Result

func (f runnerFunc) Run(ctx context.Context, d *task.Desc) task.Result { return f(ctx, d) }

type noCache struct{}

func (noCache) Cached(plan.NodeID, int) bool { return false }

// map(0, 3 parts) =shuffle 1=> result(1, 2 parts)
func newJob(books *job.Books) *job.Job {
	g := plan.Graph{0: {Partitions: 3}, 1: {Partitions: 2, Deps: []plan.Dep{{Parent: 0, Shuffle: 1}}}}
	return job.New(job.Config{
		ID: 7, Graph: g, Target: 1, Partitions: []int{0, 1},
		Pipelines:       map[int]*task.Pipeline{-1: {Name: "result", Shuffle: -1}, 1: {Name: "map", Shuffle: 1}},
		MaxTaskFailures: 2, MaxStageAttempts: 2,
	}, books, noCache{}, time.Now())
}

func hooks(j *job.Job, results map[int]any, mu *sync.Mutex) Job {
	return Job{
		Core: j, Mu: mu,
		OnLaunch:  func(*task.Desc) {},
		OnTaskEnd: func(*task.Result) error { return nil },
		OnResult:  func(p int, v any) error { results[p] = v; return nil },
		OnEvents:  func([]job.Event) {},
	}
}

// A job runs on the local executor, never more tasks at once than its
// slots, and each partition's result reaches OnResult once.
func TestRunLocal(t *testing.T) {
	var running, peak atomic.Int32
	run := runnerFunc(func(ctx context.Context, d *task.Desc) task.Result {
		n := running.Add(1)
		defer running.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		if d.Shuffle >= 0 {
			return task.Result{ID: d.ID, Executor: d.Executor, Value: []int64{1, 1}}
		}
		return task.Result{ID: d.ID, Executor: d.Executor, Value: d.Partition * 10}
	})
	var mu sync.Mutex
	results := map[int]any{}
	j := hooks(newJob(job.NewBooks()), results, &mu)
	j.Executors = []Executor{NewLocal("local", 2, run)}
	if err := Run(t.Context(), j); err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 || results[0] != 0 || results[1] != 10 {
		t.Fatalf("results %v", results)
	}
	if p := peak.Load(); p > 2 || p < 1 {
		t.Fatalf("%d tasks ran at once on 2 slots", p)
	}
}

// Cancelling the job's context ends Run with the context's error, and only
// after every started task returned.
func TestRunCancelled(t *testing.T) {
	var started, returned atomic.Int32
	run := runnerFunc(func(ctx context.Context, d *task.Desc) task.Result {
		started.Add(1)
		defer returned.Add(1)
		<-ctx.Done()
		return task.Result{ID: d.ID, Executor: d.Executor, Err: ctx.Err()}
	})
	var mu sync.Mutex
	j := hooks(newJob(job.NewBooks()), map[int]any{}, &mu)
	j.Executors = []Executor{NewLocal("local", 2, run)}
	ctx, cancel := context.WithCancel(t.Context())
	j.OnLaunch = func(*task.Desc) { cancel() }
	if err := Run(ctx, j); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	if started.Load() != returned.Load() {
		t.Fatalf("%d tasks started, %d returned", started.Load(), returned.Load())
	}
}

// A failing driver-side merge fails the job with its error.
func TestRunResultError(t *testing.T) {
	run := runnerFunc(func(ctx context.Context, d *task.Desc) task.Result {
		return task.Result{ID: d.ID, Executor: d.Executor, Value: []int64{1, 1}}
	})
	var mu sync.Mutex
	j := hooks(newJob(job.NewBooks()), nil, &mu)
	j.Executors = []Executor{NewLocal("local", 1, run)}
	bad := errors.New("merge failed")
	j.OnResult = func(int, any) error { return bad }
	if err := Run(t.Context(), j); !errors.Is(err, bad) {
		t.Fatalf("Run: %v", err)
	}
}

// A job on a Pool starts with no executor and finishes once executors
// join; an executor lost mid-job has its task requeued, not counted as a
// failure (the job allows one failure per task and the lost attempt
// reports an error).
func TestPoolExecutorsJoinAndLeave(t *testing.T) {
	pool := NewPool()
	lost := make(chan struct{})
	var once sync.Once
	flaky := runnerFunc(func(ctx context.Context, d *task.Desc) task.Result {
		once.Do(func() { pool.Remove("a"); close(lost) })
		return task.Result{ID: d.ID, Executor: d.Executor, Err: errors.New("executor lost")}
	})
	good := runnerFunc(func(ctx context.Context, d *task.Desc) task.Result {
		<-lost
		if d.Shuffle >= 0 {
			return task.Result{ID: d.ID, Executor: d.Executor, Value: []int64{1, 1}}
		}
		return task.Result{ID: d.ID, Executor: d.Executor, Value: d.Partition}
	})
	var mu sync.Mutex
	results := map[int]any{}
	j := hooks(newJob(job.NewBooks()), results, &mu)
	j.Pool = pool
	errc := make(chan error, 1)
	go func() { errc <- Run(t.Context(), j) }()
	pool.Add(NewLocal("a", 1, flaky))
	pool.Add(NewLocal("b", 2, good))
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 || pool.Len() != 1 {
		t.Fatalf("results %v, %d executors", results, pool.Len())
	}
}

// A result's Handled is called once per result, after the tasks started in
// answer were launched and before the action merges the result: with one
// slot, the second result task is launched before Handled of the first
// result task's result, and its merge comes after.
func TestRunHandledBeforeMerge(t *testing.T) {
	var mu sync.Mutex
	var order []string
	note := func(s string) { mu.Lock(); order = append(order, s); mu.Unlock() }
	var calls atomic.Int32
	run := runnerFunc(func(ctx context.Context, d *task.Desc) task.Result {
		r := task.Result{ID: d.ID, Executor: d.Executor, Value: []int64{1, 1}}
		if d.Shuffle < 0 {
			r.Value = d.Partition
			p := d.Partition
			r.Handled = func() { calls.Add(1); note(fmt.Sprint("handled ", p)) }
		}
		return r
	})
	var jmu sync.Mutex
	results := map[int]any{}
	j := hooks(newJob(job.NewBooks()), results, &jmu)
	j.OnLaunch = func(d *task.Desc) {
		if d.Shuffle < 0 {
			note(fmt.Sprint("launch ", d.Partition))
		}
	}
	j.OnResult = func(p int, v any) error { note(fmt.Sprint("merge ", p)); results[p] = v; return nil }
	j.Executors = []Executor{NewLocal("local", 1, run)}
	if err := Run(t.Context(), j); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 2 {
		t.Fatalf("Handled called %d times, want 2", calls.Load())
	}
	// Partition order depends on the core; find the first result's steps.
	pos := map[string]int{}
	for i, s := range order {
		pos[s] = i
	}
	first, second := order[0][len(order[0])-1:], ""
	for _, s := range order {
		if p := s[len(s)-1:]; p != first {
			second = p
			break
		}
	}
	if !(pos["launch "+second] < pos["handled "+first] && pos["handled "+first] < pos["merge "+first]) {
		t.Fatalf("order %v: want the next task launched, then Handled, then the merge", order)
	}
}
