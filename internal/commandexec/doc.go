// Package commandexec is meso's built-in command executor, the counterpart
// of Mesos' command executor: the agent starts it (as `meso executor`, with
// the Mesos executor environment) for a task that has a CommandInfo and no
// ExecutorInfo, and it runs that one task.
//
// Contract, as Mesos' command executor behaves:
//
//   - It subscribes to the agent with the public executor package and waits
//     for LAUNCH. It sends TASK_STARTING, starts task.command with
//     launcher.Command in the sandbox (MESOS_SANDBOX) as working directory,
//     with its own environment plus the command's variables, its own stdout
//     and stderr (which the containerizer points at the sandbox files), in a
//     process group of its own that dies with the executor (SIGKILL on
//     parent death), then sends TASK_RUNNING.
//   - When the command ends: TASK_FINISHED for exit status 0, TASK_FAILED
//     otherwise, TASK_KILLED when it ended after a kill; the message says how
//     it ended ("Command exited with status 3", "Command terminated with
//     signal Killed"). A command that cannot start gives TASK_FAILED with
//     REASON_CONTAINER_LAUNCH_FAILED and the reason in the message.
//   - KILL: TASK_KILLING if the framework has the TASK_KILLING_STATE
//     capability, then SIGTERM to the task's process group and SIGKILL after
//     the grace period: the KILL's kill_policy, else the task's, else
//     DefaultKillGracePeriod (Mesos' 3 seconds). SHUTDOWN, or SIGTERM to the
//     executor itself (ctx done), kills the same way with three quarters of
//     the shutdown grace period, so the task is gone before the agent's own
//     escalation.
//   - Health checks and checks (package health), as Mesos' command
//     executor runs them: probes start once the task runs and stop when
//     its kill starts. A health result to report goes out as a copy of
//     the task's last status with REASON_TASK_HEALTH_CHECK_STATUS_UPDATED
//     and healthy; when the consecutive failures reach the limit the task
//     is killed (grace: its kill_policy, else DefaultKillGracePeriod) and
//     its terminal update carries healthy=false. A changed check result
//     goes out as a copy of the last status with
//     REASON_TASK_CHECK_STATUS_UPDATED and check_status; every status of a
//     task with a check carries check_status. An invalid health check or
//     check fails the launch (TASK_FAILED, REASON_CONTAINER_LAUNCH_FAILED).
//   - After the terminal update, it waits (at most Config.AckTimeout) for
//     the agent's ACKNOWLEDGED of that update, then Run returns nil: the
//     executor exits 0. A second LAUNCH is refused with TASK_FAILED.
//   - If the subscription is lost for good (executor.ErrDisconnected), the
//     task is killed and Run returns the error.
package commandexec
