// Package exec runs the rdd engine's jobs: it drives a job core
// (internal/job) with the reports of executors, and puts where tasks run
// behind the Executor interface.
//
// An Executor receives data-only task descriptors (internal/task) and
// reports one Result per descriptor. The Local executor turns descriptors
// into calls of a Runner in this process, on goroutines bounded by its
// slots ("local[N]"); a cluster executor (package rdd's remoteExec) sends
// them to another process running the same binary. A Pool is a changing
// set of executors: running jobs see every join and loss, a loss before any
// later result of that executor.
//
// Run is the scheduling loop of one job: it feeds the core the executors'
// results, the pool's changes, the job context's cancellation and a clock
// tick, starts the
// tasks the core asks for, and hands the core's events and partition
// results to the caller's callbacks. Run returns only when no task it
// started is still running.
package exec
