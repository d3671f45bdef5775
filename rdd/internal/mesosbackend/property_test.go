package mesosbackend

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/resources"
)

// TestCoreProperties drives cores with random offers, updates, targets,
// kills and stops, and checks after every step: the cpus held never exceed
// spark.cores.max and equal the sum over live executors; every offer is
// launched on or declined, once; no executor lands on an agent that fails
// the constraints, is blacklisted, or after Stop; no launch exceeds the
// target; executors fit their offer.
func TestCoreProperties(t *testing.T) {
	total := 0
	for seed := range uint64(300) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { total += runProperties(t, seed) })
	}
	if total < 1000 {
		t.Errorf("only %d executors launched over all runs: the test is too weak", total)
	}
}

func runProperties(t *testing.T, seed uint64) int {
	rng := rand.New(rand.NewPCG(seed, 7))
	conf := map[string]string{}
	if rng.IntN(2) == 0 {
		conf[KeyCoresMax] = fmt.Sprint(1 + rng.IntN(12))
	}
	if rng.IntN(2) == 0 {
		conf[KeyExecutorCores] = fmt.Sprint(1 + rng.IntN(3))
	}
	if rng.IntN(3) == 0 {
		conf[KeyConstraints] = "rack:r1"
	}
	conf[KeyExecutorMemory] = fmt.Sprint(256 * (1 + rng.IntN(4)))
	s, err := ParseSettings(conf)
	if err != nil {
		t.Skip(err) // executor cores over cores.max
		return 0
	}
	total := 0
	c := NewCore(s)
	now := epoch
	agents := []string{"a1", "a2", "a3", "a4"}
	attrs := map[string]resources.Attributes{}
	for i, a := range agents {
		attrs[a], _ = resources.ParseAttributes(fmt.Sprintf("rack:r%d", 1+i%2))
	}
	nextOffer := 0
	for step := range 200 {
		now = now.Add(time.Duration(rng.IntN(5000)) * time.Millisecond)
		liveBefore := len(c.Executors())
		var batch []Offer
		switch r := rng.IntN(10); {
		case r < 4:
			for range 1 + rng.IntN(3) {
				a := agents[rng.IntN(len(agents))]
				batch = append(batch, Offer{ID: fmt.Sprintf("o%d", nextOffer), Agent: a,
					CPUs: float64(rng.IntN(9)) / 2, MemMiB: float64(rng.IntN(8192)), Attributes: attrs[a]})
				nextOffer++
			}
			c.Offers(now, batch)
		case r < 7:
			if live := c.Executors(); len(live) > 0 {
				e := live[rng.IntN(len(live))]
				states := []mesospb.TaskState{mesospb.TaskState_TASK_RUNNING, mesospb.TaskState_TASK_FAILED,
					mesospb.TaskState_TASK_FINISHED, mesospb.TaskState_TASK_LOST, mesospb.TaskState_TASK_KILLED}
				c.Update(now, Status{ExecutorID: e.ID, Agent: e.Agent, State: states[rng.IntN(len(states))]})
			}
		case r == 7:
			c.SetTarget(rng.IntN(6) - 1)
		case r == 8:
			if live := c.Executors(); len(live) > 0 {
				if err := c.Kill(now, live[rng.IntN(len(live))].ID); err != nil {
					t.Fatal(err)
				}
			} else {
				c.Tick(now)
			}
		default:
			if rng.IntN(10) == 0 {
				c.Stop(now)
			} else {
				c.Tick(now)
			}
		}
		stoppedBefore := c.Stopped()
		blacklistedBefore := map[string]bool{}
		for _, a := range agents {
			blacklistedBefore[a] = c.Blacklisted(a)
		}
		r := c.Ready()
		where := fmt.Sprintf("step %d", step)
		// Cores.
		sum := 0
		for _, e := range c.Executors() {
			sum += e.CPUs
		}
		if sum != c.CoresInUse() {
			t.Fatalf("%s: cores in use %d, executors hold %d", where, c.CoresInUse(), sum)
		}
		if s.CoresMax > 0 && sum > s.CoresMax {
			t.Fatalf("%s: %d cpus held, spark.cores.max %d", where, sum, s.CoresMax)
		}
		// Offers answered once.
		answered := map[string]int{}
		launched := 0
		for _, l := range r.Launch {
			answered[l.OfferID]++
			var o Offer
			for _, b := range batch {
				if b.ID == l.OfferID {
					o = b
				}
			}
			cpus, mem := 0, 0
			for _, e := range l.Executors {
				cpus += e.CPUs
				mem += e.MemMiB
				launched++
				total++
				if e.Agent != o.Agent || e.CPUs < 1 || (s.ExecutorCores > 0 && e.CPUs != s.ExecutorCores) {
					t.Fatalf("%s: executor %+v on offer %+v", where, e, o)
				}
			}
			if float64(cpus) > o.CPUs || float64(mem) > o.MemMiB {
				t.Fatalf("%s: %d cpus %d MiB launched on offer %+v", where, cpus, mem, o)
			}
			if stoppedBefore || blacklistedBefore[o.Agent] || !s.Constraints.Match(o.Attributes) {
				t.Fatalf("%s: launch on %+v (stopped %t, blacklisted %t)", where, o, stoppedBefore, blacklistedBefore[o.Agent])
			}
		}
		for _, d := range r.Decline {
			answered[d.OfferID]++
		}
		for _, o := range batch {
			if answered[o.ID] != 1 {
				t.Fatalf("%s: offer %s answered %d times", where, o.ID, answered[o.ID])
			}
		}
		if tg := c.Target(); launched > 0 && tg != Unlimited && liveBefore+launched > tg {
			t.Fatalf("%s: %d live + %d launched over target %d", where, liveBefore, launched, tg)
		}
		if r.Suppress && r.Revive {
			t.Fatalf("%s: suppress and revive at once", where)
		}
	}
	return total
}
