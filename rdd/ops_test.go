package rdd_test

import (
	"cmp"
	"context"
	"fmt"
	"iter"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/mesoproject/meso/rdd"
)

type kv = rdd.Pair[int, int]

type jv = rdd.Pair[int, rdd.Pair[int, int]]

// The operation matrix's datasets, built in Funcs from the test's inputs
// (Parallelize in intsOf and pairsOf, passed on as handles).
var (
	intsOf  = rdd.Func(func(xs []int, parts int) *rdd.RDD[int] { return rdd.Parallelize(xs, parts) })
	pairsOf = rdd.Func(func(xs []kv, parts int) *rdd.RDD[kv] { return rdd.Parallelize(xs, parts) })
	// intOp is operation op of the matrix on r.
	intOp = rdd.Func(func(r *rdd.RDD[int], op string) *rdd.RDD[int] {
		switch op {
		case "map":
			return rdd.Map(r, func(v int) int { return v*3 + 1 })
		case "filter":
			return r.Filter(func(v int) bool { return v%3 == 0 })
		case "flatMap":
			return rdd.FlatMap(r, func(v int) []int {
				var out []int
				for i := range v % 3 {
					out = append(out, v+i)
				}
				return out
			})
		case "union":
			return rdd.Union(r, rdd.Map(r, func(v int) int { return -v }))
		case "coalesce":
			return rdd.Coalesce(r, 2)
		case "repartition":
			return rdd.Repartition(r, 5)
		case "distinct":
			return rdd.Distinct(r, 3)
		case "sortBy":
			return rdd.SortBy(r, func(v int) int { return v }, true, 3)
		}
		panic("intOp: no operation " + op)
	})
	zipped  = rdd.Func(func(r *rdd.RDD[int]) *rdd.RDD[rdd.Pair[int, int64]] { return rdd.ZipWithIndex(r) })
	byMod5  = rdd.Func(func(r *rdd.RDD[int]) *rdd.RDD[kv] { return rdd.KeyBy(r, func(v int) int { return v % 5 }) })
	indexed = rdd.Func(func(r *rdd.RDD[int]) *rdd.RDD[[2]int] { // each partition's index and size
		return rdd.MapPartitionsWithIndex(r, func(p int, in iter.Seq[int]) iter.Seq[[2]int] {
			return func(yield func([2]int) bool) {
				n := 0
				for range in {
					n++
				}
				yield([2]int{p, n})
			}
		})
	})
	// kvOp is key-value operation op of the matrix on r.
	kvOp = rdd.Func(func(r *rdd.RDD[kv], op string) *rdd.RDD[kv] {
		sum := func(a, b int) int { return a + b }
		switch op {
		case "reduceByKey":
			return rdd.ReduceByKey(r, sum, 3)
		case "foldByKey":
			return rdd.FoldByKey(r, 0, sum, 0)
		case "aggregateByKey":
			return rdd.AggregateByKey(r, -1, func(u, v int) int { return max(u, v) }, func(a, b int) int { return max(a, b) }, 2)
		case "combineByKey":
			return rdd.CombineByKey(r, func(int) int { return 1 }, func(c, _ int) int { return c + 1 }, sum, 5)
		}
		panic("kvOp: no operation " + op)
	})
	grouped     = rdd.Func(func(r *rdd.RDD[kv], parts int) *rdd.RDD[rdd.Pair[int, []int]] { return rdd.GroupByKey(r, parts) })
	keysOf      = rdd.Func(func(r *rdd.RDD[kv]) *rdd.RDD[int] { return rdd.Keys(r) })
	valuesOf    = rdd.Func(func(r *rdd.RDD[kv]) *rdd.RDD[int] { return rdd.Values(r) })
	sortedByKey = rdd.Func(func(r *rdd.RDD[kv], asc bool, parts int) *rdd.RDD[kv] { return rdd.SortByKey(r, asc, parts) })
	joined      = rdd.Func(func(a, b *rdd.RDD[kv], parts int) *rdd.RDD[jv] { return rdd.Join(a, b, parts) })
	leftJoined  = rdd.Func(func(a, b *rdd.RDD[kv], parts int) *rdd.RDD[rdd.Pair[int, rdd.Pair[int, rdd.Option[int]]]] {
		return rdd.LeftOuterJoin(a, b, parts)
	})
	rightJoined = rdd.Func(func(a, b *rdd.RDD[kv], parts int) *rdd.RDD[rdd.Pair[int, rdd.Pair[rdd.Option[int], int]]] {
		return rdd.RightOuterJoin(a, b, parts)
	})
	fullJoined = rdd.Func(func(a, b *rdd.RDD[kv], parts int) *rdd.RDD[rdd.Pair[int, rdd.Pair[rdd.Option[int], rdd.Option[int]]]] {
		return rdd.FullOuterJoin(a, b, parts)
	})
	cogrouped = rdd.Func(func(a, b *rdd.RDD[kv], parts int) *rdd.RDD[rdd.Pair[int, rdd.Pair[[]int, []int]]] {
		return rdd.CoGroup(a, b, parts)
	})
	subtractedByKey = rdd.Func(func(a, b *rdd.RDD[kv], parts int) *rdd.RDD[kv] { return rdd.SubtractByKey(a, b, parts) })
	// setOp is Subtract or Intersection of a and b.
	setOp = rdd.Func(func(a, b *rdd.RDD[int], intersect bool, parts int) *rdd.RDD[int] {
		if intersect {
			return rdd.Intersection(a, b, parts)
		}
		return rdd.Subtract(a, b, parts)
	})
	// countedInto adds one to acc for every record of r.
	countedInto = rdd.Func(func(r *rdd.RDD[int], acc *rdd.Accumulator[int64]) *rdd.RDD[int] {
		return rdd.MapPartitionsWithContext(r, func(tc *rdd.TaskContext, in iter.Seq[int]) iter.Seq[int] {
			return func(yield func(int) bool) {
				for v := range in {
					acc.Add(tc, 1)
					if !yield(v) {
						return
					}
				}
			}
		})
	})
	countOne = rdd.Register(func(c, _ int) int { return c + 1 })
	drain    = rdd.Register(func(_ *rdd.TaskContext, in iter.Seq[int]) error {
		for range in {
		}
		return nil
	})
)

