package rdd_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"sync"
	"testing"

	"github.com/mesoproject/meso/rdd"
)

// Random task failures, before and after tasks do their work: every job
// still gives exactly the right answer, and accumulators count each
// successful task once.
func TestRandomTaskFailures(t *testing.T) {
	s := startSession(t, rdd.Config{TaskMaxFailures: 30, ShuffleMemory: 4096})
	rdd.InjectTaskFailures(s, 0.25, 1)
	const n = 20_000
	acc := rdd.Counter(s, "records")
	got, err := rdd.Collect(context.Background(), s, countedDemo(n, acc))
	if err != nil {
		t.Fatal(err)
	}
	checkDemo(t, n, got)
	if acc.Value() != 2*n { // zipWithIndex's count job, then the map stage
		t.Fatalf("accumulator %d, want %d (each successful task counted once)", acc.Value(), 2*n)
	}
	st := s.Stats()
	if st.TasksFailed == 0 {
		t.Fatal("no task failed: the injection did nothing")
	}
	sorted, err := rdd.Collect(context.Background(), s, descending(n))
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range sorted {
		if v != n-1-i {
			t.Fatalf("sorted[%d] = %d", i, v)
		}
	}
}

func demoLike(r *rdd.RDD[int]) *rdd.RDD[rdd.Pair[int, []rdd.Pair[int, int64]]] {
	return rdd.GroupBy(rdd.ZipWithIndex(r), func(p rdd.Pair[int, int64]) int { return p.Key / 100 })
}

var (
	// demoOver is demoLike over Range(1, n+1, parts), built in a Func.
	demoOver = rdd.Func(func(n, parts int) *rdd.RDD[rdd.Pair[int, []rdd.Pair[int, int64]]] {
		return demoLike(rdd.Range(1, n+1, parts))
	})
	// countedDemo is demoOver(n, 20) whose source counts its records into
	// acc.
	countedDemo = rdd.Func(func(n int, acc *rdd.Accumulator[int64]) *rdd.RDD[rdd.Pair[int, []rdd.Pair[int, int64]]] {
		counted := rdd.MapPartitionsWithContext(rdd.Range(1, n+1, 20), func(tc *rdd.TaskContext, in iter.Seq[int]) iter.Seq[int] {
			return func(yield func(int) bool) {
				for v := range in {
					acc.Add(tc, 1)
					if !yield(v) {
						return
					}
				}
			}
		})
		return demoLike(counted)
	})
	// descending sorts [0, n) (10 partitions) descending, into 7.
	descending = rdd.Func(func(n int) *rdd.RDD[int] {
		return rdd.SortBy(rdd.Range(0, n, 10), func(v int) int { return -v }, true, 7)
	})
	// panicAt is [0, n) in 5 partitions, whose map panics at bad.
	panicAt = rdd.Func(func(n, bad int) *rdd.RDD[int] {
		return rdd.Map(rdd.Range(0, n, 5), func(v int) int {
			if v == bad {
				panic(fmt.Sprintf("boom at %d", bad))
			}
			return v
		})
	})
	// blocked is [0, n) in parts partitions whose tasks wait for their
	// cancellation (a long task that honours it).
	blocked = rdd.Func(func(n, parts int) *rdd.RDD[int] {
		return rdd.MapPartitionsWithContext(rdd.Range(0, n, parts), func(tc *rdd.TaskContext, in iter.Seq[int]) iter.Seq[int] {
			return func(yield func(int) bool) {
				<-tc.Context().Done()
			}
		})
	})
	// scrambledSort sorts [0, n) descending by (v * 7919) % n.
	scrambledSort = rdd.Func(func(n, parts int) *rdd.RDD[int] {
		return rdd.SortBy(rdd.Range(0, n, parts), func(v int) int { return (v * 7919) % n }, false, 2)
	})
)

