// Package mesosbackend is the Mesos side of rdd's coarse-grained cluster
// mode: it subscribes as a framework, obtains long-lived "executor" Mesos
// tasks through offers, sized and placed as Spark's
// MesosCoarseGrainedSchedulerBackend does, and supervises them. It knows
// nothing about rdd tasks: an executor here is a Mesos task running a
// command the driver gives; what runs inside is the driver's business.
//
// # Core
//
// Core is the pure state machine (no goroutines, clock or I/O; time is an
// argument). Inputs: Offers(now, batch), Update(now, status), SetTarget(n),
// Kill(now, id), Stop(now), Tick(now), Subscribed(), LaunchFailed(id).
// Outputs accumulate until Ready(): launches, declines with their filter,
// kills, SUPPRESS/REVIVE, executor events and shortage reports. The
// scripts in testdata are its readable spec.
//
// Sizing and placement, with Spark's semantics:
//
//   - spark.executor.cores set: every executor has that many cpus, and an
//     agent gets several when its offer has room; unset: an executor takes
//     all whole cpus of its offer (at most what spark.cores.max leaves).
//   - spark.cores.max (unset: unlimited) caps the cpus held by staging and
//     running executors together; it is rounded down to a multiple of
//     spark.executor.cores. Memory per executor is spark.executor.memory
//     plus spark.mesos.executor.memoryOverhead (max(384 MiB, 10%)).
//     spark.mesos.extra.cores adds advertised task slots, not Mesos cpus.
//   - Executors are placed round robin over a batch of offers, one per
//     offer per round, while an offer has room, the cap allows, and fewer
//     than the target are alive (the target is for dynamic allocation;
//     Unlimited by default).
//   - Offers failing spark.mesos.constraints are declined for
//     spark.mesos.rejectOfferDurationForUnmetConstraints; offers that come
//     when spark.cores.max is reached for ...ForReachedMaxCores; when the
//     target is reached, from a blacklisted agent, or after Stop, for
//     spark.mesos.rejectOfferDuration; offers too small with no filter (the
//     master's default), as Spark does. Too-small offers are remembered,
//     and when for 30 s nothing could launch, Ready carries a Shortage
//     saying what an executor needs and the most any offer had.
//   - An agent where MaxAgentFailures (2) executors ended TASK_FAILED or
//     lost (Spark's classification, see PhaseOf) is not used again.
//     Executors that were asked to die (Kill, Stop) do not count.
//   - SUPPRESS when nothing more could be launched (target reached, cap
//     reached, or stopped); REVIVE when something could again (an executor
//     ended, the target was raised). Subscribed forgets the suppression,
//     since a new subscription starts unsuppressed.
//
// # Shell
//
// Start runs the core against a master through the public scheduler
// package: it waits for SUBSCRIBED (or fails within
// Settings.ConnectTimeout), turns offers and updates into core inputs,
// carries out Ready (ACCEPT with LAUNCH, DECLINE with filters, KILL,
// SUPPRESS, REVIVE), acknowledges every update that carries a uuid, and
// hands executor events to the driver on Events. Stop kills every
// executor, waits (at most Settings.ShutdownTimeout) for their terminal
// updates, then sends TEARDOWN. Only documented Mesos v1 calls are sent, so
// it works against Apache Mesos as well as meso.
//
// Every executor task runs Config.Command with these variables added:
//
//	MESO_RDD_DRIVER_URL        Config.DriverURL: where the executor reaches the driver
//	MESO_RDD_EXECUTOR_ID       the executor id (also the Mesos task id), e.g. "e3"
//	MESO_RDD_EXECUTOR_CORES    task slots: cpus + spark.mesos.extra.cores
//	MESO_RDD_EXECUTOR_MEMORY   spark.executor.memory in MiB (without overhead)
//	MESO_RDD_APP_ID            the framework id
//	MESO_RDD_HOSTNAME          the agent's hostname from the offer
package mesosbackend
