package rdd_test

import (
	"context"
	"testing"

	"github.com/mesoproject/meso/rdd"
)

var demo = rdd.Func(func(n, parts int) *rdd.RDD[rdd.Pair[int, []rdd.Pair[int, int64]]] {
	nums := rdd.Range(1, n+1, parts)
	withIdx := rdd.ZipWithIndex(nums)
	return rdd.GroupBy(withIdx, func(p rdd.Pair[int, int64]) int { return p.Key / 100 }).Cache()
})

// startSession starts a local session for a test, with CheckPortable on:
// a job that executors could not run (a stage built outside an rdd.Func,
// an unregistered action function, a Func whose rebuild differs) fails as
// on a cluster, so a test that passes is known to run there too.
func startSession(t testing.TB, cfg rdd.Config) *rdd.Session {
	t.Helper()
	cfg.CheckPortable = true
	return startAnySession(t, cfg)
}

// startLocalOnly starts a local session without CheckPortable, for a test
// whose jobs are about local-only behaviour or build their datasets in the
// test body; why says which, and is the opt-out's record.
func startLocalOnly(t testing.TB, cfg rdd.Config, why string) *rdd.Session {
	t.Helper()
	if why == "" {
		t.Fatal("startLocalOnly needs a reason")
	}
	return startAnySession(t, cfg)
}

func startAnySession(t testing.TB, cfg rdd.Config) *rdd.Session {
	t.Helper()
	if cfg.Master == "" {
		cfg.Master = "local[2]"
	}
	if cfg.LocalDir == "" {
		cfg.LocalDir = t.TempDir()
	}
	s, err := rdd.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// checkDemo verifies the demo's groups in full: n/100+1 keys, key 0 with 99
// elements, the last key with n%100+1, the others 100, and every element
// paired with its global index.
func checkDemo(t *testing.T, n int, groups []rdd.Pair[int, []rdd.Pair[int, int64]]) {
	t.Helper()
	if want := n/100 + 1; len(groups) != want {
		t.Fatalf("got %d groups, want %d", len(groups), want)
	}
	seen := make([]bool, n/100+1)
	total := 0
	for _, g := range groups {
		k := g.Key
		if k < 0 || k > n/100 || seen[k] {
			t.Fatalf("bad or repeated key %d", k)
		}
		seen[k] = true
		want := 100
		switch k {
		case 0:
			want = 99
		case n / 100:
			want = n%100 + 1
		}
		if len(g.Value) != want {
			t.Fatalf("key %d has %d elements, want %d", k, len(g.Value), want)
		}
		for _, e := range g.Value {
			if e.Key/100 != k || e.Value != int64(e.Key-1) {
				t.Fatalf("key %d holds (%d, %d): want value/100 == key and index == value-1", k, e.Key, e.Value)
			}
		}
		total += len(g.Value)
	}
	if total != n {
		t.Fatalf("%d elements in all, want %d", total, n)
	}
}

func runDemo(t *testing.T, n, parts int) {
	s := startSession(t, rdd.Config{})
	ctx := context.Background()
	groups := demo(n, parts)
	got, err := rdd.Collect(ctx, s, groups)
	if err != nil {
		t.Fatal(err)
	}
	checkDemo(t, n, got)
	before := s.Stats()
	if before.CacheMisses != parts {
		t.Fatalf("first action stored %d partitions, want %d", before.CacheMisses, parts)
	}
	// The second action reads the cache: no shuffle, no recomputation.
	count, err := rdd.Count(ctx, s, groups)
	if err != nil {
		t.Fatal(err)
	}
	after := s.Stats()
	if count != int64(n/100+1) || after.CacheHits-before.CacheHits != parts ||
		after.CacheMisses != before.CacheMisses || after.ShuffleBytesWritten != before.ShuffleBytesWritten ||
		after.Stages-before.Stages != 1 {
		t.Fatalf("second action: count %d, stats before %+v after %+v", count, before, after)
	}
}

func TestDemoSmall(t *testing.T) { runDemo(t, 100_000, 50) }

// TestDemoFull is the seed job at full size (10,000,000 integers, 500
// partitions). It runs in CI's race-enabled `make test`; -short skips it.
func TestDemoFull(t *testing.T) {
	if testing.Short() {
		t.Skip("full-size demo skipped in -short mode")
	}
	runDemo(t, 10_000_000, 500)
}
