package rdd

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/mesoproject/meso/rdd/internal/blocks"
	"github.com/mesoproject/meso/rdd/internal/exec"
	"github.com/mesoproject/meso/rdd/internal/job"
	"github.com/mesoproject/meso/rdd/internal/plan"
	"github.com/mesoproject/meso/rdd/internal/task"
)

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
	// Cluster mode: an executor registered with the driver (Executor, Host,
	// Cores) or was lost or removed (Executor, Reason).
	ExecutorAdded   EventKind = "ExecutorAdded"
	ExecutorRemoved EventKind = "ExecutorRemoved"
	// AppEnd is the session's last event (Close).
	AppEnd EventKind = "AppEnd"
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
	// Config is the session's settings by their Spark names, secrets
	// redacted (AppStart): the driver UI's environment page.
	Config   map[string]string `json:"config,omitempty"`
	Parents  []int             `json:"parents,omitempty"`  // StageSubmitted: the shuffles the stage reads
	Executor string            `json:"executor,omitempty"` // TaskStart, TaskEnd (cluster mode), ExecutorAdded/Removed
	Host     string            `json:"host,omitempty"`     // ExecutorAdded: its shuffle server's address
	Cores    int               `json:"cores,omitempty"`    // ExecutorAdded: its task slots
	Reason   string            `json:"reason,omitempty"`   // ExecutorRemoved
	// Prefetched marks a TaskStart of a task handed to an executor beyond
	// its free slots (spark.rdd.taskPrefetch): it waits there for one of
	// its tasks to end. The progress line and the UI count it as running
	// from that executor's next TaskEnd (its slots take tasks in order).
	Prefetched bool `json:"prefetched,omitempty"`
}

// resolve fixes, for this session, the partition counts (and input splits)
// of n and its ancestors not resolved yet, and returns n's resolution or the
// first dataset's error that makes n impossible to compute. A resolution is
// never redone: every job of the session sees the same plan for a dataset.
func (s *Session) resolve(n *node) (*resolution, error) {
	s.resMu.Lock()
	defer s.resMu.Unlock()
	def := defaults{source: s.cfg.DefaultParallelism, shuffle: s.cfg.DefaultParallelism}
	if def.source == 0 {
		def.source = s.slots
	}
	env := resolveEnv{def: def, parts: func(p *node) int { return s.res[p.id].parts }}
	var walk func(n *node) *resolution
	walk = func(n *node) *resolution {
		if r := s.res[n.id]; r != nil {
			return r
		}
		var parentErr error
		for _, d := range n.deps {
			if r := walk(d.parent); r.err != nil && parentErr == nil {
				parentErr = r.err // a dataset of a bad parent is bad for good
			}
		}
		var r resolution
		if n.resolve != nil {
			r = n.resolve(env)
		} else if len(n.deps) == 1 {
			r.parts = env.parts(n.deps[0].parent)
		}
		if n.bad != nil {
			r.err = n.bad
		}
		if r.err == nil {
			r.err = parentErr
		}
		s.res[n.id] = &r
		s.watchLocked(n)
		n.shown.Store(int64(r.parts))
		return &r
	}
	r := walk(n)
	return r, r.err
}

// partsOf returns n's partition count as this session resolved it.
func (s *Session) partsOf(n *node) int {
	s.resMu.Lock()
	defer s.resMu.Unlock()
	return s.res[n.id].parts
}

// resolutions returns this session's resolution of every dataset in nodes.
func (s *Session) resolutions(root *node) map[int]*resolution {
	s.resMu.Lock()
	defer s.resMu.Unlock()
	out := map[int]*resolution{}
	var walk func(n *node)
	walk = func(n *node) {
		if out[n.id] != nil {
			return
		}
		out[n.id] = s.res[n.id]
		for _, d := range n.deps {
			walk(d.parent)
		}
	}
	walk(root)
	return out
}

// prepare runs the preparatory jobs (zipWithIndex counts, sort samples) of n
// and its ancestors, parents first, once per session.
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
	s.mu.Lock()
	mu := s.prepMu[n.id]
	if mu == nil {
		mu = new(sync.Mutex)
		s.prepMu[n.id] = mu
	}
	s.mu.Unlock()
	mu.Lock() // concurrent jobs prepare a dataset once
	defer mu.Unlock()
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

