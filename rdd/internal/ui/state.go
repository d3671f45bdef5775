package ui

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// Event is one scheduler event as the event log encodes it (rdd.Event's
// JSON form). Fields a kind does not use are zero.
type Event struct {
	Kind         string            `json:"event"`
	Time         time.Time         `json:"time"`
	Job          int               `json:"job"`
	Stage        int               `json:"stage"`
	StageAttempt int               `json:"stage_attempt"`
	Name         string            `json:"name"`
	Shuffle      int               `json:"shuffle"`
	Parents      []int             `json:"parents"`
	Tasks        int               `json:"tasks"`
	Partition    int               `json:"partition"`
	Attempt      int               `json:"attempt"`
	Error        string            `json:"error"`
	Metrics      *Metrics          `json:"metrics"`
	App          string            `json:"app"`
	Master       string            `json:"master"`
	Slots        int               `json:"slots"`
	Executor     string            `json:"executor"`
	Host         string            `json:"host"`
	Cores        int               `json:"cores"`
	Reason       string            `json:"reason"`
	Config       map[string]string `json:"config"`
	Prefetched   bool              `json:"prefetched"`
}

// Metrics are a task's metrics (rdd.TaskMetrics' JSON form).
type Metrics struct {
	Duration            time.Duration `json:"duration_ns"`
	ShuffleBytesWritten int64         `json:"shuffle_bytes_written"`
	ShuffleRecords      int64         `json:"shuffle_records_written"`
	ShuffleBytesRead    int64         `json:"shuffle_bytes_read"`
	SpillBytes          int64         `json:"spill_bytes"`
	CacheHits           int           `json:"cache_hits"`
	CacheMisses         int           `json:"cache_misses"`
}

// Status of a job or a stage attempt.
const (
	Running   = "RUNNING"
	Queued    = "QUEUED" // a prefetched task waiting on its executor for a slot
	Succeeded = "SUCCEEDED"
	Failed    = "FAILED"
	Skipped   = "SKIPPED"
	Complete  = "COMPLETE"
)

// App is what AppStart and AppEnd tell.
type App struct {
	Name    string
	Master  string
	Slots   int
	Start   time.Time
	End     time.Time // zero while running
	Config  [][2]string
	Running bool
}

// Job is one action's job.
type Job struct {
	ID     int
	Name   string
	Status string
	Start  time.Time
	End    time.Time
	Error  string
	Stages []StageKey // attempts submitted, in order
	// Skipped are the stages whose outputs existed already (computed by an
	// earlier job): shown, not run. Synthetic rows with Status Skipped.
	Skipped []*Stage
}

// StageKey names a stage attempt.
type StageKey struct{ Stage, Attempt int }

// Stage is one attempt of a stage (a skipped stage has one, attempt 0).
type Stage struct {
	StageKey
	Job       int
	Name      string
	Shuffle   int   // the shuffle it writes, -1 for a result stage
	Parents   []int // shuffles it reads
	Status    string
	Submitted time.Time
	Completed time.Time
	Tasks     int // tasks of this attempt
	Succeeded int
	Failed    int
	Running   int
	Read      int64 // shuffle bytes read
	Written   int64 // shuffle bytes written
	Records   int64 // shuffle records written
	Spilled   int64
	TaskRows  []*Task // in start order
}

// Task is one task attempt.
type Task struct {
	Partition int
	Attempt   int
	Executor  string
	Status    string
	Start     time.Time
	Metrics   Metrics
	Error     string
}

// Executor is an executor the driver knew.
type Executor struct {
	ID        string
	Host      string
	Cores     int
	Added     time.Time
	Removed   time.Time // zero while alive
	Reason    string
	Completed int
	Failed    int
	Read      int64
	Written   int64
	Duration  time.Duration // sum of its tasks' durations
}

// State is the UI's books, folded from events. Not safe for concurrent
// use.
type State struct {
	App       App
	Jobs      map[int]*Job
	Stages    map[StageKey]*Stage
	Executors map[string]*Executor
	order     []string          // executor ids in the order they were added
	byShuffle map[int]int       // shuffle -> stage id, from the events seen
	running   map[taskKey]*Task // started or queued
	waiting   Waiting
	bad       int // events that did not decode
}

type taskKey struct{ job, stage, attempt, partition, taskAttempt int }

// NewState returns empty books.
func NewState() *State {
	return &State{Jobs: map[int]*Job{}, Stages: map[StageKey]*Stage{}, Executors: map[string]*Executor{},
		byShuffle: map[int]int{}, running: map[taskKey]*Task{}}
}

