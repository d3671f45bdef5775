// Package containerizer defines how the agent runs executors: the
// Containerizer interface, the Spec of one container and the Termination
// it ends with, plus Composing, which routes each container to the first
// of several containerizers that supports it (the agent's
// --containerizers=docker,mesos).
//
// Lifecycle of a container, as every implementation keeps it:
//
//   - Launch starts it, or fails with an error wrapping ErrLaunchFailed
//     (the agent reports TASK_FAILED with REASON_CONTAINER_LAUNCH_FAILED)
//     or ErrExists. The sandbox already exists: the agent creates it.
//   - Wait blocks until it has terminated and returns its Termination, as
//     many times and from as many goroutines as wanted.
//   - Kill signals every process of the container.
//   - Destroy kills it (SIGTERM, grace, SIGKILL), waits until it is gone and
//     forgets it. A container that ended on its own stays known (Wait keeps
//     answering, Containers lists it) until Destroy is called, which then
//     only forgets it. After Destroy, the id is unknown (ErrUnknownContainer)
//     and may be launched again.
//
// Implementations: package posix (plain processes in their own process
// group; the "mesos" containerizer with posix isolation). Isolators such as
// cgroups and a docker containerizer slot in behind the same interface.
// Implementations may also offer resource usage (UsageReporter) for the
// agent's /monitor/statistics, and Adopter: a Handle the agent checkpoints
// for each running container, and Adopt, by which the agent's next run
// takes a container back after a restart (Composing routes it to the
// first containerizer that adopts it).
package containerizer
