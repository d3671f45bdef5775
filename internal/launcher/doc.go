// Package launcher holds the process mechanics shared by the posix
// containerizer (which starts executors) and the command executor (which
// starts tasks): turning a Mesos CommandInfo into an exec.Cmd, stopping a
// process group with Mesos' SIGTERM-grace-SIGKILL escalation, and describing
// how a process ended in the words Mesos uses.
//
// Command follows Mesos' CommandInfo semantics:
//
//   - shell unset or true: run "/bin/sh -c value" (arguments are ignored);
//   - shell false: value is the program and arguments is the whole argv,
//     argv[0] included (an empty arguments list means argv = [value]). A
//     value without '/' is searched in the PATH of the command's own
//     environment, as execvp in the launched process would; a relative
//     value with '/' is relative to the working directory;
//   - CommandInfo.environment variables of type VALUE are laid over the
//     given environment; SECRET variables are not supported (ErrUnsupported);
//   - PATH defaults to DefaultPath when the environment has none (Mesos
//     does not let a task inherit the agent's environment);
//   - the process leads its own process group (Setpgid), so that it and
//     every child it forks can be signalled together; a child that calls
//     setsid or setpgid itself escapes (cgroups close that gap later).
//
// Start runs such a command as a Process: one goroutine per process waits
// for the leader to exit without reaping it, kills whatever is left of its
// group, then reaps it. Because the group id stays reserved until the
// reap, Process.Signal and Process.Terminate (SIGTERM to the group, SIGKILL
// after a grace period) can never hit an unrelated process that reused the
// pid. Callers must not call cmd.Wait themselves.
//
// Adopt watches, as a Process, a process group leader that an earlier run
// of the agent started (re-parented when that run died): through a pidfd,
// after checking its start time (StartTime, /proc/<pid>/stat) so that a
// reused pid is refused; its exit status is not ours to know.
//
// Every function and Process method is safe for concurrent use.
package launcher
