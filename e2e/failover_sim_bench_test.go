package e2e

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/mesoproject/meso/internal/resources"
	"github.com/mesoproject/meso/internal/sim"
)

// BenchmarkMasterFailoverSimulated is BenchmarkMasterFailover at scale:
// three `meso master` processes and, instead of agent processes, the
// simulator's agents (internal/sim: the real link protocol, a stream and
// pings per agent, run in this test process) given the master list, plus
// one framework on the `scheduler` client. Each iteration SIGKILLs the
// leader and times, from the kill: another master leading; the
// framework's first offer from it after it resubscribed; every simulated
// agent registered again on a link the new leader opened. The simulated
// agents retry a broken link after 0-100 ms (then doubling, at most 10 s)
// and try the next master of the list; a follower's 307 takes them to the
// leader. The agents connect from 127.0.0.2 (see sim.StartFleet). Sub-benchmarks: 1000 and 10000 agents (MESO_FAILOVER_AGENTS=N
// runs only N).
//
//	go test -run '^$' -bench MasterFailoverSimulated -benchtime 3x -timeout 30m ./e2e
func BenchmarkMasterFailoverSimulated(b *testing.B) {
	sizes := []int{1000, 10000}
	if v := os.Getenv("MESO_FAILOVER_AGENTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatalf("MESO_FAILOVER_AGENTS=%q: %v", v, err)
		}
		sizes = []int{n}
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("agents=%d", n), func(b *testing.B) { benchFailoverSimulated(b, n) })
	}
}

func benchFailoverSimulated(b *testing.B, agents int) {
	g := startHAGroup(b, b.TempDir())
	leader := waitLeader(b, time.Minute, g.ms...)

	fleet, err := sim.StartFleet(context.Background(), sim.Config{Master: g.list, Agents: agents,
		AgentResources: resources.MustParse("cpus:4;mem:4096")}, "127.0.0.2")
	if err != nil {
		b.Fatal(err)
	}
	defer fleet.Stop()
	poll(b, 10*time.Minute, 10*time.Millisecond, func() error {
		if got := fleet.Registered(); got < agents {
			return fmt.Errorf("%d of %d simulated agents registered", got, agents)
		}
		return nil
	})
	b.Logf("%d simulated agents registered in %v", agents, fleet.RegistrationTime().Round(time.Millisecond))
	f := newFramework(b, g.list, fwOptions{failoverTimeout: 3600})
	f.takeOffer(resources.Resources{})
	benchFailovers(b, g, leader, f, 10*time.Minute, func(_ *proc, killed time.Time) error {
		if got := fleet.LinkedSince(killed); got < agents {
			return fmt.Errorf("%d of %d simulated agents re-registered", got, agents)
		}
		lastSent, slowest := fleet.LinkTimes(killed)
		b.Logf("%d agents: the last successful REGISTER was sent %v after the kill; the slowest took %v to answer",
			agents, lastSent.Round(time.Millisecond), slowest.Round(time.Millisecond))
		return nil
	})
}
