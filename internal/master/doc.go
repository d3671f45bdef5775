// Package master is the meso master daemon: the HTTP shell around the pure
// master core (internal/master/core).
//
// New checks a Config (one field per `meso master` flag, zero values for
// the Mesos defaults) and Serve runs the master on a listener until its
// context ends. Endpoints:
//
//   - POST /api/v1/scheduler (and /master/api/v1/scheduler): the Mesos v1
//     scheduler API. SUBSCRIBE answers 200 with a RecordIO event stream
//     (Content-Type exactly the negotiated codec, chunked, no
//     Content-Length, a Mesos-Stream-Id header, headers flushed at once,
//     SUBSCRIBED first, HEARTBEAT at the heartbeat interval). Other calls
//     answer 202 with an empty body, 400 (malformed, or a missing or wrong
//     Mesos-Stream-Id), 403 (framework unknown or not subscribed), 405
//     (not POST), 406 (Accept), 408 (body not received in time), 413 (body
//     too large, at once when declared so), 415 (Content-Type) or 503 (body
//     memory exhausted), always with a message. A non-leading master answers 307 with Location
//     on the leader, and 503 when no master leads.
//   - POST /api/v1 (and /master/api/v1): the Mesos v1 operator API
//     (operator.go): the read calls, SET_LOGGING_LEVEL, TEARDOWN and
//     SUBSCRIBE (a RecordIO stream of mesos.v1.master.Event from the core's
//     operator events, on a bounded outbox); calls not built answer 501.
//   - POST /internal/v1/link: the agent link (link.proto): REGISTER opens a
//     RecordIO stream of MasterEvents with a Meso-Link-Id header; other
//     agent calls answer 202, 400, or 409 when their link_id is stale. A
//     REGISTER asking for `Upgrade: meso-link/3` over HTTP/1.1 gets the
//     framed link instead (framelink.go): 101, then frames both ways on
//     the connection, no handler goroutine kept per link.
//     With Config.AuthenticateAgents every call needs HTTP Basic
//     credentials; a REGISTER naming an agent id must carry the secret the
//     master issued to that id in an earlier REGISTERED (403 otherwise,
//     before the core sees the call; link.go).
//   - GET /state and /master/state (Mesos' JSON shape, a subset), /health,
//     /version, /metrics/snapshot (Mesos metric names), /metrics
//     (Prometheus, meso_-prefixed names) and /master/redirect.
//
// # Leadership
//
// With Config.Replicated the registry is a raft group
// (internal/registry), and the master serves only while raft elects it:
// elected, it waits for raft's barrier, recovers a new core from the
// registry (core.Recover) and swaps it into the loop; deposed, it swaps in
// an empty standby core and closes every stream and link. A master that
// does not lead answers the scheduler API, the agent link and the state
// cuts with 307 to the leader (raft ids are the masters' HTTP host:port),
// or 503 while none is known; /state, /health and /master/redirect answer
// everywhere. Without Replicated the master always leads, with the
// Registry given (in memory by default).
//
// Every request is bounded by internal/httpbound (Config.HTTP): header,
// body and idle timeouts, and a memory budget for call bodies; the event
// streams outlive the body deadline.
//
// # Concurrency
//
// The core is owned by one goroutine, the loop (loop.run), started by
// Serve and stopped when Serve's context ends. HTTP handlers never touch
// the core: they send inputs (closures) to the loop's inbox and, where they
// need an answer, wait until the loop ran them (loop.do). After each batch
// of inputs and each due tick the loop routes the core's outputs to
// per-stream outboxes; the loop alone owns the maps from stream and link
// ids to outboxes. Each outbox is a mutex-guarded queue with one producer
// (the loop) and one consumer (the HTTP handler of that stream, which
// writes RecordIO records and heartbeats until the outbox closes, the
// client leaves or the master stops, then tells the loop that the stream
// closed). With a replicated registry, the election watcher
// (watchElection) is another goroutine Serve owns; it swaps cores only
// through the loop. Serve waits for the watcher and the loop to end, closes
// the registry, and waits for the HTTP server to shut down before it
// returns.
//
// Authorization: Config.ACLs (internal/acl) is asked in the HTTP shell
// (roles on SUBSCRIBE, operator calls, state filtering per principal) and,
// for task users, by the core through core.Config.AuthorizeTask; authz.go
// lists where.
package master
