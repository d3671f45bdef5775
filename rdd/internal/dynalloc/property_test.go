package dynalloc

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// TestInvariants drives random event sequences and checks, at every tick:
// the target stays within [minExecutors, maxExecutors] once initialization
// is over; a kill never leaves fewer executors than minExecutors or the
// target; an executor running a task is never killed; an executor is
// killed only after its idle timeout.
func TestInvariants(t *testing.T) {
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 7))
		cfg := Defaults()
		cfg.MinExecutors = rng.IntN(3)
		cfg.MaxExecutors = cfg.MinExecutors + 1 + rng.IntN(6)
		cfg.InitialExecutors = rng.IntN(cfg.MaxExecutors + 1)
		cfg.IdleTimeout = time.Duration(1+rng.IntN(10)) * time.Second
		cfg.TasksPerExecutor = 1 + rng.IntN(3)
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		m := New(cfg)
		now := epoch
		type run struct{ stage, part int }
		running := map[string][]run{} // executor -> its running tasks
		var execs []string
		stages := map[int]int{} // stage -> tasks
		next := 0
		lastBusy := map[string]time.Time{}
		for step := range 400 {
			now = now.Add(time.Duration(rng.IntN(700)) * time.Millisecond)
			switch rng.IntN(6) {
			case 0:
				id := fmt.Sprintf("e%d", next)
				next++
				execs = append(execs, id)
				m.ExecutorAdded(id, now)
				lastBusy[id] = now
			case 1:
				id := len(stages) + step*10
				stages[id] = 1 + rng.IntN(8)
				m.StageSubmitted(id, stages[id], now)
			case 2:
				if len(execs) > 0 && len(stages) > 0 {
					e := execs[rng.IntN(len(execs))]
					for s, n := range stages {
						running[e] = append(running[e], run{s, rng.IntN(n)})
						m.TaskStarted(s, running[e][len(running[e])-1].part, e, now)
						break
					}
				}
			case 3:
				for e, rs := range running {
					if len(rs) > 0 {
						r := rs[len(rs)-1]
						running[e] = rs[:len(rs)-1]
						m.TaskEnded(r.stage, r.part, e, rng.IntN(4) > 0, now)
						lastBusy[e] = now
						break
					}
				}
			case 4:
				for s := range stages {
					delete(stages, s)
					m.StageCompleted(s)
					break
				}
			}
			held := len(execs)
			d := m.Tick(now)
			if !m.initializing && (d.Target < cfg.MinExecutors || d.Target > cfg.MaxExecutors) {
				t.Fatalf("seed %d step %d: target %d outside [%d, %d]", seed, step, d.Target, cfg.MinExecutors, cfg.MaxExecutors)
			}
			if len(d.Kill) > 0 && held-len(d.Kill) < max(cfg.MinExecutors, d.Target) {
				t.Fatalf("seed %d step %d: killing %v of %d leaves fewer than min %d / target %d", seed, step, d.Kill, held, cfg.MinExecutors, d.Target)
			}
			for _, k := range d.Kill {
				if len(running[k]) > 0 {
					t.Fatalf("seed %d step %d: killed %s running %d tasks", seed, step, k, len(running[k]))
				}
				if now.Sub(lastBusy[k]) < cfg.IdleTimeout {
					t.Fatalf("seed %d step %d: killed %s idle for only %s", seed, step, k, now.Sub(lastBusy[k]))
				}
				m.ExecutorRemoved(k)
				for i, e := range execs {
					if e == k {
						execs = append(execs[:i], execs[i+1:]...)
						break
					}
				}
			}
		}
	}
}
