package job

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/mesoproject/meso/rdd/internal/plan"
	"github.com/mesoproject/meso/rdd/internal/task"
)

// ErrFailed is wrapped by the error of a job aborted because a task failed
// too often or a stage was resubmitted too often (rdd.ErrJobFailed).
var ErrFailed = errors.New("rdd: job failed")

// Config describes one job.
type Config struct {
	ID         int
	Graph      plan.Graph
	Target     plan.NodeID
	Partitions []int // of Target, for the action
	// Pipelines hold every stage's task description: the result stage's
	// under -1, each shuffle's map stage under the shuffle id.
	Pipelines         map[int]*task.Pipeline
	MaxTaskFailures   int           // spark.task.maxFailures
	MaxStageAttempts  int           // spark.stage.maxConsecutiveAttempts
	StarvationTimeout time.Duration // how long tasks wait for an executor before Starved; 0: 15 s
	// LocalityWait (spark.locality.wait) is how long a stage holds back
	// tasks whose cached input is on busy executors, since it last
	// launched a task where its input is, before it runs them anywhere
	// (Spark's delay scheduling). 0: they run anywhere at once, though a
	// free slot still takes a task whose input it holds first.
	LocalityWait time.Duration
	// Prefetch is how many tasks an executor is given per slot beyond the
	// ones its slots run (0: none): a cluster executor then starts its
	// next task as soon as one ends, while that one's report is still on
	// its way to the driver. A prefetched task counts as running here
	// (launched, an attempt, lost with its executor, its report awaited);
	// free slots are filled on every executor before any is given a
	// prefetched task.
	Prefetch int
}

// Cache tells which partitions are cached (plan.State's other half).
type Cache interface {
	Cached(n plan.NodeID, p int) bool
}

// Locator is a Cache that knows which executors hold a cached partition
// (cluster mode). With one, a task prefers the executors holding the
// cached partition its stage reads first (Spark's preferred locations of
// a narrow lineage), and a stage waits up to Config.LocalityWait for them.
type Locator interface {
	Cache
	Holders(n plan.NodeID, p int) []string
}

// EventKind names what a job reports besides launches and results.
type EventKind int

const (
	StageSubmitted EventKind = iota // a stage attempt starts: Tasks tasks
	StageSkipped                    // a shuffle's outputs all exist already
	StageCompleted                  // every task of the stage attempt is done
	TaskRequeued                    // a failed task goes back to the queue: Failures so far
	Starved                         // Tasks tasks wait and no executor has registered
)

func (k EventKind) String() string {
	return [...]string{"StageSubmitted", "StageSkipped", "StageCompleted", "TaskRequeued", "Starved"}[k]
}

// Event is one report of a job.
type Event struct {
	Kind         EventKind
	Stage        int
	StageAttempt int
	Shuffle      int // the shuffle a stage writes, -1 for the result stage
	Name         string
	Tasks        int
	Partition    int   // TaskRequeued
	Failures     int   // TaskRequeued
	Parents      []int // StageSubmitted: the shuffles the stage reads
}

// Output is one partition's result for the action, handed out once.
type Output struct {
	Partition int
	Value     any
}

// Ready is what the caller must do after an input.
type Ready struct {
	Launch  []*task.Desc // tasks to start, each on its Executor
	Events  []Event
	Results []Output
	// Done is set once the job has ended: every partition's result was
	// handed out (Err nil), or it failed or was aborted (Err). Tasks still
	// running must be waited for; their reports change nothing.
	Done bool
	Err  error
}

type key struct{ shuffle, part int }

type stageRun struct {
	id       int
	shuffle  int
	name     string
	attempt  int
	active   bool
	total    int
	finished int
	node     plan.NodeID // the stage's last dataset
	// localAt is when the stage was submitted or last launched a task
	// where its cached input is: the start of its locality wait.
	localAt time.Time
}

type attempt struct {
	n    int
	exec string
	seq  int64 // Books.Seq at launch: outputs registered later are unknown to it
}

type executor struct {
	id          string
	slots, busy int
}

// Job is the state of one job. It is not safe for concurrent use.
type Job struct {
	cfg     Config
	books   *Books
	cache   Cache
	now     time.Time
	mapNode map[int]plan.NodeID // shuffle id -> map side

	execs     []*executor // in order of registration
	remaining map[int]bool
	running   map[key]attempt
	queue     []key
	queued    map[key]bool
	prefs     map[key][]string // queued tasks' preferred executors, when they have any
	attempts  map[key]int      // launches so far
	failures  map[key]int
	stages    map[int]*stageRun // by shuffle id; -1 = result stage
	skipped   map[int]bool
	started   bool
	replan    bool
	done      bool
	err       error
	waitSince time.Time // tasks queued and no executor since then
	warned    time.Time // last Starved event
	out       Ready
}

