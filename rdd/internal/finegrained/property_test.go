package finegrained

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
)

// Random sequences of submissions, kills, offers, updates and executor
// ends: no offer gives more cpus or memory than it has, an agent's
// executor is started only when it has none live, every task is launched
// at most once at a time, and every submitted task ends exactly once (or
// is still pending or running).
func TestRandomSequences(t *testing.T) {
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 1))
		s := Settings{ExecutorCPUs: float64(rng.IntN(3)) / 2, ExecutorMemMiB: 512, TaskCPUs: float64(1+rng.IntN(2)) / 2, RejectFor: time.Minute}
		c := NewCore(s)
		submitted, ended := map[string]bool{}, map[string]int{}
		launched := map[string]string{} // running task -> agent
		live := map[string]string{}     // agent -> live executor, as the launches say
		next := 0
		check := func() {
			r := c.Ready()
			for _, l := range r.Launch {
				if l.NewExecutor == (live[l.Agent] != "") {
					t.Fatalf("seed %d: launch %+v with live executor %q", seed, l, live[l.Agent])
				}
				live[l.Agent] = l.Executor
				for _, id := range l.Tasks {
					if _, ok := launched[id]; ok {
						t.Fatalf("seed %d: %s launched twice", seed, id)
					}
					launched[id] = l.Agent
				}
			}
			for _, e := range r.Ended {
				ended[e.Task]++
				if ended[e.Task] > 1 || !submitted[e.Task] {
					t.Fatalf("seed %d: %s ended %d times (submitted %v)", seed, e.Task, ended[e.Task], submitted[e.Task])
				}
				delete(launched, e.Task)
			}
			for _, g := range r.Gone {
				for a, x := range live {
					if x == g {
						delete(live, a)
					}
				}
			}
		}
		for range 200 {
			switch rng.IntN(6) {
			case 0:
				id := fmt.Sprintf("t%d", next)
				next++
				submitted[id] = true
				c.Submit(id)
			case 1:
				if next > 0 {
					c.Kill(fmt.Sprintf("t%d", rng.IntN(next)))
				}
			case 2:
				var batch []Offer
				for i := range 1 + rng.IntN(3) {
					batch = append(batch, Offer{ID: fmt.Sprintf("o%d", i), Agent: fmt.Sprintf("a%d", rng.IntN(3)),
						CPUs: float64(rng.IntN(5)), MemMiB: float64(rng.IntN(2048))})
				}
				c.Offers(batch)
				r := c.Ready()
				for _, l := range r.Launch {
					var o Offer
					for _, b := range batch {
						if b.ID == l.OfferID {
							o = b
						}
					}
					cpus, mem := float64(len(l.Tasks))*s.TaskCPUs, 0.0
					if l.NewExecutor {
						cpus, mem = cpus+s.ExecutorCPUs, s.ExecutorMemMiB
					}
					if round(o.CPUs-cpus) < 0 || round(o.MemMiB-mem) < 0 {
						t.Fatalf("seed %d: launch %+v takes cpus %v mem %v of %+v", seed, l, cpus, mem, o)
					}
				}
				c.out = r // let check see them
			case 3, 4:
				for id := range launched {
					st := []mesospb.TaskState{mesospb.TaskState_TASK_RUNNING, mesospb.TaskState_TASK_FINISHED,
						mesospb.TaskState_TASK_FAILED, mesospb.TaskState_TASK_LOST}[rng.IntN(4)]
					c.Update(Status{TaskID: id, State: st})
					break
				}
			case 5:
				for a, x := range live {
					c.ExecutorGone(a, x)
					break
				}
			}
			check()
		}
		if n := len(c.pending) + c.Running(); n+len(ended) != len(submitted) {
			t.Fatalf("seed %d: %d pending or running + %d ended != %d submitted", seed, n, len(ended), len(submitted))
		}
	}
}
