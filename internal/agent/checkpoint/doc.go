// Package checkpoint is where a meso agent keeps, under its work
// directory, what it needs to survive a restart (Mesos' agent
// checkpointing): its id and the machine's boot id, the infos of
// frameworks that checkpoint, and per executor run the lifecycle core's
// record (executor info, container id, state, tasks, unacknowledged
// status updates) and the containerizer's handle to the running container
// (pid and start time, or Docker name).
//
// Layout (our own, after Mesos' meta/slaves/<id>/frameworks/... tree):
//
//	<work_dir>/meta/agent.json                          {"agent_id", "boot_id"}
//	<work_dir>/meta/frameworks/<fid>/framework.pb       FrameworkInfo (protobuf); checkpointing frameworks only
//	<work_dir>/meta/frameworks/<fid>/executors/<eid>/runs/<cid>/executor.json   the core's record; checkpointing frameworks only
//	<work_dir>/meta/frameworks/<fid>/executors/<eid>/runs/<cid>/container.json  containerizer.Handle; every executor, while it runs
//
// Every file is replaced atomically (WriteFile: a temporary file in the
// same directory, fsync, rename over the old one, fsync of the directory),
// so a crash leaves the old or the new content, never a mix. A Batch
// commits several changes together (the agent's group commit): writes a
// later change supersedes are skipped, the others are fsynced in
// parallel before all are renamed, and each directory is synced once.
// Load reads it
// all back; a file that cannot be decoded, or whose content does not
// match its place in the tree, is corrupt: an error wrapping ErrCorrupt
// when strict, else skipped and listed in State.Skipped.
//
// The package does I/O only; what to write comes from the lifecycle
// core's checkpoint effects.
package checkpoint
