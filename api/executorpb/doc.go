// Package executorpb holds the Go types for meso's mesos.v1.executor
// protobuf package (api/proto/mesos/v1/executor/executor.proto): the Call
// an executor posts to /api/v1/executor and the Event the agent streams
// back.
//
// The *.pb.go files are generated; edit the .proto file and run
// `make generate`.
package executorpb
