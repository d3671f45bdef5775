// Command groupby runs the seed talk's demo job in local mode: 10,000,000
// integers in 500 partitions, zipWithIndex, groupBy value/100, cache,
// collect; then a second action on the cached dataset, which reads the cache
// instead of recomputing it.
//
// With --interactive the driver stays up between actions: each line read
// from stdin runs the collect once more (Ctrl-D ends), so that with
// dynamic allocation one can watch executors come and go on the master's
// state and the driver UI, and see a later action skip the map stage whose
// outputs the external shuffle service kept.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"time"

	"github.com/mesoproject/meso/examples/internal/benchrun"
	"github.com/mesoproject/meso/examples/internal/sparkconf"
	"github.com/mesoproject/meso/examples/seeddemo"
	"github.com/mesoproject/meso/internal/cpuprofile"
	"github.com/mesoproject/meso/rdd"
)

func main() {
	n := flag.Int("n", 10_000_000, "number of integers")
	parts := flag.Int("parts", 500, "partitions")
	master := flag.String("master", "local[*]", "where tasks run (local, local[N], local[*], mesos://host:port)")
	eventLog := flag.String("event-log", "", "directory for the JSON-lines event log")
	compare := flag.Bool("compare", false, "run the engine and a hand-written Go baseline, each in a child process, and compare time and peak memory")
	mode := flag.String("mode", "", "with -compare: engine or baseline (set by the parent process)")
	flag.Var(&conf, "conf", "a Spark setting key=value (repeatable), e.g. spark.cores.max=4")
	interactive := flag.Bool("interactive", false, "keep the driver alive between actions: each line read from stdin runs the collect again (Ctrl-D quits)")
	flag.TextVar(&logLevel, "log-level", slog.LevelWarn, "the engine's log lines shown on stderr from this level: DEBUG, INFO, WARN or ERROR")
	flag.Parse()
	var err error
	switch {
	case *compare:
		err = benchrun.Compare([]string{"-n", fmt.Sprint(*n), "-parts", fmt.Sprint(*parts), "-master", *master}, "engine", "baseline")
	case *mode == "baseline":
		err = baseline(*n)
	case *mode == "engine":
		err = quiet(*n, *parts, *master)
	case *interactive:
		err = interact(*n, *parts, *master, *eventLog, os.Stdin)
	default:
		err = run(*n, *parts, *master, *eventLog)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "groupby:", err)
		os.Exit(1)
	}
}

var (
	conf     sparkconf.Flag
	logLevel slog.Level
)

// startSession starts the session of run and interact, with the --conf settings.
func startSession(master, eventLog string, progress bool) (*rdd.Session, error) {
	cfg := rdd.Config{Master: master, AppName: "groupby", ShowConsoleProgress: progress, EventLogDir: eventLog,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel}))}
	if err := conf.Apply(&cfg); err != nil {
		return nil, err
	}
	return rdd.Start(cfg)
}

func run(n, parts int, master, eventLog string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	s, err := startSession(master, eventLog, true)
	if err != nil {
		return err
	}
	defer s.Close()
	// The driver's CPU profile when MESO_CPUPROFILE_DIR is set (started
	// here, after rdd.Start: an executor process never returns from it).
	defer cpuprofile.Start("groupby")()

	groups := seeddemo.Demo(n, parts)
	start := time.Now()
	collected, err := rdd.Collect(ctx, s, groups)
	if err != nil {
		return err
	}
	fmt.Printf("collected %d groups in %v\n", len(collected), time.Since(start).Round(time.Millisecond))
	fmt.Printf("checksum %016x\n", seeddemo.Checksum(collected))
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

// interact runs the demo's collect once per line of in, reporting per
// action the stages run and skipped and the map tasks run.
func interact(n, parts int, master, eventLog string, in io.Reader) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	s, err := startSession(master, eventLog, false)
	if err != nil {
		return err
	}
	defer s.Close()
	mapTasks := make(chan struct{}, 1<<16)
	s.AddListener(func(e rdd.Event) {
		if e.Kind == rdd.TaskEnd && e.Shuffle >= 0 && e.Error == "" {
			select {
			case mapTasks <- struct{}{}:
			default:
			}
		}
	})
	groups := seeddemo.Demo(n, parts)
	lines := bufio.NewScanner(in)
	for action := 1; ; action++ {
		fmt.Printf("interactive: press Enter to run action %d (collect), Ctrl-D to quit\n", action)
		if !lines.Scan() {
			return lines.Err()
		}
		before := s.Stats()
		for len(mapTasks) > 0 {
			<-mapTasks
		}
		start := time.Now()
		collected, err := rdd.Collect(ctx, s, groups)
		if err != nil {
			return err
		}
		st := s.Stats()
		fmt.Printf("action %d: collected %d groups in %v\n", action, len(collected), time.Since(start).Round(time.Millisecond))
		fmt.Printf("checksum %016x\n", seeddemo.Checksum(collected))
		fmt.Printf("action %d: %d stages run, %d skipped, %d map tasks run, %d cached partitions read\n", action,
			st.Stages-before.Stages, st.StagesSkipped-before.StagesSkipped, len(mapTasks), st.CacheHits-before.CacheHits)
	}
}

// quiet runs the demo job once without progress output (for -compare).
func quiet(n, parts int, master string) error {
	s, err := rdd.Start(rdd.Config{Master: master, AppName: "groupby"})
	if err != nil {
		return err
	}
	defer s.Close()
	groups, err := rdd.Collect(context.Background(), s, seeddemo.Demo(n, parts))
	if err != nil {
		return err
	}
	fmt.Printf("%d groups\n", len(groups))
	return nil
}

// baseline computes the same groups in plain single-threaded Go: the
// practical limit for this job on one machine.
func baseline(n int) error {
	groups := make([]rdd.Pair[int, []rdd.Pair[int, int64]], n/100+1)
	for k := range groups {
		groups[k].Key = k
	}
	for v := 1; v <= n; v++ {
		g := &groups[v/100]
		g.Value = append(g.Value, rdd.Pair[int, int64]{Key: v, Value: int64(v - 1)})
	}
	fmt.Printf("%d groups\n", len(groups))
	return nil
}