// dataset is one random input: values, pairs with skewed keys, and a
// partition count (sometimes larger than the data, giving empty partitions).
type dataset struct {
	name  string
	ints  []int
	pairs []kv
	parts int
}

func datasets() []dataset {
	var out []dataset
	rng := rand.New(rand.NewPCG(7, 11))
	for i, size := range []int{0, 1, 7, 300, 3000} {
		for _, parts := range []int{1, 3, 16} {
			d := dataset{name: fmt.Sprintf("n%d-p%d", size, parts), parts: parts}
			for range size {
				d.ints = append(d.ints, rng.IntN(200)-50)
				k := rng.IntN(40)
				if rng.IntN(2) == 0 {
					k = 0 // skew: half the records share one key
				}
				d.pairs = append(d.pairs, kv{k, rng.IntN(1000)})
			}
			_ = i
			out = append(out, d)
		}
	}
	return out
}

// sessions: a generous budget, and a tiny one that forces every shuffle and
// aggregation to spill.
func sessions(t *testing.T) map[string]*rdd.Session {
	return map[string]*rdd.Session{
		"mem":   startSession(t, rdd.Config{}),
		"spill": startSession(t, rdd.Config{ShuffleMemory: 2048, Master: "local[3]"}),
	}
}

func collect[T any](t *testing.T, s *rdd.Session, r *rdd.RDD[T]) []T {
	t.Helper()
	out, err := rdd.Collect(context.Background(), s, r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sortedBy[T any](xs []T, c func(a, b T) int) []T {
	out := slices.Clone(xs)
	slices.SortFunc(out, c)
	return out
}

func cmpKV(a, b kv) int {
	if c := cmp.Compare(a.Key, b.Key); c != 0 {
		return c
	}
	return cmp.Compare(a.Value, b.Value)
}

func same[T any](t *testing.T, what string, got, want []T) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %v\nwant %v", what, trunc(got), trunc(want))
	}
}

