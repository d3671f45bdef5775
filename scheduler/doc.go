// Package scheduler is a Go client for the Mesos v1 scheduler HTTP API
// (POST /api/v1/scheduler). It works against meso's master and against an
// Apache Mesos master alike, because it uses only the public protocol.
//
// A Client is made with New and driven by Run, which owns the subscription:
//
//	c := scheduler.New(scheduler.Config{
//		Master:    "127.0.0.1:5050",
//		Framework: &mesospb.FrameworkInfo{User: proto.String("me"), Name: proto.String("demo")},
//	})
//	go func() { errc <- c.Run(ctx) }()
//	for ev := range c.Events() {
//		switch ev.GetType() {
//		case schedulerpb.Event_OFFERS:
//			// c.Launch(ctx, offer, task) or c.Decline(ctx, ids, filters)
//		case schedulerpb.Event_UPDATE:
//			c.Acknowledge(ctx, ev.GetUpdate().GetStatus())
//		}
//	}
//
// # Contract
//
//   - Run sends SUBSCRIBE (Content-Type and Accept set to the configured
//     codec, protobuf by default) on a connection of its own, reads the
//     Mesos-Stream-Id header and the RecordIO event stream, and delivers every
//     event, SUBSCRIBED and HEARTBEAT included, in order on Events. Events is
//     closed when Run returns; a consumer that stops reading stalls the stream
//     but never loses or reorders events.
//   - A 307 answer is followed to its Location (which may be scheme-relative,
//     "//host:port/api/v1/scheduler"), and the leader found this way is used
//     for later calls. A 503, a 5xx, a refused connection or a stream that
//     ends makes Run try again after an exponential backoff with jitter,
//     reset by every SUBSCRIBED: a failed attempt moves to the next of the
//     comma-separated masters in Config.Master, a subscription that was up
//     starts again at the one it began from (package internal/subscribe
//     holds these rules, shared with the executor client and the agent).
//   - Heartbeat loss: when no event arrives for HeartbeatMisses times the
//     heartbeat interval announced in SUBSCRIBED (15 s when absent), the
//     connection is dropped and Run subscribes again.
//   - Once the master has assigned a framework id, every later SUBSCRIBE
//     carries it (in Call.framework_id and FrameworkInfo.id), so a
//     reconnecting scheduler fails over to itself and keeps its tasks (within
//     the framework's failover_timeout).
//   - Run returns nil when ctx is done or after a successful Teardown; an
//     error wrapping ErrRejected after an ERROR event (the master closes the
//     stream then, and Mesos advises the scheduler to abort); an *HTTPError
//     when SUBSCRIBE is refused with a 4xx; a configuration error at once.
//   - Every other call is its own POST carrying Mesos-Stream-Id and the
//     framework id. A 202 (or any 2xx) is success; anything else gives an
//     *HTTPError with the status and the body. Calls made while no
//     subscription is up fail with ErrNotSubscribed.
//
// Client is safe for concurrent use. Calls may be made from any goroutine,
// including the one reading Events.
package scheduler
