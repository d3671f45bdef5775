package rdd_test

import (
	"cmp"
	"context"
	"iter"
	"reflect"
	"slices"
	"testing"

	. "github.com/mesoproject/meso/rdd"
)

// loadInput stands for an expensive input: computed counts the records it
// computes, on whichever process computes them.
var loadInput = Func(func(n, parts int, computed *Accumulator[int64]) *RDD[Pair[int, int]] {
	return MapPartitionsWithContext(Range(0, n, parts), func(tc *TaskContext, in iter.Seq[int]) iter.Seq[Pair[int, int]] {
		return func(yield func(Pair[int, int]) bool) {
			for v := range in {
				computed.Add(tc, 1)
				if !yield(Pair[int, int]{v % 10, v}) {
					return
				}
			}
		}
	})
})

// iteration i over the input (a driver dataset handle): each value scaled
// by i, summed by key through a shuffle.
var iteration = Func(func(input *RDD[Pair[int, int]], i int) *RDD[Pair[int, int]] {
	scaled := Map(input, func(p Pair[int, int]) Pair[int, int] { return Pair[int, int]{p.Key, p.Value * i} })
	return ReduceByKey(scaled, sumInts, 3)
})

func byKey(a, b Pair[int, int]) int { return cmp.Compare(a.Key, b.Key) }

// iterate runs 5 iterations over one cached input built in "main" and
// returns their results and how many input records were computed.
func iterate(t *testing.T, s *Session) ([][]Pair[int, int], int64) {
	t.Helper()
	ctx := context.Background()
	computed := Counter(s, "input records computed")
	input := loadInput(10_000, 4, computed).Cache()
	var out [][]Pair[int, int]
	for i := range 5 {
		got, err := Collect(ctx, s, iteration(input, i+1))
		if err != nil {
			t.Fatalf("iteration %d: %v", i, err)
		}
		slices.SortFunc(got, byKey)
		out = append(out, got)
	}
	return out, computed.Value()
}

// Iterating on a cached dataset from main: 5 jobs whose Func takes the
// dataset as an argument compute it once (the accumulator counts its
// records), on in-process executors over the real RPC as in local mode,
// with the same results.
func TestIterationsOverCachedInputComputeItOnce(t *testing.T) {
	local, err := Start(Config{Master: "local[2]", CheckPortable: true})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	want, n := iterate(t, local)
	if n != 10_000 {
		t.Fatalf("local mode computed %d input records over 5 iterations, want 10000 (once)", n)
	}
	if want[0][3] != (Pair[int, int]{3, 4_998_000}) || want[4][3] != (Pair[int, int]{3, 5 * 4_998_000}) {
		t.Fatalf("local results wrong: %v", want)
	}
	cl := StartInProcessCluster(t, Config{}, 2)
	got, n := iterate(t, cl)
	if n != 10_000 {
		t.Fatalf("cluster mode computed %d input records over 5 iterations, want 10000 (once)", n)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("cluster %v\nlocal %v", got, want)
	}
	if st := cl.Stats(); st.CacheHits < 4*4 {
		t.Fatalf("%d cached partitions read over 4 iterations of 4 partitions", st.CacheHits)
	}
	// Delay scheduling: every task reading a cached partition ran on the
	// executor holding it (all slots are free when each iteration
	// starts), so none read it from another executor.
	if n := RemoteCacheReads(cl); n != 0 {
		t.Fatalf("%d tasks read a cached partition from another executor", n)
	}
}

// scaled multiplies a driver dataset by k.
var scaled = Func(func(data *RDD[int], k int) *RDD[int] {
	return Map(data, func(v int) int { return v * k })
})

// Parallelize data built on the driver reaches executors per partition
// (fetched once by each executor that needs it, then kept), never in a
// task's descriptor; the results are local mode's.
func TestParallelizeDataFetchedPerPartition(t *testing.T) {
	ctx := context.Background()
	data := make([]int, 100_000)
	for i := range data {
		data[i] = i * 7919 % 1_000_003
	}
	run := func(s *Session) []int {
		var out []int
		input := Parallelize(data, 4)
		for k := range 3 {
			v, err := Reduce(ctx, s, scaled(input, k+1), sumInts)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, v)
		}
		return out
	}
	local, err := Start(Config{Master: "local[2]", CheckPortable: true})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	want := run(local)
	cl := StartInProcessCluster(t, Config{}, 2)
	if got := run(cl); !slices.Equal(got, want) {
		t.Fatalf("cluster %v, local %v", got, want)
	}
	encoded := int64(EncodedSize(data))
	if b := PipelineBytes(cl); b > 16<<10 {
		t.Fatalf("the pipelines sent to executors hold %d bytes (the data is %d bytes)", b, encoded)
	}
	// Each partition at most once per executor over the 3 jobs.
	if served := DataServed(cl); served < encoded || served > 2*encoded {
		t.Fatalf("the driver served %d bytes of a %d-byte dataset to 2 executors over 3 jobs", served, encoded)
	}
}

// withExtra puts a one-partition dataset before input: the union's tasks
// are [extra, input 0, input 1], so in queue order the executor that
// cached input's partition 0 would not get it.
var withExtra = Func(func(input *RDD[Pair[int, int]]) *RDD[Pair[int, int]] {
	extra := Map(Range(0, 10, 1), func(v int) Pair[int, int] { return Pair[int, int]{v, v} })
	return Union(extra, input)
})

// Delay scheduling (spark.locality.wait): a task reading a cached
// partition runs on the executor holding it. Queue order would send the
// union's first cached partition to the second executor (see withExtra).
func TestTasksRunWhereTheirCachedInputIs(t *testing.T) {
	ctx := context.Background()
	cl := StartInProcessCluster(t, Config{}, 2)
	computed := Counter(cl, "input records computed")
	input := loadInput(1_000, 2, computed).Cache()
	if n, err := Count(ctx, cl, input); err != nil || n != 1_000 {
		t.Fatalf("count %d, %v", n, err)
	}
	if n, err := Count(ctx, cl, withExtra(input)); err != nil || n != 1_010 {
		t.Fatalf("count of the union %d, %v", n, err)
	}
	if n := computed.Value(); n != 1_000 {
		t.Fatalf("input computed %d records, want 1000 (once)", n)
	}
	if n := RemoteCacheReads(cl); n != 0 {
		t.Fatalf("%d tasks read a cached partition from another executor", n)
	}
}
