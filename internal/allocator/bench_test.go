package allocator

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/mesoproject/meso/internal/resources"
)

// The benchmarks follow Mesos' DeclineOffers allocator benchmark: agents
// with cpus:24;mem:4096;disk:4096;ports:[31000-32000], each already running
// 16 tasks (cpus:16;mem:2014;disk:1024 and 16 scattered ports) of one
// framework; all frameworks in one role; every offer declined with a long
// filter until no offer is left (the steady state).

var benchSizes = []struct{ agents, frameworks int }{{1000, 100}, {10000, 1000}}

const benchRefuse = 100 * 24 * time.Hour

var benchEpoch = time.Unix(1_700_000_000, 0)

func newBenchCluster(b *testing.B, agents, frameworks int) *Allocator {
	a := New(Config{})
	for i := range frameworks {
		if err := a.AddFramework(fmt.Sprintf("f%04d", i), Framework{Roles: []string{"web"}}); err != nil {
			b.Fatal(err)
		}
	}
	total := resources.MustParse("cpus:24;mem:4096;disk:4096;ports:[31000-32000]")
	ports := make([]resources.Range, 16)
	for i := range ports {
		p := uint64(31000 + 2*i)
		ports[i] = resources.Range{Begin: p, End: p}
	}
	tasks, err := resources.New(resources.Resource{Name: "ports", Kind: resources.KindRanges, Ranges: ports})
	if err != nil {
		b.Fatal(err)
	}
	tasks = tasks.Add(resources.MustParse("cpus:16;mem:2014;disk:1024"))
	for i := range agents {
		used := []Holding{{Framework: fmt.Sprintf("f%04d", i%frameworks), Role: "web", Resources: tasks}}
		if err := a.AddAgent(fmt.Sprintf("a%05d", i), total, used); err != nil {
			b.Fatal(err)
		}
	}
	return a
}

// declineAll declines every offer with a long filter.
func declineAll(b *testing.B, a *Allocator, offers []Offer, now time.Time) {
	for _, o := range offers {
		if err := a.Recover(o.Framework, o.Role, o.Agent, o.Resources, benchRefuse, now); err != nil {
			b.Fatal(err)
		}
	}
}

// saturate runs decline rounds until a cycle makes no offer and returns
// the number of rounds and their total time.
func saturate(b *testing.B, a *Allocator) (int, time.Duration) {
	start := time.Now()
	for round := 1; ; round++ {
		offers := a.Allocate(benchEpoch)
		if len(offers) == 0 {
			return round, time.Since(start)
		}
		declineAll(b, a, offers, benchEpoch)
	}
}

var saturated = map[[2]int]*Allocator{}

func saturatedCluster(b *testing.B, agents, frameworks int) *Allocator {
	key := [2]int{agents, frameworks}
	if a, ok := saturated[key]; ok {
		return a
	}
	a := newBenchCluster(b, agents, frameworks)
	rounds, took := saturate(b, a)
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	b.Logf("%d agents x %d frameworks: saturated after %d decline rounds in %v (%v per round); heap in use %d MiB",
		agents, frameworks, rounds, took, took/time.Duration(rounds), ms.HeapAlloc>>20)
	saturated[key] = a
	return a
}

func benchName(agents, frameworks int) string {
	return fmt.Sprintf("agents=%d/frameworks=%d", agents, frameworks)
}

// BenchmarkAllocateCold measures the first cycle on a fresh cluster: every
// agent is offered.
func BenchmarkAllocateCold(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(benchName(sz.agents, sz.frameworks), func(b *testing.B) {
			b.ReportAllocs()
			offers := 0
			for b.Loop() {
				b.StopTimer()
				a := newBenchCluster(b, sz.agents, sz.frameworks)
				b.StartTimer()
				offers = len(a.Allocate(benchEpoch))
			}
			b.ReportMetric(float64(offers), "offers/op")
		})
	}
}

// BenchmarkAllocateSteady measures a cycle once every framework has
// declined every agent with a long filter.
func BenchmarkAllocateSteady(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(benchName(sz.agents, sz.frameworks), func(b *testing.B) {
			a := saturatedCluster(b, sz.agents, sz.frameworks)
			b.ReportAllocs()
			for b.Loop() {
				if offers := a.Allocate(benchEpoch); len(offers) != 0 {
					b.Fatalf("steady state made %d offers", len(offers))
				}
			}
		})
	}
}

// BenchmarkAllocateRevive measures the steady state disturbed by one
// framework reviving before every cycle: its filters are cleared, every
// agent is visited again through all the other frameworks' filters, and it
// declines everything again.
func BenchmarkAllocateRevive(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(benchName(sz.agents, sz.frameworks), func(b *testing.B) {
			a := saturatedCluster(b, sz.agents, sz.frameworks)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				fw := fmt.Sprintf("f%04d", i%sz.frameworks)
				i++
				if err := a.Revive(fw, nil); err != nil {
					b.Fatal(err)
				}
				offers := a.Allocate(benchEpoch)
				b.StopTimer()
				declineAll(b, a, offers, benchEpoch)
				b.StartTimer()
			}
		})
	}
}

