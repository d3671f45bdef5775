package rdd_test

import (
	"context"
	"sync"
	"testing"

	"github.com/mesoproject/meso/rdd"
)

// Jobs reading cached partitions while other jobs evict them to disk: every
// read sees a whole partition (memory or disk), and -race finds no race
// between a reader and the eviction.
func TestCacheReadsRaceEvictions(t *testing.T) {
	s := startLocalOnly(t, rdd.Config{Master: "local[4]", StorageMemory: 40_000}, "races the local block manager's reads with its evictions, closures over the loop variable")
	ctx := context.Background()
	var sets []*rdd.RDD[int]
	for i := range 3 {
		sets = append(sets, rdd.Map(rdd.Range(0, 4000, 8), func(v int) int { return v + i }).Persist(rdd.MemoryAndDisk))
	}
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := range 8 {
				i := (g + round) % len(sets)
				n, err := rdd.Reduce(ctx, s, sets[i], func(a, b int) int { return a + b })
				if want := 4000*3999/2 + 4000*i; err != nil || n != want {
					t.Errorf("dataset %d: sum %d, %v; want %d", i, n, err, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	if st := s.Stats(); st.CacheHits == 0 {
		t.Fatalf("no cache hit: %+v", st)
	}
}
