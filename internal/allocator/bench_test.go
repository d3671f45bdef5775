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
