package rdd

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/mesoproject/meso/rdd/internal/blocks"
	"github.com/mesoproject/meso/rdd/internal/shuffle"
	"github.com/mesoproject/meso/rdd/internal/task"
)

// TaskContext is handed to user functions that ask for it
// (MapPartitionsWithContext, ForeachPartition). It identifies the running
// task and carries its accumulator updates.
type TaskContext struct {
	ctx       context.Context
	sess      *Session
	pipe      *pipelineIndex // the descriptor's resolution of the stage
	job       int
	stage     int
	partition int
	attempt   int
	err       error
	metrics   TaskMetrics
	accums    map[int64]any // accumulator id -> pending update
	checks    int
	// fetch serves the shuffle blocks the task reads (a cluster executor's
	// network fetcher); nil: the session's store.
	fetch shuffle.Service
	// fed holds the records of partition partition of dataset fedNode as
	// a remote executor computed them (encoded non-nil, possibly empty):
	// the action's function runs over them on the driver.
	fed     []byte
	fedNode int
	// remoteBlock reads a cached partition from another executor (cluster
	// executors; nil in local mode).
	remoteBlock func(k blocks.Key) ([]byte, bool)
	// cached lists the partitions the task stored in the cache.
	cached []task.CachedBlock
	// resultBuf is room a cluster executor's slot kept from its last
	// result (already sent): a result of records is encoded into it.
	resultBuf []byte
}

// fetcher returns the service the task fetches shuffle blocks from.
func (tc *TaskContext) fetcher() shuffle.Service {
	if tc.fetch != nil {
		return tc.fetch
	}
	return tc.sess.fetch
}

// Context returns the task's context, cancelled when the job is.
func (tc *TaskContext) Context() context.Context { return tc.ctx }

// Stage returns the id of the running stage.
func (tc *TaskContext) Stage() int { return tc.stage }

// Partition returns the partition the task computes.
func (tc *TaskContext) Partition() int { return tc.partition }

// Attempt returns the task's attempt number, from 0.
func (tc *TaskContext) Attempt() int { return tc.attempt }

// pipelineIndex finds the entries of a task.Pipeline by node and shuffle
// id. It is built once per stage of a job, when the job starts.
type pipelineIndex struct {
	p        *task.Pipeline
	nodes    map[int]*task.Node
	shuffles map[int]*task.Shuffle
}

func newPipelineIndex(p *task.Pipeline) *pipelineIndex {
	ix := &pipelineIndex{p: p, nodes: map[int]*task.Node{}, shuffles: map[int]*task.Shuffle{}}
	for i := range p.Nodes {
		ix.nodes[p.Nodes[i].ID] = &p.Nodes[i]
	}
	for i := range p.Shuffles {
		ix.shuffles[p.Shuffles[i].ID] = &p.Shuffles[i]
	}
	return ix
}

// node returns the descriptor's entry for n. Every dataset a task computes
// is in its pipeline: a missing one is a bug of the engine.
func (tc *TaskContext) node(n *node) *task.Node {
	e := tc.pipe.nodes[n.id]
	if e == nil {
		panic(fmt.Sprintf("rdd: internal error: %s is not in the pipeline of stage %q", n, tc.pipe.p.Name))
	}
	return e
}

// parts returns the partition count of n as the driver resolved it.
func (tc *TaskContext) parts(n *node) int { return tc.node(n).Partitions }

// splits returns the input splits of a TextFile as the driver listed them.
func (tc *TaskContext) splits(n *node) []task.Split { return tc.node(n).Splits }

// prepared returns the result of node n's prepare step, computed on the
// driver and sent with the task (zipWithIndex offsets, sort bounds).
func (tc *TaskContext) prepared(n *node) any { return tc.node(n).Prepared }

