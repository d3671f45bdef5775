package rdd

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mesoproject/meso/rdd/internal/plan"
)

type planNodeID = plan.NodeID

// EventKind names a scheduler event.
type EventKind string

// Scheduler events, in the order a job produces them.
const (
	AppStart       EventKind = "AppStart" // once per session: App, Master, Slots
	JobStart       EventKind = "JobStart"
	StageSubmitted EventKind = "StageSubmitted"
	StageSkipped   EventKind = "StageSkipped"
	TaskStart      EventKind = "TaskStart"
	TaskEnd        EventKind = "TaskEnd"
	StageCompleted EventKind = "StageCompleted"
	JobEnd         EventKind = "JobEnd"
)

// Event is one scheduler event, as listeners and the event log see it.
type Event struct {
	Kind         EventKind    `json:"event"`
	Time         time.Time    `json:"time"`
	Job          int          `json:"job"`
	Stage        int          `json:"stage"`
	StageAttempt int          `json:"stage_attempt,omitempty"`
	Name         string       `json:"name,omitempty"`    // stage or job: operation and call site
	Shuffle      int          `json:"shuffle"`           // shuffle the stage writes, -1 for result stages
	Tasks        int          `json:"tasks,omitempty"`   // StageSubmitted: tasks in this attempt
	Partition    int          `json:"partition"`         // task events
	Attempt      int          `json:"attempt,omitempty"` // task events
	Error        string       `json:"error,omitempty"`
	Metrics      *TaskMetrics `json:"metrics,omitempty"`
	App          string       `json:"app,omitempty"`    // AppStart
	Master       string       `json:"master,omitempty"` // AppStart
	Slots        int          `json:"slots,omitempty"`  // AppStart
}

var resolveMu sync.Mutex

// resolve fixes the partition counts of n and its ancestors, and reports the
// first dataset that cannot be computed.
func (s *Session) resolve(n *node) error {
	resolveMu.Lock()
	defer resolveMu.Unlock()
	def := defaults{source: s.cfg.DefaultParallelism, shuffle: s.cfg.DefaultParallelism}
	if def.source == 0 {
		def.source = s.slots
	}
	var firstErr error
	var walk func(n *node)
	walk = func(n *node) {
		if n.resolved {
			if n.err != nil && firstErr == nil {
				firstErr = n.err
			}
			return
		}
		for _, d := range n.deps {
			walk(d.parent)
		}
		if n.resolve != nil {
			n.resolve(def)
		}
		for _, d := range n.deps {
			if d.shuffle != nil {
				d.shuffle.reducers = n.parts
			}
		}
		for _, d := range n.deps {
			if n.err == nil {
				n.err = d.parent.err // a dataset of a bad parent is bad for good
			}
		}
		n.resolved = true
		if n.err != nil && firstErr == nil {
			firstErr = n.err
		}
	}
	walk(n)
	return firstErr
}

// prepare runs the preparatory jobs (zipWithIndex counts, sort samples) of n
// and its ancestors, parents first.
func (s *Session) prepare(ctx context.Context, n *node, seen map[*node]bool) error {
	if seen[n] {
		return nil
	}
	seen[n] = true
	for _, d := range n.deps {
		if err := s.prepare(ctx, d.parent, seen); err != nil {
			return err
		}
	}
	if n.prepare == nil {
		return nil
	}
	n.prepMu.Lock()
	defer n.prepMu.Unlock()
	s.mu.Lock()
	_, done := s.prepared[n.id]
	s.mu.Unlock()
	if done {
		return nil
	}
	v, err := n.prepare(&jobEnv{ctx: ctx, s: s})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.prepared[n.id] = v
	s.mu.Unlock()
	return nil
}

// jobEnv lets a node's prepare step run jobs.
type jobEnv struct {
	ctx context.Context
	s   *Session
}

type taskKey struct{ shuffle, part int }

type stageRun struct {
	id       int
	shuffle  int
	name     string
	attempt  int
	active   bool
	total    int
	finished int
}

