// Package sim is a cluster simulator for measuring the master: thousands
// of simulated agents and many simulated frameworks against one real
// master, in one process. It is what `meso bench` runs.
//
// # What is real and what is simulated
//
// The master is real: started in this process on a loopback port (the
// default), or an external one (Config.Master). Agents and frameworks are
// simulated, but they speak the real protocols over real sockets:
//
//   - A simulated agent opens its link as a real agent does (link.proto):
//     POST /internal/v1/link with REGISTER, then reads the RecordIO stream
//     of MasterEvents, answering PING with PONG; with Config.LinkMux it
//     uses the framed link (link version 3), LinkMux agents to a
//     connection, each on its own channel (framed.go). RUN_TASK gives
//     TASK_RUNNING at once (after TASK_STARTING with Config.TaskStarting,
//     as Mesos' command executor; Spark's and most custom executors send
//     none) and TASK_FINISHED after Config.TaskDuration (nothing is
//     executed); KILL_TASK gives
//     TASK_KILLED. Updates carry what the agent's own updates carry
//     (source SOURCE_EXECUTOR, agent_id, executor_id = task id as for
//     command tasks, timestamp, a 16-byte uuid, latest_state) and go
//     through the agent's real status update manager
//     (internal/agent/statusupdate): one update in flight per task, the
//     next after the master's ACKNOWLEDGE, retried unacknowledged after
//     10 s doubling. A simulated agent that registers again reports no
//     tasks (the master ends them; "link failures" counts this).
//   - A simulated framework uses the public scheduler package. It packs
//     as many tasks of its share (Config.Tasks / Config.Frameworks) into
//     each offer as fit (Config.TaskResources, scalars only), declines
//     offers it cannot use, suppresses offers once every task is
//     launched, and acknowledges every update.
//
// # Cheap agents
//
// Each agent needs its own link stream, so an agent is one connection and
// one goroutine reading it. Everything else is shared: Config.Senders
// goroutines post every agent's calls over kept-alive connections of one
// http.Transport. Calls queue per agent, unbounded (so that an agent
// never stops reading its link), and are sent as a real agent sends
// them: one request in flight per agent, carrying every call the agent
// has waiting (up to 256) in one BATCH when the master's link_version
// is 2 or more, one call per request to an older master; agents take
// turns in the order their calls came, an agent with a PONG waiting
// first. One goroutine asks every status update manager for overdue
// retries (a retry of an update still queued is dropped: the wait is the
// simulator's); and one timer (a heap of due times) ends every task. The
// report's "agent queue wait" says how long calls sat in the queue: when
// it grows, the simulator's sending, not the master, bounds the run;
// "agent requests" counts the link requests (REGISTER aside).
// An agent's own state is its ids, its status update manager and the set
// of tasks it runs. In-process, the master holds the other end of every
// connection, so a run needs about twice Config.Agents open files (Run
// checks RLIMIT_NOFILE first and says so).
//
// # Phases and figures
//
// Run registers every agent (REGISTERs in flight bounded by
// Config.Registering), then starts the frameworks and waits until every
// task ended and the acknowledgement of every TASK_FINISHED reached its
// agent. While tasks run, a sampler GETs /master/state (or asks the
// operator API for GET_STATE: Config.StateQuery; one query at a
// time, Config.StateInterval after the previous one ended, so that it
// never keeps the master's loop busy back to back) and reads memory. Every time is read on this
// process's monotonic clock, which is also what makes the update latency
// (an agent's first send of an update to a framework receiving it)
// measurable with an external master: both ends are in this process.
//
// The Report's table (WriteTable) has one figure per line, matching
// LineRegexp: "name: value unit", the value with ',' thousands separators
// ("to RUNNING: 23,456 tasks/s", "to FINISHED (acked): 12,345 tasks/s");
// ParseTable reads it back. WriteJSON writes the same figures as JSON.
// Rates divide by the time from the first LAUNCH to their own last event,
// so "to FINISHED (acked)" includes one task duration. In-process, the
// memory figures ("master+sim RSS", "master+sim heap") are the whole
// process's, simulator included; CPU and heap profiles (Config.ProfileDir)
// are too.
package sim