// New makes a job; Start plans it.
func New(cfg Config, books *Books, cache Cache, now time.Time) *Job {
	if cfg.StarvationTimeout <= 0 {
		cfg.StarvationTimeout = 15 * time.Second
	}
	j := &Job{cfg: cfg, books: books, cache: cache, now: now, mapNode: map[int]plan.NodeID{},
		remaining: map[int]bool{}, running: map[key]attempt{}, queued: map[key]bool{}, prefs: map[key][]string{},
		attempts: map[key]int{}, failures: map[key]int{}, stages: map[int]*stageRun{}, skipped: map[int]bool{}}
	for _, n := range cfg.Graph {
		for _, d := range n.Deps {
			if d.Shuffle >= 0 {
				j.mapNode[d.Shuffle] = d.Parent
			}
		}
	}
	for _, p := range cfg.Partitions {
		j.remaining[p] = true
	}
	return j
}

// Start plans the job and launches its first tasks.
func (j *Job) Start() Ready {
	j.started, j.replan = true, true
	if len(j.remaining) == 0 {
		j.done = true // no partition wanted: nothing to run
	}
	return j.step()
}

// ExecutorAdded registers an executor with slots task slots (or changes its
// slots).
func (j *Job) ExecutorAdded(id string, slots int) Ready {
	if e := j.executor(id); e != nil {
		e.slots = slots
	} else {
		j.execs = append(j.execs, &executor{id: id, slots: slots})
	}
	return j.step()
}

// ExecutorLost forgets an executor: its running tasks go back to the queue
// and its map outputs are unregistered.
func (j *Job) ExecutorLost(id string) Ready {
	j.execs = slices.DeleteFunc(j.execs, func(e *executor) bool { return e.id == id })
	var lost []key
	for k, a := range j.running {
		if a.exec == id {
			lost = append(lost, k)
		}
	}
	slices.SortFunc(lost, func(a, b key) int { return cmp.Or(cmp.Compare(a.shuffle, b.shuffle), cmp.Compare(a.part, b.part)) })
	for _, k := range lost {
		delete(j.running, k)
		j.enqueue(k)
	}
	// Replan whether or not this call unregistered anything: the books are
	// the session's, and the cluster driver (or another job) may have
	// forgotten the executor's map outputs before this job heard of the
	// loss; a job that did not replan then waited for outputs nobody
	// recomputed ("nothing to run", seen in CI).
	j.books.ExecutorLost(id)
	j.replan = true
	return j.step()
}

// TaskSucceeded reports a finished task attempt: value is a map task's
// block sizes ([]int64) or a result task's value.
func (j *Job) TaskSucceeded(id task.ID, value any) Ready { return j.TaskSucceededAt(id, "", value) }

// TaskSucceededAt is TaskSucceeded for a task whose map output is held by
// executor at rather than by the executor it was placed on (fine-grained
// mode places tasks on Mesos, and an agent's executor runs them); "" means
// the placement.
func (j *Job) TaskSucceededAt(id task.ID, at string, value any) Ready {
	k := key{id.Shuffle, id.Partition}
	a, ok := j.take(k, id)
	if !ok {
		return j.step()
	}
	if at != "" {
		a.exec = at
	}
	sr := j.stages[k.shuffle]
	sr.finished++
	if k.shuffle >= 0 {
		sizes, _ := value.([]int64)
		complete := j.books.Register(k.shuffle, j.maps(k.shuffle), k.part, a.exec, sizes)
		if complete && sr.active {
			sr.active = false
			j.emit(Event{Kind: StageCompleted, Stage: sr.id, StageAttempt: sr.attempt, Shuffle: sr.shuffle, Name: sr.name})
		}
		if complete {
			j.replan = true
		}
		return j.step()
	}
	if j.remaining[k.part] && !j.done { // an ended job hands out nothing more
		delete(j.remaining, k.part)
		j.out.Results = append(j.out.Results, Output{Partition: k.part, Value: value})
	}
	if len(j.remaining) == 0 && !j.done {
		sr.active = false
		j.emit(Event{Kind: StageCompleted, Stage: sr.id, StageAttempt: sr.attempt, Shuffle: -1, Name: sr.name})
		j.done = true
	}
	return j.step()
}

