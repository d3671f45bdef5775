package job

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mesoproject/meso/internal/scripttest"
	"github.com/mesoproject/meso/rdd/internal/plan"
	"github.com/mesoproject/meso/rdd/internal/task"
)

// TestScenarios runs the scripts in testdata. Regenerate the expected
// output with: go test ./rdd/internal/job -run TestScenarios -rewrite
//
// Commands (one per line; a block's output is the Ready of each line):
//
//	node ID parts=N [narrow=P,...] [shuffle=P:SH,...]   add a dataset to the graph
//	cache ID:PART [at=E1,E2]                           mark a partition cached (held by executors)
//	job J target=ID [parts=0,1] [maxfail=N] [maxstage=N] [wait=SECONDS] [prefetch=N] start job J
//	executor-added E slots=N | executor-lost E
//	succeed J SH:PART [sizes=1,2]   (SH is r for the result stage)
//	fail J SH:PART | fetch-failed J SH:PART shuffle=S maps=0,1
//	tick SECONDS | abort J | outputs
func TestScenarios(t *testing.T) {
	scripttest.Walk(t, "testdata", func(*testing.T) *harness {
		return &harness{graph: plan.Graph{}, books: NewBooks(), cached: map[[2]int]bool{},
			jobs: map[int]*Job{}, launched: map[int]map[key]*task.Desc{}, start: time.Unix(1000, 0)}
	}, func(t *testing.T, h *harness, cmd []string, out *strings.Builder) { out.WriteString(h.exec(t, cmd)) })
}

type harness struct {
	graph    plan.Graph
	books    *Books
	cached   map[[2]int]bool
	holders  map[[2]int][]string
	jobs     map[int]*Job
	launched map[int]map[key]*task.Desc // job -> latest launch per task
	execs    []string                   // registered executors, for jobs started later
	slots    map[string]int
	start    time.Time
	now      time.Duration
}

func (h *harness) Cached(n plan.NodeID, p int) bool { return h.cached[[2]int{int(n), p}] }

func (h *harness) Holders(n plan.NodeID, p int) []string { return h.holders[[2]int{int(n), p}] }

func kv(fields []string) map[string]string {
	m := map[string]string{}
	for _, f := range fields {
		if k, v, ok := strings.Cut(f, "="); ok {
			m[k] = v
		}
	}
	return m
}

func ints(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil {
			panic(err)
		}
		out = append(out, n)
	}
	return out
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return n
}

// taskKey parses SH:PART (SH "r" for the result stage).
func taskKey(s string) key {
	sh, p, _ := strings.Cut(s, ":")
	if sh == "r" {
		return key{-1, atoi(p)}
	}
	return key{atoi(sh), atoi(p)}
}

func keyString(k key) string {
	if k.shuffle < 0 {
		return fmt.Sprintf("r:%d", k.part)
	}
	return fmt.Sprintf("%d:%d", k.shuffle, k.part)
}

func (h *harness) exec(t *testing.T, f []string) string {
	args := kv(f[1:])
	switch f[0] {
	case "node":
		n := &plan.Node{Partitions: atoi(args["parts"])}
		for _, p := range ints(args["narrow"]) {
			n.Deps = append(n.Deps, plan.Dep{Parent: plan.NodeID(p), Shuffle: -1})
		}
		if s := args["shuffle"]; s != "" {
			for _, ps := range strings.Split(s, ",") {
				p, sh, _ := strings.Cut(ps, ":")
				n.Deps = append(n.Deps, plan.Dep{Parent: plan.NodeID(atoi(p)), Shuffle: atoi(sh)})
			}
		}
		h.graph[plan.NodeID(atoi(f[1]))] = n
		return ""
	case "cache":
		k := ints(strings.Replace(f[1], ":", ",", 1))
		h.cached[[2]int{k[0], k[1]}] = true
		if at := args["at"]; at != "" {
			if h.holders == nil {
				h.holders = map[[2]int][]string{}
			}
			h.holders[[2]int{k[0], k[1]}] = strings.Split(at, ",")
		}
		return ""
	case "job":
		id := atoi(f[1])
		target := plan.NodeID(atoi(args["target"]))
		parts := ints(args["parts"])
		if _, ok := args["parts"]; !ok {
			for p := range h.graph[target].Partitions {
				parts = append(parts, p)
			}
		}
		cfg := Config{ID: id, Graph: h.graph, Target: target, Partitions: parts, Pipelines: h.pipelines(target),
			MaxTaskFailures: 4, MaxStageAttempts: 4}
		if v, ok := args["maxfail"]; ok {
			cfg.MaxTaskFailures = atoi(v)
		}
		if v, ok := args["maxstage"]; ok {
			cfg.MaxStageAttempts = atoi(v)
		}
		if v, ok := args["prefetch"]; ok {
			cfg.Prefetch = atoi(v)
		}
		if v, ok := args["wait"]; ok {
			cfg.LocalityWait = time.Duration(atoi(v)) * time.Second
		}
		j := New(cfg, h.books, h, h.start.Add(h.now))
		h.jobs[id] = j
		h.launched[id] = map[key]*task.Desc{}
		for _, e := range h.execs {
			j.ExecutorAdded(e, h.slots[e]) // nothing to launch before Start
		}
		return h.show(id, j.Start())
	case "executor-added":
		if h.slots == nil {
			h.slots = map[string]int{}
		}
		if _, ok := h.slots[f[1]]; !ok {
			h.execs = append(h.execs, f[1])
		}
		h.slots[f[1]] = atoi(args["slots"])
		return h.each(func(id int, j *Job) Ready { return j.ExecutorAdded(f[1], h.slots[f[1]]) })
	case "executor-lost":
		h.execs = slices.DeleteFunc(h.execs, func(e string) bool { return e == f[1] })
		delete(h.slots, f[1]) // so that it registers again when re-added
		return h.each(func(id int, j *Job) Ready { return j.ExecutorLost(f[1]) })
	case "tick":
		h.now += time.Duration(atoi(f[1])) * time.Second
		return h.each(func(id int, j *Job) Ready { return j.Tick(h.start.Add(h.now)) })
	case "outputs":
		return h.outputs()
	}
	id := atoi(f[1])
	j := h.jobs[id]
	if f[0] == "abort" {
		return h.show(id, j.Abort(errors.New("aborted")))
	}
	k := taskKey(f[2])
	d := h.launched[id][k]
	if d == nil {
		t.Fatalf("%v: task %s of job %d was never launched", f, f[2], id)
	}
	switch f[0] {
	case "succeed":
		var v any = "value"
		if k.shuffle >= 0 {
			sizes := []int64{1}
			if s, ok := args["sizes"]; ok {
				sizes = nil
				for _, n := range ints(s) {
					sizes = append(sizes, int64(n))
				}
			}
			v = sizes
		}
		return h.show(id, j.TaskSucceeded(d.ID, v))
	case "fail":
		return h.show(id, j.TaskFailed(d.ID, errors.New("boom")))
	case "fail-noretry":
		return h.show(id, j.TaskFailed(d.ID, fmt.Errorf("rebuilt differently: %w", ErrNoRetry)))
	case "fetch-failed":
		return h.show(id, j.FetchFailed(d.ID, atoi(args["shuffle"]), ints(args["maps"])))
	}
	t.Fatalf("unknown command %q", f[0])
	return ""
}

