// Package mesospb holds the Go types for meso's mesos.v1 protobuf package
// (api/proto/mesos/v1/mesos.proto): the Mesos v1 core wire types such as
// FrameworkInfo, Offer, Resource, TaskInfo and TaskStatus.
//
// The *.pb.go files are generated; edit the .proto file and run
// `make generate`. proto.Marshal and proto.Unmarshal enforce proto2
// `required` fields; use proto.MarshalOptions{AllowPartial: true} only for
// diagnostics, never for bytes that go on the wire.
package mesospb
