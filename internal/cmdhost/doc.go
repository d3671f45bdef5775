// Package cmdhost runs many command executors in one long-lived process,
// the command executor host, instead of one process per command task.
//
// The agent (--command_executor_host, on by default) starts one host per
// framework through its posix containerizer (`meso-executor command-host`)
// and asks it, over a unix socket in the abstract namespace, to run each
// command task's executor. Only the agent is served there: a peer of the
// host's uid whose first message carries the agent's token
// (HMAC-SHA256 of the socket name under the agent's key, Config.Dir/key;
// the host holds only its SHA-256, VerifierEnv). Any other connection is
// closed and never replaces the agent's. A hosted
// executor is commandexec.Run in a goroutine of the host with the
// container's own environment, sandbox, stdout and stderr: it keeps its
// executor id, subscribes to the agent's executor API over HTTP, sends its
// updates and receives their acknowledgements as a command executor
// process does, and its task is a child of the host in its own process
// group, killed by the kernel if the host dies. So nothing a framework or
// an operator sees changes; what goes is the executor's process start.
//
// Containerizer is the agent's side: a containerizer.Containerizer that
// runs hostable containers (the lean command executor, a plain MESOS
// container, no user switch by a root agent) in a host and passes every
// other call to the containerizer it wraps. A hosted container ends when
// its executor returns in the host, or when the host's connection ends
// (the host died: every container it ran ends, and the agent fails their
// tasks as it does when an executor process dies). Its handle (kind
// KindHosted) names the host's socket, so an agent that restarts finds
// the host again and adopts the executors still running there.
//
// A host exits when the agent tells it to (no executor for IdleTimeout,
// or its framework was shut down: RetireFramework, as soon as it runs
// nothing), or when it has no agent connection and runs nothing.
package cmdhost
