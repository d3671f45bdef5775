package sim

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// With HTTP2, the agents' links share a few connections: a run of 400
// agents completes exactly as over HTTP/1.1 while this process (master
// and simulator, both ends of every connection) holds fewer descriptors
// than there are agents (over HTTP/1.1: two per agent).
func TestRunHTTP2(t *testing.T) {
	const agents, tasks = 400, 400
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stopWatch := watchOpenFiles()
	rep, err := Run(ctx, Config{
		Agents: agents, Frameworks: 2, Tasks: tasks,
		TaskDuration:       10 * time.Millisecond,
		AllocationInterval: 100 * time.Millisecond,
		UpdateRetry:        time.Hour,
		Senders:            16,
		HTTP2:              true,
		StateInterval:      10 * time.Millisecond, // on a connection of their own
	})
	fds := stopWatch()
	if err != nil {
		t.Fatal(err)
	}
	if int(rep.FinishedAcked) != tasks || rep.LinkFailures != 0 || rep.CallErrors != 0 || rep.UnexpectedAcks != 0 {
		t.Fatalf("finished and acked %d of %d, link failures %d, call errors %d, unexpected acks %d",
			rep.FinishedAcked, tasks, rep.LinkFailures, rep.CallErrors, rep.UnexpectedAcks)
	}
	if rep.StateLatency.Queries == 0 || rep.StateLatency.Errors != 0 {
		t.Fatalf("state queries over HTTP/2 %+v", rep.StateLatency)
	}
	if fds >= agents { // one connection per agent: 2 per agent here (879 measured)
		t.Fatalf("peak %d open files for %d agents over HTTP/2: the links do not share connections", fds, agents)
	}
	t.Logf("%d agents over HTTP/2: peak %d open files in master and simulator", agents, fds)
}

// With HTTP2 against a master that speaks HTTP/1.1 only, the run fails at
// once naming the master flag, instead of waiting for agents that never
// register.
func TestRunHTTP2NeedsTheMastersFlag(t *testing.T) {
	plain := &runner{cfg: Config{}, log: slog.New(slog.DiscardHandler)}
	addr, stop, err := plain.startMaster()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = Run(ctx, Config{Master: addr, Agents: 1, Frameworks: 1, Tasks: 1, HTTP2: true})
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "--http2_cleartext") {
		t.Fatalf("Run over HTTP/2 against an HTTP/1.1 master: %v; want ErrConfig naming --http2_cleartext", err)
	}
}
