package rdd_test

import (
	"context"
	"errors"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mesoproject/meso/rdd"
)

var (
	// panickyMerge sums keys 1..n (one record each, in map task 0, so the
	// reducer spills many runs), then key 0 twice (value 7, from map tasks
	// 1 and 2): merged in memory, where the merge panics.
	panickyMerge = rdd.Func(func(n int) *rdd.RDD[rdd.Pair[int, int]] {
		var data []rdd.Pair[int, int]
		for k := 1; k <= n; k++ {
			data = append(data, rdd.KV(k, k))
		}
		data = append(data, rdd.KV(0, 7), rdd.KV(0, 7))
		parts := rdd.Union(rdd.Parallelize(data[:n], 1), rdd.Parallelize(data[n:], 2))
		return rdd.CombineByKey(parts, func(v int) int { return v }, func(c, v int) int { return c + v },
			func(a, b int) int {
				if a == 7 && b == 7 {
					panic("merge bug")
				}
				return a + b
			}, 1)
	})
	// panickyKeys groups [0, n) in 4 partitions by v % 100; keying bad
	// panics.
	panickyKeys = rdd.Func(func(n, bad int) *rdd.RDD[rdd.Pair[int, []int]] {
		keyed := rdd.KeyBy(rdd.Range(0, n, 4), func(v int) int {
			if v == bad {
				panic("key bug")
			}
			return v % 100
		})
		return rdd.GroupByKey(keyed, 3)
	})
)

// noTempFiles fails when the shuffle directory holds a half-written file.
func noTempFiles(t *testing.T, s *rdd.Session) {
	t.Helper()
	for _, name := range rdd.ShuffleDirEntries(s) {
		if strings.Contains(name, ".tmp") {
			t.Fatalf("left behind in the shuffle directory: %s", name)
		}
	}
}

// A full disk while map tasks spill and commit: the job fails with an error
// that names the stage and wraps ENOSPC, leaves no half-written files, and
// the session computes the same job exactly once there is room again.
func TestDiskFullFailsJobCleanly(t *testing.T) {
	s := startSession(t, rdd.Config{ShuffleMemory: 4096})
	const n = 50_000
	rdd.InjectDiskFull(s, 64<<10)
	_, err := rdd.Collect(context.Background(), s, demoOver(n, 6))
	var te *rdd.TaskError
	if !errors.Is(err, rdd.ErrJobFailed) || !errors.Is(err, syscall.ENOSPC) || !errors.As(err, &te) ||
		!strings.Contains(te.StageName, "keyBy at faults_test.go") {
		t.Fatalf("job on a full disk: %v", err)
	}
	noTempFiles(t, s)
	rdd.InjectDiskFull(s, -1)
	got, err := rdd.Collect(context.Background(), s, demoOver(n, 6))
	if err != nil {
		t.Fatal(err)
	}
	checkDemo(t, n, got)
}

// Cancelling a job while its shuffle is being written: the action returns
// context.Canceled once every task stopped, no half-written file remains,
// and the session works.
func TestCancelMidShuffle(t *testing.T) {
	s := startSession(t, rdd.Config{ShuffleMemory: 8192})
	ctx, cancel := context.WithCancel(context.Background())
	var once sync.Once
	s.AddListener(func(e rdd.Event) {
		if e.Kind == rdd.TaskEnd && e.Shuffle >= 0 {
			once.Do(cancel) // the first map output is written; others are in flight
		}
	})
	_, err := rdd.Collect(ctx, s, demoOver(400_000, 40))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled mid-shuffle: %v", err)
	}
	noTempFiles(t, s)
	got, err := rdd.Collect(context.Background(), s, demoOver(20_000, 4))
	if err != nil {
		t.Fatal(err)
	}
	checkDemo(t, 20_000, got)
}

// engineGoroutines lists the goroutines running engine code.
func engineGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "meso/rdd.") && !strings.Contains(g, "rdd_test.engineGoroutines") {
			out = append(out, g)
		}
	}
	return out
}

// After Close, nothing of the session is left: no goroutine, no file in its
// directory, even after failed, cancelled, spilling and disk-caching jobs.
func TestCloseLeavesNothing(t *testing.T) {
	local := t.TempDir()
	s, err := rdd.Start(rdd.Config{Master: "local[3]", LocalDir: local, ShuffleMemory: 4096, EventLogDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cached := demoLike(rdd.Range(1, 30_001, 5)).Persist(rdd.DiskOnly)
	if _, err := rdd.Collect(ctx, s, cached); err != nil {
		t.Fatal(err)
	}
	sorted := rdd.SortBy(rdd.Range(0, 30_000, 3), func(v int) int { return -v }, true, 4)
	if _, err := rdd.Count(ctx, s, sorted); err != nil {
		t.Fatal(err)
	}
	failing := rdd.Map(rdd.Range(0, 10, 2), func(v int) int { panic("no") })
	if _, err := rdd.Collect(ctx, s, failing); err == nil {
		t.Fatal("a panicking job succeeded")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := rdd.Count(cctx, s, cached); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled job: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(local); len(entries) != 0 {
		t.Fatalf("left in the local dir: %v", entries)
	}
	deadline := time.Now().Add(10 * time.Second)
	for gs := engineGoroutines(); len(gs) > 0; gs = engineGoroutines() {
		if time.Now().After(deadline) {
			t.Fatalf("%d engine goroutines after Close:\n%s", len(gs), strings.Join(gs, "\n\n"))
		}
		runtime.Gosched()
	}
}

func openFiles(t *testing.T) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(entries)
}

// A user function panicking in a reducer that has spilled: the job fails
// with the panic, and each attempt's spilled runs are closed at once rather
// than left open for the garbage collector.
func TestReducerPanicAfterSpill(t *testing.T) {
	s := startSession(t, rdd.Config{ShuffleMemory: 2048})
	sums := panickyMerge(3000)
	defer debug.SetGCPercent(debug.SetGCPercent(-1)) // no finalizer closes a leaked file meanwhile
	before := openFiles(t)
	_, err := rdd.Collect(context.Background(), s, sums)
	var te *rdd.TaskError
	if !errors.As(err, &te) || te.Panic != "merge bug" || s.Stats().SpillBytes == 0 {
		t.Fatalf("got %v; stats %+v", err, s.Stats())
	}
	if after := openFiles(t); after > before {
		t.Fatalf("%d files open after the job, %d before", after, before)
	}
}

// A user function panicking in a map task that has spilled part of its
// output: the error names the map stage and the panic, and no spill or
// half-written output is left behind.
func TestMapSidePanicWhileWritingShuffle(t *testing.T) {
	s := startSession(t, rdd.Config{ShuffleMemory: 2048})
	_, err := rdd.Collect(context.Background(), s, panickyKeys(20_000, 12_345))
	var te *rdd.TaskError
	if !errors.As(err, &te) || te.Panic != "key bug" || te.Partition != 2 || !strings.Contains(te.StageName, "keyBy at resilience_test.go") {
		t.Fatalf("got %v", err)
	}
	noTempFiles(t, s)
}