// ApplyJSON applies one event-log line; a line that does not decode is
// counted (Undecodable) and otherwise ignored, as Spark's history server
// skips a torn last line.
func (s *State) ApplyJSON(line []byte) {
	var e Event
	if err := json.Unmarshal(line, &e); err != nil {
		s.bad++
		return
	}
	s.Apply(e)
}

// Undecodable is how many lines ApplyJSON could not decode.
func (s *State) Undecodable() int { return s.bad }

// Apply folds one event into the books.
func (s *State) Apply(e Event) {
	switch e.Kind {
	case "AppStart":
		s.App = App{Name: e.App, Master: e.Master, Slots: e.Slots, Start: e.Time, Running: true, Config: sortedConfig(e.Config)}
	case "AppEnd":
		s.App.End, s.App.Running = e.Time, false
		for _, j := range s.Jobs {
			if j.Status == Running {
				j.Status, j.End = Failed, e.Time
			}
		}
	case "JobStart":
		s.Jobs[e.Job] = &Job{ID: e.Job, Name: e.Name, Status: Running, Start: e.Time}
	case "JobEnd":
		j := s.job(e)
		j.End = e.Time
		if e.Error != "" {
			j.Status, j.Error = Failed, e.Error
			for _, k := range j.Stages { // the job's stages still running end with it
				if st := s.Stages[k]; st.Status == Running {
					st.Status, st.Completed = Failed, e.Time
				}
			}
		} else {
			j.Status = Succeeded
		}
	case "StageSkipped":
		j := s.job(e)
		j.Skipped = append(j.Skipped, &Stage{StageKey: StageKey{e.Stage, 0}, Job: e.Job, Name: e.Name, Shuffle: e.Shuffle, Status: Skipped})
		if e.Shuffle >= 0 {
			s.byShuffle[e.Shuffle] = e.Stage
		}
	case "StageSubmitted":
		k := StageKey{e.Stage, e.StageAttempt}
		s.Stages[k] = &Stage{StageKey: k, Job: e.Job, Name: e.Name, Shuffle: e.Shuffle, Parents: e.Parents,
			Status: Running, Submitted: e.Time, Tasks: e.Tasks}
		if e.Shuffle >= 0 {
			s.byShuffle[e.Shuffle] = e.Stage
		}
		j := s.job(e)
		j.Stages = append(j.Stages, k)
	case "StageCompleted":
		st := s.stage(e)
		st.Completed = e.Time
		if st.Failed > 0 && st.Succeeded < st.Tasks {
			st.Status = Failed
		} else {
			st.Status = Complete
		}
	case "TaskStart":
		st := s.stage(e)
		t := &Task{Partition: e.Partition, Attempt: e.Attempt, Executor: e.Executor, Status: Running, Start: e.Time}
		st.TaskRows = append(st.TaskRows, t)
		if s.waiting.Start(e.Executor, TaskID{e.Job, e.Stage, e.StageAttempt, e.Partition, e.Attempt}, e.Prefetched) {
			st.Running++
		} else {
			t.Status = Queued
		}
		s.running[taskKey{e.Job, e.Stage, e.StageAttempt, e.Partition, e.Attempt}] = t
	case "TaskEnd":
		st := s.stage(e)
		k := taskKey{e.Job, e.Stage, e.StageAttempt, e.Partition, e.Attempt}
		t := s.running[k]
		if t == nil { // a start we did not see
			t = &Task{Partition: e.Partition, Attempt: e.Attempt, Start: e.Time}
			st.TaskRows = append(st.TaskRows, t)
		} else {
			delete(s.running, k)
			wasRunning, next, started := s.waiting.End(t.Executor, TaskID{e.Job, e.Stage, e.StageAttempt, e.Partition, e.Attempt})
			if wasRunning {
				st.Running--
			}
			if nt := s.running[taskKey{next.Job, next.Stage, next.StageAttempt, next.Partition, next.Attempt}]; started && nt != nil {
				nt.Status, nt.Start = Running, e.Time
				if ns := s.Stages[StageKey{next.Stage, next.StageAttempt}]; ns != nil {
					ns.Running++
				}
			}
		}
		if e.Executor != "" {
			t.Executor = e.Executor
		}
		if e.Metrics != nil {
			t.Metrics = *e.Metrics
		}
		x := s.Executors[t.Executor]
		if e.Error != "" {
			t.Status, t.Error = Failed, e.Error
			st.Failed++
			if x != nil {
				x.Failed++
			}
		} else {
			t.Status = Succeeded
			st.Succeeded++
			if x != nil {
				x.Completed++
			}
		}
		st.Read += t.Metrics.ShuffleBytesRead
		st.Written += t.Metrics.ShuffleBytesWritten
		st.Records += t.Metrics.ShuffleRecords
		st.Spilled += t.Metrics.SpillBytes
		if x != nil {
			x.Read += t.Metrics.ShuffleBytesRead
			x.Written += t.Metrics.ShuffleBytesWritten
			x.Duration += t.Metrics.Duration
		}
	case "ExecutorAdded":
		if s.Executors[e.Executor] == nil {
			s.order = append(s.order, e.Executor)
		}
		s.Executors[e.Executor] = &Executor{ID: e.Executor, Host: e.Host, Cores: e.Cores, Added: e.Time}
	case "ExecutorRemoved":
		x := s.Executors[e.Executor]
		if x == nil {
			s.order = append(s.order, e.Executor)
			x = &Executor{ID: e.Executor}
			s.Executors[e.Executor] = x
		}
		x.Removed, x.Reason = e.Time, e.Reason
	}
}

