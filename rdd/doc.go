// Package rdd is a Spark-style data engine: typed, lazy, partitioned
// datasets described by their lineage, computed by jobs that a scheduler
// cuts into stages at shuffles.
//
// Jobs are built inside Funcs. Go cannot send closures to another process,
// so a cluster executor (the same binary) rebuilds a job's lineage by calling
// the same registered Func with the same arguments, then runs the task it was
// given; every dataset built during a Func call and reachable from its
// result has a position in it (from the lineage's shape) that is the same in
// every process. A call that depends on a dataset built before it is not
// portable (ErrNotPortable). In local mode tasks run on goroutines of this
// process without serialisation, but tasks share data only through the
// shuffle, the cache, broadcast variables, accumulators and the values a
// dataset's preparatory job computes on the driver (zipWithIndex offsets,
// sort bounds), which tasks read from their TaskContext.
//
// With a "mesos://host:port" master the session is a coarse-grained Mesos
// framework: executors are this program's own binary, fetched from the
// driver and started by the agents; in such a process Start does not
// return but runs the executor (registration with the driver over Connect,
// tasks, a shuffle server) and exits. See docs/rdd.md, cluster mode.
//
// Keys of key-value operations are compared with ==, as in a Go map (so each
// NaN is a key of its own); zero values of folds and aggregations are deep
// copied for every partition and key.
//
//	var demo = rdd.Func(func(n, parts int) *rdd.RDD[rdd.Pair[int, []rdd.Pair[int, int64]]] {
//		nums := rdd.Range(1, n+1, parts)
//		return rdd.GroupBy(rdd.ZipWithIndex(nums), func(p rdd.Pair[int, int64]) int { return p.Key / 100 }).Cache()
//	})
//
//	s, err := rdd.Start(rdd.Config{Master: "local[*]"})
//	...
//	groups, err := rdd.Collect(ctx, s, demo(10_000_000, 500))
//
// Transformations (Map, Filter, GroupByKey, Join, SortByKey, ...) are lazy;
// actions (Collect, Count, Reduce, Take, Foreach, SaveAsTextFile, ...) run a
// job on a Session and return when it is done or its context is cancelled.
//
// This package is the typed API: constructors build lineage nodes, actions
// run jobs, and the typed per-record code (iteration, shuffle encoding,
// aggregation) stays here because it is generic. The runtime lives below it,
// data-only: internal/plan is the pure planner (lineage -> stages, reusing
// existing map outputs and cached partitions); internal/job is the pure job
// core (stages, task sets, attempts, fetch failures, executor loss) that
// turns events into task descriptors; internal/task defines the descriptors
// (Func invocation, the driver's resolution of partition counts, input
// splits, prepared values and shuffle ids), which an executor never
// re-resolves; internal/exec is the scheduling loop and the Executor
// interface, whose local implementation runs Config.Master's "local[N]"
// slots as in-process calls; internal/shuffle writes map outputs to local
// disk and spills sorted runs; internal/blocks keeps cached partitions;
// codec encodes records. A Session keeps its
// own resolution of every dataset it ran (nothing is stored on the lineage),
// so sessions with different settings share datasets safely.
//
// Failures: a task that fails is retried (Config.TaskMaxFailures attempts in
// all); a reducer that cannot fetch a map output makes the scheduler
// recompute that output (the producing stage is resubmitted); errors name
// the job, stage, partition and attempt, with the user function's panic
// (TaskError).
package rdd
