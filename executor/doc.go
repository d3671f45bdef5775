// Package executor is a Go client for the Mesos v1 executor HTTP API
// (POST /api/v1/executor on the agent). Executors written in Go use it,
// meso's built-in command executor included; it speaks only the public
// protocol, so it also works under an Apache Mesos agent.
//
// An executor reads the environment the agent started it with, subscribes,
// and handles events:
//
//	env, err := executor.EnvFromOS() // MESOS_AGENT_ENDPOINT, MESOS_FRAMEWORK_ID, ...
//	c := executor.New(env.Config())
//	go func() { errc <- c.Run(ctx) }()
//	for ev := range c.Events() {
//		switch ev.GetType() {
//		case executorpb.Event_LAUNCH:
//			c.Update(ctx, &mesospb.TaskStatus{TaskId: ..., State: mesospb.TaskState_TASK_RUNNING.Enum()})
//		case executorpb.Event_KILL, executorpb.Event_SHUTDOWN:
//			...
//		}
//	}
//
// # Contract
//
//   - Run sends SUBSCRIBE to http://<agent endpoint>/api/v1/executor (codec
//     protobuf by default, in Content-Type and Accept) and delivers every
//     event of the RecordIO stream in order on Events, which is closed when
//     Run returns. Other calls are separate POSTs answered 202; any other
//     status gives an *HTTPError.
//   - Update gives the status a fresh uuid (and the executor id, source
//     SOURCE_EXECUTOR and a timestamp when unset) and keeps it as
//     unacknowledged until the agent's ACKNOWLEDGED for that uuid arrives. A
//     LAUNCHed task counts as unacknowledged until an update of it has been
//     acknowledged. Updates made while disconnected are kept (Update returns
//     ErrNotSubscribed) and travel in the next SUBSCRIBE.
//   - Disconnection follows Mesos: an executor of a framework that does not
//     checkpoint gives up when its subscription breaks (Run returns an error
//     wrapping ErrDisconnected); a checkpointing one subscribes again, with
//     exponential backoff capped by MESOS_SUBSCRIPTION_BACKOFF_MAX, sending
//     its unacknowledged tasks and updates, for up to MESOS_RECOVERY_TIMEOUT
//     before giving up the same way. Before the first SUBSCRIBED, attempts
//     are retried for up to the recovery timeout whatever the checkpointing.
//     The recovery timer starts when Run starts and when a subscription
//     breaks (failed attempts do not restart it) and Run gives up the
//     moment it runs out: an attempt in flight (an agent that accepted the
//     connection and froze, or answered 200 and sent nothing) is abandoned
//     and a backoff is cut short. The executor is then expected to kill its
//     tasks and exit, as meso's built-in executors do: Mesos' executor
//     library shuts the executor down at that point.
//   - Run returns nil when ctx is done, and an *HTTPError when SUBSCRIBE is
//     refused with a 4xx.
//
// Client is safe for concurrent use.
package executor