func trunc[T any](xs []T) any {
	if len(xs) > 20 {
		return fmt.Sprintf("%v ... (%d elements)", xs[:20], len(xs))
	}
	return xs
}

func forAll(t *testing.T, f func(t *testing.T, s *rdd.Session, d dataset)) {
	for sname, s := range sessions(t) {
		for _, d := range datasets() {
			t.Run(sname+"/"+d.name, func(t *testing.T) { f(t, s, d) })
		}
	}
}

// The operation matrix's checks on an in-process cluster (executor loops
// over the real RPC and shuffle servers on loopback), for a few of its
// datasets: what passes locally with CheckPortable runs on executors and
// gives the same results.
func TestOperationMatrixOnCluster(t *testing.T) {
	cl := rdd.StartInProcessCluster(t, rdd.Config{ShuffleMemory: 2048}, 2)
	checks := []struct {
		name string
		f    func(t *testing.T, s *rdd.Session, d dataset)
	}{
		{"narrow", narrowOps}, {"keyValue", keyValueOps}, {"joins", joinOps}, {"sorts", sortOps},
		{"actions", actionOps}, {"moreJoins", moreJoinAndSetOps},
	}
	for _, d := range datasets() {
		if d.name != "n7-p16" && d.name != "n3000-p3" { // empty partitions; skew and spills
			continue
		}
		for _, c := range checks {
			t.Run(c.name+"/"+d.name, func(t *testing.T) { c.f(t, cl, d) })
		}
	}
}

func TestNarrowOps(t *testing.T) { forAll(t, narrowOps) }

func narrowOps(t *testing.T, s *rdd.Session, d dataset) {
	r := intsOf(d.ints, d.parts)
	var wantMap, wantFilter, wantFlat []int
	for _, v := range d.ints {
		wantMap = append(wantMap, v*3+1)
		if v%3 == 0 {
			wantFilter = append(wantFilter, v)
		}
		for i := range v % 3 {
			wantFlat = append(wantFlat, v+i)
		}
	}
	same(t, "collect", collect(t, s, r), d.ints)
	same(t, "map", collect(t, s, intOp(r, "map")), wantMap)
	same(t, "filter", collect(t, s, intOp(r, "filter")), wantFilter)
	same(t, "flatMap", collect(t, s, intOp(r, "flatMap")), wantFlat)
	var wantZip []rdd.Pair[int, int64]
	for i, v := range d.ints {
		wantZip = append(wantZip, rdd.KV(v, int64(i)))
	}
	same(t, "zipWithIndex", collect(t, s, zipped(r)), wantZip)
	var wantKeyBy []rdd.Pair[int, int]
	for _, v := range d.ints {
		wantKeyBy = append(wantKeyBy, rdd.KV(v%5, v))
	}
	same(t, "keyBy", collect(t, s, byMod5(r)), wantKeyBy)
	// Partition sizes sum up, and MapPartitionsWithIndex sees each index once.
	sizes := collect(t, s, indexed(r))
	total := 0
	for i, sz := range sizes {
		if sz[0] != i {
			t.Fatalf("partition %d reported index %d", i, sz[0])
		}
		total += sz[1]
	}
	if len(sizes) != d.parts || total != len(d.ints) {
		t.Fatalf("mapPartitionsWithIndex: %v for %d elements in %d partitions", sizes, len(d.ints), d.parts)
	}
	same(t, "union", collect(t, s, intOp(r, "union")),
		append(slices.Clone(d.ints), wantNeg(d.ints)...))
	co := intOp(r, "coalesce")
	same(t, "coalesce", collect(t, s, co), d.ints)
	if n := co.NumPartitions(); n != min(2, d.parts) {
		t.Fatalf("coalesce to 2 of %d: %d partitions", d.parts, n)
	}
	rp := intOp(r, "repartition")
	same(t, "repartition", sortedBy(collect(t, s, rp), cmp.Compare), sortedBy(d.ints, cmp.Compare))
}

