// Package agent is the meso agent (Mesos' mesos-agent): it registers with
// the master over meso's link protocol, runs the tasks the master sends it
// inside executors started through a containerizer, serves the Mesos v1
// executor API, and carries task status updates back to the master until
// they are acknowledged.
//
// The package is the shell around a pure core, package lifecycle (with
// package statusupdate): every input (an event from the master, an
// executor call, a container's end, a timer) is applied to the core under
// one mutex, and the core's effects are carried out in order: events are
// queued on executor streams, calls for the master are queued on the
// outbox, containers are launched and destroyed in the background. What
// the core's Checkpoints returns after an input is written (package
// checkpoint) before the input's effects are carried out: while Serve
// runs, by group commit outside the mutex (commit.go: the input's effects,
// and those of every input after it, wait for the commit, then are
// carried out in order); before it, at once under the mutex.
//
// Embedding: New(Config) validates the configuration, detects resources
// and reads the checkpoints; Serve(ctx, listener) recovers what they hold,
// runs everything until ctx is done, then destroys the containers (see
// below) and returns. `meso agent` and `meso dev` are
// thin wrappers; tests run agents in-process on loopback.
//
// The link to the master (POST /internal/v1/link, see
// docs/ARCHITECTURE.md): the agent posts REGISTER and reads a RecordIO
// stream of MasterEvents, REGISTERED first. Other calls are separate POSTs
// carrying the session's link id; a 409 makes the agent register again.
// The REGISTER asks for the framed link (link version 3, framelink.go):
// a master that switches (101) gets the calls as frames on the same
// connection and sends its events as frames; one that does not answers
// with the stream above. A
// broken stream, or no PING for MasterPingTimeouts ping intervals, makes it
// register again with randomized exponential backoff
// (RegistrationBackoffFactor doubling up to RegistrationBackoffMax),
// reporting its agent id and every framework, executor and task it still
// runs. While the link is down, status updates wait in the status update
// manager and are all resent on registration.
//
// Agent restarts (Config.Recover, Mesos' --recover): the agent checkpoints
// its id and boot id, and for frameworks with checkpoint=true their infos,
// executors, tasks and unacknowledged updates, under WorkDir/meta. An
// agent started again on the same WorkDir (same boot, RecoverReconnect)
// keeps its id, re-attaches to the executors still alive
// (containerizer.Adopter) and waits RecoveryTimeout for them to subscribe
// again; what is gone is reported. After a reboot, or with
// RecoverCleanup, it kills what the last run left and starts as a new
// agent. A corrupt checkpoint fails New unless NonStrict. When Serve
// returns, all containers are destroyed, except, with
// LeaveExecutorsOnStop (`meso agent`), those of checkpointing frameworks,
// left for the next run to recover as after a crash. See docs/agent.md.
//
// Endpoints: POST /api/v1/executor (Mesos v1 executor API, JSON or protobuf;
// with AuthenticateHTTPExecutors each call needs its executor's Bearer token, executorauth.go), POST /api/v1 (the v1 operator API, operator.go; container
// calls answer 501), GET /state and /slave(1)/state, /health, /metrics/snapshot,
// /version, and /files/ when the files API is available. Every request is
// bounded by internal/httpbound (Config.HTTP): header, body and idle
// timeouts, and a memory budget for call bodies; executor event streams
// outlive the body deadline. With Credentials, AuthenticateHTTPReadOnly
// guards state, metrics, statistics and files, AuthenticateHTTPReadWrite the
// operator API; ACLs decide access_sandboxes on the files API and
// LIST_FILES/READ_FILE (authz.go). A root agent runs executors as their
// user unless NoSwitchUser (--switch_user=false).
package agent
