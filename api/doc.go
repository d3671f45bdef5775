// Package api is the root of meso's Mesos v1 wire layer.
//
// The wire types are declared by meso in its own proto2 files under
// api/proto (package mesos.v1 and its sub-packages), with the message
// names, field names, field numbers, labels and defaults of the published
// Apache Mesos v1 API, so that unmodified Mesos frameworks, executors and
// tools interoperate with meso. Only the subset meso implements is
// declared; fields a peer sends that we do not declare survive a decode
// and re-encode as unknown fields.
//
// The generated Go code is committed (regenerate with `make generate`):
//
//	api/mesospb      mesos.v1           core types: ids, resources, offers,
//	                                    tasks, statuses, containers
//	api/schedulerpb  mesos.v1.scheduler scheduler Call, Event, Response
//	api/executorpb   mesos.v1.executor  executor Call, Event
//	api/masterpb     mesos.v1.master    operator API of the master: Call,
//	                                    Response, Event (SUBSCRIBE stream)
//	api/agentpb      mesos.v1.agent     operator API of the agent: Call,
//	                                    Response
//	api/maintenancepb mesos.v1.maintenance maintenance schedule, windows,
//	                                    cluster status (operator API)
//
// proto2 `required` fields are enforced by the protobuf runtime:
// proto.Marshal and proto.Unmarshal fail when one is missing, exactly as
// real Mesos clients do, so a message missing e.g. Offer.hostname never
// leaves or enters meso by accident.
//
// Field numbers are pinned by golden wire tests in this package; a test
// failure there means a .proto edit broke wire compatibility.
package api
