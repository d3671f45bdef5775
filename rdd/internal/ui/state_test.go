package ui

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// events is a small application's event log: job 0 runs a map stage
// (shuffle 0, two tasks, one failing once) and a result stage reading it;
// job 1 skips the map stage and runs another result stage; an executor
// comes and goes.
func events() []Event {
	t0 := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	m := func(d time.Duration, read, written int64) *Metrics {
		return &Metrics{Duration: d, ShuffleBytesRead: read, ShuffleBytesWritten: written}
	}
	return []Event{
		{Kind: "AppStart", Time: at(0), App: "demo", Master: "mesos://m:5050", Slots: 2, Config: map[string]string{"spark.b": "2", "spark.a": "1"}},
		{Kind: "ExecutorAdded", Time: at(1), Executor: "e1", Host: "10.0.0.1:4100", Cores: 2},
		{Kind: "JobStart", Time: at(2), Job: 0, Name: "collect at main.go:10"},
		{Kind: "StageSubmitted", Time: at(2), Job: 0, Stage: 0, Shuffle: 0, Tasks: 2, Name: "groupBy at main.go:9"},
		{Kind: "TaskStart", Time: at(2), Job: 0, Stage: 0, Partition: 0},
		{Kind: "TaskStart", Time: at(2), Job: 0, Stage: 0, Partition: 1},
		{Kind: "TaskEnd", Time: at(3), Job: 0, Stage: 0, Partition: 0, Executor: "e1", Metrics: m(time.Second, 0, 100)},
		{Kind: "TaskEnd", Time: at(3), Job: 0, Stage: 0, Partition: 1, Executor: "e1", Error: "boom", Metrics: m(time.Second, 0, 0)},
		{Kind: "TaskStart", Time: at(3), Job: 0, Stage: 0, Partition: 1, Attempt: 1},
		{Kind: "TaskEnd", Time: at(4), Job: 0, Stage: 0, Partition: 1, Attempt: 1, Executor: "e1", Metrics: m(time.Second, 0, 50)},
		{Kind: "StageCompleted", Time: at(4), Job: 0, Stage: 0, Shuffle: 0},
		{Kind: "StageSubmitted", Time: at(4), Job: 0, Stage: 1, Shuffle: -1, Parents: []int{0}, Tasks: 1, Name: "collect at main.go:10"},
		{Kind: "TaskStart", Time: at(4), Job: 0, Stage: 1, Shuffle: -1, Partition: 0},
		{Kind: "TaskEnd", Time: at(5), Job: 0, Stage: 1, Shuffle: -1, Partition: 0, Executor: "e1", Metrics: m(time.Second, 150, 0)},
		{Kind: "StageCompleted", Time: at(5), Job: 0, Stage: 1, Shuffle: -1},
		{Kind: "JobEnd", Time: at(5), Job: 0},
		{Kind: "JobStart", Time: at(6), Job: 1, Name: "count at main.go:12"},
		{Kind: "StageSkipped", Time: at(6), Job: 1, Stage: 0, Shuffle: 0, Name: "groupBy at main.go:9"},
		{Kind: "StageSubmitted", Time: at(6), Job: 1, Stage: 2, Shuffle: -1, Parents: []int{0}, Tasks: 1, Name: "count at main.go:12"},
		{Kind: "TaskStart", Time: at(6), Job: 1, Stage: 2, Shuffle: -1, Partition: 0},
		{Kind: "TaskEnd", Time: at(7), Job: 1, Stage: 2, Shuffle: -1, Partition: 0, Executor: "e1", Error: "fetch failed"},
		{Kind: "StageCompleted", Time: at(7), Job: 1, Stage: 2, Shuffle: -1},
		{Kind: "JobEnd", Time: at(7), Job: 1, Error: "job 1 failed: fetch failed"},
		{Kind: "ExecutorRemoved", Time: at(8), Executor: "e1", Reason: "idle for 15s"},
		{Kind: "AppEnd", Time: at(9)},
	}
}

