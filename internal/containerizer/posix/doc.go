// Package posix is the "mesos" containerizer with posix isolation: each
// container is a plain process (the executor) leading its own process
// group, started with launcher.Command in its sandbox.
//
// Per container:
//
//   - stdout and stderr are appended to <sandbox>/stdout and
//     <sandbox>/stderr (created if missing); stdin is /dev/null;
//   - the environment is Config.Environment (Mesos'
//     --executor_environment_variables; the agent's own environment is not
//     inherited, as in Mesos), then Spec.Env, then the CommandInfo's
//     variables; PATH defaults to launcher.DefaultPath;
//   - Spec.User is applied when the agent runs as root (the sandbox and
//     its stdout/stderr are handed to that user); otherwise it is ignored
//     with a log line, but it must exist;
//   - the container ends when its main process exits; whatever is left of
//     its process group is then killed. Processes that leave the group
//     (setsid) escape: posix isolation does not contain them.
//
// Isolation: posix/cpu and posix/mem, which in Mesos only account usage;
// Usage reads it from /proc for the processes of the container's group.
// With cgroups/cpu, cgroups/mem, cgroups/pids or cgroups/all (package
// cgroups) each container also gets a cgroup of its own, created before
// its process starts and holding everything it forks: limits from its
// resources, usage from the cgroup, and when the executor exits every
// process left in the cgroup is killed. An OOM kill in the cgroup ends the
// whole container with a Termination that is Limited, with
// REASON_CONTAINER_LIMITATION_MEMORY and Mesos' message. New fails when
// cgroups cannot be used (the error names the flag), and kills and removes
// the cgroups left under --cgroups_root by an earlier agent, except those of
// Config.Recovered. Other isolators are refused by New.
//
// Recovery (containerizer.Adopter): Handle gives the main process's pid and
// start time; Adopt, in the next agent run, takes the process back through
// launcher.Adopt (a pidfd, after checking the start time, so a reused pid
// is refused) and its cgroup through cgroups.Isolator.Open. An adopted
// container ends with status -1 (its exit status is its new parent's).
//
// Concurrency: one mutex guards the container table and each container's
// recorded termination. Launch holds it while forking, so two launches of
// one id cannot both succeed; waiting and /proc reading happen without it.
// Signals go through launcher.Process, which refuses to signal a process
// that has exited, so a signal never reaches a recycled pid.
package posix