// pipelines names every stage reachable from target: "map N" / "result N".
func (h *harness) pipelines(target plan.NodeID) map[int]*task.Pipeline {
	out := map[int]*task.Pipeline{-1: {Name: fmt.Sprintf("result %d", target), Shuffle: -1}}
	for _, n := range h.graph {
		for _, d := range n.Deps {
			if d.Shuffle >= 0 {
				out[d.Shuffle] = &task.Pipeline{Name: fmt.Sprintf("map %d", d.Parent), Shuffle: d.Shuffle}
			}
		}
	}
	return out
}

func (h *harness) each(f func(id int, j *Job) Ready) string {
	ids := make([]int, 0, len(h.jobs))
	for id := range h.jobs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var out strings.Builder
	for _, id := range ids {
		if !h.jobs[id].Done() {
			out.WriteString(h.show(id, f(id, h.jobs[id])))
		}
	}
	return out.String()
}

func (h *harness) show(id int, r Ready) string {
	var b strings.Builder
	for _, e := range r.Events {
		switch e.Kind {
		case TaskRequeued:
			fmt.Fprintf(&b, "job %d: %v stage %d task %s failures=%d\n", id, e.Kind, e.Stage,
				keyString(key{e.Shuffle, e.Partition}), e.Failures)
		case Starved:
			fmt.Fprintf(&b, "job %d: %v tasks=%d\n", id, e.Kind, e.Tasks)
		case StageSubmitted:
			fmt.Fprintf(&b, "job %d: %v stage %d.%d (%s) tasks=%d\n", id, e.Kind, e.Stage, e.StageAttempt, e.Name, e.Tasks)
		default:
			fmt.Fprintf(&b, "job %d: %v stage %d.%d (%s)\n", id, e.Kind, e.Stage, e.StageAttempt, e.Name)
		}
	}
	for _, d := range r.Launch {
		k := key{d.Shuffle, d.Partition}
		h.launched[id][k] = d
		pre := ""
		if d.Prefetched {
			pre = " prefetched"
		}
		fmt.Fprintf(&b, "job %d: launch %s stage %d.%d attempt %d on %s%s\n", id, keyString(k), d.Stage,
			d.StageAttempt, d.Attempt, d.Executor, pre)
	}
	for _, o := range r.Results {
		fmt.Fprintf(&b, "job %d: result %d\n", id, o.Partition)
	}
	if r.Done {
		if r.Err != nil {
			fmt.Fprintf(&b, "job %d: failed: %v\n", id, r.Err)
		} else {
			fmt.Fprintf(&b, "job %d: done\n", id)
		}
	}
	return b.String()
}

func (h *harness) outputs() string {
	var shs []int
	for sh := range h.books.outputs {
		shs = append(shs, sh)
	}
	slices.Sort(shs)
	var b strings.Builder
	for _, sh := range shs {
		o := h.books.outputs[sh]
		fmt.Fprintf(&b, "shuffle %d:", sh)
		for m, e := range o.exec {
			if e == "" {
				e = "-"
			}
			fmt.Fprintf(&b, " %d@%s", m, e)
		}
		b.WriteString("\n")
	}
	if b.Len() == 0 {
		return "no outputs\n"
	}
	return b.String()
}
