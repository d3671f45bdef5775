// Command groupby runs the seed talk's demo job in local mode: 10,000,000
// integers in 500 partitions, zipWithIndex, groupBy value/100, cache,
// collect; then a second action on the cached dataset, which reads the cache
// instead of recomputing it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/mesoproject/meso/rdd"
)

func main() {
	n := flag.Int("n", 10_000_000, "number of integers")
	parts := flag.Int("parts", 500, "partitions")
	master := flag.String("master", "local[*]", "where tasks run (local, local[N], local[*])")
	eventLog := flag.String("event-log", "", "directory for the JSON-lines event log")
	flag.Parse()
	if err := run(*n, *parts, *master, *eventLog); err != nil {
		fmt.Fprintln(os.Stderr, "groupby:", err)
		os.Exit(1)
	}
}

func run(n, parts int, master, eventLog string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	s, err := rdd.Start(rdd.Config{Master: master, AppName: "groupby", ShowConsoleProgress: true, EventLogDir: eventLog})
	if err != nil {
		return err
	}
	defer s.Close()

	groups := Demo(n, parts)
	start := time.Now()
	collected, err := rdd.Collect(ctx, s, groups)
	if err != nil {
		return err
	}
	fmt.Printf("collected %d groups in %v\n", len(collected), time.Since(start).Round(time.Millisecond))
	first := s.Stats()

	start = time.Now()
	count, err := rdd.Count(ctx, s, groups)
	if err != nil {
		return err
	}
	fmt.Printf("counted %d groups again in %v (from the cache)\n", count, time.Since(start).Round(time.Millisecond))
	st := s.Stats()
	fmt.Println(st.Summary())
	fmt.Printf("second action: %d stages run, %d skipped, %d cached partitions read, %d recomputed\n",
		st.Stages-first.Stages, st.StagesSkipped-first.StagesSkipped, st.CacheHits-first.CacheHits, st.CacheMisses-first.CacheMisses)
	return nil
}