// ErrNoRetry is wrapped by task errors that a retry would only repeat (a
// Func rebuilt differently on an executor): TaskFailed fails the job at
// once.
var ErrNoRetry = errors.New("job: task error is not retryable")

// TaskFailed reports a failed task attempt: it is retried, or the job fails
// after MaxTaskFailures failures of the partition, or at once when err
// wraps ErrNoRetry.
func (j *Job) TaskFailed(id task.ID, err error) Ready {
	k := key{id.Shuffle, id.Partition}
	if _, ok := j.take(k, id); !ok {
		return j.step()
	}
	j.failures[k]++
	if errors.Is(err, ErrNoRetry) {
		j.fail(fmt.Errorf("%w: %w", ErrFailed, err))
		return j.step()
	}
	if n := j.failures[k]; n >= j.cfg.MaxTaskFailures {
		j.fail(fmt.Errorf("%w: task failed %d times: %w", ErrFailed, n, err))
		return j.step()
	}
	j.emit(Event{Kind: TaskRequeued, Stage: j.stages[k.shuffle].id, Shuffle: k.shuffle, Partition: k.part,
		Failures: j.failures[k]})
	j.enqueue(k)
	return j.step()
}

// FetchFailed reports a task that could not fetch map outputs maps of
// shuffle sh: they are unregistered and the producing stage is resubmitted
// for them; the task runs again once they exist. It does not count as a
// task failure.
func (j *Job) FetchFailed(id task.ID, sh int, maps []int) Ready {
	k := key{id.Shuffle, id.Partition}
	a, ok := j.take(k, id)
	if !ok {
		return j.step()
	}
	// The task runs again (the replan queues it). A report from an older
	// attempt of the reading stage is stale, as in Spark: the outputs it
	// could not fetch may have been recomputed since, so they stay
	// registered.
	j.replan = true
	cur := j.stages[k.shuffle]
	if id.StageAttempt != cur.attempt {
		return j.step()
	}
	// An output registered after the task's launch is a recomputed one
	// the task never tried (another reducer's report had it recomputed
	// first): it stays, as Spark keeps an output whose location changed.
	for _, m := range maps {
		if !j.books.RegisteredAfter(sh, m, a.seq) {
			j.books.Unregister(sh, m)
		}
	}
	// A completed producer is inactive and gets a new attempt at the
	// replan; one already being resubmitted just gets one more task, so
	// losing many outputs at once costs one attempt. The reading stage's
	// current attempt has failed; reports from its other tasks change
	// nothing more.
	cur.active = false
	return j.step()
}

// Tick advances the job's clock.
func (j *Job) Tick(now time.Time) Ready {
	j.now = now
	if !j.waitSince.IsZero() && now.Sub(j.waitSince) >= j.cfg.StarvationTimeout &&
		(j.warned.IsZero() || now.Sub(j.warned) >= j.cfg.StarvationTimeout) {
		j.warned = now
		j.emit(Event{Kind: Starved, Shuffle: -1, Tasks: len(j.queue)})
	}
	return j.step()
}

// Abort ends the job with err (cancellation, a failed driver-side merge).
func (j *Job) Abort(err error) Ready {
	j.fail(err)
	return j.step()
}

// Done reports whether the job has ended.
func (j *Job) Done() bool { return j.done }

func (j *Job) fail(err error) {
	if !j.done {
		j.done, j.err = true, err
	}
}

func (j *Job) emit(e Event) { j.out.Events = append(j.out.Events, e) }

func (j *Job) executor(id string) *executor {
	for _, e := range j.execs {
		if e.id == id {
			return e
		}
	}
	return nil
}

// take removes the running attempt id of k, freeing its slot, and reports
// whether id was that attempt (not a stale report from a lost executor).
func (j *Job) take(k key, id task.ID) (attempt, bool) {
	a, ok := j.running[k]
	if !ok || a.n != id.Attempt || id.Job != j.cfg.ID {
		return attempt{}, false
	}
	delete(j.running, k)
	if e := j.executor(a.exec); e != nil {
		e.busy--
	}
	return a, true
}

func (j *Job) enqueue(k key) {
	if !j.queued[k] {
		j.queued[k] = true
		j.queue = append(j.queue, k)
		if loc, ok := j.cache.(Locator); ok {
			if prefs := j.preferred(loc, k); len(prefs) > 0 {
				j.prefs[k] = prefs
			}
		}
	}
}

func (j *Job) maps(sh int) int { return j.cfg.Graph[j.mapNode[sh]].Partitions }

