// Package schedulerpb holds the Go types for meso's mesos.v1.scheduler
// protobuf package (api/proto/mesos/v1/scheduler/scheduler.proto): the
// Call a scheduler posts to /api/v1/scheduler, the Event the master
// streams back, and the Response of synchronous calls.
//
// The *.pb.go files are generated; edit the .proto file and run
// `make generate`.
package schedulerpb