// jobRun is the state of one running job, owned by the goroutine running
// runJob.
type jobRun struct {
	s         *Session
	ctx       context.Context
	cancel    context.CancelFunc
	id        int
	target    *node
	graph     plan.Graph
	shuffles  map[int]*shuffleDep
	result    func(tc *TaskContext, p int) (any, error)
	onResult  func(p int, v any) error
	remaining map[int]bool
	running   map[taskKey]bool
	queued    map[taskKey]bool
	queue     []taskKey
	attempts  map[taskKey]int // launches so far
	failures  map[taskKey]int
	stages    map[int]*stageRun // by shuffle id; -1 = result stage
	skipped   map[int]bool
	results   chan taskResult
	err       error
}

// runJob computes partitions parts of target, passing each partition's
// result (from result) to onResult, in the order tasks finish.
func (s *Session) runJob(ctx context.Context, target *node, parts []int,
	result func(tc *TaskContext, p int) (any, error), onResult func(p int, v any) error) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.jobs.Add(1) // Close waits for running jobs
	s.mu.Unlock()
	defer s.jobs.Done()
	// Close cancels the session's context; the job stops with ErrClosed.
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	unlink := context.AfterFunc(s.ctx, func() { stop(ErrClosed) })
	defer unlink()
	start := time.Now()
	if err := s.resolve(target); err != nil {
		return err
	}
	if err := s.prepare(ctx, target, map[*node]bool{}); err != nil {
		return err
	}
	for _, p := range parts {
		if p < 0 || p >= target.parts {
			return fmt.Errorf("rdd: partition %d out of range: %s has %d partitions", p, target, target.parts)
		}
	}
	g, shuffles := graph(target)
	jctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.mu.Lock()
	id := s.nextJob
	s.nextJob++
	s.stats.Jobs++
	s.mu.Unlock()
	j := &jobRun{
		s: s, ctx: jctx, cancel: cancel, id: id, target: target, graph: g, shuffles: shuffles,
		result: result, onResult: onResult, remaining: map[int]bool{}, running: map[taskKey]bool{},
		queued: map[taskKey]bool{}, attempts: map[taskKey]int{}, failures: map[taskKey]int{},
		stages: map[int]*stageRun{}, skipped: map[int]bool{}, results: make(chan taskResult, s.slots),
	}
	for _, p := range parts {
		j.remaining[p] = true
	}
	s.emit(Event{Kind: JobStart, Job: id, Name: target.String(), Tasks: len(j.remaining), Shuffle: -1})
	err := j.loop()
	if cause := context.Cause(ctx); err != nil && errors.Is(cause, ErrClosed) {
		err = ErrClosed
	}
	s.mu.Lock()
	s.stats.JobTime += time.Since(start)
	s.mu.Unlock()
	ev := Event{Kind: JobEnd, Job: id, Name: target.String(), Shuffle: -1}
	if err != nil {
		ev.Error = err.Error()
	}
	s.emit(ev)
	return err
}

func (j *jobRun) loop() error {
	replan := true
	for len(j.remaining) > 0 && j.err == nil {
		if replan {
			if err := j.plan(); err != nil {
				j.err = err
				break
			}
			replan = false
		}
		for len(j.running) < j.s.slots && len(j.queue) > 0 {
			j.launch(j.queue[0])
			j.queue = j.queue[1:]
		}
		if len(j.running) == 0 {
			j.err = fmt.Errorf("rdd: job %d: internal error: nothing to run for partitions %v", j.id, j.remaining)
			break
		}
		select {
		case r := <-j.results:
			replan = j.handle(r)
		case <-j.ctx.Done():
			j.err = j.ctx.Err()
		}
	}
	if j.err != nil || len(j.running) > 0 {
		// Never leave a task of this job running after it returns.
		j.cancel()
		for len(j.running) > 0 {
			r := <-j.results
			delete(j.running, taskKey{r.t.shuffle, r.t.partition})
		}
	}
	return j.err
}

// plan asks the planner what to run and queues the ready stages' tasks.
func (j *jobRun) plan() error {
	parts := make([]int, 0, len(j.remaining))
	for p := range j.remaining {
		parts = append(parts, p)
	}
	j.s.mu.Lock()
	p, err := plan.Compute(j.graph, plan.NodeID(j.target.id), parts, schedState{j.s})
	j.s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("rdd: job %d: %w", j.id, err)
	}
	j.noteSkipped(p)
	j.queue, j.queued = j.queue[:0], map[taskKey]bool{}
	for _, st := range p.Ready() {
		sr, err := j.submit(st)
		if err != nil {
			return err
		}
		for _, part := range st.Missing {
			k := taskKey{sr.shuffle, part}
			if !j.running[k] && !j.queued[k] {
				j.queued[k] = true
				j.queue = append(j.queue, k)
			}
		}
	}
	return nil
}

