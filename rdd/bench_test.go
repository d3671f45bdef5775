package rdd_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/mesoproject/meso/rdd"
	"github.com/mesoproject/meso/rdd/codec"
)

// The seed demo job at full size through the engine (local[*]) and as a
// hand-written single-process Go program computing the same groups.
// Run: go test -run '^$' -bench 'Demo' -benchtime 3x ./rdd/
func BenchmarkDemo(b *testing.B) {
	const n, parts = 10_000_000, 500
	b.Run("engine", func(b *testing.B) {
		s := startSession(b, rdd.Config{Master: "local[*]"})
		for b.Loop() {
			groups, err := rdd.Collect(context.Background(), s, demo(n, parts))
			if err != nil || len(groups) != n/100+1 {
				b.Fatal(len(groups), err)
			}
		}
	})
	b.Run("baseline", func(b *testing.B) {
		for b.Loop() {
			if groups := demoBaseline(n); len(groups) != n/100+1 {
				b.Fatal(len(groups))
			}
		}
	})
}

// demoBaseline computes the demo's groups in plain Go: one pass appending
// (value, index) to the slice of value/100.
func demoBaseline(n int) []rdd.Pair[int, []rdd.Pair[int, int64]] {
	groups := make([]rdd.Pair[int, []rdd.Pair[int, int64]], n/100+1)
	for k := range groups {
		groups[k].Key = k
	}
	for v := 1; v <= n; v++ {
		g := &groups[v/100]
		g.Value = append(g.Value, rdd.Pair[int, int64]{v, int64(v - 1)})
	}
	return groups
}

// Sort of 10M random int64 pairs by key: engine vs slices.SortFunc.
// Run: go test -run '^$' -bench 'Sort' -benchtime 2x ./rdd/
func BenchmarkSort(b *testing.B) {
	const n = 10_000_000
	data := make([]rdd.Pair[int64, int64], n)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = rdd.KV(rng.Int64(), rng.Int64())
	}
	b.Run("engine", func(b *testing.B) {
		s := startSession(b, rdd.Config{Master: "local[*]"})
		for b.Loop() {
			sorted := rdd.SortByKey(rdd.Parallelize(data, 100), true, 100)
			n, err := rdd.Count(context.Background(), s, sorted)
			if err != nil || n != int64(len(data)) {
				b.Fatal(n, err)
			}
		}
	})
	b.Run("baseline", func(b *testing.B) {
		for b.Loop() {
			c := slices.Clone(data)
			slices.SortFunc(c, func(x, y rdd.Pair[int64, int64]) int {
				switch {
				case x.Key < y.Key:
					return -1
				case x.Key > y.Key:
					return 1
				}
				return 0
			})
		}
	})
}

