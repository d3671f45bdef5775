// Package lifecycle is the agent's pure core: the frameworks, executors and
// tasks an agent runs, what happens to them on every input, and the status
// update manager (package statusupdate) that carries their updates to the
// master.
//
// A Core is driven by inputs from the link to the master (RunTask, KillTask,
// Acknowledge, ShutdownExecutor, ...), from the executor API
// (ExecutorSubscribe, ExecutorUpdate, ExecutorMessage,
// ExecutorDisconnected), from the containerizer (ExecutorExited,
// ContainerLaunchFailed) and from the clock (Tick). Every input takes the
// current time where time matters and returns Effects for the caller to
// carry out: launch or destroy a container, send an event to an executor,
// send a call to the master. The Core does no I/O, starts no goroutines,
// reads no clock and draws no random numbers: uuids and container ids come
// from functions in Config, so a test that injects counters gets exactly
// reproducible traces. It is not safe for concurrent use; the agent's shell
// serialises all calls.
//
// Executor states follow Mesos:
//
//	REGISTERING --subscribe--> RUNNING --shutdown--> TERMINATING
//	     |                        |                       |
//	     +------------------------+---- container exit ---+--> TERMINATED
//
// A task is queued on its executor until the executor subscribes, then
// launched (sent to the executor with LAUNCH, state TASK_STAGING until the
// executor reports otherwise), then terminated when a terminal update is
// generated, and completed when the master acknowledges that terminal
// update. An executor that is TERMINATED and has no unacknowledged terminal
// tasks left moves to its framework's completed executors; a framework with
// no executors left moves to the completed frameworks. The completed lists
// are bounded.
//
// Mesos semantics kept here: the agent never sends TASK_STAGING (the master
// records it); the command executor's ExecutorInfo is generated from the
// task (executor id = task id); a task group whose executor has no
// command runs in the built-in default executor, `<Launcher>
// default-executor`; a kill for a task whose executor has not
// subscribed yields TASK_KILLED (REASON_TASK_KILLED_DURING_LAUNCH) from
// the agent; an executor that does not subscribe within the registration
// timeout is destroyed and its tasks fail with
// REASON_EXECUTOR_REGISTRATION_TIMEOUT; when an executor's container ends,
// its unfinished tasks get TASK_FAILED (REASON_EXECUTOR_TERMINATED unless a
// more precise reason is known) and the master gets EXECUTOR_EXITED; no
// updates are generated for a framework that is being shut down.
//
// Checkpointing (checkpoint.go): for frameworks with checkpoint=true the
// Core notes what each input changed; Checkpoints returns it as effects
// (CheckpointFramework, CheckpointExecutor, RemoveCheckpoint) for the
// caller to persist before it carries out the input's other effects, as
// etcd raft's Ready says what to persist before what to send. Recover
// rebuilds a new Core from the persisted records after an agent restart:
// same agent id, executors disconnected until they subscribe again within
// the recovery timeout (else destroyed, their tasks TASK_LOST or, for
// partition-aware frameworks, TASK_GONE, with
// REASON_EXECUTOR_REREGISTRATION_TIMEOUT), unacknowledged updates
// resent in order at the next Registered.
package lifecycle
