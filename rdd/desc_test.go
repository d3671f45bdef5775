package rdd_test

import (
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mesoproject/meso/rdd"
)

// dataOnly reports the path of the first func, channel or unsafe pointer
// reachable from v, or "" when v is plain data that can cross a process.
func dataOnly(v reflect.Value, path string, seen map[uintptr]bool) string {
	switch v.Kind() {
	case reflect.Func, reflect.Chan, reflect.UnsafePointer:
		if !v.IsNil() {
			return path
		}
	case reflect.Pointer:
		if v.IsNil() || seen[v.Pointer()] {
			return ""
		}
		seen[v.Pointer()] = true
		return dataOnly(v.Elem(), path, seen)
	case reflect.Interface:
		if !v.IsNil() {
			return dataOnly(v.Elem(), path, seen)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if p := dataOnly(v.Field(i), path+"."+v.Type().Field(i).Name, seen); p != "" {
				return p
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if p := dataOnly(v.Index(i), fmt.Sprintf("%s[%d]", path, i), seen); p != "" {
				return p
			}
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			if p := dataOnly(it.Value(), fmt.Sprintf("%s[%v]", path, it.Key()), seen); p != "" {
				return p
			}
		}
	}
	return ""
}

// Every task of the demo job is described by data only, and the description
// carries the driver's resolution: the Func invocation, partition counts,
// the shuffle's ids and sizes, and zipWithIndex's offsets.
func TestTaskDescsAreData(t *testing.T) {
	s := startSession(t, rdd.Config{Master: "local[2]"})
	descs := rdd.RecordTasks(s)
	groups := collect(t, s, demo(1000, 4))
	checkDemo(t, 1000, groups)
	all := descs()
	if len(all) == 0 {
		t.Fatal("no task descriptors recorded")
	}
	var maps, results, zipped int
	for _, d := range all {
		if p := dataOnly(reflect.ValueOf(d), "Desc", map[uintptr]bool{}); p != "" {
			t.Fatalf("%v: %s is not data", d.ID, p)
		}
		pl := d.Pipeline
		if pl.Invocation == nil || pl.NotPortable != "" {
			t.Fatalf("%v (%s): no invocation: %s", d.ID, pl.Name, pl.NotPortable) // every dataset is built by demo
		}
		for _, n := range pl.Nodes {
			if n.Local < 0 || n.Partitions != 4 {
				t.Fatalf("%v: node %+v: want a local index and 4 partitions", d.ID, n)
			}
			if offs, ok := n.Prepared.([]int64); ok {
				zipped++
				if !slices.Equal(offs, []int64{0, 250, 500, 750}) {
					t.Fatalf("zipWithIndex offsets %v", offs)
				}
			}
		}
		switch {
		case d.Shuffle >= 0:
			maps++
			if len(pl.Shuffles) != 1 || pl.Shuffles[0].ID != d.Shuffle || pl.Shuffles[0].Maps != 4 || pl.Shuffles[0].Reducers != 4 {
				t.Fatalf("map task %v: shuffles %+v", d.ID, pl.Shuffles)
			}
		default:
			results++
		}
	}
	if maps != 4 || zipped < 4 || results < 4 {
		t.Fatalf("%d map tasks, %d with offsets, %d result tasks", maps, zipped, results)
	}
}

// Each session resolves a dataset on its own: the first session to run it
// does not fix its partition count for the others, even when they run at
// the same time.
func TestResolutionPerSession(t *testing.T) {
	data := make([]int, 100)
	for i := range data {
		data[i] = i
	}
	r := rdd.Parallelize(data, 0)
	parts := rdd.MapPartitionsWithIndex(r, func(p int, in iter.Seq[int]) iter.Seq[int] {
		return func(yield func(int) bool) { yield(p) }
	})
	var wg sync.WaitGroup
	for _, par := range []int{3, 5, 7, 3, 5, 7} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := startLocalOnly(t, rdd.Config{Master: "local[2]", DefaultParallelism: par}, "the driver's per-session resolution of datasets shared by two sessions, built in the test")
			got, err := rdd.Collect(t.Context(), s, parts)
			if err != nil {
				t.Error(err)
				return
			}
			if len(got) != par {
				t.Errorf("session with default parallelism %d ran %d partitions", par, len(got))
			}
		}()
	}
	wg.Wait()
}