// runJob computes partitions parts of target, passing each partition's
// result (from result) to onResult, in the order tasks finish.
//
// act says how a cluster executor's result task computes what result
// computes in this process (see action): a job that could not run on
// executors fails in cluster mode, and in local mode with CheckPortable.
func (s *Session) runJob(ctx context.Context, target *node, parts []int, act action,
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
	if c := s.cluster; c != nil {
		// A refused executor (registry mismatch) fails every job.
		unlinkCluster := context.AfterFunc(c.ctx, func() { stop(context.Cause(c.ctx)) })
		defer unlinkCluster()
	}
	start := time.Now()
	tr, err := s.resolve(target)
	if err != nil {
		return err
	}
	if err := s.prepare(ctx, target, map[*node]bool{}); err != nil {
		return err
	}
	for _, p := range parts {
		if p < 0 || p >= tr.parts {
			return fmt.Errorf("rdd: partition %d out of range: %s has %d partitions", p, target, tr.parts)
		}
	}
	res := s.resolutions(target)
	g, nodes, shuffles := graph(target, res)
	jt := &jobTasks{nodes: nodes, shuffles: shuffles, result: result, decode: act.decode, index: map[*task.Pipeline]*pipelineIndex{}}
	pipelines := s.pipelines(target, shuffles, res)
	rp := pipelines[-1]
	rp.Result, rp.ResultFuncs, rp.ResultArgs = act.kind, act.funcs, act.args
	if s.cluster != nil || s.cfg.CheckPortable {
		if err := checkPortable(pipelines, act); err != nil {
			return err
		}
	}
	if s.cluster == nil && s.cfg.CheckPortable {
		for _, sh := range slices.Sorted(mapKeys(pipelines)) {
			if err := checkRebuild(nodes[pipelines[sh].Target.ID]); err != nil {
				return err
			}
		}
	}
	for _, p := range pipelines {
		jt.index[p] = newPipelineIndex(p)
	}
	s.mu.Lock()
	id := s.nextJob
	s.nextJob++
	s.stats.Jobs++
	s.jobTasks[id] = jt
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.jobTasks, id)
		s.mu.Unlock()
	}()
	core := job.New(job.Config{
		ID: id, Graph: g, Target: plan.NodeID(target.id), Partitions: parts, Pipelines: pipelines,
		MaxTaskFailures: s.cfg.TaskMaxFailures, MaxStageAttempts: s.cfg.StageMaxConsecutiveAttempts,
		LocalityWait: max(s.cfg.LocalityWait, 0), Prefetch: s.prefetch(),
	}, s.books, s.cacheState(), time.Now())
	s.emit(Event{Kind: JobStart, Job: id, Name: target.String(), Tasks: len(sortedUnique(parts)), Shuffle: -1})
	h := jobHooks{s: s, id: id}
	ej := exec.Job{
		Core: core, Mu: &s.mu, Executors: []exec.Executor{s.exec},
		OnLaunch: h.launch, OnTaskEnd: h.taskEnd, OnResult: h.safeOnResult(onResult), OnEvents: h.events,
	}
	if s.cluster != nil {
		ej.Pool = s.cluster.pool
	}
	err = exec.Run(ctx, ej)
	if cause := context.Cause(ctx); err != nil && cause != nil && !errors.Is(cause, context.Canceled) {
		err = cause // ErrClosed, or why the cluster failed (a registry mismatch)
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

// prefetch is the job core's Config.Prefetch: spark.rdd.taskPrefetch in
// coarse-grained cluster mode, where a task's next costs a report round
// trip; none locally (a local slot starts its next task at once) or in
// fine-grained mode (Mesos places each task).
func (s *Session) prefetch() int {
	if s.cluster == nil || s.cluster.fine != nil {
		return 0
	}
	return max(s.cfg.TaskPrefetch, 0)
}

func sortedUnique(parts []int) []int {
	out := slices.Clone(parts)
	slices.Sort(out)
	return slices.Compact(out)
}

// cacheState is the planner's view of the session's cache (see
// Session.cacheState).
type cacheState struct {
	bm   *blocks.Manager
	book *cacheBook // cluster mode: the executors' cached partitions
}

// Holders lists the executors holding a cached partition, in cluster
// mode (job.Locator: tasks prefer them); nil locally.
func (c cacheState) Holders(n plan.NodeID, p int) []string {
	if c.book == nil {
		return nil
	}
	hs := c.book.holders(blocks.Key{Node: int(n), Part: p})
	slices.Sort(hs)
	return hs
}

func (c cacheState) Cached(n plan.NodeID, p int) bool {
	k := blocks.Key{Node: int(n), Part: p}
	if c.book != nil {
		return len(c.book.holders(k)) > 0
	}
	return c.bm.Has(k)
}

// pipelines describes every stage a job on target may run: the result
// stage (-1) and the map stage of every shuffle in its lineage, from the
// session's resolution and prepared values.
func (s *Session) pipelines(target *node, shuffles map[int]*shuffleDep, res map[int]*resolution) map[int]*task.Pipeline {
	// A stage's invocation is that of its last dataset (the holder), or
	// for a map stage that of the shuffle's reduce side, whose dependency
	// holds the map function: the executor rebuilds it, with the datasets
	// passed to it as arguments (its scope). A dataset outside that scope
	// makes the stage not portable.
	type stage struct {
		p       *task.Pipeline
		holder  *node
		foreign *node // a dataset of the stage outside the holder's scope
	}
	scopes := map[*node]stageScope{}
	scope := func(n *node) stageScope {
		if sc, ok := scopes[n]; ok {
			return sc
		}
		scopes[n] = scopeOf(n)
		return scopes[n]
	}
	s.mu.Lock() // guards s.prepared
	p, foreign := s.pipelineLocked(target, -1, res, scope(target))
	stages := []stage{{p, target, foreign}}
	for id, d := range shuffles {
		p, foreign := s.pipelineLocked(d.mapNode, id, res, scope(d.reduceNode))
		p.Nodes = append(p.Nodes, s.nodeDescLocked(d.reduceNode, res))
		p.Shuffles = append(p.Shuffles, shuffleDesc(d, res))
		stages = append(stages, stage{p, d.reduceNode, foreign})
	}
	s.mu.Unlock()
	out := map[int]*task.Pipeline{}
	for _, st := range stages {
		out[st.p.Shuffle] = st.p
		inv, err := spec(st.holder) // may encode the arguments: not under mu
		switch {
		case err != nil:
			st.p.NotPortable = err.Error()
		case st.foreign != nil:
			st.p.NotPortable = fmt.Sprintf("%s belongs to another Func call than %s and is not passed to it as an argument", st.foreign, st.holder)
		default:
			st.p.Invocation = &inv
			st.p.Accumulators, st.p.Broadcasts = sharedVars(st.holder)
			st.p.Fingerprint = fingerprintOf(st.holder)
		}
	}
	return out
}

func ref(n *node) task.NodeRef {
	claimMu.Lock()
	defer claimMu.Unlock()
	if n.inv == nil {
		return task.NodeRef{ID: n.id, Local: -1}
	}
	return task.NodeRef{ID: n.id, Local: n.local, Inv: n.inv.id}
}

func (s *Session) nodeDescLocked(n *node, res map[int]*resolution) task.Node {
	r := res[n.id]
	return task.Node{NodeRef: ref(n), Partitions: r.parts, Splits: r.splits, Prepared: s.prepared[n.id], Level: int(n.level.Load())}
}

// pipelineLocked describes the stage whose last dataset is last (writing
// shuffle sh, or -1): its narrow lineage and the shuffles it reads. It also
// returns a dataset of the stage that another Func call than last's built
// (or none), which makes the stage not portable.
func (s *Session) pipelineLocked(last *node, sh int, res map[int]*resolution, sc stageScope) (*task.Pipeline, *node) {
	p := &task.Pipeline{Name: last.String(), Target: ref(last), Shuffle: sh}
	seen := map[*node]bool{}
	var foreign *node
	var walk func(n *node)
	walk = func(n *node) {
		if seen[n] {
			return
		}
		seen[n] = true
		if foreign == nil && !sc.has(n) {
			foreign = n
		}
		p.Nodes = append(p.Nodes, s.nodeDescLocked(n, res))
		for _, d := range n.deps {
			if d.shuffle != nil {
				p.Shuffles = append(p.Shuffles, shuffleDesc(d.shuffle, res))
				continue
			}
			walk(d.parent)
		}
	}
	walk(last)
	return p, foreign
}

func shuffleDesc(d *shuffleDep, res map[int]*resolution) task.Shuffle {
	return task.Shuffle{ID: d.id, Map: ref(d.mapNode), Reduce: ref(d.reduceNode),
		Maps: res[d.mapNode.id].parts, Reducers: res[d.reduceNode.id].parts}
}

// jobHooks turn a job's reports into the session's events, stats, logs
// and accumulator values.
type jobHooks struct {
	s  *Session
	id int
}

func (h jobHooks) launch(d *task.Desc) {
	h.s.emit(Event{Kind: TaskStart, Job: h.id, Stage: d.Stage, StageAttempt: d.StageAttempt, Shuffle: d.Shuffle,
		Partition: d.Partition, Attempt: d.Attempt, Executor: d.Executor, Prefetched: d.Prefetched})
}

func (h jobHooks) taskEnd(r *task.Result) error {
	s := h.s
	m := TaskMetrics(r.Metrics)
	s.mu.Lock()
	s.addMetricsLocked(m)
	if r.Err != nil {
		s.stats.TasksFailed++
	} else {
		s.stats.Tasks++
	}
	s.mu.Unlock()
	if r.Err == nil {
		if err := s.applyAccums(r.Accums); err != nil {
			return err
		}
	}
	ev := Event{Kind: TaskEnd, Job: h.id, Stage: r.ID.Stage, StageAttempt: r.ID.StageAttempt, Shuffle: r.ID.Shuffle,
		Partition: r.ID.Partition, Attempt: r.ID.Attempt, Metrics: &m, Executor: r.Executor}
	switch {
	case r.Err == nil:
	case r.Fetch != nil:
		ev.Error = r.Err.Error()
		s.log.Warn("lost map output", "job", h.id, "shuffle", r.Fetch.Shuffle, "maps", r.Fetch.Maps, "err", r.Err)
	default:
		ev.Error = r.Err.Error()
		s.log.Warn("task failed", "job", h.id, "stage", r.ID.Stage, "partition", r.ID.Partition,
			"attempt", r.ID.Attempt, "err", r.Err)
	}
	s.emit(ev)
	return nil
}

func (h jobHooks) events(evs []job.Event) {
	s := h.s
	for _, e := range evs {
		ev := Event{Job: h.id, Stage: e.Stage, StageAttempt: e.StageAttempt, Name: e.Name, Shuffle: e.Shuffle, Tasks: e.Tasks, Parents: e.Parents}
		switch e.Kind {
		case job.StageSubmitted:
			ev.Kind = StageSubmitted
			s.mu.Lock()
			s.stats.Stages++
			if e.StageAttempt > 0 {
				s.stats.StageResubmissions++
			}
			s.mu.Unlock()
		case job.StageSkipped:
			ev.Kind = StageSkipped
			s.mu.Lock()
			s.stats.StagesSkipped++
			s.mu.Unlock()
		case job.StageCompleted:
			ev.Kind = StageCompleted
		case job.Starved:
			s.log.Warn("tasks wait and no executor has registered", "job", h.id, "tasks", e.Tasks)
			continue
		default:
			continue
		}
		s.emit(ev)
	}
}

// safeOnResult runs the action's driver-side merge (which may call user
// functions, like Reduce's), turning a panic into the job's error.
func (h jobHooks) safeOnResult(onResult func(p int, v any) error) func(p int, v any) error {
	return func(p int, v any) (err error) {
		defer func() {
			if x := recover(); x != nil {
				err = fmt.Errorf("%w: job %d: user function panicked merging partition %d on the driver: %v",
					ErrJobFailed, h.id, p, x)
			}
		}()
		if v, err = resolved(v); err != nil {
			return fmt.Errorf("%w: job %d: partition %d's result: %w", ErrJobFailed, h.id, p, err)
		}
		return onResult(p, v)
	}
}

func (s *Session) addMetricsLocked(m TaskMetrics) {
	s.stats.ShuffleBytesWritten += m.ShuffleBytesWritten
	s.stats.ShuffleBytesRead += m.ShuffleBytesRead
	s.stats.ShuffleRecords += m.ShuffleRecords
	s.stats.SpillBytes += m.SpillBytes
	s.stats.CacheHits += m.CacheHits
	s.stats.CacheMisses += m.CacheMisses
	s.stats.ShuffleLocalBlocks += m.ShuffleLocalBlocks
	s.stats.ShuffleHostLocalBlocks += m.ShuffleHostLocalBlocks
	s.stats.ShuffleRemoteBlocks += m.ShuffleRemoteBlocks
}