// job returns the event's job, made up if its start was not seen.
func (s *State) job(e Event) *Job {
	j := s.Jobs[e.Job]
	if j == nil {
		j = &Job{ID: e.Job, Status: Running, Start: e.Time}
		s.Jobs[e.Job] = j
	}
	return j
}

// stage returns the event's stage attempt, made up if its submission was
// not seen.
func (s *State) stage(e Event) *Stage {
	k := StageKey{e.Stage, e.StageAttempt}
	st := s.Stages[k]
	if st == nil {
		st = &Stage{StageKey: k, Job: e.Job, Shuffle: e.Shuffle, Status: Running, Submitted: e.Time}
		s.Stages[k] = st
		j := s.job(e)
		j.Stages = append(j.Stages, k)
	}
	return st
}

// JobList returns the jobs, newest first.
func (s *State) JobList() []*Job {
	out := make([]*Job, 0, len(s.Jobs))
	for _, j := range s.Jobs {
		out = append(out, j)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID > out[b].ID })
	return out
}

// StageList returns the stage attempts, newest first, then every job's
// skipped stages (newest job first).
func (s *State) StageList() []*Stage {
	out := make([]*Stage, 0, len(s.Stages))
	for _, st := range s.Stages {
		out = append(out, st)
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].Stage != out[b].Stage {
			return out[a].Stage > out[b].Stage
		}
		return out[a].Attempt > out[b].Attempt
	})
	for _, j := range s.JobList() {
		out = append(out, j.Skipped...)
	}
	return out
}

// ExecutorList returns the executors in the order they were added.
func (s *State) ExecutorList() []*Executor {
	out := make([]*Executor, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.Executors[id])
	}
	return out
}

// StageOfShuffle returns the id of the stage writing shuffle sh, if an
// event named it.
func (s *State) StageOfShuffle(sh int) (int, bool) {
	id, ok := s.byShuffle[sh]
	return id, ok
}

// JobCounts are a job's stage and task tallies.
type JobCounts struct {
	Stages, StagesDone, StagesSkipped, StagesFailed int
	Tasks, TasksDone, TasksFailed                   int
}

// Counts tallies a job's stages (by their latest attempt) and tasks (of
// every attempt).
func (s *State) Counts(j *Job) JobCounts {
	var c JobCounts
	latest := map[int]*Stage{}
	for _, k := range j.Stages {
		st := s.Stages[k]
		if prev := latest[k.Stage]; prev == nil || st.Attempt > prev.Attempt {
			latest[k.Stage] = st
		}
		c.Tasks += st.Tasks
		c.TasksDone += st.Succeeded
		c.TasksFailed += st.Failed
	}
	for _, st := range latest {
		c.Stages++
		switch st.Status {
		case Complete:
			c.StagesDone++
		case Failed:
			c.StagesFailed++
		}
	}
	c.Stages += len(j.Skipped)
	c.StagesSkipped = len(j.Skipped)
	return c
}

func sortedConfig(m map[string]string) [][2]string {
	out := make([][2]string, 0, len(m))
	for k, v := range m {
		out = append(out, [2]string{k, v})
	}
	sort.Slice(out, func(a, b int) bool { return out[a][0] < out[b][0] })
	return out
}

// String is a one-line summary, for logs and tests.
func (s *State) String() string {
	return fmt.Sprintf("app %q: %d jobs, %d stage attempts, %d executors", s.App.Name, len(s.Jobs), len(s.Stages), len(s.Executors))
}
