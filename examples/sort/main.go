// Command sort sorts 10,000,000 random (int64, int64) pairs by key with the
// rdd engine (SortByKey: sampled range partitioner, shuffle, sorted runs)
// and with slices.SortFunc, each in its own process, and prints their times
// and peak memory.
//
//	go run ./examples/sort
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"

	"github.com/mesoproject/meso/examples/internal/benchrun"
	"github.com/mesoproject/meso/rdd"
)

type pair = rdd.Pair[int64, int64]

// SortPairs generates n random pairs in parts partitions (each partition
// from its own seed) and sorts them by key.
var SortPairs = rdd.Func(func(n, parts int) *rdd.RDD[pair] {
	idx := rdd.Range(0, parts, parts)
	pairs := rdd.FlatMap(idx, func(p int) []pair { return generate(p, n/parts) })
	return rdd.SortByKey(pairs, true, parts)
})

func generate(seed, n int) []pair {
	rng := rand.New(rand.NewPCG(uint64(seed), 99))
	out := make([]pair, n)
	for i := range out {
		out[i] = pair{Key: rng.Int64(), Value: rng.Int64()}
	}
	return out
}

func main() {
	n := flag.Int("n", 10_000_000, "number of pairs")
	parts := flag.Int("parts", 100, "partitions")
	mode := flag.String("mode", "", "engine or baseline (default: both, each in a child process)")
	master := flag.String("master", "local[*]", "where tasks run")
	flag.Parse()
	if err := run(*n, *parts, *mode, *master); err != nil {
		fmt.Fprintln(os.Stderr, "sort:", err)
		os.Exit(1)
	}
}

func run(n, parts int, mode, master string) error {
	switch mode {
	case "":
		return benchrun.Compare([]string{"-n", fmt.Sprint(n), "-parts", fmt.Sprint(parts), "-master", master}, "engine", "baseline")
	case "engine":
		s, err := rdd.Start(rdd.Config{Master: master, AppName: "sort"})
		if err != nil {
			return err
		}
		defer s.Close()
		sorted, err := rdd.Collect(context.Background(), s, SortPairs(n, parts))
		if err != nil {
			return err
		}
		return report(sorted)
	case "baseline":
		var all []pair
		for p := range parts {
			all = append(all, generate(p, n/parts)...)
		}
		slices.SortFunc(all, func(a, b pair) int { return cmp.Compare(a.Key, b.Key) })
		return report(all)
	}
	return fmt.Errorf("unknown mode %q", mode)
}

func report(sorted []pair) error {
	if !slices.IsSortedFunc(sorted, func(a, b pair) int { return cmp.Compare(a.Key, b.Key) }) {
		return fmt.Errorf("result is not sorted")
	}
	fmt.Printf("%d pairs sorted\n", len(sorted))
	return nil
}
