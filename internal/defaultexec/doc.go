// Package defaultexec is meso's built-in default executor, the counterpart
// of Mesos' default executor (ExecutorInfo type DEFAULT): the agent starts
// it (as `meso default-executor`, with the Mesos executor environment) for
// task groups launched with LAUNCH_GROUP, and it runs every task of every
// group it is given as a process of its own.
//
// Contract, as Mesos' default executor behaves:
//
//   - It subscribes with the public executor package and serves any number
//     of LAUNCH_GROUP events. For each group it sends TASK_STARTING for
//     every task, prepares every task (command, user, sandbox, health check
//     and check), starts them all, then sends TASK_RUNNING for every task.
//     All start or none does: if any task cannot be prepared or started,
//     the started ones are SIGKILLed and every task of the group gets
//     TASK_FAILED with REASON_CONTAINER_LAUNCH_FAILED and a message naming
//     the task and the cause. A LAUNCH (single task) is refused with
//     TASK_FAILED: task groups only.
//   - Each task has a sandbox of its own, laid out as Mesos lays out nested
//     containers: <executor sandbox>/containers/<container id>/ holding its
//     stdout and stderr and serving as its working directory,
//     MESOS_SANDBOX and MESOS_DIRECTORY, and a symlink
//     <executor sandbox>/tasks/<task id> -> ../containers/<container id>.
//     The task's environment is the executor's plus the command's
//     variables. Every status of a task carries container_status with its
//     container id (parent: the executor's container).
//   - When a task ends: TASK_FINISHED for exit status 0, TASK_FAILED
//     otherwise, TASK_KILLED when it was being killed, with the command
//     executor's messages ("Command exited with status 2", "Command
//     terminated with signal Terminated") and no reason, as Mesos. A task
//     ending TASK_FAILED or TASK_KILLED kills the other live tasks of its
//     group (they end TASK_KILLED), unless the executor is shutting down.
//     So a KILL of one task kills its whole group; other groups go on.
//   - Kill: TASK_KILLING first when the framework has the
//     TASK_KILLING_STATE capability, then SIGTERM to the task's process
//     group and SIGKILL after the grace period: the KILL event's
//     kill_policy, else the task's, else Config.KillGracePeriod (Mesos'
//     3 seconds). A KILL for a task already being killed, or unknown, is
//     ignored. Health and check probes of a task stop when its kill starts.
//   - Health checks (TaskInfo.health_check) and checks (TaskInfo.check) run
//     per task with package health: each health result to report is sent
//     as a copy of the task's last status with
//     REASON_TASK_HEALTH_CHECK_STATUS_UPDATED and healthy; a task whose
//     consecutive failures reach the limit is killed and its terminal
//     update carries healthy=false (the rest of its group is then killed as
//     for any kill). A changed check status is sent as a copy of the last
//     status with REASON_TASK_CHECK_STATUS_UPDATED and check_status; every
//     status of a task with a check carries check_status (empty until the
//     first result).
//   - SHUTDOWN, or SIGTERM to the executor (ctx done), kills every live task
//     with its kill grace period capped at three quarters of
//     MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD. Once no task is live, the
//     executor waits (at most Config.AckTimeout) for the agent's
//     acknowledgement of every update, then Run returns nil: it exits when
//     no tasks remain, as Mesos' does. A LAUNCH_GROUP arriving while it
//     waits is served; one arriving during a shutdown gets TASK_KILLED
//     (REASON_TASK_KILLED_DURING_LAUNCH).
//   - If the subscription is lost for good (executor.ErrDisconnected),
//     every task is killed and Run returns the error.
//
// Tasks die with the executor: each is started from an OS thread that
// lives as long as the task, with the parent-death signal SIGKILL.
package defaultexec
