package rdd_test

import (
	"context"
	"testing"

	. "github.com/mesoproject/meso/rdd"
)

var wideRecords = Func(func(n int) *RDD[Pair[int, string]] {
	return Map(Range(0, n, 4), func(v int) Pair[int, string] {
		return Pair[int, string]{v * 7919 % 100_003, "a value long enough to matter in bytes"}
	})
})

var sortedWide = Func(func(n int) *RDD[Pair[int, string]] { return SortByKey(wideRecords(n), true, 3) })

var firstKeys = Register(func(a, b Pair[int, string]) int { return a.Key - b.Key })

// A sort's sample job sends the driver only each partition's key sample
// and count (Spark's RangePartitioner sketch), not its records; the sorted
// result equals local mode's.
func TestSortSampleSendsOnlyTheSample(t *testing.T) {
	ctx := context.Background()
	const n = 50_000
	local, err := Start(Config{Master: "local[2]", CheckPortable: true})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	cl := StartInProcessCluster(t, Config{}, 2)
	count := func(s *Session) int64 {
		c, err := Count(ctx, s, sortedWide(n))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if got := count(cl); got != n {
		t.Fatalf("counted %d", got)
	}
	// 3 reducers: 60 keys per partition at most, a few bytes each, plus
	// the counts; the records are over 2 MB.
	if b := ResultBytes(cl); b > 4<<10 {
		t.Fatalf("the sort's jobs sent %d bytes of results to the driver", b)
	}
	want, err := TakeOrdered(ctx, local, sortedWide(n), 5, firstKeys)
	if err != nil {
		t.Fatal(err)
	}
	got, err := TakeOrdered(ctx, cl, sortedWide(n), 5, firstKeys)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 || len(want) != 5 {
		t.Fatalf("took %v and %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("cluster %v, local %v", got, want)
		}
	}
	lc, lerr := Collect(ctx, local, sortedWide(n))
	cc, cerr := Collect(ctx, cl, sortedWide(n))
	if lerr != nil || cerr != nil || len(lc) != n || len(cc) != n {
		t.Fatalf("collect: %d %v, %d %v", len(lc), lerr, len(cc), cerr)
	}
	for i := range lc {
		if lc[i] != cc[i] || i > 0 && lc[i].Key < lc[i-1].Key {
			t.Fatalf("record %d: cluster %v, local %v", i, cc[i], lc[i])
		}
	}
}
