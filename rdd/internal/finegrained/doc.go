// Package finegrained is the Mesos side of rdd's fine-grained mode
// (spark.mesos.coarse=false): every rdd task is one Mesos task, run by a
// per-agent Mesos executor (the user's program itself) that holds
// spark.mesos.mesosExecutor.cores cpus and the executor's memory for as
// long as it lives; each task takes spark.task.cpus more cpus from an
// offer, which go back to Mesos when the task ends.
//
// # Core
//
// Core is pure (no goroutines, clock or I/O). Inputs: Submit(task),
// Kill(task), Offers(batch), Update(status), ExecutorGone(agent, id),
// ExecutorFailed(agent, id), Subscribed(), LaunchFailed(tasks). Ready() returns what to do: launches (a task with,
// on an agent without a live executor, a new executor incarnation),
// declines, kills, SUPPRESS/REVIVE, and tasks that ended (with their
// status data). Rules:
//
//   - Pending tasks are placed first come, first served, as many per offer
//     as its cpus allow; an agent without a live executor needs the
//     executor's cpus and memory besides the first task's cpus.
//   - Offers that are not used are declined with RejectOfferDuration when
//     no task is pending (and offers are suppressed), with no filter when
//     they were too small. A task submitted while suppressed revives.
//   - An executor incarnation is named "<agent>-f<n>"; once the agent says
//     it ended (a task update with REASON_EXECUTOR_TERMINATED, a task lost,
//     gone or unreachable, or a FAILURE event), the next task there starts
//     a new incarnation. TASK_UNREACHABLE ends a task: the framework is not
//     partition aware. Its running
//     tasks end with the agent's updates.
//   - Offers of agents that do not match Settings.Constraints are declined
//     with RejectUnmet; an agent where MaxAgentFailures incarnations failed
//     or were lost (ExecutorFailed, or the task states above) is declined
//     with RejectFor and never used again.
//   - A SUBSCRIBED after the first asks to reconcile every running task
//     (Ready.Reconcile).
//
// # Shell
//
// Start subscribes through the public scheduler package (with the
// FrameworkInfo and credentials the caller gives) and runs the core; task
// data and status data are opaque bytes (the driver's business). OnEnd
// and OnGone are called through rdd/internal/relay, off the loop.
package finegrained
