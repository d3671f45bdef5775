package rdd_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	. "github.com/mesoproject/meso/rdd"
)

// Registered functions of the portability tests.
var (
	sumInts     = Register(func(a, b int) int { return a + b })
	sumAndCount = Register(func(acc Pair[int, int], v int) Pair[int, int] { return Pair[int, int]{acc.Key + v, acc.Value + 1} })
	byValue     = Register(func(a, b int) int { return cmp.Compare(a, b) })

	// partitionsSeen records the sessions ForeachPartition's function ran
	// in: an executor's, never the driver's.
	partitionsSeen sync.Map // *Session -> true
	notePartition  = Register(func(tc *TaskContext, in iter.Seq[int]) error {
		for range in {
		}
		partitionsSeen.Store(SessionOf(tc), true)
		return nil
	})
)

var modKeys = Func(func(n, parts int) *RDD[Pair[int, int]] {
	return Map(Range(0, n, parts), func(v int) Pair[int, int] { return Pair[int, int]{v % 7, v} })
})

var ints = Func(func(n, parts int) *RDD[int] { return Range(0, n, parts) })

// Every action runs on the executors with registered functions and gives
// local mode's result.
func TestActionsRunOnExecutors(t *testing.T) {
	ctx := context.Background()
	local, err := Start(Config{Master: "local[2]", CheckPortable: true})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	cl := StartInProcessCluster(t, Config{}, 2)
	type results struct {
		Sum, Fold    int
		Agg          Pair[int, int]
		Smallest     []int
		Largest      []int
		ByKey        map[int]int64
		ByValue      map[int]int64
		Count        int64
		Collected    []int
		SavedLines   int
		ForeachCalls int
	}
	run := func(s *Session) results {
		var r results
		var err error
		check := func(what string, e error) {
			t.Helper()
			if e != nil {
				t.Fatalf("%s: %v", what, e)
			}
		}
		r.Sum, err = Reduce(ctx, s, ints(1000, 5), sumInts)
		check("Reduce", err)
		r.Fold, err = Fold(ctx, s, ints(1000, 5), 0, sumInts)
		check("Fold", err)
		r.Agg, err = Aggregate(ctx, s, ints(1000, 5), Pair[int, int]{}, sumAndCount,
			func(a, b Pair[int, int]) Pair[int, int] { return Pair[int, int]{a.Key + b.Key, a.Value + b.Value} })
		check("Aggregate", err)
		r.Smallest, err = TakeOrdered(ctx, s, ints(1000, 5), 4, byValue)
		check("TakeOrdered", err)
		r.Largest, err = Top(ctx, s, ints(1000, 5), 3, byValue)
		check("Top", err)
		r.ByKey, err = CountByKey(ctx, s, modKeys(1000, 5))
		check("CountByKey", err)
		r.ByValue, err = CountByValue(ctx, s, ints(100, 3))
		check("CountByValue", err)
		r.Count, err = Count(ctx, s, ints(1000, 5))
		check("Count", err)
		r.Collected, err = Collect(ctx, s, ints(20, 3))
		check("Collect", err)
		dir := filepath.Join(t.TempDir(), "out")
		check("SaveAsTextFile", SaveAsTextFile(ctx, s, ints(50, 4), dir))
		parts, _ := filepath.Glob(filepath.Join(dir, "part-*"))
		for _, p := range parts {
			b, _ := os.ReadFile(p)
			r.SavedLines += strings.Count(string(b), "\n")
		}
		check("ForeachPartition", ForeachPartition(ctx, s, ints(100, 4), notePartition))
		return r
	}
	want, got := run(local), run(cl)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("cluster\n%+v\nlocal\n%+v", got, want)
	}
	if want.Sum != 499500 || want.Agg != (Pair[int, int]{499500, 1000}) || !slices.Equal(want.Largest, []int{999, 998, 997}) || want.SavedLines != 50 {
		t.Fatalf("local results wrong: %+v", want)
	}
	if _, ok := partitionsSeen.Load(cl); ok {
		t.Fatal("ForeachPartition's function ran on the cluster driver")
	}
	n := 0
	partitionsSeen.Range(func(k, _ any) bool {
		if k != local {
			n++
		}
		return true
	})
	if n == 0 {
		t.Fatal("ForeachPartition's function ran on no executor")
	}
}