func wantNeg(xs []int) []int {
	out := make([]int, len(xs))
	for i, v := range xs {
		out[i] = -v
	}
	return out
}

func TestKeyValueOps(t *testing.T) { forAll(t, keyValueOps) }

func keyValueOps(t *testing.T, s *rdd.Session, d dataset) {
	r := pairsOf(d.pairs, d.parts)
	groups := map[int][]int{}
	for _, p := range d.pairs {
		groups[p.Key] = append(groups[p.Key], p.Value)
	}
	// groupByKey: same groups, values as multisets.
	got := map[int][]int{}
	for _, g := range collect(t, s, grouped(r, 4)) {
		if _, dup := got[g.Key]; dup {
			t.Fatalf("groupByKey: key %d twice", g.Key)
		}
		got[g.Key] = sortedBy(g.Value, cmp.Compare)
	}
	for k := range groups {
		groups[k] = sortedBy(groups[k], cmp.Compare)
	}
	if !reflect.DeepEqual(got, groups) && len(groups) > 0 {
		t.Fatalf("groupByKey differs")
	}
	want := func(f func(vs []int) int) []kv {
		var out []kv
		for k, vs := range groups {
			out = append(out, kv{k, f(vs)})
		}
		return sortedBy(out, cmpKV)
	}
	total := func(vs []int) int {
		t := 0
		for _, v := range vs {
			t += v
		}
		return t
	}
	same(t, "reduceByKey", sortedBy(collect(t, s, kvOp(r, "reduceByKey")), cmpKV), want(total))
	same(t, "foldByKey", sortedBy(collect(t, s, kvOp(r, "foldByKey")), cmpKV), want(total))
	maxv := func(vs []int) int { return slices.Max(vs) }
	same(t, "aggregateByKey", sortedBy(collect(t, s, kvOp(r, "aggregateByKey")), cmpKV), want(maxv))
	count := func(vs []int) int { return len(vs) }
	same(t, "combineByKey", sortedBy(collect(t, s, kvOp(r, "combineByKey")), cmpKV), want(count))
	counts, err := rdd.CountByKey(context.Background(), s, r)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range groups {
		if counts[k] != int64(len(vs)) {
			t.Fatalf("countByKey[%d] = %d, want %d", k, counts[k], len(vs))
		}
	}
	if len(counts) != len(groups) {
		t.Fatalf("countByKey: %d keys, want %d", len(counts), len(groups))
	}
	// distinct and countByValue on the values.
	vals := valuesOf(r)
	distinct := map[int]int64{}
	for _, p := range d.pairs {
		distinct[p.Value]++
	}
	same(t, "distinct", sortedBy(collect(t, s, intOp(vals, "distinct")), cmp.Compare),
		slices.Sorted(maps.Keys(distinct)))
	byValue, err := rdd.CountByValue(context.Background(), s, vals)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(byValue, distinct) {
		t.Fatal("countByValue differs")
	}
}

func TestJoins(t *testing.T) { forAll(t, joinOps) }

