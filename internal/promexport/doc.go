// Package promexport serves meso's metrics to Prometheus.
//
// The master and the agent keep Mesos-named metrics ("master/tasks_running",
// "slave/executors_running") and answer /metrics/snapshot with them as a
// flat JSON object, as Mesos does. This package exports the same snapshot at
// /metrics in the Prometheus text format, every metric a gauge named by
// Name ("master/tasks_running" becomes "meso_master_tasks_running"), next to
// the Go runtime and process collectors and any collectors the caller adds
// (the agent adds one gauge per container statistic).
package promexport
