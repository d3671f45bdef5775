package rdd_test

import (
	"context"
	"errors"
	"iter"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/mesoproject/meso/rdd"
)

var (
	// groupedMod groups [0, n) by v % mod.
	groupedMod = rdd.Func(func(n, parts, mod int) *rdd.RDD[rdd.Pair[int, []int]] {
		return rdd.GroupByKey(rdd.KeyBy(rdd.Range(0, n, parts), func(v int) int { return v % mod }), 4)
	})
	// groupSizes is each group's size.
	groupSizes = rdd.Func(func(g *rdd.RDD[rdd.Pair[int, []int]]) *rdd.RDD[int] {
		return rdd.Map(g, func(p rdd.Pair[int, []int]) int { return len(p.Value) })
	})
	addInts = rdd.Register(func(a, b int) int { return a + b })
)

// A second action on a dataset downstream of a shuffle reuses the shuffle's
// map outputs: the map stage is skipped, nothing is written again.
func TestShuffleOutputsReusedAcrossJobs(t *testing.T) {
	s := startSession(t, rdd.Config{})
	var skipped int
	s.AddListener(func(e rdd.Event) {
		if e.Kind == rdd.StageSkipped {
			skipped++
		}
	})
	ctx := context.Background()
	g := groupedMod(10_000, 8, 13)
	if n, err := rdd.Count(ctx, s, g); err != nil || n != 13 {
		t.Fatalf("count: %d, %v", n, err)
	}
	before := s.Stats()
	total, err := rdd.Reduce(ctx, s, groupSizes(g), addInts)
	if err != nil || total != 10_000 {
		t.Fatalf("reduce: %d, %v", total, err)
	}
	after := s.Stats()
	if skipped != 1 || after.StagesSkipped != 1 || after.ShuffleBytesWritten != before.ShuffleBytesWritten ||
		after.Stages-before.Stages != 1 {
		t.Fatalf("skipped %d; before %+v after %+v", skipped, before, after)
	}
}

// Concurrent actions on one session, sharing lineage that needs preparing
// (zipWithIndex) and a shuffle: all correct, prepared once.
func TestConcurrentJobs(t *testing.T) {
	s := startSession(t, rdd.Config{})
	shared := demo(20_000, 8)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := shared
			if i%2 == 1 {
				r = demo(20_000, 8) // separate lineage
			}
			got, err := rdd.Collect(context.Background(), s, r)
			if err != nil {
				errs <- err
				return
			}
			if len(got) != 201 {
				t.Errorf("job %d: %d groups", i, len(got))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, err := rdd.Collect(context.Background(), s, shared)
	if err != nil {
		t.Fatal(err)
	}
	checkDemo(t, 20_000, got)
}

// Close during a job cancels it (ErrClosed), waits for its tasks, and only
// then removes the shuffle files they read.
func TestCloseDuringJob(t *testing.T) {
	s := startLocalOnly(t, rdd.Config{}, "its task signals the test through a channel the closure captures, which only an in-process task can")
	started := make(chan struct{})
	var once sync.Once
	slow := rdd.MapPartitionsWithContext(rdd.Range(0, 100, 4), func(tc *rdd.TaskContext, in iter.Seq[int]) iter.Seq[int] {
		return func(yield func(int) bool) {
			once.Do(func() { close(started) })
			<-tc.Context().Done()
		}
	})
	done := make(chan error, 1)
	go func() {
		_, err := rdd.Collect(context.Background(), s, slow)
		done <- err
	}()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("the job ended before Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, rdd.ErrClosed) {
		t.Fatalf("job on a closed session: %v", err)
	}
	if _, err := rdd.Count(context.Background(), s, rdd.Range(0, 1, 1)); !errors.Is(err, rdd.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

// Shuffle files and cached blocks of datasets the program no longer holds
// are removed (Spark's context cleaner); those still held stay.
func TestUnreachableDatasetsAreCleaned(t *testing.T) {
	s := startSession(t, rdd.Config{})
	kept := demo(5_000, 4)
	run := func(r *rdd.RDD[rdd.Pair[int, []rdd.Pair[int, int64]]]) {
		if _, err := rdd.Collect(context.Background(), s, r); err != nil {
			t.Fatal(err)
		}
	}
	run(kept)
	keptFiles, keptBlocks := rdd.ShuffleFiles(s), rdd.CachedBlocks(s)
	func() { run(demo(5_000, 6)) }() // dropped right away
	if rdd.ShuffleFiles(s) != keptFiles+6 || rdd.CachedBlocks(s) != keptBlocks+6 {
		t.Fatalf("before cleaning: %d files, %d blocks", rdd.ShuffleFiles(s), rdd.CachedBlocks(s))
	}
	deadline := time.Now().Add(20 * time.Second)
	for rdd.ShuffleFiles(s) != keptFiles || rdd.CachedBlocks(s) != keptBlocks {
		if time.Now().After(deadline) {
			t.Fatalf("not cleaned: %d files (want %d), %d blocks (want %d)",
				rdd.ShuffleFiles(s), keptFiles, rdd.CachedBlocks(s), keptBlocks)
		}
		runtime.GC()
		runtime.Gosched()
	}
	// The kept dataset still reads its cache.
	before := s.Stats().CacheHits
	run(kept)
	if s.Stats().CacheHits != before+4 {
		t.Fatal("the kept dataset lost its cache")
	}
	runtime.KeepAlive(kept)
}

// While a job runs all along, shuffles of datasets the program dropped are
// still removed, and their files unmapped (their disk space given back).
func TestDroppedShufflesUnmappedWhileJobsRun(t *testing.T) {
	s := startSession(t, rdd.Config{Master: "local[3]"})
	hold, release := context.WithCancel(context.Background())
	blockerDone := make(chan error, 1)
	go func() { _, err := rdd.Collect(hold, s, blocked(1, 1)); blockerDone <- err }()
	defer func() {
		release()
		if err := <-blockerDone; !errors.Is(err, context.Canceled) {
			t.Errorf("the blocking job: %v, want context.Canceled", err)
		}
	}()
	func() {
		for range 3 {
			if _, err := rdd.Collect(context.Background(), s, demo(5_000, 4)); err != nil {
				t.Fatal(err)
			}
		}
	}()
	if rdd.MappedOutputs(s) == 0 {
		t.Fatal("reducers mapped no output")
	}
	deadline := time.Now().Add(20 * time.Second)
	for rdd.ShuffleFiles(s) != 0 || rdd.MappedOutputs(s) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("with a job running: %d shuffle files, %d mapped", rdd.ShuffleFiles(s), rdd.MappedOutputs(s))
		}
		runtime.GC()
		runtime.Gosched()
	}
}
