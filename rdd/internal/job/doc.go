// Package job is the rdd engine's pure job core, in the style of the
// master's core: events go in, a Ready value (tasks to launch, stage events,
// partition results, the job's end) comes out, and the caller does the work.
// There are no goroutines, locks or clock inside; time arrives through Tick.
//
// A Job runs one action's job: it asks the planner (internal/plan) which
// stages are missing, submits the ready ones as task sets (one task per
// missing partition), launches tasks on the executors that have free slots,
// and reacts to what executors report:
//
//   - TaskSucceeded: a map task's output is registered in the session's
//     Books (which executor holds it, the block sizes); a result task's value
//     is handed out once per partition. A completed map stage replans.
//   - TaskFailed: the task is retried; after MaxTaskFailures failures of
//     one partition the job fails (spark.task.maxFailures).
//   - FetchFailed: the map outputs the reducer could not fetch are
//     unregistered and the job replans, which resubmits the producing stage
//     for the missing map partitions only; a stage resubmitted
//     MaxStageAttempts times fails the job.
//   - ExecutorAdded / ExecutorLost: slots appear or go; a lost executor's
//     running tasks are retried elsewhere (not counted as task failures) and
//     its map outputs are unregistered, so the stages that wrote them run
//     again for those partitions only.
//   - Prefetch (Config): once every free slot is filled, each executor is
//     given up to Prefetch more tasks per slot, which it runs as its slots
//     free (cluster mode: no report round trip between a slot's tasks). A
//     prefetched task is a launched attempt like any other: lost with its
//     executor, retried after a failure, ended with the job.
//   - Tick: with tasks waiting and no executor at all for StarvationTimeout,
//     the job reports that it is starved (Spark's "Initial job has not
//     accepted any resources").
//
// Stages whose map outputs all exist are skipped (reported once). Books are
// shared by the jobs of a session (map outputs are reused across jobs, and a
// shuffle keeps its stage id); the caller serialises calls that share them.
package job
