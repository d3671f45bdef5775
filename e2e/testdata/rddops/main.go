// Command rddops is a test program for cluster mode: a join and a sortByKey
// built inside Funcs, each result printed as a checksum so that a cluster
// run can be compared with local mode. With --slow-ms every map record
// sleeps, so that a test has time to break something mid-job.
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"hash/fnv"
	"iter"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"time"

	"github.com/mesoproject/meso/rdd"
)

type pair = rdd.Pair[int64, int64]

var slow = flag.Int("slow-ms", 0, "milliseconds each partition of the inputs waits (to keep a job running)")

// With --fail-dir, each partition of the join's left input fails its first
// --fail-times attempts (counted by files made there, so the count is
// shared by every process on the machine).
var (
	failDir   = flag.String("fail-dir", "", "directory counting injected task failures")
	failTimes = flag.Int("fail-times", 0, "attempts of each left-input partition that fail")
)

// Joined joins n pairs keyed by i%keys with keys pairs keyed by k, in parts
// partitions.
var Joined = rdd.Func(func(n, keys, parts int) *rdd.RDD[rdd.Pair[int64, rdd.Pair[int64, string]]] {
	left := rdd.Map(rdd.Range(0, n, parts), func(i int) pair {
		return pair{Key: int64(i % keys), Value: int64(i)}
	})
	right := rdd.Map(rdd.Range(0, keys, parts), func(k int) rdd.Pair[int64, string] {
		return rdd.Pair[int64, string]{Key: int64(k), Value: fmt.Sprintf("k%d", k)}
	})
	return waitEach(rdd.Join(failFirst(waitEach(left)), right, parts))
})

// Sorted sorts n random pairs by key, in parts partitions.
var Sorted = rdd.Func(func(n, parts int) *rdd.RDD[pair] {
	idx := rdd.Range(0, parts, parts)
	pairs := rdd.FlatMap(idx, func(p int) []pair {
		rng := rand.New(rand.NewPCG(uint64(p), 7))
		out := make([]pair, n/parts)
		for i := range out {
			out[i] = pair{Key: rng.Int64N(1 << 40), Value: int64(p*n + i)}
		}
		return out
	})
	return rdd.SortByKey(waitEach(pairs), true, parts)
})

// waitEach delays each partition by --slow-ms (a flag, so executors see
// the driver's value: they run with its arguments).
func waitEach[T any](r *rdd.RDD[T]) *rdd.RDD[T] {
	return rdd.MapPartitions(r, func(in iter.Seq[T]) iter.Seq[T] {
		time.Sleep(time.Duration(*slow) * time.Millisecond)
		return in
	})
}

// failFirst panics in the first --fail-times attempts of each partition
// (named by its first record's value).
func failFirst(r *rdd.RDD[pair]) *rdd.RDD[pair] {
	return rdd.MapPartitions(r, func(in iter.Seq[pair]) iter.Seq[pair] {
		return func(yield func(pair) bool) {
			first := true
			for p := range in {
				if first && *failDir != "" {
					first = false
					for k := range *failTimes {
						f, err := os.OpenFile(fmt.Sprintf("%s/%d-%d", *failDir, p.Value, k), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
						if err == nil {
							f.Close()
							panic(fmt.Sprintf("injected failure %d of the partition starting at %d", k+1, p.Value))
						}
					}
				}
				if !yield(p) {
					return
				}
			}
		}
	})
}

func main() {
	master := flag.String("master", "local[2]", "where tasks run")
	op := flag.String("op", "join", "join or sort")
	n := flag.Int("n", 200_000, "records")
	parts := flag.Int("parts", 8, "partitions")
	var conf confFlag
	flag.Var(&conf, "conf", "key=value")
	flag.Parse()
	if err := run(*master, *op, *n, *parts, conf); err != nil {
		fmt.Fprintln(os.Stderr, "rddops:", err)
		os.Exit(1)
	}
}

func run(master, op string, n, parts int, conf confFlag) error {
	cfg := rdd.Config{Master: master, AppName: "rddops", ShowConsoleProgress: true,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	for _, kv := range conf {
		if err := cfg.Set(kv[0], kv[1]); err != nil {
			return err
		}
	}
	s, err := rdd.Start(cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	h := fnv.New64a()
	ctx := context.Background()
	switch op {
	case "join":
		out, err := rdd.Collect(ctx, s, Joined(n, n/10, parts))
		if err != nil {
			return err
		}
		slices.SortFunc(out, func(a, b rdd.Pair[int64, rdd.Pair[int64, string]]) int {
			return cmp.Or(cmp.Compare(a.Key, b.Key), cmp.Compare(a.Value.Key, b.Value.Key))
		})
		for _, p := range out {
			fmt.Fprintf(h, "%d %d %s\n", p.Key, p.Value.Key, p.Value.Value)
		}
		fmt.Printf("%d joined records\n", len(out))
	case "sort":
		out, err := rdd.Collect(ctx, s, Sorted(n, parts))
		if err != nil {
			return err
		}
		if !slices.IsSortedFunc(out, func(a, b pair) int { return cmp.Compare(a.Key, b.Key) }) {
			return fmt.Errorf("not sorted")
		}
		for _, p := range out { // the order of equal keys is not fixed: hash keys in order, values as a set
			fmt.Fprintf(h, "%d\n", p.Key)
		}
		var sum int64
		for _, p := range out {
			sum += p.Value
		}
		fmt.Fprintf(h, "%d\n", sum)
		fmt.Printf("%d sorted records\n", len(out))
	default:
		return fmt.Errorf("unknown op %q", op)
	}
	fmt.Printf("checksum %016x\n", h.Sum64())
	return nil
}

type confFlag [][2]string

func (c *confFlag) String() string { return fmt.Sprint(*c) }
func (c *confFlag) Set(s string) error {
	for i := range len(s) {
		if s[i] == '=' {
			*c = append(*c, [2]string{s[:i], s[i+1:]})
			return nil
		}
	}
	return fmt.Errorf("want key=value")
}