// shuffle returns the descriptor's entry for shuffle d: its driver id and
// its resolved map and reduce partition counts.
func (tc *TaskContext) shuffle(d *shuffleDep) *task.Shuffle {
	e := tc.pipe.shuffles[d.id]
	if e == nil {
		panic(fmt.Sprintf("rdd: internal error: shuffle %d is not in the pipeline of stage %q", d.id, tc.pipe.p.Name))
	}
	return e
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
	// Shuffle blocks a reduce task's batched fetch read (cluster mode):
	// from its executor's own store, from the directory of another
	// executor on the same host (spark.shuffle.readHostLocalDisk), and
	// over HTTP.
	ShuffleLocalBlocks     int64 `json:"shuffle_local_blocks,omitempty"`
	ShuffleHostLocalBlocks int64 `json:"shuffle_host_local_blocks,omitempty"`
	ShuffleRemoteBlocks    int64 `json:"shuffle_remote_blocks,omitempty"`
	// ShuffleFetchWait is the time a reduce task's batched fetch spent
	// outside the task's own decoding: waiting for blocks (HTTP) or
	// reading them (disk); Spark's fetch wait time.
	ShuffleFetchWait time.Duration `json:"shuffle_fetch_wait_ns,omitempty"`
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

// jobTasks is what the local runner needs to turn a job's descriptors into
// calls: the job's datasets and shuffles by id, the action's partition
// function, and each stage's pipeline index.
type jobTasks struct {
	nodes    map[int]*node
	shuffles map[int]*shuffleDep
	result   func(tc *TaskContext, p int) (any, error)
	// decode turns a remote executor's partial result into what result
	// returns (nil for Collect-like and counting jobs).
	decode func(b []byte) (any, error)
	index  map[*task.Pipeline]*pipelineIndex
}

// localRunner computes descriptors in this process (exec.Runner): it finds
// the descriptor's datasets among the running job's by id, where a remote
// executor would rebuild them from the invocation and find them by local
// index.
type localRunner struct{ s *Session }

func (lr localRunner) Run(ctx context.Context, d *task.Desc) task.Result {
	s := lr.s
	s.mu.Lock()
	jt := s.jobTasks[d.Job]
	s.mu.Unlock()
	if jt == nil {
		return task.Result{ID: d.ID, Executor: d.Executor, Err: fmt.Errorf("rdd: internal error: task of unknown job %d", d.Job)}
	}
	var body func(tc *TaskContext) (any, error)
	if d.Shuffle >= 0 {
		dep := jt.shuffles[d.Shuffle]
		body = func(tc *TaskContext) (any, error) { return dep.writeMap(tc, d.Partition) }
	} else {
		body = func(tc *TaskContext) (any, error) { return jt.result(tc, d.Partition) }
	}
	tc := &TaskContext{ctx: ctx, sess: s, pipe: jt.index[d.Pipeline], job: d.Job, stage: d.Stage,
		partition: d.Partition, attempt: d.Attempt}
	return runTask(tc, d, body)
}

// runTask runs a task body in this process, turning panics into TaskErrors.
func runTask(tc *TaskContext, d *task.Desc, body func(tc *TaskContext) (any, error)) (res task.Result) {
	start := time.Now()
	res.ID, res.Executor = d.ID, d.Executor
	name := d.Pipeline.Name
	defer func() {
		if v := recover(); v != nil {
			res.Err = &TaskError{Job: d.Job, Stage: d.Stage, StageName: name, Partition: d.Partition,
				Attempt: d.Attempt, Panic: v, Stack: string(debug.Stack()), Err: errPanic}
			res.Fetch, res.Value = nil, nil
		}
		tc.metrics.Duration = time.Since(start)
		res.Metrics = task.Metrics(tc.metrics)
		if res.Err == nil {
			res.Accums, res.Cached = tc.accums, tc.cached
		}
	}()
	v, err := body(tc)
	if err == nil {
		err = tc.err
	}
	if err != nil {
		var fe *shuffle.FetchError
		if errors.As(err, &fe) {
			res.Err = err
			res.Fetch = &task.FetchFailure{Shuffle: fe.Block.Shuffle, Maps: []int{fe.Block.Map}}
			var lost *lostOutputs
			if errors.As(err, &lost) {
				res.Fetch.Maps = lost.maps
			}
			return res
		}
		var te *TaskError
		if !errors.As(err, &te) {
			err = &TaskError{Job: d.Job, Stage: d.Stage, StageName: name, Partition: d.Partition,
				Attempt: d.Attempt, Err: err}
		}
		res.Err = err
		return res
	}
	res.Value = v
	return res
}
