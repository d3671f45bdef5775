package job

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/mesoproject/meso/rdd/internal/plan"
	"github.com/mesoproject/meso/rdd/internal/task"
)

// Random runs of a two-shuffle job with task failures, fetch failures and
// executors coming and going: the job always finishes, every partition's
// result is handed out exactly once, and no task is ever launched on an
// unknown executor or beyond an executor's slots.
func TestRandomRuns(t *testing.T) {
	for seed := range uint64(300) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { randomRun(t, seed) })
	}
}

func randomRun(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	a, b, c := 1+rng.IntN(5), 1+rng.IntN(5), 1+rng.IntN(5)
	// source(0) -> narrow(1) =shuffle 10=> 2 =shuffle 20=> 3
	g := plan.Graph{
		0: {Partitions: a},
		1: {Partitions: a, Deps: []plan.Dep{{Parent: 0, Shuffle: -1}}},
		2: {Partitions: b, Deps: []plan.Dep{{Parent: 1, Shuffle: 10}}},
		3: {Partitions: c, Deps: []plan.Dep{{Parent: 2, Shuffle: 20}}},
	}
	reads := map[int]int{-1: 20, 20: 10, 10: -1} // stage (by shuffle written) -> shuffle read
	maps := map[int]int{10: a, 20: b}
	parts := make([]int, c)
	for i := range parts {
		parts[i] = i
	}
	pipelines := map[int]*task.Pipeline{-1: {Name: "result"}, 10: {Name: "map10"}, 20: {Name: "map20"}}
	// Every other seed, node 1's partitions are held by executors (some
	// never registered, some lost later) and stages wait for them
	// (delay scheduling): still every slot bound holds and the job ends.
	var cache Cache = noCache{}
	var wait time.Duration
	if seed%2 == 1 {
		h := holders{}
		for p := range a {
			h[p] = []string{fmt.Sprintf("e%d", rng.IntN(6))}
		}
		cache, wait = h, time.Duration(rng.IntN(4))*time.Second
	}
	now := time.Unix(0, 0)
	// Every third seed, executors get prefetched tasks: the bound is then
	// slots*(1+prefetch) tasks per executor.
	prefetch := 0
	if seed%3 == 2 {
		prefetch = 1 + rng.IntN(2)
	}
	j := New(Config{ID: 1, Graph: g, Target: 3, Partitions: parts, Pipelines: pipelines,
		MaxTaskFailures: 1 << 30, MaxStageAttempts: 1 << 30, LocalityWait: wait, Prefetch: prefetch}, NewBooks(), cache, now)

	slots := map[string]int{}
	busy := map[string]int{}
	running := map[key]*task.Desc{}
	results := map[int]int{}
	nextExec := 0
	apply := func(r Ready) {
		for _, d := range r.Launch {
			if _, ok := slots[d.Executor]; !ok {
				t.Fatalf("launched %v on unknown executor %q", d.ID, d.Executor)
			}
			busy[d.Executor]++
			if busy[d.Executor] > slots[d.Executor]*(1+prefetch) {
				t.Fatalf("executor %s runs %d tasks on %d slots (prefetch %d)", d.Executor, busy[d.Executor], slots[d.Executor], prefetch)
			}
			k := key{d.Shuffle, d.Partition}
			if running[k] != nil {
				t.Fatalf("task %v launched while attempt %d runs", d.ID, running[k].Attempt)
			}
			running[k] = d
		}
		for _, o := range r.Results {
			results[o.Partition]++
		}
		if r.Done && r.Err != nil {
			t.Fatalf("job failed: %v", r.Err)
		}
	}
	addExec := func() {
		id := fmt.Sprintf("e%d", nextExec)
		nextExec++
		slots[id] = 1 + rng.IntN(3)
		apply(j.ExecutorAdded(id, slots[id]))
	}
	addExec()
	apply(j.Start())
	for step := 0; !j.Done(); step++ {
		if step > 100_000 {
			t.Fatal("the job does not finish")
		}
		if rng.IntN(15) == 0 {
			now = now.Add(time.Second)
			apply(j.Tick(now))
			continue
		}
		if len(slots) == 0 || rng.IntN(20) == 0 {
			addExec()
			continue
		}
		if rng.IntN(25) == 0 {
			ids := make([]string, 0, len(slots))
			for id := range slots {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			lost := ids[rng.IntN(len(ids))]
			delete(slots, lost)
			delete(busy, lost)
			for k, d := range running {
				if d.Executor == lost {
					delete(running, k)
				}
			}
			apply(j.ExecutorLost(lost))
			continue
		}
		if len(running) == 0 {
			// Delay scheduling never idles every slot: a task waits
			// only for a busy executor.
			t.Fatalf("step %d: nothing runs and the job is not done", step)
		}
		keys := make([]key, 0, len(running))
		for k := range running {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(x, y key) int { return x.shuffle*100 + x.part - (y.shuffle*100 + y.part) })
		k := keys[rng.IntN(len(keys))]
		d := running[k]
		delete(running, k)
		busy[d.Executor]--
		switch roll := rng.IntN(10); {
		case roll == 0:
			apply(j.TaskFailed(d.ID, errors.New("boom")))
		case roll == 1 && reads[k.shuffle] >= 0:
			sh := reads[k.shuffle]
			lost := []int{rng.IntN(maps[sh])}
			apply(j.FetchFailed(d.ID, sh, lost))
		default:
			var v any = []int64{1}
			apply(j.TaskSucceeded(d.ID, v))
		}
	}
	for p := range c {
		if results[p] != 1 {
			t.Fatalf("partition %d handed out %d times", p, results[p])
		}
	}
}

type noCache struct{}

func (noCache) Cached(plan.NodeID, int) bool { return false }

// holders places node 1's partitions on executors, for delay scheduling.
type holders map[int][]string

func (holders) Cached(plan.NodeID, int) bool { return false }
func (h holders) Holders(n plan.NodeID, p int) []string {
	if n != 1 {
		return nil
	}
	return h[p]
}