// noteSkipped reports the shuffle stages whose outputs already exist.
func (j *jobRun) noteSkipped(p *plan.Plan) {
	inPlan := map[int]bool{}
	for _, st := range p.Stages {
		inPlan[st.Shuffle] = true
	}
	for _, st := range p.Stages {
		for _, sh := range st.Parents {
			if inPlan[sh] || j.skipped[sh] || j.stages[sh] != nil {
				continue
			}
			j.skipped[sh] = true
			id := j.stageID(sh)
			j.s.mu.Lock()
			j.s.stats.StagesSkipped++
			j.s.mu.Unlock()
			j.s.emit(Event{Kind: StageSkipped, Job: j.id, Stage: id, Shuffle: sh, Name: j.shuffles[sh].mapNode.String()})
		}
	}
}

// stageID returns the stage id of a shuffle's map stage (stable across jobs,
// so a reused shuffle keeps its id) or a fresh id for a result stage.
func (j *jobRun) stageID(sh int) int {
	j.s.mu.Lock()
	defer j.s.mu.Unlock()
	if sh >= 0 {
		if id, ok := j.s.stageOf[sh]; ok {
			return id
		}
	}
	id := j.s.nextStg
	j.s.nextStg++
	if sh >= 0 {
		j.s.stageOf[sh] = id
	}
	return id
}

// submit marks a stage of the plan as running, starting a new attempt when
// it is not active.
func (j *jobRun) submit(st plan.Stage) (*stageRun, error) {
	sr := j.stages[st.Shuffle]
	if sr == nil {
		name := j.target.String()
		if st.Shuffle >= 0 {
			name = j.shuffles[st.Shuffle].mapNode.String()
		}
		sr = &stageRun{id: j.stageID(st.Shuffle), shuffle: st.Shuffle, name: name, attempt: -1}
		j.stages[st.Shuffle] = sr
	}
	if sr.active {
		return sr, nil
	}
	sr.attempt++
	if sr.attempt > 0 {
		if sr.attempt >= j.s.cfg.StageMaxConsecutiveAttempts {
			return nil, fmt.Errorf("%w: job %d: stage %d (%s) resubmitted %d times after lost map outputs",
				ErrJobFailed, j.id, sr.id, sr.name, sr.attempt)
		}
		j.s.mu.Lock()
		j.s.stats.StageResubmissions++
		j.s.mu.Unlock()
	}
	sr.active, sr.total, sr.finished = true, len(st.Missing), 0
	j.s.mu.Lock()
	j.s.stats.Stages++
	j.s.mu.Unlock()
	j.s.emit(Event{Kind: StageSubmitted, Job: j.id, Stage: sr.id, StageAttempt: sr.attempt, Name: sr.name,
		Shuffle: sr.shuffle, Tasks: sr.total})
	return sr, nil
}

func (j *jobRun) launch(k taskKey) {
	delete(j.queued, k)
	sr := j.stages[k.shuffle]
	t := &task{ctx: j.ctx, job: j.id, stage: sr.id, stageAttempt: sr.attempt, stageName: sr.name, shuffle: k.shuffle,
		partition: k.part, attempt: j.attempts[k]}
	j.attempts[k]++
	if k.shuffle >= 0 {
		dep := j.shuffles[k.shuffle]
		t.body = func(tc *TaskContext) (any, error) { return dep.writeMap(tc, k.part) }
	} else {
		t.body = func(tc *TaskContext) (any, error) { return j.result(tc, k.part) }
	}
	j.running[k] = true
	j.s.emit(Event{Kind: TaskStart, Job: j.id, Stage: sr.id, StageAttempt: sr.attempt, Shuffle: k.shuffle,
		Partition: k.part, Attempt: t.attempt})
	go func() { j.results <- j.s.exec.run(j.s, t) }()
}