// step replans when needed, launches what fits, and returns the Ready.
func (j *Job) step() Ready {
	if !j.started {
		return Ready{}
	}
	if !j.done && j.replan {
		j.replan = false
		if err := j.plan(); err != nil {
			j.fail(err)
		}
	}
	if !j.done {
		j.launch()
		if len(j.remaining) > 0 && len(j.running) == 0 && len(j.queue) == 0 {
			j.fail(fmt.Errorf("rdd: job %d: internal error: nothing to run for partitions %v", j.cfg.ID, j.remaining))
		}
	}
	switch {
	case j.done || len(j.queue) == 0 || j.slots() > 0:
		j.waitSince = time.Time{}
	case j.waitSince.IsZero():
		j.waitSince = j.now
	}
	r := j.out
	j.out = Ready{}
	r.Done, r.Err = j.done, j.err
	return r
}

func (j *Job) slots() int {
	n := 0
	for _, e := range j.execs {
		n += e.slots
	}
	return n
}

// launch starts queued tasks while executors have free slots. A free
// slot takes, in queue order, a task whose cached input its executor holds,
// else a task with no live preference, else one of a stage whose locality
// wait is over; the executor with the most free slots goes first. Then,
// with Config.Prefetch, the same order gives executors their prefetched
// tasks, up to slots*(1+Prefetch) each.
func (j *Job) launch() {
	j.fill(1)
	if j.cfg.Prefetch > 0 {
		j.fill(1 + j.cfg.Prefetch)
	}
}

// fill launches queued tasks while executors have fewer than slots*per
// tasks.
func (j *Job) fill(per int) {
	for len(j.queue) > 0 {
		placed := false
		for _, e := range j.byFree(per) {
			if e.busy >= e.slots*per {
				break
			}
			i := j.pick(e)
			if i < 0 {
				continue
			}
			k := j.queue[i]
			j.queue = slices.Delete(j.queue, i, i+1)
			delete(j.queued, k)
			j.start(k, e, per > 1)
			placed = true
			break // free slots changed: order again
		}
		if !placed {
			return
		}
	}
}

// byFree lists the executors by room for tasks (slots*per - busy), most
// first, ties in registration order.
func (j *Job) byFree(per int) []*executor {
	out := slices.Clone(j.execs)
	slices.SortStableFunc(out, func(a, b *executor) int { return (b.slots*per - b.busy) - (a.slots*per - a.busy) })
	return out
}

// pick returns the index in the queue of the task e's free slot takes, or
// -1 when it should stay free for now. With preferences queued it scans the
// queue: O(queue) per launch, so a stage of n cached tasks costs O(n^2)
// (10,000 tasks: about 10^8 cheap steps); an index by executor would fix
// that if such stages appear.
func (j *Job) pick(e *executor) int {
	if len(j.prefs) == 0 {
		return 0 // no queued task prefers an executor: queue order
	}
	anyOK, free := -1, -1
	for i, k := range j.queue {
		prefs := j.livePrefs(k)
		switch {
		case slices.Contains(prefs, e.id):
			return i
		case len(prefs) == 0:
			if free < 0 {
				free = i
			}
		case anyOK < 0:
			if sr := j.stages[k.shuffle]; j.now.Sub(sr.localAt) >= j.cfg.LocalityWait {
				anyOK = i
			}
		}
	}
	if free >= 0 {
		return free
	}
	return anyOK
}

// livePrefs is k's preferred executors that are still registered.
func (j *Job) livePrefs(k key) []string {
	prefs := j.prefs[k]
	for _, p := range prefs {
		if j.executor(p) == nil {
			return slices.DeleteFunc(slices.Clone(prefs), func(p string) bool { return j.executor(p) == nil })
		}
	}
	return prefs
}

// preferred lists the live executors holding the cached partition task k
// reads first: its stage's last dataset's partition if cached, else the
// first cached partition along its narrow dependencies (depth first).
func (j *Job) preferred(loc Locator, k key) []string {
	var walk func(n plan.NodeID, p, depth int) []string
	walk = func(n plan.NodeID, p, depth int) []string {
		if depth > 64 {
			return nil
		}
		var live []string
		for _, h := range loc.Holders(n, p) {
			if j.executor(h) != nil {
				live = append(live, h)
			}
		}
		if len(live) > 0 {
			return live
		}
		for _, d := range j.cfg.Graph[n].Deps {
			if d.Shuffle >= 0 {
				continue
			}
			parents := []int{p}
			if d.Parents != nil {
				parents = d.Parents(p)
			}
			for _, pp := range parents {
				if hs := walk(d.Parent, pp, depth+1); len(hs) > 0 {
					return hs
				}
			}
		}
		return nil
	}
	return walk(j.stages[k.shuffle].node, k.part, 0)
}

