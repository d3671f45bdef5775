// Command iterate runs an iterative job from main over a cached input, the
// pattern of Spark's iterative algorithms: the input is built once by a
// Func and cached, then each iteration's Func takes it as an argument (a
// driver dataset handle), so every iteration reads the cache instead of
// recomputing the input, in local mode and on a cluster alike. A table
// built with Parallelize on the driver is passed the same way: executors
// fetch its partitions from the driver once.
//
// It prints each iteration's result digest, a checksum of all of them, and
// how many input records were computed (once: --n).
package main

import (
	"bufio"
	"cmp"
	"context"
	"flag"
	"fmt"
	"hash/fnv"
	"iter"
	"log/slog"
	"os"
	"os/signal"
	"slices"

	"github.com/mesoproject/meso/examples/internal/sparkconf"
	"github.com/mesoproject/meso/rdd"
)

// load is the expensive input; computed counts the records it computes.
var load = rdd.Func(func(n, parts int, computed *rdd.Accumulator[int64]) *rdd.RDD[rdd.Pair[int, int]] {
	return rdd.MapPartitionsWithContext(rdd.Range(0, n, parts), func(tc *rdd.TaskContext, in iter.Seq[int]) iter.Seq[rdd.Pair[int, int]] {
		return func(yield func(rdd.Pair[int, int]) bool) {
			for v := range in {
				computed.Add(tc, 1)
				if !yield(rdd.KV(v%97, v)) {
					return
				}
			}
		}
	})
})

var add = rdd.Register(func(a, b int) int { return a + b })

// step is iteration i: the input's values scaled by i and shifted by the
// key's weight from the table, summed by key.
var step = rdd.Func(func(input *rdd.RDD[rdd.Pair[int, int]], table *rdd.RDD[rdd.Pair[int, int]], i int) *rdd.RDD[rdd.Pair[int, int]] {
	scaled := rdd.MapValues(input, func(v int) int { return v * i })
	joined := rdd.Join(scaled, table, 4)
	return rdd.ReduceByKey(rdd.MapValues(joined, func(p rdd.Pair[int, int]) int { return p.Key + p.Value }), add, 4)
})

func main() {
	n := flag.Int("n", 200_000, "input records")
	parts := flag.Int("parts", 8, "input partitions")
	iterations := flag.Int("iterations", 5, "iterations over the cached input")
	master := flag.String("master", "local[*]", "where tasks run (local, local[N], local[*], mesos://host:port)")
	pause := flag.Int("pause-after", 0, "wait for a line on stdin after this iteration (lets a test disturb the cluster)")
	flag.Var(&conf, "conf", "a Spark setting key=value (repeatable)")
	flag.Parse()
	if err := run(*n, *parts, *iterations, *pause, *master); err != nil {
		fmt.Fprintln(os.Stderr, "iterate:", err)
		os.Exit(1)
	}
}

var conf sparkconf.Flag

func run(n, parts, iterations, pause int, master string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cfg := rdd.Config{Master: master, AppName: "iterate",
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	if err := conf.Apply(&cfg); err != nil {
		return err
	}
	s, err := rdd.Start(cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	computed := rdd.Counter(s, "input records computed")
	input := load(n, parts, computed).Cache()
	weights := make([]rdd.Pair[int, int], 97)
	for k := range weights {
		weights[k] = rdd.KV(k, k*k)
	}
	table := rdd.Parallelize(weights, 2)
	all := fnv.New64a()
	for i := 1; i <= iterations; i++ {
		got, err := rdd.Collect(ctx, s, step(input, table, i))
		if err != nil {
			return fmt.Errorf("iteration %d: %w", i, err)
		}
		slices.SortFunc(got, func(a, b rdd.Pair[int, int]) int { return cmp.Compare(a.Key, b.Key) })
		h := fnv.New64a()
		for _, p := range got {
			fmt.Fprintf(h, "%d=%d;", p.Key, p.Value)
		}
		fmt.Printf("iteration %d: %d keys, digest %016x\n", i, len(got), h.Sum64())
		fmt.Fprintf(all, "%x;", h.Sum64())
		if i == pause {
			bufio.NewReader(os.Stdin).ReadString('\n')
		}
	}
	fmt.Printf("checksum %016x\n", all.Sum64())
	fmt.Printf("input records computed %d\n", computed.Value())
	return nil
}
