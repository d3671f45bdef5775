// Package dispatcher is the cluster-mode driver dispatcher (issue 13):
// what Spark's MesosClusterDispatcher does. Users submit drivers; the
// dispatcher, itself a Mesos framework, queues them, launches each one as a
// Mesos task when an offer fits it, follows its status updates, and, for
// drivers submitted with supervise, relaunches a driver whose task failed
// or was lost, after a back-off.
//
// Core is the pure core: submissions, kills, offers, status updates and
// time in; launches and kills out. No goroutines, locks or clock inside.
// Service is the shell: the framework on the scheduler client, the state
// file in its work dir, and the submission server (rest.go), which speaks
// Spark's REST submission protocol, and the web UI (ui.go), both behind
// HTTP Basic authentication when Config.Credentials is set, and the store
// of uploaded programs (binaries.go), content-addressed in the work dir and
// served to the agents' fetcher under a token. See docs/dispatcher.md.
//
// The rules, as Spark's Mesos cluster scheduler:
//
//   - Submission ids are driver-<yyyyMMddHHmmss>-<NNNN> (the time of the
//     submission, a per-dispatcher sequence number).
//   - Queued drivers are launched first come, first served: each offer
//     takes the oldest queued (or due for retry) drivers that fit in what is
//     left of it; a driver that fits nowhere waits and does not block
//     smaller ones behind it.
//   - The first attempt's task id is the submission id; retry n runs as
//     <id>-retry-<n>.
//   - A supervised driver whose task ends FAILED or LOST (or DROPPED or
//     GONE, which a framework that is not partition-aware sees as LOST) is
//     retried: the first wait is 1 s, each further
//     wait doubles, up to spark.mesos.cluster.retry.wait.max (60 s). FINISHED
//     ends it, as do KILLED (a task killed by the dispatcher on the user's
//     request, or by an operator) and ERROR (the task as described cannot
//     run: retrying would fail the same way). Without supervise any end is
//     final.
//   - Kill of a queued or retrying driver removes it at once; of a running
//     one kills its task, and the driver ends KILLED when the update comes.
package dispatcher
