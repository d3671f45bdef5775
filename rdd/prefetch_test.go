package rdd_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/mesoproject/meso/api/rddpb"
	"github.com/mesoproject/meso/api/rddpb/rddpbconnect"
	"github.com/mesoproject/meso/rdd"
)

// fakeExecutor registers an executor of one slot that runs nothing: the
// test takes its tasks by polling as it.
func fakeExecutor(t *testing.T, s *rdd.Session, id string) rddpbconnect.DriverServiceClient {
	t.Helper()
	url, token := rdd.DriverEndpoint(s)
	rpc := rddpbconnect.NewDriverServiceClient(&http.Client{Transport: &http2Only{token: token}}, url)
	if _, err := rpc.Register(t.Context(), connect.NewRequest(&rddpb.RegisterRequest{ExecutorId: id, ShuffleAddress: "127.0.0.1:1",
		Slots: 1, Registry: rdd.RegistrySites()})); err != nil {
		t.Fatal(err)
	}
	return rpc
}

// waitRunningOn polls until the driver counts n tasks on executor id.
func waitRunningOn(t *testing.T, s *rdd.Session, id string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for rdd.RunningOn(s, id) != n {
		if time.Now().After(deadline) {
			t.Fatalf("executor %s runs %d tasks, want %d", id, rdd.RunningOn(s, id), n)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition with a deadline
	}
}

// An executor of one slot is given three tasks (spark.rdd.taskPrefetch=2,
// the default): the one its slot runs and two prefetched, never more
// before it reports. Lost with them (none reported, the prefetched ones
// never started), it has all run again elsewhere and the result is exact.
func TestPrefetchedTaskLostWithItsExecutor(t *testing.T) {
	s := rdd.StartInProcessCluster(t, rdd.Config{}, 1)
	rpc := fakeExecutor(t, s, "dying")
	const n, parts = 4000, 40
	job := collectSquaresInBackground(s, n, parts)
	var taken []*rddpb.Task
	deadline := time.Now().Add(30 * time.Second)
	for len(taken) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("the executor got %d tasks, want 3", len(taken))
		}
		resp, err := rpc.PollTasks(t.Context(), connect.NewRequest(&rddpb.PollTasksRequest{ExecutorId: "dying"}))
		if err != nil {
			t.Fatal(err)
		}
		taken = append(taken, resp.Msg.GetTasks()...)
	}
	if len(taken) != 3 || rdd.RunningOn(s, "dying") != 3 {
		t.Fatalf("a one-slot executor was given %d tasks (%d running at the driver), want 3", len(taken), rdd.RunningOn(s, "dying"))
	}
	if lost := job.loseExecutor(t, "dying", "killed"); lost != 3 {
		t.Fatalf("%d of the lost executor's tasks ended as lost, want 3", lost)
	}
}

// A cancelled job's tasks that the driver had queued for an executor and
// not sent yet (the executor had not polled) are not sent at all; the
// session runs its next job exactly.
func TestCancelledQueuedTasksAreNotSent(t *testing.T) {
	s := rdd.StartInProcessCluster(t, rdd.Config{TaskPrefetch: 1}, 0)
	rpc := fakeExecutor(t, s, "slow")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := rdd.Count(ctx, s, squares(100, 10))
		done <- err
	}()
	waitRunningOn(t, s, "slow", 2) // its slot's task and the prefetched one
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled job: %v", err)
	}
	waitRunningOn(t, s, "slow", 0)
	resp, err := rpc.PollTasks(t.Context(), connect.NewRequest(&rddpb.PollTasksRequest{ExecutorId: "slow"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Msg.GetTasks(); len(got) != 0 {
		t.Fatalf("the executor was sent %d tasks of the cancelled job", len(got))
	}
	go func() { // poll on until the session's Close says stop
		for {
			resp, err := rpc.PollTasks(context.Background(), connect.NewRequest(&rddpb.PollTasksRequest{ExecutorId: "slow"}))
			if err != nil || resp.Msg.GetStop() {
				return
			}
		}
	}()
}
