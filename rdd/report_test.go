package rdd_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/mesoproject/meso/rdd"
)

// A result report that frees a slot is answered with the slot's next task
// (over the real RPC, in-process executors): almost every task of a job
// with more tasks than slots reaches its executor that way, not through
// the long poll; and several jobs sharing the executors at once all get
// exactly their results.
func TestResultReportCarriesNextTask(t *testing.T) {
	s := rdd.StartInProcessCluster(t, rdd.Config{}, 2) // 2 executors x 2 slots
	const tasks = 400
	n, err := rdd.Count(context.Background(), s, ints(tasks, tasks))
	if err != nil || n != tasks {
		t.Fatal(n, err)
	}
	byReport, byPoll := rdd.TasksHandedOut(s)
	if byReport+byPoll != tasks {
		t.Fatalf("%d tasks handed out by reports and %d by polls, want %d in all", byReport, byPoll, tasks)
	}
	// The first task of each slot comes from a poll; the others follow
	// results. A loaded machine may let a report's wait end first
	// (pollWait), so some slack.
	if byReport < tasks*9/10 {
		t.Fatalf("%d of %d tasks came with a result report's answer, %d with a poll's: want at least 90%% by reports", byReport, tasks, byPoll)
	}

	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for j := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := 100 + 50*j
			n, err := rdd.Count(context.Background(), s, ints(want, 37+j))
			if err == nil && n != int64(want) {
				t.Errorf("job %d: counted %d, want %d", j, n, want)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := rdd.Collect(context.Background(), s, demo(20_000, 50))
	if err != nil {
		t.Fatal(err)
	}
	checkDemo(t, 20_000, got)
}

// Descending record sizes: a slot's next result is encoded into the
// buffer of its previous, larger one.
var shrinking = rdd.Func(func(n, parts int) *rdd.RDD[string] {
	return rdd.Map(rdd.Range(0, n, parts), func(i int) string { return strings.Repeat("x", (n-i)/50) + strconv.Itoa(i) })
})

// An executor's slot reuses the bytes of its last result, once sent, for
// the next: results of every size in a row, of different types and jobs,
// arrive exactly (in-process executors over the real RPC).
func TestResultBuffersReused(t *testing.T) {
	s := rdd.StartInProcessCluster(t, rdd.Config{}, 2)
	for round := range 3 {
		n := 20_000 - 5_000*round
		got, err := rdd.Collect(context.Background(), s, shrinking(n, 40))
		if err != nil || len(got) != n {
			t.Fatal(len(got), err)
		}
		for i, v := range got {
			if want := strings.Repeat("x", (n-i)/50) + strconv.Itoa(i); v != want {
				t.Fatalf("round %d, record %d: %q, want %q", round, i, v, want)
			}
		}
		groups, err := rdd.Collect(context.Background(), s, demo(100_000, 50))
		if err != nil {
			t.Fatal(err)
		}
		checkDemo(t, 100_000, groups)
	}
}