// Word count over generated text held in memory (the file-based 500 MB run
// is examples/wordcount).
func BenchmarkWordCount(b *testing.B) {
	lines := generateText(200_000)
	b.Run("engine", func(b *testing.B) {
		s := startSession(b, rdd.Config{Master: "local[*]"})
		for b.Loop() {
			words := rdd.FlatMap(rdd.Parallelize(lines, 16), strings.Fields)
			counts := rdd.ReduceByKey(rdd.Map(words, func(w string) rdd.Pair[string, int] { return rdd.KV(w, 1) }),
				func(a, b int) int { return a + b }, 16)
			if _, err := rdd.Collect(context.Background(), s, counts); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline", func(b *testing.B) {
		for b.Loop() {
			counts := map[string]int{}
			for _, l := range lines {
				for _, w := range strings.Fields(l) {
					counts[w]++
				}
			}
		}
	})
}

func generateText(lines int) []string {
	rng := rand.New(rand.NewPCG(3, 4))
	out := make([]string, lines)
	var sb strings.Builder
	for i := range out {
		sb.Reset()
		for j := range 12 {
			if j > 0 {
				sb.WriteByte(' ')
			}
			// Zipf-like vocabulary: a few very common words, a long tail.
			w := int(rng.ExpFloat64() * 2000)
			sb.WriteString("w")
			sb.WriteString(strings.Repeat("x", w%7))
			sb.WriteString(string(rune('a' + w%26)))
			sb.WriteString(string(rune('a' + (w/26)%26)))
		}
		out[i] = sb.String()
	}
	return out
}

// The composed codec of the demo's shuffle record, Pair[int, Pair[int, int64]].
// Run: go test -run '^$' -bench PairCodec -benchmem ./rdd/
func BenchmarkPairCodec(b *testing.B) {
	c := codec.For[rdd.Pair[int, rdd.Pair[int, int64]]]()
	v := rdd.KV(12345, rdd.KV(1234567, int64(1234566)))
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = c.Append(buf[:0], v)
		if _, _, err := c.Decode(buf); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

// benchSession starts a session for mode: local (master) or cluster (two
// in-process executors of two slots over the real RPC).
func benchSession(b *testing.B, mode, master string) *rdd.Session {
	if mode == "local" {
		return startSession(b, rdd.Config{Master: master})
	}
	return rdd.StartInProcessCluster(b, rdd.Config{}, 2)
}

// The per-task cost of cluster mode: tiny tasks (one element each) over
// the real driver <-> executor RPC, two in-process executors of two slots,
// against the same job in local[4]. The difference per task is the cluster
// round trip: result report, the job loop, the next task's feed.
// Run: go test -run '^$' -bench 'TaskRoundTrip' -benchtime 3x ./rdd/
//
// The cluster-1x... variants are the demo's shape, 2 executors of 1 slot,
// with spark.rdd.taskPrefetch 0 (none), 1, 2 and 3.
func BenchmarkTaskRoundTrip(b *testing.B) {
	const tasks = 2000
	for _, mode := range []string{"local", "cluster", "cluster-1x-p0", "cluster-1x-p1", "cluster-1x-p2", "cluster-1x-p3"} {
		b.Run(mode, func(b *testing.B) {
			var s *rdd.Session
			switch mode {
			case "cluster-1x-p0":
				s = rdd.StartInProcessClusterSlots(b, rdd.Config{TaskPrefetch: -1}, 2, 1)
			case "cluster-1x-p1":
				s = rdd.StartInProcessClusterSlots(b, rdd.Config{TaskPrefetch: 1}, 2, 1)
			case "cluster-1x-p2":
				s = rdd.StartInProcessClusterSlots(b, rdd.Config{TaskPrefetch: 2}, 2, 1)
			case "cluster-1x-p3":
				s = rdd.StartInProcessClusterSlots(b, rdd.Config{TaskPrefetch: 3}, 2, 1)
			default:
				s = benchSession(b, mode, "local[4]")
			}
			for b.Loop() {
				n, err := rdd.Count(context.Background(), s, ints(tasks, tasks))
				if err != nil || n != tasks {
					b.Fatal(n, err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*tasks), "µs/task")
		})
	}
}

// The result path of a collect in cluster mode: the demo's groups (cached
// on the executors, so no shuffle runs in the loop) encoded by the
// executors, sent in the result reports, decoded by the driver and merged.
// 1,000,000 (value, index) pairs in 10,001 groups, 50 partitions.
// Run: go test -run '^$' -bench 'CollectGroups' -benchtime 5x -benchmem ./rdd/
func BenchmarkCollectGroups(b *testing.B) {
	const n, parts = 1_000_000, 50
	for _, mode := range []string{"local", "cluster"} {
		b.Run(mode, func(b *testing.B) {
			s := benchSession(b, mode, "local[2]")
			ds := demo(n, parts)
			if c, err := rdd.Count(context.Background(), s, ds); err != nil || c != n/100+1 {
				b.Fatal(c, err)
			}
			b.ReportAllocs()
			for b.Loop() {
				got, err := rdd.Collect(context.Background(), s, ds)
				if err != nil || len(got) != n/100+1 {
					b.Fatal(len(got), err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/pair")
		})
	}
}

// The demo's collected record, one group of 100 (value, index) members.
// Run: go test -run '^$' -bench 'GroupCodec' -benchmem ./rdd/
func BenchmarkGroupCodec(b *testing.B) {
	c := codec.For[rdd.Pair[int, []rdd.Pair[int, int64]]]()
	g := rdd.Pair[int, []rdd.Pair[int, int64]]{Key: 54321}
	for i := range 100 {
		g.Value = append(g.Value, rdd.KV(5432100+i, int64(5432099+i)))
	}
	buf := c.Append(nil, g)
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf = c.Append(buf[:0], g)
		}
		b.SetBytes(int64(len(buf)))
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := c.Decode(buf); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(len(buf)))
	})
}