// An action whose function is not registered, or a stage built outside a
// Func, fails in cluster mode and in local mode with CheckPortable, naming
// the call site; without CheckPortable local mode runs it.
func TestNotPortableFailsNamingTheCallSite(t *testing.T) {
	ctx := context.Background()
	local, err := Start(Config{Master: "local[2]", CheckPortable: true})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	cl := StartInProcessCluster(t, Config{}, 1)
	for _, s := range []*Session{local, cl} {
		_, err := Reduce(ctx, s, ints(100, 2), func(a, b int) int { return a + b })
		if !errors.Is(err, ErrNotPortable) || !strings.Contains(err.Error(), "portable_test.go:") ||
			!strings.Contains(err.Error(), "Reduce") {
			t.Fatalf("unregistered Reduce function: %v", err)
		}
		err = Foreach(ctx, s, ints(100, 2), func(int) {})
		if !errors.Is(err, ErrNotPortable) || !strings.Contains(err.Error(), "Foreach at portable_test.go:") {
			t.Fatalf("unregistered Foreach function: %v", err)
		}
		_, err = Count(ctx, s, Map(ints(100, 2), func(v int) int { return v }))
		if !errors.Is(err, ErrNotPortable) || !strings.Contains(err.Error(), "map at portable_test.go:") {
			t.Fatalf("dataset built outside a Func: %v", err)
		}
	}
	plain, err := Start(Config{Master: "local[2]"})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if v, err := Reduce(ctx, plain, Map(ints(100, 2), func(v int) int { return v }), func(a, b int) int { return a + b }); err != nil || v != 4950 {
		t.Fatalf("local mode without checks: %d, %v", v, err)
	}
}

// Func and Register refuse to grow the registry once main has started.
func TestRegistryClosedAfterInit(t *testing.T) {
	for name, f := range map[string]func(){
		"Func":     func() { Func(func(n int) *RDD[int] { return Range(0, n, 1) }) },
		"Register": func() { Register(func(a, b int) int { return a }) },
	} {
		func() {
			defer func() {
				x := recover()
				if x == nil || !strings.Contains(fmt.Sprint(x), "after main started") {
					t.Errorf("%s after init: %v", name, x)
				}
			}()
			f()
		}()
	}
}

// lookupJob reads a broadcast table and adds to an accumulator once per
// record (several Adds in every task).
var lookupJob = Func(func(n int, table *Broadcast[map[int]string], seen *Accumulator[int64]) *RDD[string] {
	return MapPartitionsWithContext(Range(0, n, 4), func(tc *TaskContext, in iter.Seq[int]) iter.Seq[string] {
		return func(yield func(string) bool) {
			for v := range in {
				seen.Add(tc, 1)
				if !yield(table.Value()[v%3]) {
					return
				}
			}
		}
	})
})

// Executors fetch a broadcast value once each, whatever the number of jobs
// and tasks; accumulators merge several Adds per task on the executor.
func TestBroadcastsAndAccumulatorsOnExecutors(t *testing.T) {
	ctx := context.Background()
	s := StartInProcessCluster(t, Config{}, 2)
	table := NewBroadcast(s, map[int]string{0: "zero", 1: "one", 2: "two"})
	seen := Counter(s, "seen")
	want := map[string]int{"zero": 34, "one": 33, "two": 33}
	for _, n := range []int{100, 100, 100} {
		got, err := Collect(ctx, s, lookupJob(n, table, seen))
		if err != nil {
			t.Fatal(err)
		}
		counts := map[string]int{}
		for _, v := range got {
			counts[v]++
		}
		if !reflect.DeepEqual(counts, want) {
			t.Fatalf("lookups %v, want %v", counts, want)
		}
	}
	if v := seen.Value(); v != 300 {
		t.Fatalf("counter %d, want 300 (one per record of three jobs)", v)
	}
	if n := BroadcastsServed(s); n < 1 || n > 2 {
		t.Fatalf("the broadcast was fetched %d times by 2 executors over 3 jobs of 4 tasks", n)
	}
	unregistered := NewAccumulator(s, "loose", int64(0), func(a, b int64) int64 { return a + b })
	_, err := Collect(ctx, s, lookupJob(10, table, unregistered))
	if !errors.Is(err, ErrNotPortable) || !strings.Contains(err.Error(), "not registered") || !strings.Contains(err.Error(), "loose") {
		t.Fatalf("accumulator with an unregistered merge: %v", err)
	}
}

// fromMap builds its inputs by iterating a Go map: the same lineage shape
// with the contents in another order in each call.
var fromMap = Func(func(m map[string]int) *RDD[int] {
	var parts []*RDD[int]
	for _, v := range m {
		parts = append(parts, Parallelize([]int{v}, 1))
	}
	return Union(parts...)
})

