// Package dynalloc is the driver's dynamic allocation policy: how many
// executors the application wants, and which idle executors to let go, as
// Spark's ExecutorAllocationManager decides it (spark.dynamicAllocation.*).
//
// It is a pure core: the caller feeds it the scheduler's events (stages
// submitted and completed, tasks started and ended, executors added and
// removed, which executors hold cached blocks) and calls Tick with the
// current time (Spark runs its schedule every 100 ms); Tick answers the
// target number of executors and the executors to kill. No goroutines,
// locks or clock inside.
//
// The rules, with Spark's defaults:
//
//   - The target starts at max(minExecutors, initialExecutors,
//     spark.executor.instances) and stays there while "initializing": until
//     the first stage is submitted or an executor first times out idle.
//   - maxNeeded = ceil((pending + running tasks) * executorAllocationRatio /
//     tasks per executor), tasks per executor = spark.executor.cores /
//     spark.task.cpus.
//   - When maxNeeded is below the target, the target drops to
//     max(maxNeeded, minExecutors) and the ramp-up restarts at 1.
//   - When tasks have been pending for schedulerBacklogTimeout (1 s), the
//     target grows by 1, then after each further
//     sustainedSchedulerBacklogTimeout (default: the same) by 2, 4, 8 ...,
//     from at least the number of executors held, capped by maxNeeded and
//     maxExecutors; a round that adds less than it asked resets the step to
//     1, as does a drained queue.
//   - An executor running no task is idle; after executorIdleTimeout (60 s),
//     or cachedExecutorIdleTimeout (infinite) when it holds cached blocks,
//     it is killed, unless that would leave fewer executors than
//     minExecutors or than the target. An executor that runs a task again is
//     no longer idle.
//   - A failed task makes the scheduler backlogged again (it will be
//     resubmitted).
package dynalloc