// handle processes a finished task and reports whether to replan.
func (j *jobRun) handle(r taskResult) (replan bool) {
	t := r.t
	k := taskKey{t.shuffle, t.partition}
	delete(j.running, k)
	sr := j.stages[t.shuffle]
	ev := Event{Kind: TaskEnd, Job: j.id, Stage: sr.id, StageAttempt: sr.attempt, Shuffle: t.shuffle,
		Partition: t.partition, Attempt: t.attempt, Metrics: &r.metrics}
	j.s.mu.Lock()
	j.s.addMetricsLocked(r.metrics)
	if r.err != nil {
		j.s.stats.TasksFailed++
	} else {
		j.s.stats.Tasks++
	}
	j.s.mu.Unlock()
	if r.err == nil {
		if err := j.s.applyAccums(r.accums); err != nil {
			j.err = err
			return false
		}
	}
	if r.err != nil {
		ev.Error = r.err.Error()
		j.s.emit(ev)
		return j.failed(r, k)
	}
	sr.finished++
	if t.shuffle >= 0 {
		dep := j.shuffles[t.shuffle]
		complete := j.s.registerMapOutput(t.shuffle, dep.mapNode.parts, t.partition, r.value.([]int64))
		j.s.emit(ev)
		if complete && sr.active {
			sr.active = false
			j.s.emit(Event{Kind: StageCompleted, Job: j.id, Stage: sr.id, StageAttempt: sr.attempt, Name: sr.name, Shuffle: sr.shuffle})
		}
		return complete
	}
	j.s.emit(ev)
	if j.remaining[t.partition] {
		delete(j.remaining, t.partition)
		if err := j.safeOnResult(t.partition, r.value); err != nil {
			j.err = err
			return false
		}
	}
	if len(j.remaining) == 0 {
		sr.active = false
		j.s.emit(Event{Kind: StageCompleted, Job: j.id, Stage: sr.id, StageAttempt: sr.attempt, Name: sr.name, Shuffle: -1})
	}
	return false
}

// safeOnResult runs the action's driver-side merge (which may call user
// functions, like Reduce's), turning a panic into the job's error.
func (j *jobRun) safeOnResult(p int, v any) (err error) {
	defer func() {
		if x := recover(); x != nil {
			err = fmt.Errorf("%w: job %d: user function panicked merging partition %d on the driver: %v",
				ErrJobFailed, j.id, p, x)
		}
	}()
	return j.onResult(p, v)
}

func (j *jobRun) failed(r taskResult, k taskKey) (replan bool) {
	if j.ctx.Err() != nil {
		j.err = j.ctx.Err()
		return false
	}
	if r.fetch != nil {
		// The map output is lost: forget it, and let the planner resubmit the
		// stage that produces it; this task runs again once it exists.
		b := r.fetch.Block
		j.s.log.Warn("lost map output", "job", j.id, "shuffle", b.Shuffle, "map", b.Map, "err", r.err)
		j.s.unregisterMapOutput(b.Shuffle, b.Map)
		var lost *lostOutputs
		if errors.As(r.err, &lost) {
			for _, m := range lost.maps {
				j.s.unregisterMapOutput(lost.shuffle, m)
			}
		}
		// The producing stage is resubmitted by the replan: a completed stage
		// is inactive and gets a new attempt; one already being resubmitted
		// just gets one more task, so losing many outputs at once costs one
		// attempt. The reading stage's current attempt has failed; reports
		// from its other tasks, or from an older attempt, change nothing.
		if cur := j.stages[k.shuffle]; cur.active && r.t.stageAttempt == cur.attempt {
			cur.active = false
		}
		return true
	}
	j.failures[k]++
	j.s.log.Warn("task failed", "job", j.id, "stage", j.stages[k.shuffle].id, "partition", k.part,
		"failures", j.failures[k], "err", r.err)
	if j.failures[k] >= j.s.cfg.TaskMaxFailures {
		j.err = fmt.Errorf("%w: task failed %d times: %w", ErrJobFailed, j.failures[k], r.err)
		return false
	}
	if !j.queued[k] {
		j.queued[k] = true
		j.queue = append(j.queue, k)
	}
	return false
}

func (s *Session) addMetricsLocked(m TaskMetrics) {
	s.stats.ShuffleBytesWritten += m.ShuffleBytesWritten
	s.stats.ShuffleBytesRead += m.ShuffleBytesRead
	s.stats.ShuffleRecords += m.ShuffleRecords
	s.stats.SpillBytes += m.SpillBytes
	s.stats.CacheHits += m.CacheHits
	s.stats.CacheMisses += m.CacheMisses
}