// Map outputs deleted or corrupted after their stage completed, behind the
// scheduler's back: reducers fail to fetch them, the producing stage is
// resubmitted for the lost outputs, and the result is exact.
func TestLostAndCorruptMapOutputs(t *testing.T) {
	for _, mode := range []string{"delete", "corrupt"} {
		t.Run(mode, func(t *testing.T) {
			s := startSession(t, rdd.Config{})
			var once sync.Once
			s.AddListener(func(e rdd.Event) {
				if e.Kind != rdd.StageCompleted || e.Shuffle < 0 {
					return
				}
				once.Do(func() {
					// More outputs than spark.stage.maxConsecutiveAttempts:
					// one loss event must cost one stage attempt, not one each.
					for _, m := range []int{0, 2, 3, 5, 7, 9} {
						var err error
						if mode == "delete" {
							err = rdd.RemoveMapOutput(s, e.Shuffle, m)
						} else {
							err = rdd.CorruptMapOutput(s, e.Shuffle, m)
						}
						if err != nil {
							t.Error(err)
						}
					}
				})
			})
			const n = 50_000
			got, err := rdd.Collect(context.Background(), s, demo(n, 10))
			if err != nil {
				t.Fatal(err)
			}
			checkDemo(t, n, got)
			if st := s.Stats(); st.StageResubmissions == 0 || st.StageResubmissions > 3 || st.TasksFailed == 0 {
				t.Fatalf("resubmissions after lost outputs: %+v", st)
			}
		})
	}
}

func TestUserPanicNamesStageAndPartition(t *testing.T) {
	t.Run("local", func(t *testing.T) { userPanicNamesStageAndPartition(t, startSession(t, rdd.Config{})) })
	t.Run("cluster", func(t *testing.T) { userPanicNamesStageAndPartition(t, rdd.StartInProcessCluster(t, rdd.Config{}, 2)) })
}

func userPanicNamesStageAndPartition(t *testing.T, s *rdd.Session) {
	_, err := rdd.Collect(context.Background(), s, panicAt(100, 63))
	var te *rdd.TaskError
	if !errors.Is(err, rdd.ErrJobFailed) || !errors.As(err, &te) {
		t.Fatalf("got %v", err)
	}
	if te.Partition != 3 || te.Attempt != 3 || te.Panic != "boom at 63" || !strings.Contains(te.Stack, "faults_test.go") ||
		!strings.Contains(te.StageName, "map at faults_test.go") {
		t.Fatalf("task error: %+v", te)
	}
	if !strings.Contains(err.Error(), "partition 3") || !strings.Contains(err.Error(), "boom at 63") {
		t.Fatalf("message does not say where: %v", err)
	}
	if st := s.Stats(); st.TasksFailed != 4 {
		t.Fatalf("%d failed attempts, want 4", st.TasksFailed)
	}
}

func TestCancellation(t *testing.T) {
	s := startSession(t, rdd.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	s.AddListener(func(e rdd.Event) {
		if e.Kind == rdd.TaskStart {
			cancel()
		}
	})
	if _, err := rdd.Collect(ctx, s, blocked(10, 4)); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	// The session still works.
	if n, err := rdd.Count(context.Background(), s, ints(10, 2)); err != nil || n != 10 {
		t.Fatalf("after cancel: %d, %v", n, err)
	}
}

// A shuffle several times larger than the shuffle memory: map outputs,
// aggregation state and sort runs spill, and results are exact.
func TestShuffleLargerThanBudget(t *testing.T) {
	s := startSession(t, rdd.Config{ShuffleMemory: 64 << 10})
	const n = 300_000
	got, err := rdd.Collect(context.Background(), s, demoOver(n, 4))
	if err != nil {
		t.Fatal(err)
	}
	checkDemo(t, n, got)
	sorted, err := rdd.Collect(context.Background(), s, scrambledSort(n, 3))
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(sorted); i++ {
		if (sorted[i-1]*7919)%n < (sorted[i]*7919)%n {
			t.Fatalf("not sorted at %d", i)
		}
	}
	st := s.Stats()
	if len(sorted) != n || st.SpillBytes == 0 || st.ShuffleBytesWritten < 4*(64<<10) {
		t.Fatalf("%d sorted; stats %+v", len(sorted), st)
	}
}

// A user function that panics on the driver (Reduce merging partition
// results) fails the job with an error; it does not crash the program.
func TestDriverSidePanic(t *testing.T) {
	s := startLocalOnly(t, rdd.Config{}, "an unregistered Reduce function panicking in the driver's merge, which local mode runs")
	_, err := rdd.Reduce(context.Background(), s, rdd.Range(0, 100, 4), func(a, b int) int {
		if b >= 300 { // a partition's sum: only the driver merges those
			panic("driver boom")
		}
		return a + b
	})
	if !errors.Is(err, rdd.ErrJobFailed) || !strings.Contains(err.Error(), "driver boom") {
		t.Fatalf("got %v", err)
	}
	if n, err := rdd.Count(context.Background(), s, rdd.Range(0, 10, 2)); err != nil || n != 10 {
		t.Fatalf("session after a driver panic: %d, %v", n, err)
	}
}