func joinOps(t *testing.T, s *rdd.Session, d dataset) {
	if len(d.pairs) > 300 {
		d.pairs = d.pairs[:300] // the skewed key makes joins quadratic
	}
	var left, right []kv
	for i, p := range d.pairs {
		if i%2 == 0 {
			left = append(left, p)
		} else {
			right = append(right, kv{p.Key + i%3, -p.Value})
		}
	}
	a, b := pairsOf(left, d.parts), pairsOf(right, max(d.parts/2, 1))
	cmpJ := func(x, y jv) int {
		return cmp.Or(cmp.Compare(x.Key, y.Key), cmp.Compare(x.Value.Key, y.Value.Key), cmp.Compare(x.Value.Value, y.Value.Value))
	}
	var wantJoin, wantLeft []jv
	for _, l := range left {
		matched := false
		for _, r := range right {
			if l.Key == r.Key {
				wantJoin = append(wantJoin, jv{l.Key, rdd.KV(l.Value, r.Value)})
				wantLeft = append(wantLeft, jv{l.Key, rdd.KV(l.Value, r.Value)})
				matched = true
			}
		}
		if !matched {
			wantLeft = append(wantLeft, jv{l.Key, rdd.KV(l.Value, 1<<40)})
		}
	}
	same(t, "join", sortedBy(collect(t, s, joined(a, b, 0)), cmpJ), sortedBy(wantJoin, cmpJ))
	var gotLeft []jv
	for _, p := range collect(t, s, leftJoined(a, b, 4)) {
		w := 1 << 40
		if p.Value.Value.Valid {
			w = p.Value.Value.Value
		}
		gotLeft = append(gotLeft, jv{p.Key, rdd.KV(p.Value.Key, w)})
	}
	same(t, "leftOuterJoin", sortedBy(gotLeft, cmpJ), sortedBy(wantLeft, cmpJ))
	// cogroup: every key of either side once, with both sides' values.
	cg := collect(t, s, cogrouped(a, b, 3))
	keys := map[int]bool{}
	for _, p := range append(slices.Clone(left), right...) {
		keys[p.Key] = true
	}
	if len(cg) != len(keys) {
		t.Fatalf("cogroup: %d keys, want %d", len(cg), len(keys))
	}
	n := 0
	for _, g := range cg {
		n += len(g.Value.Key) + len(g.Value.Value)
	}
	if n != len(left)+len(right) {
		t.Fatalf("cogroup holds %d values, want %d", n, len(left)+len(right))
	}
}

func TestSorts(t *testing.T) { forAll(t, sortOps) }

func sortOps(t *testing.T, s *rdd.Session, d dataset) {
	r := pairsOf(d.pairs, d.parts)
	for _, asc := range []bool{true, false} {
		got := collect(t, s, sortedByKey(r, asc, 4))
		keys := make([]int, len(got))
		for i, p := range got {
			keys[i] = p.Key
		}
		want := make([]int, len(d.pairs))
		for i, p := range d.pairs {
			want[i] = p.Key
		}
		slices.Sort(want)
		if !asc {
			slices.Reverse(want)
		}
		same(t, fmt.Sprintf("sortByKey keys asc=%v", asc), keys, want)
		same(t, "sortByKey records", sortedBy(got, cmpKV), sortedBy(d.pairs, cmpKV))
	}
	same(t, "sortBy", collect(t, s, intOp(intsOf(d.ints, d.parts), "sortBy")), sortedBy(d.ints, cmp.Compare))
}

func TestActions(t *testing.T) { forAll(t, actionOps) }

