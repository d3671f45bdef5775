// Package ui is the driver's web UI and the history server, in the manner
// of Spark's: jobs, stages (with the stage DAG and skipped stages), a
// stage's tasks (duration, shuffle read and write, errors), executors
// (added and removed, with reasons, on a timeline), storage (cached
// partitions) and the environment (the session's settings).
//
// Both read the same thing: the session's scheduler events in the JSON
// form of the event log (one object per line, rdd.Event's encoding).
// State folds events into the books the pages show; it is pure (no clock,
// no locks: the Server serialises access), so a live driver and a
// finished application's event log render identically. The live driver
// feeds its State from a listener (rdd starts a Server on spark.ui.port,
// 4040, or the next free port); the history server (`meso history --dir
// DIR`, History) builds one State per event log file in DIR and serves its
// pages under /history/<file>/.
//
// Pages are rendered on the server with html/template (no JavaScript
// build, no external assets); they refresh themselves every few seconds
// while the application runs.
package ui