// The default parallelism is the driver's (its slots, or the setting), not
// the executors': an executor with more slots changes where tasks run, not
// the plan.
func TestExecutorSlotsDoNotChangeThePlan(t *testing.T) {
	s := startLocalOnly(t, rdd.Config{Master: "local[2]"}, "the driver's resolution against the local executor's slots")
	rdd.UseExecutorSlots(s, 8)
	r := rdd.Parallelize([]int{1, 2, 3, 4, 5, 6, 7, 8, 9}, 0)
	if got := collect(t, s, r); len(got) != 9 || r.NumPartitions() != 2 {
		t.Fatalf("%v in %d partitions, want 2 (the driver's local[2])", got, r.NumPartitions())
	}
}

// The driver's listing of a TextFile is the plan: a file that appears later
// changes nothing for the session that listed it, and a new session lists
// it.
func TestTextFileListedOncePerSession(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.txt", "a1\na2\n")
	write("b.txt", "b1\n")
	lines := rdd.TextFile(dir, 2)
	s1 := startLocalOnly(t, rdd.Config{}, "the driver lists a TextFile once per session; the dataset is shared by sessions")
	first := collect(t, s1, lines)
	write("c.txt", "c1\n")
	again := collect(t, s1, lines)
	if !slices.Equal(first, again) || len(first) != 3 {
		t.Fatalf("same session: %v, then %v", first, again)
	}
	s2 := startLocalOnly(t, rdd.Config{}, "the driver lists a TextFile once per session; the dataset is shared by sessions")
	if got := collect(t, s2, lines); len(got) != 4 {
		t.Fatalf("new session: %v, want the new file's line too", got)
	}
}

var sortedPairs = rdd.Func(func(n, parts int) *rdd.RDD[rdd.Pair[int, int]] {
	pairs := rdd.Map(rdd.Range(0, n, parts), func(i int) rdd.Pair[int, int] { return rdd.KV(i*7919%n, i) })
	return rdd.SortByKey(pairs, true, 3)
})

// A descriptor is enough to run a map task from a lineage rebuilt from its
// Func invocation, as a cluster executor will: the demo (zipWithIndex
// offsets from the driver) and a sort (range bounds from the driver) give
// the exact results with every map task run that way.
func TestMapTasksFromRebuiltLineage(t *testing.T) {
	s := startSession(t, rdd.Config{Master: "local[2]"})
	rebuilt := rdd.RebuildMapTasks(s)
	checkDemo(t, 10_000, collect(t, s, demo(10_000, 4)))
	if n := rebuilt(); n != 4 {
		t.Fatalf("%d map tasks ran from a rebuilt lineage, want 4", n)
	}
	got := collect(t, s, sortedPairs(1000, 4))
	if len(got) != 1000 {
		t.Fatalf("%d records", len(got))
	}
	for i, p := range got {
		if p.Key != i {
			t.Fatalf("record %d: key %d", i, p.Key)
		}
	}
	if n := rebuilt(); n != 8 {
		t.Fatalf("%d map tasks ran from a rebuilt lineage, want 8", n)
	}
}

var keyedRange = rdd.Func(func(n int) *rdd.RDD[rdd.Pair[int, int]] {
	return rdd.KeyBy(rdd.Range(0, n, 2), func(v int) int { return v % 3 })
})

// A stage with a dataset built outside the Func call (here the groupBy
// written in the test, whose dependency holds the map function) has no
// invocation, and its descriptor says why; a stage wholly inside the call
// has one.
func TestNotPortableStagesSayWhy(t *testing.T) {
	s := startLocalOnly(t, rdd.Config{Master: "local[2]"}, "it checks the reason recorded for a stage built outside a Func")
	descs := rdd.RecordTasks(s)
	groups := collect(t, s, rdd.GroupByKey(keyedRange(30), 2))
	if len(groups) != 3 {
		t.Fatalf("%d groups", len(groups))
	}
	seen := map[bool]bool{}
	for _, d := range descs() {
		pl := d.Pipeline
		if pl.Invocation != nil || pl.NotPortable == "" {
			t.Fatalf("%v (%s): invocation %v, reason %q", d.ID, pl.Name, pl.Invocation, pl.NotPortable)
		}
		// Both stages need the groupBy: the result stage computes it, the
		// map stage's function is on its dependency.
		want := "groupByKey at desc_test.go:214 was not built inside an rdd.Func"
		if !strings.Contains(pl.NotPortable, want) {
			t.Fatalf("%v: reason %q, want %q", d.ID, pl.NotPortable, want)
		}
		seen[d.Shuffle >= 0] = true
	}
	if !seen[true] || !seen[false] {
		t.Fatalf("map and result tasks: %v", seen)
	}
}