func TestStateFoldsAnApplication(t *testing.T) {
	s := NewState()
	for _, e := range events() {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		s.ApplyJSON(b)
	}
	s.ApplyJSON([]byte(`{"event": "TaskEnd", "torn`)) // a torn last line
	if s.Undecodable() != 1 {
		t.Errorf("undecodable = %d, want 1", s.Undecodable())
	}
	if s.App.Name != "demo" || s.App.Running || s.App.End.IsZero() || len(s.App.Config) != 2 || s.App.Config[0][0] != "spark.a" {
		t.Errorf("app = %+v", s.App)
	}
	j0, j1 := s.Jobs[0], s.Jobs[1]
	if j0.Status != Succeeded || j1.Status != Failed || j1.Error == "" {
		t.Errorf("jobs: %s, %s (%q)", j0.Status, j1.Status, j1.Error)
	}
	if c := s.Counts(j0); c != (JobCounts{Stages: 2, StagesDone: 2, Tasks: 3, TasksDone: 3, TasksFailed: 1}) {
		t.Errorf("job 0 counts = %+v", c)
	}
	if c := s.Counts(j1); c != (JobCounts{Stages: 2, StagesSkipped: 1, StagesFailed: 1, Tasks: 1, TasksFailed: 1}) {
		t.Errorf("job 1 counts = %+v", c)
	}
	st0 := s.Stages[StageKey{0, 0}]
	if st0.Written != 150 || len(st0.TaskRows) != 3 || st0.Running != 0 || st0.Status != Complete {
		t.Errorf("stage 0 = %+v", st0)
	}
	if s.Stages[StageKey{1, 0}].Read != 150 {
		t.Errorf("stage 1 read = %d", s.Stages[StageKey{1, 0}].Read)
	}
	x := s.Executors["e1"]
	if x.Completed != 3 || x.Failed != 2 || x.Reason != "idle for 15s" || x.Removed.IsZero() || x.Written != 150 || x.Read != 150 {
		t.Errorf("executor = %+v", x)
	}
	// Job 1's DAG: the skipped map stage feeds stage 2.
	d := jobDAG(s, j1)
	if len(d.nodes) != 2 || len(d.edges) != 1 || d.nodes[d.edges[0][0]].stage != 0 || d.nodes[d.edges[0][1]].stage != 2 ||
		d.nodes[0].status != Skipped || d.nodes[1].col != 1 {
		t.Errorf("dag = %+v", d)
	}
	if svg := string(d.svg()); !strings.Contains(svg, "Stage 0 (skipped)") || !strings.Contains(svg, `class="stage-node skipped"`) {
		t.Errorf("dag svg = %s", svg)
	}
}

// Events whose starts were not seen (a log cut at the start, or a listener
// added late) still land somewhere, and text reaches the SVG escaped.
func TestStateToleratesMissingStarts(t *testing.T) {
	s := NewState()
	s.Apply(Event{Kind: "TaskEnd", Job: 3, Stage: 7, Partition: 2, Error: "x"})
	s.Apply(Event{Kind: "StageCompleted", Job: 3, Stage: 7})
	s.Apply(Event{Kind: "ExecutorRemoved", Executor: "e<9>"})
	if j := s.Jobs[3]; j == nil || len(j.Stages) != 1 || s.Stages[StageKey{7, 0}].Failed != 1 {
		t.Fatalf("jobs = %+v", s.Jobs)
	}
	tl := newTimeline(s.ExecutorList(), App{Start: time.Now().Add(-time.Minute)})
	if svg := string(tl.svg()); strings.Contains(svg, "e<9>") || !strings.Contains(svg, "e&lt;9&gt;") {
		t.Errorf("timeline svg not escaped: %s", svg)
	}
}

// A prefetched task (handed to an executor beyond its free slots) is
// QUEUED, not running, until one of its executor's tasks ends; one that
// ends while queued (its executor lost) was never counted as running.
func TestStateQueuesPrefetchedTasks(t *testing.T) {
	s := NewState()
	at := time.Unix(100, 0)
	s.Apply(Event{Kind: "StageSubmitted", Job: 0, Stage: 0, Tasks: 4, Time: at})
	s.Apply(Event{Kind: "TaskStart", Job: 0, Stage: 0, Partition: 0, Executor: "e1", Time: at})
	s.Apply(Event{Kind: "TaskStart", Job: 0, Stage: 0, Partition: 1, Executor: "e1", Prefetched: true, Time: at})
	s.Apply(Event{Kind: "TaskStart", Job: 0, Stage: 0, Partition: 2, Executor: "e2", Time: at})
	s.Apply(Event{Kind: "TaskStart", Job: 0, Stage: 0, Partition: 3, Executor: "e2", Prefetched: true, Time: at})
	st := s.Stages[StageKey{0, 0}]
	status := func() []string {
		var out []string
		for _, r := range st.TaskRows {
			out = append(out, r.Status)
		}
		return out
	}
	if st.Running != 2 || !slices.Equal(status(), []string{Running, Queued, Running, Queued}) {
		t.Fatalf("after the starts: running %d, %v", st.Running, status())
	}
	s.Apply(Event{Kind: "TaskEnd", Job: 0, Stage: 0, Partition: 0, Executor: "e1", Time: at.Add(time.Second)})
	if st.Running != 2 || st.TaskRows[1].Status != Running || !st.TaskRows[1].Start.Equal(at.Add(time.Second)) {
		t.Fatalf("after e1's task ended: running %d, %v, started %v", st.Running, status(), st.TaskRows[1].Start)
	}
	// e2 lost: its queued task ends first, then its running one.
	s.Apply(Event{Kind: "TaskEnd", Job: 0, Stage: 0, Partition: 3, Executor: "e2", Error: "lost", Time: at.Add(2 * time.Second)})
	s.Apply(Event{Kind: "TaskEnd", Job: 0, Stage: 0, Partition: 2, Executor: "e2", Error: "lost", Time: at.Add(2 * time.Second)})
	if st.Running != 1 || st.Failed != 2 {
		t.Fatalf("after e2 was lost: running %d, failed %d, %v", st.Running, st.Failed, status())
	}
	s.Apply(Event{Kind: "TaskEnd", Job: 0, Stage: 0, Partition: 1, Executor: "e1", Time: at.Add(3 * time.Second)})
	if st.Running != 0 || s.waiting.Len() != 0 {
		t.Fatalf("at the end: running %d, %d waiting", st.Running, s.waiting.Len())
	}
}