// start launches task k on e, prefetched or into a free slot.
func (j *Job) start(k key, e *executor, prefetched bool) {
	sr := j.stages[k.shuffle]
	if slices.Contains(j.prefs[k], e.id) {
		sr.localAt = j.now
	}
	delete(j.prefs, k)
	d := &task.Desc{
		ID: task.ID{Job: j.cfg.ID, Stage: sr.id, StageAttempt: sr.attempt, Shuffle: k.shuffle,
			Partition: k.part, Attempt: j.attempts[k]},
		Executor: e.id, Pipeline: j.cfg.Pipelines[k.shuffle], Prefetched: prefetched,
	}
	j.attempts[k]++
	e.busy++
	j.running[k] = attempt{n: d.Attempt, exec: e.id, seq: j.books.Seq()}
	j.out.Launch = append(j.out.Launch, d)
}

type state struct {
	b *Books
	c Cache
}

func (s state) MapOutput(sh, m int) bool         { return s.b.MapOutput(sh, m) }
func (s state) Cached(n plan.NodeID, p int) bool { return s.c.Cached(n, p) }

// plan asks the planner what to run and queues the ready stages' tasks.
func (j *Job) plan() error {
	parts := make([]int, 0, len(j.remaining))
	for p := range j.remaining {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	p, err := plan.Compute(j.cfg.Graph, j.cfg.Target, parts, state{j.books, j.cache})
	if err != nil {
		return fmt.Errorf("rdd: job %d: %w", j.cfg.ID, err)
	}
	if err := j.noteSkipped(p); err != nil {
		return err
	}
	j.queue, j.queued, j.prefs = j.queue[:0], map[key]bool{}, map[key][]string{}
	for _, st := range p.Ready() {
		sr, err := j.submit(st)
		if err != nil {
			return err
		}
		for _, part := range st.Missing {
			k := key{sr.shuffle, part}
			if _, run := j.running[k]; !run {
				j.enqueue(k)
			}
		}
	}
	return nil
}

func (j *Job) pipeline(sh int) (*task.Pipeline, error) {
	pl := j.cfg.Pipelines[sh]
	if pl == nil {
		return nil, fmt.Errorf("rdd: job %d: internal error: no pipeline for shuffle %d", j.cfg.ID, sh)
	}
	return pl, nil
}

// noteSkipped reports the shuffle stages whose outputs already exist.
func (j *Job) noteSkipped(p *plan.Plan) error {
	inPlan := map[int]bool{}
	for _, st := range p.Stages {
		inPlan[st.Shuffle] = true
	}
	for _, st := range p.Stages {
		for _, sh := range st.Parents {
			if inPlan[sh] || j.skipped[sh] || j.stages[sh] != nil {
				continue
			}
			pl, err := j.pipeline(sh)
			if err != nil {
				return err
			}
			j.skipped[sh] = true
			j.emit(Event{Kind: StageSkipped, Stage: j.books.stageID(sh), Shuffle: sh, Name: pl.Name})
		}
	}
	return nil
}

// submit marks a stage of the plan as running, starting a new attempt when
// it is not active.
func (j *Job) submit(st plan.Stage) (*stageRun, error) {
	sr := j.stages[st.Shuffle]
	if sr == nil {
		pl, err := j.pipeline(st.Shuffle)
		if err != nil {
			return nil, err
		}
		sr = &stageRun{id: j.books.stageID(st.Shuffle), shuffle: st.Shuffle, name: pl.Name, attempt: -1}
		j.stages[st.Shuffle] = sr
	}
	if sr.active {
		return sr, nil
	}
	sr.attempt++
	if sr.attempt > 0 && sr.attempt >= j.cfg.MaxStageAttempts {
		return nil, fmt.Errorf("%w: job %d: stage %d (%s) resubmitted %d times after lost map outputs",
			ErrFailed, j.cfg.ID, sr.id, sr.name, sr.attempt)
	}
	sr.active, sr.total, sr.finished, sr.node, sr.localAt = true, len(st.Missing), 0, st.Node, j.now
	j.emit(Event{Kind: StageSubmitted, Stage: sr.id, StageAttempt: sr.attempt, Shuffle: sr.shuffle, Name: sr.name,
		Tasks: sr.total, Parents: st.Parents})
	return sr, nil
}
