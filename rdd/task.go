package rdd

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/mesoproject/meso/rdd/internal/shuffle"
)

// TaskContext is handed to user functions that ask for it
// (MapPartitionsWithContext, ForeachPartition). It identifies the running
// task and carries its accumulator updates.
type TaskContext struct {
	ctx       context.Context
	sess      *Session
	job       int
	stage     int
	partition int
	attempt   int
	err       error
	metrics   TaskMetrics
	accums    map[int64]any // accumulator id -> pending update
	checks    int
}

// Context returns the task's context, cancelled when the job is.
func (tc *TaskContext) Context() context.Context { return tc.ctx }

// Stage returns the id of the running stage.
func (tc *TaskContext) Stage() int { return tc.stage }

// Partition returns the partition the task computes.
func (tc *TaskContext) Partition() int { return tc.partition }

// Attempt returns the task's attempt number, from 0.
func (tc *TaskContext) Attempt() int { return tc.attempt }

// prepared returns the result of node n's prepare step in this session.
// It is the only way driver-computed values (zipWithIndex offsets, sort
// bounds) reach tasks: a cluster executor must receive them with each task
// and install them in its own session before running it (docs/rdd.md,
// "Cluster mode: what runs where").
func (tc *TaskContext) prepared(n *node) any {
	tc.sess.mu.Lock()
	defer tc.sess.mu.Unlock()
	return tc.sess.prepared[n.id]
}

// fail records the task's first error; iterators stop when it is set.
func (tc *TaskContext) fail(err error) {
	if tc.err == nil {
		tc.err = err
	}
}

// alive is called every record by sources; every 1024 calls it checks for
// cancellation. It returns false once the task has failed.
func (tc *TaskContext) alive() bool {
	if tc.err != nil {
		return false
	}
	tc.checks++
	if tc.checks&1023 == 0 {
		if err := tc.ctx.Err(); err != nil {
			tc.fail(err)
			return false
		}
	}
	return true
}

// TaskMetrics are what one task attempt did.
type TaskMetrics struct {
	Duration            time.Duration `json:"duration_ns"`
	ShuffleBytesWritten int64         `json:"shuffle_bytes_written"`
	ShuffleRecords      int64         `json:"shuffle_records_written"`
	ShuffleBytesRead    int64         `json:"shuffle_bytes_read"`
	SpillBytes          int64         `json:"spill_bytes"`
	CacheHits           int           `json:"cache_hits"`
	CacheMisses         int           `json:"cache_misses"`
}

// TaskError reports a failed task: which job, stage and partition, which
// attempt, and why (the user function's panic, with its stack, or an error).
type TaskError struct {
	Job       int
	Stage     int
	StageName string // operation and call site of the stage's last dataset
	Partition int
	Attempt   int
	Panic     any    // the recovered value, when a user function panicked
	Stack     string // the panic's stack
	Err       error
}

func (e *TaskError) Error() string {
	what := fmt.Sprint(e.Err)
	if e.Panic != nil {
		what = fmt.Sprintf("user function panicked: %v", e.Panic)
	}
	return fmt.Sprintf("rdd: job %d stage %d (%s) partition %d attempt %d: %s",
		e.Job, e.Stage, e.StageName, e.Partition, e.Attempt, what)
}

func (e *TaskError) Unwrap() error { return e.Err }

// errPanic is the Err of a TaskError for a panic.
var errPanic = errors.New("panic")

// task is one attempt to compute one partition of one stage.
type task struct {
	ctx          context.Context
	job          int
	stage        int
	stageAttempt int
	stageName    string
	shuffle      int // -1 for result tasks
	partition    int
	attempt      int
	body         func(tc *TaskContext) (any, error)
}

type taskResult struct {
	t       *task
	value   any
	err     error
	metrics TaskMetrics
	accums  map[int64]any
	fetch   *shuffle.FetchError // set when the task failed fetching map output
}

// executor decides where a task runs. The local executor runs it on a
// goroutine of this process; a cluster executor will ship the task's
// descriptor (Func invocation, stage, partition) to a remote process.
type executor interface {
	run(s *Session, t *task) taskResult
}

type localExecutor struct {
	sem chan struct{}
}

func newLocalExecutor(slots int) *localExecutor {
	return &localExecutor{sem: make(chan struct{}, slots)}
}

func (e *localExecutor) run(s *Session, t *task) taskResult {
	select {
	case e.sem <- struct{}{}:
	case <-t.ctx.Done():
		return taskResult{t: t, err: t.ctx.Err()}
	}
	defer func() { <-e.sem }()
	return runTask(s, t)
}

// runTask runs a task body in this process, turning panics into TaskErrors.
func runTask(s *Session, t *task) (res taskResult) {
	tc := &TaskContext{ctx: t.ctx, sess: s, job: t.job, stage: t.stage, partition: t.partition, attempt: t.attempt}
	start := time.Now()
	res.t = t
	defer func() {
		if v := recover(); v != nil {
			res.err = &TaskError{Job: t.job, Stage: t.stage, StageName: t.stageName, Partition: t.partition,
				Attempt: t.attempt, Panic: v, Stack: string(debug.Stack()), Err: errPanic}
		}
		tc.metrics.Duration = time.Since(start)
		res.metrics = tc.metrics
		if res.err == nil {
			res.accums = tc.accums
		}
	}()
	v, err := t.body(tc)
	if err == nil {
		err = tc.err
	}
	if err != nil {
		if errors.As(err, &res.fetch) {
			res.err = err
			return res
		}
		var te *TaskError
		if !errors.As(err, &te) {
			err = &TaskError{Job: t.job, Stage: t.stage, StageName: t.stageName, Partition: t.partition,
				Attempt: t.attempt, Err: err}
		}
		res.err = err
		return res
	}
	res.value = v
	return res
}