// BenchmarkAllocateQuota is ALLOC-QUOTA, after Mesos' quota benchmark
// (LargeAndSmallQuota with 2,500 small and 500 large quota roles): 3,000
// agents of cpus:2;mem:2048;disk:2048, 3,000 roles with one framework
// each, 2,500 with a quota of cpus:1;mem:1024;disk:1024 (half an agent:
// agents are cut) and 500 with cpus:4;mem:4096;disk:4096 (two agents),
// guarantee and limit alike. One op is the first allocation cycle, which
// meets every guarantee; second-ms is the next cycle, which offers nothing.
func BenchmarkAllocateQuota(b *testing.B) {
	const small, large = 2500, 500
	agents := small/5 + large*5
	quota := func(text string) Quota {
		q, err := resources.ParseQuantities(text)
		if err != nil {
			b.Fatal(err)
		}
		return Quota{Guarantees: q, Limits: q}
	}
	build := func() *Allocator {
		a := New(Config{MinAllocatable: []resources.Quantities{{{Name: "cpus", Value: 10}}, {{Name: "mem", Value: resources.Units(32)}}}})
		updates := map[string]Quota{}
		for i := range small + large {
			role := fmt.Sprintf("small%04d", i)
			updates[role] = quota("cpus:1;mem:1024;disk:1024")
			if i >= small {
				role = fmt.Sprintf("large%04d", i)
				updates[role] = quota("cpus:4;mem:4096;disk:4096")
			}
			if err := a.AddFramework(fmt.Sprintf("f%04d", i), Framework{Roles: []string{role}}); err != nil {
				b.Fatal(err)
			}
		}
		if err := a.UpdateQuotas(updates); err != nil {
			b.Fatal(err)
		}
		total := resources.MustParse("cpus:2;mem:2048;disk:2048")
		for i := range agents {
			if err := a.AddAgent(fmt.Sprintf("a%05d", i), total, nil); err != nil {
				b.Fatal(err)
			}
		}
		return a
	}
	b.ReportAllocs()
	offers := 0
	var second time.Duration
	for b.Loop() {
		b.StopTimer()
		a := build()
		b.StartTimer()
		offers = len(a.Allocate(benchEpoch))
		b.StopTimer()
		start := time.Now()
		if n := len(a.Allocate(benchEpoch)); n != 0 {
			b.Fatalf("second cycle made %d offers", n)
		}
		second = time.Since(start)
		b.StartTimer()
	}
	b.ReportMetric(float64(offers), "offers/op")
	b.ReportMetric(float64(second.Microseconds())/1000, "second-ms")
}

// BenchmarkDeclineReplay is ALLOC-DECLINE, Mesos' DeclineOffers replay:
// on a fresh cluster, 2 x frameworks rounds, each an Allocate followed by
// declining every offer with a long filter. In the first half every agent
// is offered to the next framework that has not declined it, walking past
// the filters of those that have; in the second half no offer is left and
// a full round checks every agent against every framework's filter. Only
// the Allocate calls are timed, as Mesos times the allocation. One op is
// the whole replay; ms/round is the mean, offering-ms/round and
// filtered-ms/round the two halves. idle=off disables the idle-agent
// shortcut, which otherwise skips the filtered agents of the second half.
func BenchmarkDeclineReplay(b *testing.B) {
	for _, sz := range benchSizes {
		for _, idle := range []string{"on", "off"} {
			b.Run(benchName(sz.agents, sz.frameworks)+"/idle="+idle, func(b *testing.B) {
				var first, second time.Duration
				for b.Loop() {
					b.StopTimer()
					a := newBenchCluster(b, sz.agents, sz.frameworks)
					a.noIdle = idle == "off"
					first, second = 0, 0
					for round := range 2 * sz.frameworks {
						start := time.Now()
						b.StartTimer()
						offers := a.Allocate(benchEpoch)
						b.StopTimer()
						if took := time.Since(start); round < sz.frameworks {
							first += took
						} else {
							second += took
						}
						declineAll(b, a, offers, benchEpoch)
					}
					b.StartTimer()
				}
				rounds := float64(sz.frameworks)
				b.ReportMetric(float64((first+second).Microseconds())/1000/(2*rounds), "ms/round")
				b.ReportMetric(float64(first.Microseconds())/1000/rounds, "offering-ms/round")
				b.ReportMetric(float64(second.Microseconds())/1000/rounds, "filtered-ms/round")
			})
		}
	}
}

// BenchmarkAcceptRound is ALLOC-ACCEPT: every framework wants resources;
// each offer is accepted in part (a task of cpus:1;mem:128, the rest
// declined with the default 5 s filter), tasks end three rounds later, and
// each round is one second. One op is a round; ns/op times the Allocate
// alone, round-ms the whole round (allocate, accepts, declines, ends).
func BenchmarkAcceptRound(b *testing.B) {
	task := resources.MustParse("cpus:1;mem:128")
	for _, sz := range benchSizes {
		b.Run(benchName(sz.agents, sz.frameworks), func(b *testing.B) {
			a := newBenchCluster(b, sz.agents, sz.frameworks)
			now := benchEpoch
			var live [][]Offer // tasks by round
			var whole time.Duration
			for b.Loop() {
				start := time.Now()
				now = now.Add(time.Second)
				got := a.Allocate(now)
				b.StopTimer()
				var launched []Offer
				for _, o := range got {
					var use resources.Resources
					if o.Resources.Contains(task) {
						use = task
						if err := a.Allocated(o.Framework, o.Role, o.Agent, task); err != nil {
							b.Fatal(err)
						}
						launched = append(launched, Offer{Framework: o.Framework, Agent: o.Agent, Role: o.Role, Resources: task})
					}
					if err := a.Recover(o.Framework, o.Role, o.Agent, o.Resources.Subtract(use), UseDefaultRefuse, now); err != nil {
						b.Fatal(err)
					}
				}
				live = append(live, launched)
				if len(live) > 3 {
					for _, t := range live[0] {
						if err := a.Release(t.Framework, t.Role, t.Agent, t.Resources); err != nil {
							b.Fatal(err)
						}
					}
					live = live[1:]
				}
				whole += time.Since(start)
				b.StartTimer()
			}
			b.ReportMetric(float64(whole.Microseconds())/1000/float64(b.N), "round-ms")
		})
	}
}
