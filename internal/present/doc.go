// Package present is the one place where meso renders its state for
// operators: the legacy JSON documents (/master/state and its parts on the
// master, /state on the agent) and the v1 operator API's proto views
// (GET_STATE on the agent).
//
// The master's core builds the operator API's proto state
// (mesos.v1.master.Response.GetState) once; MasterState derives the JSON
// document from that same value, so /master/state and GET_STATE cannot
// disagree. The agent describes its frameworks, executors and tasks once as
// an AgentView; AgentGetState and AgentStateJSON are two renderings of it.
//
// Mesos' JSON model is followed where meso has the data: resources as an
// object of name to value (scalars summed across roles as numbers, ranges
// coalesced as "[a-b, c-d]", sets as "{a, b}", as Mesos prints Value.Ranges
// and Value.Set), attributes likewise, timestamps as seconds, enums by
// name, and empty lists written as [] rather than null.
//
// The master writes its documents with a StateEncoder: the same bytes as
// encoding/json's encoding of MasterStateJSON, appended straight from the
// GetState value into a buffer streamed to the response, with each task's
// (and agent's) JSON kept by its record, which the master never modifies
// once a query took it; MasterStateJSON stays as the reference the
// encoder is tested against (and for the core's own callers).
//
// The package does no I/O but writing to the io.Writer it is given; a
// StateEncoder's cache is its only state, owned by its caller.
package present
