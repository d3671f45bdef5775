// Package batch is a small Mesos framework that runs a fixed list of command
// tasks to completion: it packs pending tasks into the offers it receives,
// launches them, acknowledges every status update, and returns when every
// task has reached a terminal state.
//
// It speaks only the public v1 scheduler API (through package scheduler),
// so it runs against meso or a real Apache Mesos master. `meso dev
// --example` uses it for its sample workload and the end-to-end tests use it
// to drive real clusters.
package batch
