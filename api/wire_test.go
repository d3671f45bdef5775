package api_test

import (
	"bytes"
	"math"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/executorpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
)

// The golden tests below assemble the expected wire bytes by hand, field
// number by field number, from the published Mesos v1 API. A renumbered or
// retyped field in a .proto file makes them fail in both directions: our
// encoding no longer matches, and the hand-made bytes no longer decode to
// the same message.

// Wire builders. Each returns one encoded field.

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func fStr(num protowire.Number, s string) []byte {
	b := protowire.AppendTag(nil, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func fBytes(num protowire.Number, v []byte) []byte {
	b := protowire.AppendTag(nil, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func fMsg(num protowire.Number, fields ...[]byte) []byte {
	return fBytes(num, cat(fields...))
}

func fVarint(num protowire.Number, v uint64) []byte {
	b := protowire.AppendTag(nil, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func fBool(num protowire.Number, v bool) []byte {
	return fVarint(num, protowire.EncodeBool(v))
}

func fDouble(num protowire.Number, v float64) []byte {
	b := protowire.AppendTag(nil, num, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, math.Float64bits(v))
}

// fID encodes one of the *ID messages (`required string value = 1`).
func fID(num protowire.Number, value string) []byte {
	return fMsg(num, fStr(1, value))
}

// Go-side builders for the same values.

var (
	str = proto.String
	u32 = proto.Uint32
	f64 = proto.Float64
)

func scalarResource(name string, v float64, role string) *mesospb.Resource {
	return &mesospb.Resource{
		Name:           str(name),
		Type:           mesospb.Value_SCALAR.Enum(),
		Scalar:         &mesospb.Value_Scalar{Value: f64(v)},
		AllocationInfo: &mesospb.Resource_AllocationInfo{Role: str(role)},
	}
}

// Resource.type SCALAR is 0: a set proto2 enum is encoded even when zero.
func wireScalarResource(num protowire.Number, name string, v float64, role string) []byte {
	return fMsg(num,
		fStr(1, name),
		fVarint(2, 0),
		fMsg(3, fDouble(1, v)),
		fMsg(11, fStr(1, role)),
	)
}

func goldenOffer() *mesospb.Offer {
	return &mesospb.Offer{
		Id:          &mesospb.OfferID{Value: str("o-1")},
		FrameworkId: &mesospb.FrameworkID{Value: str("f-1")},
		AgentId:     &mesospb.AgentID{Value: str("a-1")},
		Hostname:    str("host1"),
		Resources: []*mesospb.Resource{
			scalarResource("cpus", 1.5, "web"),
			{
				Name: str("ports"),
				Type: mesospb.Value_RANGES.Enum(),
				Ranges: &mesospb.Value_Ranges{Range: []*mesospb.Value_Range{
					{Begin: proto.Uint64(31000), End: proto.Uint64(31005)},
				}},
				Reservations: []*mesospb.Resource_ReservationInfo{{
					Type:      mesospb.Resource_ReservationInfo_DYNAMIC.Enum(),
					Role:      str("web"),
					Principal: str("ops"),
				}},
			},
		},
		ExecutorIds: []*mesospb.ExecutorID{{Value: str("e-1")}},
		Attributes: []*mesospb.Attribute{{
			Name: str("rack"),
			Type: mesospb.Value_TEXT.Enum(),
			Text: &mesospb.Value_Text{Value: str("r1")},
		}},
		Url: &mesospb.URL{
			Scheme:  str("http"),
			Address: &mesospb.Address{Hostname: str("host1"), Ip: str("10.0.0.1"), Port: proto.Int32(5051)},
			Path:    str("/slave(1)"),
		},
		AllocationInfo: &mesospb.Resource_AllocationInfo{Role: str("web")},
		Domain: &mesospb.DomainInfo{FaultDomain: &mesospb.DomainInfo_FaultDomain{
			Region: &mesospb.DomainInfo_FaultDomain_RegionInfo{Name: str("eu")},
			Zone:   &mesospb.DomainInfo_FaultDomain_ZoneInfo{Name: str("eu-1")},
		}},
	}
}

func wireOffer() []byte {
	return cat(
		fID(1, "o-1"),
		fID(2, "f-1"),
		fID(3, "a-1"),
		fStr(4, "host1"),
		wireScalarResource(5, "cpus", 1.5, "web"),
		fMsg(5,
			fStr(1, "ports"),
			fVarint(2, 1),
			fMsg(4, fMsg(1, fVarint(1, 31000), fVarint(2, 31005))),
			fMsg(13, fStr(1, "ops"), fStr(3, "web"), fVarint(4, 2)),
		),
		fID(6, "e-1"),
		fMsg(7, fStr(1, "rack"), fVarint(2, 3), fMsg(5, fStr(1, "r1"))),
		fMsg(8,
			fStr(1, "http"),
			fMsg(2, fStr(1, "host1"), fStr(2, "10.0.0.1"), fVarint(3, 5051)),
			fStr(3, "/slave(1)"),
		),
		fMsg(10, fStr(1, "web")),
		fMsg(11, fMsg(1, fMsg(1, fStr(1, "eu")), fMsg(2, fStr(1, "eu-1")))),
	)
}

var goldenUUID = []byte{0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10}

func goldenTaskStatus() *mesospb.TaskStatus {
	return &mesospb.TaskStatus{
		TaskId:     &mesospb.TaskID{Value: str("t-1")},
		State:      mesospb.TaskState_TASK_RUNNING.Enum(),
		Data:       []byte("d"),
		Message:    str("ok"),
		AgentId:    &mesospb.AgentID{Value: str("a-1")},
		Timestamp:  f64(1700000000.25),
		ExecutorId: &mesospb.ExecutorID{Value: str("e-1")},
		Healthy:    proto.Bool(true),
		Source:     mesospb.TaskStatus_SOURCE_EXECUTOR.Enum(),
		Reason:     mesospb.TaskStatus_REASON_TASK_HEALTH_CHECK_STATUS_UPDATED.Enum(),
		Uuid:       goldenUUID,
		Labels:     &mesospb.Labels{Labels: []*mesospb.Label{{Key: str("k"), Value: str("v")}}},
		ContainerStatus: &mesospb.ContainerStatus{
			NetworkInfos: []*mesospb.NetworkInfo{{IpAddresses: []*mesospb.NetworkInfo_IPAddress{{IpAddress: str("10.0.0.9")}}}},
			ExecutorPid:  u32(4242),
			ContainerId:  &mesospb.ContainerID{Value: str("c-1")},
		},
		UnreachableTime: &mesospb.TimeInfo{Nanoseconds: proto.Int64(7)},
		CheckStatus: &mesospb.CheckStatusInfo{
			Type:    mesospb.CheckInfo_COMMAND.Enum(),
			Command: &mesospb.CheckStatusInfo_Command{ExitCode: proto.Int32(0)},
		},
		Limitation: &mesospb.TaskResourceLimitation{Resources: []*mesospb.Resource{scalarResource("mem", 64, "web")}},
	}
}

func wireTaskStatus() []byte {
	return cat(
		fID(1, "t-1"),
		fVarint(2, 1),
		fBytes(3, []byte("d")),
		fStr(4, "ok"),
		fID(5, "a-1"),
		fDouble(6, 1700000000.25),
		fID(7, "e-1"),
		fBool(8, true),
		fVarint(9, 2),
		fVarint(10, 29),
		fBytes(11, goldenUUID),
		fMsg(12, fMsg(1, fStr(1, "k"), fStr(2, "v"))),
		fMsg(13,
			fMsg(1, fMsg(5, fStr(2, "10.0.0.9"))),
			fVarint(3, 4242),
			fID(4, "c-1"),
		),
		fMsg(14, fVarint(1, 7)),
		fMsg(15, fVarint(1, 1), fMsg(2, fVarint(1, 0))),
		fMsg(16, wireScalarResource(1, "mem", 64, "web")),
	)
}

func goldenTaskInfo() *mesospb.TaskInfo {
	return &mesospb.TaskInfo{
		Name:      str("task"),
		TaskId:    &mesospb.TaskID{Value: str("t-1")},
		AgentId:   &mesospb.AgentID{Value: str("a-1")},
		Resources: []*mesospb.Resource{scalarResource("cpus", 1, "web")},
		Command: &mesospb.CommandInfo{
			Uris: []*mesospb.CommandInfo_URI{{
				Value: str("http://x/y.tgz"), Executable: proto.Bool(false),
				Extract: proto.Bool(true), Cache: proto.Bool(true), OutputFile: str("y.tgz"),
			}},
			Environment: &mesospb.Environment{Variables: []*mesospb.Environment_Variable{{
				Name: str("A"), Value: str("1"), Type: mesospb.Environment_Variable_VALUE.Enum(),
			}}},
			Value:     str("/bin/echo"),
			User:      str("nobody"),
			Shell:     proto.Bool(false),
			Arguments: []string{"echo", "hi"},
		},
		Data:              []byte{0},
		HealthCheck:       &mesospb.HealthCheck{Type: mesospb.HealthCheck_TCP.Enum(), Tcp: &mesospb.HealthCheck_TCPCheckInfo{Port: u32(80)}},
		Labels:            &mesospb.Labels{Labels: []*mesospb.Label{{Key: str("k")}}},
		KillPolicy:        &mesospb.KillPolicy{GracePeriod: &mesospb.DurationInfo{Nanoseconds: proto.Int64(5e9)}},
		Check:             &mesospb.CheckInfo{Type: mesospb.CheckInfo_HTTP.Enum(), Http: &mesospb.CheckInfo_Http{Port: u32(8080)}},
		MaxCompletionTime: &mesospb.DurationInfo{Nanoseconds: proto.Int64(1)},
	}
}

func wireTaskInfo() []byte {
	return cat(
		fStr(1, "task"),
		fID(2, "t-1"),
		fID(3, "a-1"),
		wireScalarResource(4, "cpus", 1, "web"),
		fBytes(6, []byte{0}),
		fMsg(7,
			fMsg(1, fStr(1, "http://x/y.tgz"), fBool(2, false), fBool(3, true), fBool(4, true), fStr(5, "y.tgz")),
			fMsg(2, fMsg(1, fStr(1, "A"), fStr(2, "1"), fVarint(3, 1))),
			fStr(3, "/bin/echo"),
			fStr(5, "nobody"),
			fBool(6, false),
			fStr(7, "echo"), fStr(7, "hi"),
		),
		fMsg(8, fVarint(8, 3), fMsg(9, fVarint(1, 80))),
		fMsg(10, fMsg(1, fStr(1, "k"))),
		fMsg(12, fMsg(1, fVarint(1, 5e9))),
		fMsg(13, fVarint(1, 2), fMsg(3, fVarint(1, 8080))),
		fMsg(14, fVarint(1, 1)),
	)
}

func goldenFrameworkInfo() *mesospb.FrameworkInfo {
	return &mesospb.FrameworkInfo{
		User:            str("alice"),
		Name:            str("fw"),
		Id:              &mesospb.FrameworkID{Value: str("f-1")},
		FailoverTimeout: f64(604800),
		Checkpoint:      proto.Bool(true),
		Hostname:        str("sched"),
		Principal:       str("p"),
		WebuiUrl:        str("http://sched/"),
		Capabilities: []*mesospb.FrameworkInfo_Capability{
			{Type: mesospb.FrameworkInfo_Capability_MULTI_ROLE.Enum()},
			{Type: mesospb.FrameworkInfo_Capability_PARTITION_AWARE.Enum()},
		},
		Labels: &mesospb.Labels{},
		Roles:  []string{"web", "batch"},
	}
}

func wireFrameworkInfo() []byte {
	return cat(
		fStr(1, "alice"),
		fStr(2, "fw"),
		fID(3, "f-1"),
		fDouble(4, 604800),
		fBool(5, true),
		fStr(7, "sched"),
		fStr(8, "p"),
		fStr(9, "http://sched/"),
		fMsg(10, fVarint(1, 6)),
		fMsg(10, fVarint(1, 5)),
		fMsg(11),
		fStr(12, "web"), fStr(12, "batch"),
	)
}

type golden struct {
	name string
	msg  proto.Message
	wire []byte
}

func coreGoldens() []golden {
	return []golden{
		{"Offer", goldenOffer(), wireOffer()},
		{"TaskStatus", goldenTaskStatus(), wireTaskStatus()},
		{"TaskInfo", goldenTaskInfo(), wireTaskInfo()},
		{"FrameworkInfo", goldenFrameworkInfo(), wireFrameworkInfo()},
		{"Filters", &mesospb.Filters{RefuseSeconds: f64(0.5)}, fDouble(1, 0.5)},
		{"MasterInfo", goldenMasterInfo(), wireMasterInfo()},
	}
}

func goldenMasterInfo() *mesospb.MasterInfo {
	return &mesospb.MasterInfo{
		Id: str("m-1"), Ip: u32(0x0100007f), Port: u32(5050), Hostname: str("m"),
		Version: str("1.11.0"),
		Address: &mesospb.Address{Ip: str("127.0.0.1"), Port: proto.Int32(5050)},
	}
}

func wireMasterInfo() []byte {
	return cat(
		fStr(1, "m-1"), fVarint(2, 0x0100007f), fVarint(3, 5050), fStr(5, "m"),
		fStr(6, "1.11.0"), fMsg(7, fStr(2, "127.0.0.1"), fVarint(3, 5050)),
	)
}

func schedulerEventGoldens() []golden {
	sev := func(t schedulerpb.Event_Type) *schedulerpb.Event { return &schedulerpb.Event{Type: t.Enum()} }
	withType := func(e *schedulerpb.Event, set func(*schedulerpb.Event)) *schedulerpb.Event { set(e); return e }
	return []golden{
		{"SUBSCRIBED", withType(sev(schedulerpb.Event_SUBSCRIBED), func(e *schedulerpb.Event) {
			e.Subscribed = &schedulerpb.Event_Subscribed{
				FrameworkId:              &mesospb.FrameworkID{Value: str("f-1")},
				HeartbeatIntervalSeconds: f64(15),
				MasterInfo:               goldenMasterInfo(),
			}
		}), cat(fVarint(1, 1), fMsg(2, fID(1, "f-1"), fDouble(2, 15), fBytes(3, wireMasterInfo())))},
		{"OFFERS", withType(sev(schedulerpb.Event_OFFERS), func(e *schedulerpb.Event) {
			e.Offers = &schedulerpb.Event_Offers{Offers: []*mesospb.Offer{goldenOffer()}}
		}), cat(fVarint(1, 2), fMsg(3, fBytes(1, wireOffer())))},
		{"RESCIND", withType(sev(schedulerpb.Event_RESCIND), func(e *schedulerpb.Event) {
			e.Rescind = &schedulerpb.Event_Rescind{OfferId: &mesospb.OfferID{Value: str("o-1")}}
		}), cat(fVarint(1, 3), fMsg(4, fID(1, "o-1")))},
		{"UPDATE", withType(sev(schedulerpb.Event_UPDATE), func(e *schedulerpb.Event) {
			e.Update = &schedulerpb.Event_Update{Status: goldenTaskStatus()}
		}), cat(fVarint(1, 4), fMsg(5, fBytes(1, wireTaskStatus())))},
		{"MESSAGE", withType(sev(schedulerpb.Event_MESSAGE), func(e *schedulerpb.Event) {
			e.Message = &schedulerpb.Event_Message{
				AgentId: &mesospb.AgentID{Value: str("a-1")}, ExecutorId: &mesospb.ExecutorID{Value: str("e-1")}, Data: []byte("x"),
			}
		}), cat(fVarint(1, 5), fMsg(6, fID(1, "a-1"), fID(2, "e-1"), fBytes(3, []byte("x"))))},
		{"FAILURE", withType(sev(schedulerpb.Event_FAILURE), func(e *schedulerpb.Event) {
			e.Failure = &schedulerpb.Event_Failure{
				AgentId: &mesospb.AgentID{Value: str("a-1")}, ExecutorId: &mesospb.ExecutorID{Value: str("e-1")}, Status: proto.Int32(256),
			}
		}), cat(fVarint(1, 6), fMsg(7, fID(1, "a-1"), fID(2, "e-1"), fVarint(3, 256)))},
		{"ERROR", withType(sev(schedulerpb.Event_ERROR), func(e *schedulerpb.Event) {
			e.Error = &schedulerpb.Event_Error{Message: str("boom")}
		}), cat(fVarint(1, 7), fMsg(8, fStr(1, "boom")))},
		{"HEARTBEAT", sev(schedulerpb.Event_HEARTBEAT), fVarint(1, 8)},
		{"INVERSE_OFFERS", withType(sev(schedulerpb.Event_INVERSE_OFFERS), func(e *schedulerpb.Event) {
			e.InverseOffers = &schedulerpb.Event_InverseOffers{InverseOffers: []*mesospb.InverseOffer{{
				Id:             &mesospb.OfferID{Value: str("io-1")},
				FrameworkId:    &mesospb.FrameworkID{Value: str("f-1")},
				AgentId:        &mesospb.AgentID{Value: str("a-1")},
				Unavailability: &mesospb.Unavailability{Start: &mesospb.TimeInfo{Nanoseconds: proto.Int64(9)}},
			}}}
		}), cat(fVarint(1, 9), fMsg(9, fMsg(1, fID(1, "io-1"), fID(3, "f-1"), fID(4, "a-1"), fMsg(5, fMsg(1, fVarint(1, 9))))))},
		{"RESCIND_INVERSE_OFFER", withType(sev(schedulerpb.Event_RESCIND_INVERSE_OFFER), func(e *schedulerpb.Event) {
			e.RescindInverseOffer = &schedulerpb.Event_RescindInverseOffer{InverseOfferId: &mesospb.OfferID{Value: str("io-1")}}
		}), cat(fVarint(1, 10), fMsg(10, fID(1, "io-1")))},
		{"UPDATE_OPERATION_STATUS", withType(sev(schedulerpb.Event_UPDATE_OPERATION_STATUS), func(e *schedulerpb.Event) {
			e.UpdateOperationStatus = &schedulerpb.Event_UpdateOperationStatus{Status: &mesospb.OperationStatus{
				OperationId: &mesospb.OperationID{Value: str("op-1")},
				State:       mesospb.OperationState_OPERATION_FINISHED.Enum(),
				Uuid:        &mesospb.UUID{Value: goldenUUID},
				AgentId:     &mesospb.AgentID{Value: str("a-1")},
			}}
		}), cat(fVarint(1, 11), fMsg(11, fMsg(1, fID(1, "op-1"), fVarint(2, 2), fMsg(5, fBytes(1, goldenUUID)), fID(6, "a-1"))))},
	}
}

func schedulerCallGoldens() []golden {
	fid := &mesospb.FrameworkID{Value: str("f-1")}
	call := func(t schedulerpb.Call_Type, set func(*schedulerpb.Call)) *schedulerpb.Call {
		c := &schedulerpb.Call{FrameworkId: fid, Type: t.Enum()}
		if set != nil {
			set(c)
		}
		return c
	}
	head := func(t uint64) []byte { return cat(fID(1, "f-1"), fVarint(2, t)) }
	return []golden{
		{"SUBSCRIBE", &schedulerpb.Call{Type: schedulerpb.Call_SUBSCRIBE.Enum(), Subscribe: &schedulerpb.Call_Subscribe{
			FrameworkInfo: goldenFrameworkInfo(), SuppressedRoles: []string{"batch"},
		}}, cat(fVarint(2, 1), fMsg(3, fBytes(1, wireFrameworkInfo()), fStr(2, "batch")))},
		{"TEARDOWN", call(schedulerpb.Call_TEARDOWN, nil), head(2)},
		{"ACCEPT", call(schedulerpb.Call_ACCEPT, func(c *schedulerpb.Call) {
			c.Accept = &schedulerpb.Call_Accept{
				OfferIds: []*mesospb.OfferID{{Value: str("o-1")}, {Value: str("o-2")}},
				Operations: []*mesospb.Offer_Operation{{
					Type:   mesospb.Offer_Operation_LAUNCH.Enum(),
					Launch: &mesospb.Offer_Operation_Launch{TaskInfos: []*mesospb.TaskInfo{goldenTaskInfo()}},
				}},
				Filters: &mesospb.Filters{RefuseSeconds: f64(60)},
			}
		}), cat(head(3), fMsg(4,
			fID(1, "o-1"), fID(1, "o-2"),
			fMsg(2, fVarint(1, 1), fMsg(2, fBytes(1, wireTaskInfo()))),
			fMsg(3, fDouble(1, 60)),
		))},
		{"DECLINE", call(schedulerpb.Call_DECLINE, func(c *schedulerpb.Call) {
			c.Decline = &schedulerpb.Call_Decline{OfferIds: []*mesospb.OfferID{{Value: str("o-1")}}, Filters: &mesospb.Filters{RefuseSeconds: f64(5)}}
		}), cat(head(4), fMsg(5, fID(1, "o-1"), fMsg(2, fDouble(1, 5))))},
		{"REVIVE", call(schedulerpb.Call_REVIVE, func(c *schedulerpb.Call) {
			c.Revive = &schedulerpb.Call_Revive{Roles: []string{"web"}}
		}), cat(head(5), fMsg(15, fStr(1, "web")))},
		{"KILL", call(schedulerpb.Call_KILL, func(c *schedulerpb.Call) {
			c.Kill = &schedulerpb.Call_Kill{TaskId: &mesospb.TaskID{Value: str("t-1")}, AgentId: &mesospb.AgentID{Value: str("a-1")}}
		}), cat(head(6), fMsg(6, fID(1, "t-1"), fID(2, "a-1")))},
		{"SHUTDOWN", call(schedulerpb.Call_SHUTDOWN, func(c *schedulerpb.Call) {
			c.Shutdown = &schedulerpb.Call_Shutdown{ExecutorId: &mesospb.ExecutorID{Value: str("e-1")}, AgentId: &mesospb.AgentID{Value: str("a-1")}}
		}), cat(head(7), fMsg(7, fID(1, "e-1"), fID(2, "a-1")))},
		{"ACKNOWLEDGE", call(schedulerpb.Call_ACKNOWLEDGE, func(c *schedulerpb.Call) {
			c.Acknowledge = &schedulerpb.Call_Acknowledge{
				AgentId: &mesospb.AgentID{Value: str("a-1")}, TaskId: &mesospb.TaskID{Value: str("t-1")}, Uuid: goldenUUID,
			}
		}), cat(head(8), fMsg(8, fID(1, "a-1"), fID(2, "t-1"), fBytes(3, goldenUUID)))},
		{"RECONCILE", call(schedulerpb.Call_RECONCILE, func(c *schedulerpb.Call) {
			c.Reconcile = &schedulerpb.Call_Reconcile{Tasks: []*schedulerpb.Call_Reconcile_Task{{
				TaskId: &mesospb.TaskID{Value: str("t-1")}, AgentId: &mesospb.AgentID{Value: str("a-1")},
			}}}
		}), cat(head(9), fMsg(9, fMsg(1, fID(1, "t-1"), fID(2, "a-1"))))},
		{"MESSAGE", call(schedulerpb.Call_MESSAGE, func(c *schedulerpb.Call) {
			c.Message = &schedulerpb.Call_Message{
				AgentId: &mesospb.AgentID{Value: str("a-1")}, ExecutorId: &mesospb.ExecutorID{Value: str("e-1")}, Data: []byte("x"),
			}
		}), cat(head(10), fMsg(10, fID(1, "a-1"), fID(2, "e-1"), fBytes(3, []byte("x"))))},
		{"SUPPRESS", call(schedulerpb.Call_SUPPRESS, func(c *schedulerpb.Call) {
			c.Suppress = &schedulerpb.Call_Suppress{Roles: []string{"web"}}
		}), cat(head(12), fMsg(16, fStr(1, "web")))},
		{"ACKNOWLEDGE_OPERATION_STATUS", call(schedulerpb.Call_ACKNOWLEDGE_OPERATION_STATUS, func(c *schedulerpb.Call) {
			c.AcknowledgeOperationStatus = &schedulerpb.Call_AcknowledgeOperationStatus{
				AgentId: &mesospb.AgentID{Value: str("a-1")}, Uuid: goldenUUID, OperationId: &mesospb.OperationID{Value: str("op-1")},
			}
		}), cat(head(15), fMsg(17, fID(1, "a-1"), fBytes(3, goldenUUID), fID(4, "op-1")))},
		{"RECONCILE_OPERATIONS", call(schedulerpb.Call_RECONCILE_OPERATIONS, func(c *schedulerpb.Call) {
			c.ReconcileOperations = &schedulerpb.Call_ReconcileOperations{Operations: []*schedulerpb.Call_ReconcileOperations_Operation{{
				OperationId: &mesospb.OperationID{Value: str("op-1")},
			}}}
		}), cat(head(16), fMsg(18, fMsg(1, fID(1, "op-1"))))},
		{"UPDATE_FRAMEWORK", call(schedulerpb.Call_UPDATE_FRAMEWORK, func(c *schedulerpb.Call) {
			c.UpdateFramework = &schedulerpb.Call_UpdateFramework{FrameworkInfo: goldenFrameworkInfo(), SuppressedRoles: []string{"web"}}
		}), cat(head(17), fMsg(19, fBytes(1, wireFrameworkInfo()), fStr(2, "web")))},
	}
}

func executorGoldens() []golden {
	ids := func(c *executorpb.Call) *executorpb.Call {
		c.ExecutorId = &mesospb.ExecutorID{Value: str("e-1")}
		c.FrameworkId = &mesospb.FrameworkID{Value: str("f-1")}
		return c
	}
	head := func(t uint64) []byte { return cat(fID(1, "e-1"), fID(2, "f-1"), fVarint(3, t)) }
	ev := func(t executorpb.Event_Type) *executorpb.Event { return &executorpb.Event{Type: t.Enum()} }
	update := &executorpb.Call_Update{Status: goldenTaskStatus()}
	return []golden{
		{"Call SUBSCRIBE", ids(&executorpb.Call{Type: executorpb.Call_SUBSCRIBE.Enum(), Subscribe: &executorpb.Call_Subscribe{
			UnacknowledgedTasks:   []*mesospb.TaskInfo{goldenTaskInfo()},
			UnacknowledgedUpdates: []*executorpb.Call_Update{update},
		}}), cat(head(1), fMsg(4, fBytes(1, wireTaskInfo()), fMsg(2, fBytes(1, wireTaskStatus()))))},
		{"Call UPDATE", ids(&executorpb.Call{Type: executorpb.Call_UPDATE.Enum(), Update: update}),
			cat(head(2), fMsg(5, fBytes(1, wireTaskStatus())))},
		{"Call MESSAGE", ids(&executorpb.Call{Type: executorpb.Call_MESSAGE.Enum(), Message: &executorpb.Call_Message{Data: []byte("x")}}),
			cat(head(3), fMsg(6, fBytes(2, []byte("x"))))},
		{"Call HEARTBEAT", ids(&executorpb.Call{Type: executorpb.Call_HEARTBEAT.Enum()}), head(4)},
		{"Event SUBSCRIBED", func() *executorpb.Event {
			e := ev(executorpb.Event_SUBSCRIBED)
			e.Subscribed = &executorpb.Event_Subscribed{
				ExecutorInfo: &mesospb.ExecutorInfo{
					ExecutorId:  &mesospb.ExecutorID{Value: str("e-1")},
					FrameworkId: &mesospb.FrameworkID{Value: str("f-1")},
					Command:     &mesospb.CommandInfo{Value: str("./exec")},
					Type:        mesospb.ExecutorInfo_CUSTOM.Enum(),
				},
				FrameworkInfo: goldenFrameworkInfo(),
				AgentInfo: &mesospb.AgentInfo{
					Hostname: str("host1"), Port: proto.Int32(5051), Id: &mesospb.AgentID{Value: str("a-1")},
				},
				ContainerId: &mesospb.ContainerID{Value: str("c-1")},
			}
			return e
		}(), cat(fVarint(1, 1), fMsg(2,
			fMsg(1, fID(1, "e-1"), fMsg(7, fStr(3, "./exec")), fID(8, "f-1"), fVarint(15, 2)),
			fBytes(2, wireFrameworkInfo()),
			fMsg(3, fStr(1, "host1"), fID(6, "a-1"), fVarint(8, 5051)),
			fID(4, "c-1"),
		))},
		{"Event LAUNCH", func() *executorpb.Event {
			e := ev(executorpb.Event_LAUNCH)
			e.Launch = &executorpb.Event_Launch{Task: goldenTaskInfo()}
			return e
		}(), cat(fVarint(1, 2), fMsg(4, fBytes(1, wireTaskInfo())))},
		{"Event LAUNCH_GROUP", func() *executorpb.Event {
			e := ev(executorpb.Event_LAUNCH_GROUP)
			e.LaunchGroup = &executorpb.Event_LaunchGroup{TaskGroup: &mesospb.TaskGroupInfo{Tasks: []*mesospb.TaskInfo{goldenTaskInfo()}}}
			return e
		}(), cat(fVarint(1, 8), fMsg(8, fMsg(1, fBytes(1, wireTaskInfo()))))},
		{"Event KILL", func() *executorpb.Event {
			e := ev(executorpb.Event_KILL)
			e.Kill = &executorpb.Event_Kill{
				TaskId:     &mesospb.TaskID{Value: str("t-1")},
				KillPolicy: &mesospb.KillPolicy{GracePeriod: &mesospb.DurationInfo{Nanoseconds: proto.Int64(3)}},
			}
			return e
		}(), cat(fVarint(1, 3), fMsg(5, fID(1, "t-1"), fMsg(2, fMsg(1, fVarint(1, 3)))))},
		{"Event ACKNOWLEDGED", func() *executorpb.Event {
			e := ev(executorpb.Event_ACKNOWLEDGED)
			e.Acknowledged = &executorpb.Event_Acknowledged{TaskId: &mesospb.TaskID{Value: str("t-1")}, Uuid: goldenUUID}
			return e
		}(), cat(fVarint(1, 4), fMsg(3, fID(1, "t-1"), fBytes(2, goldenUUID)))},
		{"Event MESSAGE", func() *executorpb.Event {
			e := ev(executorpb.Event_MESSAGE)
			e.Message = &executorpb.Event_Message{Data: []byte("x")}
			return e
		}(), cat(fVarint(1, 5), fMsg(6, fBytes(1, []byte("x"))))},
		{"Event ERROR", func() *executorpb.Event {
			e := ev(executorpb.Event_ERROR)
			e.Error = &executorpb.Event_Error{Message: str("bad")}
			return e
		}(), cat(fVarint(1, 6), fMsg(7, fStr(1, "bad")))},
		{"Event SHUTDOWN", ev(executorpb.Event_SHUTDOWN), fVarint(1, 7)},
		{"Event HEARTBEAT", ev(executorpb.Event_HEARTBEAT), fVarint(1, 9)},
	}
}

func runGoldens(t *testing.T, cases []golden) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := proto.MarshalOptions{Deterministic: true}.Marshal(tc.msg)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			if !bytes.Equal(got, tc.wire) {
				t.Errorf("encoding differs from the Mesos wire format\n got: %x\nwant: %x", got, tc.wire)
			}
			back := tc.msg.ProtoReflect().New().Interface()
			if err := proto.Unmarshal(tc.wire, back); err != nil {
				t.Fatalf("unmarshal of hand-made bytes: %v", err)
			}
			if !proto.Equal(back, tc.msg) {
				t.Errorf("hand-made bytes decode to\n%v\nwant\n%v", back, tc.msg)
			}
		})
	}
}

func TestGoldenCoreMessages(t *testing.T)    { runGoldens(t, coreGoldens()) }
func TestGoldenSchedulerEvents(t *testing.T) { runGoldens(t, schedulerEventGoldens()) }
func TestGoldenSchedulerCalls(t *testing.T)  { runGoldens(t, schedulerCallGoldens()) }
func TestGoldenExecutorAPI(t *testing.T)     { runGoldens(t, executorGoldens()) }
