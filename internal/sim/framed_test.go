package sim

import (
	"context"
	"os"
	"testing"
	"time"
)

// watchOpenFiles samples this process's open descriptors every 20 ms
// until the returned func is called, which returns the most seen.
func watchOpenFiles() func() int {
	peak := make(chan int)
	done := make(chan struct{})
	go func() {
		most := 0
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
				most = max(most, len(fds))
			}
			select {
			case <-tick.C:
			case <-done:
				peak <- most
				return
			}
		}
	}()
	return func() int {
		close(done)
		return <-peak
	}
}

// TestRunFramedLink: with LinkMux the agents share framed link
// connections (LinkMux per connection, their calls on them too), every
// task is finished and acknowledged once, and the run holds about one
// descriptor per connection rather than per agent.
func TestRunFramedLink(t *testing.T) {
	const agents, tasks, mux = 400, 400, 100
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stopWatch := watchOpenFiles()
	rep, r, err := run(ctx, Config{
		Agents: agents, Frameworks: 2, Tasks: tasks,
		TaskDuration:       10 * time.Millisecond,
		AllocationInterval: 100 * time.Millisecond,
		UpdateRetry:        time.Hour,
		Senders:            16,
		LinkMux:            mux,
		Audit:              true,
	})
	fds := stopWatch()
	if err != nil {
		t.Fatal(err)
	}
	if int(rep.FinishedAcked) != tasks || rep.LinkFailures != 0 || rep.CallErrors != 0 || rep.UnexpectedAcks != 0 {
		t.Fatalf("finished and acked %d of %d, link failures %d, call errors %d, unexpected acks %d",
			rep.FinishedAcked, tasks, rep.LinkFailures, rep.CallErrors, rep.UnexpectedAcks)
	}
	checkAudit(t, r.audit, tasks)
	if fds >= agents/2 {
		t.Fatalf("peak %d open files for %d agents, %d per connection: the links do not share connections", fds, agents, mux)
	}
	t.Logf("%d agents, %d per framed connection: peak %d open files in master and simulator", agents, mux, fds)
}