func actionOps(t *testing.T, s *rdd.Session, d dataset) {
	ctx := context.Background()
	r := intsOf(d.ints, d.parts)
	n, err := rdd.Count(ctx, s, r)
	if err != nil || n != int64(len(d.ints)) {
		t.Fatalf("count: %d, %v", n, err)
	}
	sum := 0
	for _, v := range d.ints {
		sum += v
	}
	red, err := rdd.Reduce(ctx, s, r, addInts)
	if len(d.ints) == 0 {
		if err != rdd.ErrEmpty {
			t.Fatalf("reduce of empty: %v", err)
		}
	} else if err != nil || red != sum {
		t.Fatalf("reduce: %d, %v; want %d", red, err, sum)
	}
	fold, err := rdd.Fold(ctx, s, r, 0, addInts)
	if err != nil || fold != sum {
		t.Fatalf("fold: %d, %v", fold, err)
	}
	agg, err := rdd.Aggregate(ctx, s, r, 0, countOne, func(a, b int) int { return a + b })
	if err != nil || agg != len(d.ints) {
		t.Fatalf("aggregate: %d, %v", agg, err)
	}
	for _, k := range []int{0, 1, 5, len(d.ints) + 3} {
		got, err := rdd.Take(ctx, s, r, k)
		if err != nil {
			t.Fatal(err)
		}
		same(t, fmt.Sprintf("take %d", k), got, d.ints[:min(k, len(d.ints))])
	}
	for _, k := range []int{0, 1, 7, len(d.ints) + 2} {
		sorted := sortedBy(d.ints, cmp.Compare)
		got, err := rdd.TakeOrdered(ctx, s, r, k, byValue)
		if err != nil {
			t.Fatal(err)
		}
		same(t, fmt.Sprintf("takeOrdered %d", k), got, sorted[:min(k, len(sorted))])
		top, err := rdd.Top(ctx, s, r, k, byValue)
		if err != nil {
			t.Fatal(err)
		}
		slices.Reverse(sorted)
		same(t, fmt.Sprintf("top %d", k), top, sorted[:min(k, len(sorted))])
	}
	first, err := rdd.First(ctx, s, r)
	if len(d.ints) > 0 && (err != nil || first != d.ints[0]) {
		t.Fatalf("first: %d, %v", first, err)
	}
	acc := rdd.Counter(s, "elements")
	err = rdd.ForeachPartition(ctx, s, countedInto(r, acc), drain)
	if err != nil || acc.Value() != int64(len(d.ints)) {
		t.Fatalf("accumulator: %d, %v", acc.Value(), err)
	}
}

func TestSample(t *testing.T) {
	s := startSession(t, rdd.Config{})
	data := make([]int, 20000)
	for i := range data {
		data[i] = i
	}
	r := intsOf(data, 8)
	without := collect(t, s, sampleOf(r, false, 0.1, 42, false))
	if len(without) < 1700 || len(without) > 2300 || !slices.IsSorted(without) ||
		len(slices.Compact(slices.Clone(without))) != len(without) {
		t.Fatalf("sample without replacement: %d elements", len(without))
	}
	again := collect(t, s, sampleOf(r, false, 0.1, 42, false))
	same(t, "same seed, same sample", again, without)
	with := collect(t, s, sampleOf(r, true, 0.5, 7, false))
	if len(with) < 9000 || len(with) > 11000 {
		t.Fatalf("sample with replacement: %d elements", len(with))
	}
}

func TestMoreJoinsAndSetOps(t *testing.T) { forAll(t, moreJoinAndSetOps) }

