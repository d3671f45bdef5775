// Package registrypb holds the generated Go types of the master's
// replicated registry (api/proto/meso/registry/v1/registry.proto, package
// meso.registry.v1): the commands of its raft log and the snapshot of its
// state. Only internal/registry reads and writes them.
package registrypb
