// Package linkpb holds the generated Go types of meso's master-agent link
// protocol (api/proto/meso/link/v1/link.proto, package meso.link.v1).
//
// The link is internal to meso: frameworks and executors never see it. An
// agent opens it with an AgentCall of type REGISTER and receives a RecordIO
// stream of MasterEvent; see docs/ARCHITECTURE.md for the full exchange.
// The messages reuse the public mesos.v1 types from package mesospb for
// everything they carry.
package linkpb