func moreJoinAndSetOps(t *testing.T, s *rdd.Session, d dataset) {
	if len(d.pairs) > 300 {
		d.pairs = d.pairs[:300]
	}
	var left, right []kv
	for i, p := range d.pairs {
		if i%2 == 0 {
			left = append(left, p)
		} else {
			right = append(right, kv{p.Key + i%5, -p.Value})
		}
	}
	a, b := pairsOf(left, d.parts), pairsOf(right, 2)
	const none = 1 << 40
	type row = [3]int
	cmpRow := func(x, y row) int {
		return cmp.Or(cmp.Compare(x[0], y[0]), cmp.Compare(x[1], y[1]), cmp.Compare(x[2], y[2]))
	}
	var wantRight, wantFull []row
	matchedL := make([]bool, len(left))
	for _, r := range right {
		matched := false
		for i, l := range left {
			if l.Key == r.Key {
				wantRight = append(wantRight, row{r.Key, l.Value, r.Value})
				wantFull = append(wantFull, row{r.Key, l.Value, r.Value})
				matched, matchedL[i] = true, true
			}
		}
		if !matched {
			wantRight = append(wantRight, row{r.Key, none, r.Value})
			wantFull = append(wantFull, row{r.Key, none, r.Value})
		}
	}
	for i, l := range left {
		if !matchedL[i] {
			wantFull = append(wantFull, row{l.Key, l.Value, none})
		}
	}
	opt := func(o rdd.Option[int]) int {
		if o.Valid {
			return o.Value
		}
		return none
	}
	var gotRight, gotFull []row
	for _, p := range collect(t, s, rightJoined(a, b, 3)) {
		gotRight = append(gotRight, row{p.Key, opt(p.Value.Key), p.Value.Value})
	}
	for _, p := range collect(t, s, fullJoined(a, b, 0)) {
		gotFull = append(gotFull, row{p.Key, opt(p.Value.Key), opt(p.Value.Value)})
	}
	same(t, "rightOuterJoin", sortedBy(gotRight, cmpRow), sortedBy(wantRight, cmpRow))
	same(t, "fullOuterJoin", sortedBy(gotFull, cmpRow), sortedBy(wantFull, cmpRow))

	inRight := map[int]bool{}
	for _, r := range right {
		inRight[r.Key] = true
	}
	var wantSub []kv
	for _, l := range left {
		if !inRight[l.Key] {
			wantSub = append(wantSub, l)
		}
	}
	same(t, "subtractByKey", sortedBy(collect(t, s, subtractedByKey(a, b, 2)), cmpKV), sortedBy(wantSub, cmpKV))
	ka, kb := keysOf(a), keysOf(b)
	var wantSubtract []int
	inter := map[int]bool{}
	for _, l := range left {
		if !inRight[l.Key] {
			wantSubtract = append(wantSubtract, l.Key)
		} else {
			inter[l.Key] = true
		}
	}
	same(t, "subtract", sortedBy(collect(t, s, setOp(ka, kb, false, 0)), cmp.Compare), sortedBy(wantSubtract, cmp.Compare))
	same(t, "intersection", sortedBy(collect(t, s, setOp(ka, kb, true, 3)), cmp.Compare), slices.Sorted(maps.Keys(inter)))
}

var (
	zipRange = rdd.Func(func(lo, hi, parts int) *rdd.RDD[rdd.Pair[int, int64]] {
		return rdd.ZipWithIndex(rdd.Range(lo, hi, parts))
	})
	zipParallel = rdd.Func(func(xs []int, parts int) *rdd.RDD[rdd.Pair[int, int64]] {
		return rdd.ZipWithIndex(rdd.Parallelize(xs, parts))
	})
	zipMapped = rdd.Func(func(lo, hi, parts int) *rdd.RDD[rdd.Pair[int, int64]] {
		return rdd.ZipWithIndex(rdd.Map(rdd.Range(lo, hi, parts), func(x int) int { return x }))
	})
)

// TestZipWithIndexKnownSizes: zipWithIndex straight on a Range or a
// Parallelize takes the partitions' sizes from the driver (one job, the
// collect), other parents are counted first (two jobs); the indexes are the
// same, also with empty and uneven partitions and the default partition
// count.
func TestZipWithIndexKnownSizes(t *testing.T) {
	s := startSession(t, rdd.Config{Master: "local[3]"})
	for _, c := range []struct{ lo, hi, parts int }{{0, 10, 3}, {5, 8, 7}, {-4, 1000, 13}, {3, 3, 4}, {1, 50, 0}} {
		var want []rdd.Pair[int, int64]
		xs := []int{}
		for i := c.lo; i < c.hi; i++ {
			want = append(want, rdd.Pair[int, int64]{Key: i, Value: int64(i - c.lo)})
			xs = append(xs, i)
		}
		for _, z := range []struct {
			name string
			r    *rdd.RDD[rdd.Pair[int, int64]]
			jobs int
		}{
			{"range", zipRange(c.lo, c.hi, c.parts), 1},
			{"parallelize", zipParallel(xs, c.parts), 1},
			{"mapped range", zipMapped(c.lo, c.hi, c.parts), 2},
		} {
			before := s.Stats().Jobs
			same(t, fmt.Sprintf("%s %+v", z.name, c), collect(t, s, z.r), want)
			if got := s.Stats().Jobs - before; got != z.jobs {
				t.Errorf("%s %+v: %d jobs, want %d", z.name, c, got, z.jobs)
			}
		}
	}
}