// fromSortedMap is fromMap made deterministic: the keys are sorted first.
var fromSortedMap = Func(func(m map[string]int) *RDD[int] {
	var parts []*RDD[int]
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, Parallelize([]int{m[k]}, 1))
	}
	return Union(parts...)
})

// The map-iteration hazard is caught: a Func rebuilt (locally with
// CheckPortable, on executors in cluster mode) that differs from the
// driver's build fails the job naming the Func; the deterministic version
// always passes.
func TestMapIterationHazardDetected(t *testing.T) {
	ctx := context.Background()
	m := map[string]int{}
	for i := range 50 {
		m[fmt.Sprint("k", i)] = i
	}
	local, err := Start(Config{Master: "local[2]", CheckPortable: true})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	// The default spark.task.maxFailures (4): a rebuild that differs fails
	// the job at its first failure all the same.
	cl := StartInProcessCluster(t, Config{}, 1)
	var mu sync.Mutex
	retried := map[int]bool{} // jobs with a task attempt after the first
	cl.AddListener(func(ev Event) {
		if ev.Kind == TaskStart && ev.Attempt > 0 {
			mu.Lock()
			retried[ev.Job] = true
			mu.Unlock()
		}
	})
	for _, s := range []*Session{local, cl} {
		detected := 0
		for range 10 {
			if _, err := Count(ctx, s, fromSortedMap(m)); err != nil {
				t.Fatalf("deterministic Func: %v", err)
			}
			_, err := Count(ctx, s, fromMap(m))
			if err == nil {
				continue
			}
			if detected++; detected == 1 {
				t.Logf("%v", err)
			}
			var re *RebuildError
			if !errors.As(err, &re) || !errors.Is(err, ErrNotPortable) {
				t.Fatalf("map iteration: %T %v", err, err)
			}
			if !strings.HasPrefix(re.Func, "portable_test.go:") || !strings.Contains(re.Differs(), "parallelize at portable_test.go:") ||
				len(re.Driver) != len(re.Rebuilt) || len(re.Driver) != 51 {
				t.Fatalf("map iteration: %v (func %q, %d datasets on the driver, %d rebuilt)", err, re.Func, len(re.Driver), len(re.Rebuilt))
			}
			if s == cl && (re.Executor != "e0" || re.Stage == "") {
				t.Fatalf("map iteration on the cluster: executor %q, stage %q: %v", re.Executor, re.Stage, err)
			}
		}
		if detected == 0 {
			t.Fatal("10 Funcs built from a map's iteration order all rebuilt identically")
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(retried) > 0 {
		t.Fatalf("jobs %v retried a task after a rebuild differed", retried)
	}
}

// fromRecords parallelizes its argument: a -0 key in it reaches a rebuild
// as +0 (gob drops a struct field equal to zero).
var fromRecords = Func(func(xs []Pair[float64, int]) *RDD[Pair[float64, int]] { return Parallelize(xs, 2) })

// An argument gob does not carry unchanged fails CheckPortable's rebuild
// with an error that blames the argument, not the Func's body; data gob
// carries exactly passes.
func TestLossyArgumentNamedByRebuild(t *testing.T) {
	ctx := context.Background()
	s, err := Start(Config{Master: "local[2]", CheckPortable: true, LocalDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n, err := Count(ctx, s, fromRecords([]Pair[float64, int]{{1.5, 1}, {0, 2}})); err != nil || n != 2 {
		t.Fatalf("exact arguments: %d, %v", n, err)
	}
	_, err = Count(ctx, s, fromRecords([]Pair[float64, int]{{1.5, 1}, {math.Copysign(0, -1), 2}}))
	var re *RebuildError
	if !errors.As(err, &re) || !errors.Is(err, ErrNotPortable) || !strings.HasPrefix(re.Lossy, "argument 0 ") ||
		!strings.Contains(err.Error(), "argument 0 ([]rdd.Pair[float64,int]) does not survive gob") || strings.Contains(err.Error(), "map iteration") {
		t.Fatalf("a -0 key passed to a Func: %v", err)
	}
	_, err = Count(ctx, s, fromMap(map[string]int{"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6, "g": 7, "h": 8}))
	for range 20 { // the map's order may happen to agree
		if err != nil {
			break
		}
		_, err = Count(ctx, s, fromMap(map[string]int{"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6, "g": 7, "h": 8}))
	}
	if !errors.As(err, &re) || re.Lossy != "" || !strings.Contains(err.Error(), "map iteration") {
		t.Fatalf("a body iterating a map: %v", err)
	}
}
