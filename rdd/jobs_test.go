package rdd_test

import (
	"context"
	"sync"
	"testing"

	"github.com/mesoproject/meso/rdd"
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
	g := rdd.GroupByKey(rdd.KeyBy(rdd.Range(0, 10_000, 8), func(v int) int { return v % 13 }), 4)
	if n, err := rdd.Count(ctx, s, g); err != nil || n != 13 {
		t.Fatalf("count: %d, %v", n, err)
	}
	before := s.Stats()
	sizes := rdd.Map(g, func(p rdd.Pair[int, []int]) int { return len(p.Value) })
	total, err := rdd.Reduce(ctx, s, sizes, func(a, b int) int { return a + b })
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
