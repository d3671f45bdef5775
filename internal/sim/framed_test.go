package sim

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mesoproject/meso/internal/master"
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
	checkAudit(t, r.audit, tasks, false)
	if fds >= agents/2 {
		t.Fatalf("peak %d open files for %d agents, %d per connection: the links do not share connections", fds, agents, mux)
	}
	t.Logf("%d agents, %d per framed connection: peak %d open files in master and simulator", agents, mux, fds)
}

// TestRunFramedLinkNeedsVersion3: against a master that serves only the
// HTTP form of the link (as before link version 3), a LinkMux run fails
// at once naming the flag, instead of agents that never register.
func TestRunFramedLinkNeedsVersion3(t *testing.T) {
	m, err := master.New(master.Config{NoFramedLink: true})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	served := make(chan error, 1)
	mctx, stop := context.WithCancel(ctx)
	go func() { served <- m.Serve(mctx, ln) }()
	defer func() { stop(); <-served }()
	_, err = Run(ctx, Config{Master: ln.Addr().String(), Agents: 20, Frameworks: 1, Tasks: 1, LinkMux: 10})
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "link version 3") {
		t.Fatalf("run against an HTTP-only master: %v", err)
	}
}
