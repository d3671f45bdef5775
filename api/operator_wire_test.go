package api_test

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/mesoproject/meso/api/agentpb"
	"github.com/mesoproject/meso/api/maintenancepb"
	"github.com/mesoproject/meso/api/masterpb"
	"github.com/mesoproject/meso/api/mesospb"
)

// Golden wire tests of the operator API (mesos.v1.master, mesos.v1.agent):
// the field numbers of every payload we declare, the enum numbers of every
// call, response and event type.

func masterCallGoldens() []golden {
	call := func(t masterpb.Call_Type) *masterpb.Call { return &masterpb.Call{Type: t.Enum()} }
	dur := &mesospb.DurationInfo{Nanoseconds: proto.Int64(5)}
	return []golden{
		{"GET_STATE", call(masterpb.Call_GET_STATE), fVarint(1, 9)},
		{"UPDATE_MAINTENANCE_SCHEDULE", func() *masterpb.Call {
			c := call(masterpb.Call_UPDATE_MAINTENANCE_SCHEDULE)
			c.UpdateMaintenanceSchedule = &masterpb.Call_UpdateMaintenanceSchedule{Schedule: &maintenancepb.Schedule{Windows: []*maintenancepb.Window{{
				MachineIds:     []*mesospb.MachineID{{Hostname: str("h"), Ip: str("1.2.3.4")}},
				Unavailability: &mesospb.Unavailability{Start: &mesospb.TimeInfo{Nanoseconds: proto.Int64(5)}, Duration: dur},
			}}}}
			return c
		}(), cat(fVarint(1, 25), fMsg(11, fMsg(1, fMsg(1, fMsg(1, fStr(1, "h"), fStr(2, "1.2.3.4")),
			fMsg(2, fMsg(1, fVarint(1, 5)), fMsg(2, fVarint(1, 5)))))))},
		{"START_MAINTENANCE", func() *masterpb.Call {
			c := call(masterpb.Call_START_MAINTENANCE)
			c.StartMaintenance = &masterpb.Call_StartMaintenance{Machines: []*mesospb.MachineID{{Hostname: str("h")}}}
			return c
		}(), cat(fVarint(1, 26), fMsg(12, fMsg(1, fStr(1, "h"))))},
		{"STOP_MAINTENANCE", func() *masterpb.Call {
			c := call(masterpb.Call_STOP_MAINTENANCE)
			c.StopMaintenance = &masterpb.Call_StopMaintenance{Machines: []*mesospb.MachineID{{Ip: str("1.2.3.4")}}}
			return c
		}(), cat(fVarint(1, 27), fMsg(13, fMsg(1, fStr(2, "1.2.3.4"))))},
		{"DRAIN_AGENT", func() *masterpb.Call {
			c := call(masterpb.Call_DRAIN_AGENT)
			// max_grace_period is a google.protobuf.Duration in Mesos:
			// seconds 1, nanos 2.
			c.DrainAgent = &masterpb.Call_DrainAgent{AgentId: &mesospb.AgentID{Value: str("a")},
				MaxGracePeriod: &durationpb.Duration{Seconds: 5, Nanos: 7}, MarkGone: proto.Bool(true)}
			return c
		}(), cat(fVarint(1, 37), fMsg(21, fID(1, "a"), fMsg(2, fVarint(1, 5), fVarint(2, 7)), fVarint(3, 1)))},
		{"GET_OPERATIONS", call(masterpb.Call_GET_OPERATIONS), fVarint(1, 33)},
		{"SUBSCRIBE", call(masterpb.Call_SUBSCRIBE), fVarint(1, 18)},
		{"GET_METRICS", func() *masterpb.Call {
			c := call(masterpb.Call_GET_METRICS)
			c.GetMetrics = &masterpb.Call_GetMetrics{Timeout: dur}
			return c
		}(), cat(fVarint(1, 4), fMsg(2, fMsg(1, fVarint(1, 5))))},
		{"SET_LOGGING_LEVEL", func() *masterpb.Call {
			c := call(masterpb.Call_SET_LOGGING_LEVEL)
			c.SetLoggingLevel = &masterpb.Call_SetLoggingLevel{Level: u32(2), Duration: dur}
			return c
		}(), cat(fVarint(1, 6), fMsg(3, fVarint(1, 2), fMsg(2, fVarint(1, 5))))},
		{"LIST_FILES", func() *masterpb.Call {
			c := call(masterpb.Call_LIST_FILES)
			c.ListFiles = &masterpb.Call_ListFiles{Path: str("/a")}
			return c
		}(), cat(fVarint(1, 7), fMsg(4, fStr(1, "/a")))},
		{"READ_FILE", func() *masterpb.Call {
			c := call(masterpb.Call_READ_FILE)
			c.ReadFile = &masterpb.Call_ReadFile{Path: str("/a"), Offset: proto.Uint64(3), Length: proto.Uint64(4)}
			return c
		}(), cat(fVarint(1, 8), fMsg(5, fStr(1, "/a"), fVarint(2, 3), fVarint(3, 4)))},
		{"UPDATE_WEIGHTS", func() *masterpb.Call {
			c := call(masterpb.Call_UPDATE_WEIGHTS)
			c.UpdateWeights = &masterpb.Call_UpdateWeights{WeightInfos: []*mesospb.WeightInfo{{Weight: f64(2), Role: str("web")}}}
			return c
		}(), cat(fVarint(1, 16), fMsg(6, fMsg(1, fDouble(1, 2), fStr(2, "web"))))},
		{"TEARDOWN", func() *masterpb.Call {
			c := call(masterpb.Call_TEARDOWN)
			c.Teardown = &masterpb.Call_Teardown{FrameworkId: &mesospb.FrameworkID{Value: str("f-1")}}
			return c
		}(), cat(fVarint(1, 31), fMsg(16, fID(1, "f-1")))},
		{"MARK_AGENT_GONE", func() *masterpb.Call {
			c := call(masterpb.Call_MARK_AGENT_GONE)
			c.MarkAgentGone = &masterpb.Call_MarkAgentGone{AgentId: &mesospb.AgentID{Value: str("a-1")}}
			return c
		}(), cat(fVarint(1, 32), fMsg(17, fID(1, "a-1")))},
	}
}

func goldenTask() *mesospb.Task {
	return &mesospb.Task{
		Name: str("t"), TaskId: &mesospb.TaskID{Value: str("t-1")},
		FrameworkId: &mesospb.FrameworkID{Value: str("f-1")}, AgentId: &mesospb.AgentID{Value: str("a-1")},
		State: mesospb.TaskState_TASK_RUNNING.Enum(),
	}
}

func wireTask() []byte {
	return cat(fStr(1, "t"), fID(2, "t-1"), fID(3, "f-1"), fID(5, "a-1"), fVarint(6, 1))
}

func goldenAgentEntry() *masterpb.Response_GetAgents_Agent {
	return &masterpb.Response_GetAgents_Agent{
		AgentInfo: &mesospb.AgentInfo{Hostname: str("h")},
		Active:    proto.Bool(true), Version: str("1.0"), Pid: str("slave(1)@h:5051"),
		RegisteredTime:     &mesospb.TimeInfo{Nanoseconds: proto.Int64(7)},
		TotalResources:     []*mesospb.Resource{scalarResource("cpus", 1, "r")},
		AllocatedResources: []*mesospb.Resource{scalarResource("cpus", 1, "r")},
		OfferedResources:   []*mesospb.Resource{scalarResource("cpus", 1, "r")},
	}
}

func wireAgentEntry() []byte {
	return cat(fMsg(1, fStr(1, "h")), fBool(2, true), fStr(3, "1.0"), fStr(4, "slave(1)@h:5051"),
		fMsg(5, fVarint(1, 7)), wireScalarResource(7, "cpus", 1, "r"), wireScalarResource(8, "cpus", 1, "r"),
		wireScalarResource(9, "cpus", 1, "r"))
}

func goldenFrameworkEntry() *masterpb.Response_GetFrameworks_Framework {
	return &masterpb.Response_GetFrameworks_Framework{
		FrameworkInfo: goldenFrameworkInfo(), Active: proto.Bool(true), Connected: proto.Bool(false),
		Recovered: proto.Bool(true), RegisteredTime: &mesospb.TimeInfo{Nanoseconds: proto.Int64(1)},
		UnregisteredTime:   &mesospb.TimeInfo{Nanoseconds: proto.Int64(2)},
		AllocatedResources: []*mesospb.Resource{scalarResource("cpus", 1, "r")},
		OfferedResources:   []*mesospb.Resource{scalarResource("mem", 2, "r")},
	}
}

func wireFrameworkEntry() []byte {
	return cat(fBytes(1, wireFrameworkInfo()), fBool(2, true), fBool(3, false), fMsg(4, fVarint(1, 1)),
		fMsg(6, fVarint(1, 2)), wireScalarResource(9, "cpus", 1, "r"), wireScalarResource(10, "mem", 2, "r"),
		fBool(11, true))
}

func masterResponseGoldens() []golden {
	resp := func(t masterpb.Response_Type) *masterpb.Response { return &masterpb.Response{Type: t.Enum()} }
	return []golden{
		{"GET_MAINTENANCE_STATUS", func() *masterpb.Response {
			r := resp(masterpb.Response_GET_MAINTENANCE_STATUS)
			r.GetMaintenanceStatus = &masterpb.Response_GetMaintenanceStatus{Status: &maintenancepb.ClusterStatus{
				DrainingMachines: []*maintenancepb.ClusterStatus_DrainingMachine{{Id: &mesospb.MachineID{Hostname: str("h")},
					Statuses: []*maintenancepb.InverseOfferStatus{{Status: maintenancepb.InverseOfferStatus_ACCEPT.Enum(),
						FrameworkId: &mesospb.FrameworkID{Value: str("f")}, Timestamp: &mesospb.TimeInfo{Nanoseconds: proto.Int64(5)}}}}},
				DownMachines: []*mesospb.MachineID{{Hostname: str("d")}},
			}}
			return r
		}(), cat(fVarint(1, 16), fMsg(17, fMsg(1, fMsg(1, fMsg(1, fStr(1, "h")), fMsg(2, fVarint(1, 2), fID(2, "f"), fMsg(3, fVarint(1, 5)))),
			fMsg(2, fStr(1, "d")))))},
		// GetAgents.Agent: deactivated 12, drain_info 13 (DrainInfo: state
		// 1, config 2; DrainConfig: max_grace_period 1 as DurationInfo,
		// mark_gone 2).
		{"GET_AGENTS drain", func() *masterpb.Response {
			r := resp(masterpb.Response_GET_AGENTS)
			r.GetAgents = &masterpb.Response_GetAgents{Agents: []*masterpb.Response_GetAgents_Agent{{
				AgentInfo: &mesospb.AgentInfo{Hostname: str("h")}, Active: proto.Bool(false), Version: str("v"),
				Deactivated: proto.Bool(true),
				DrainInfo: &mesospb.DrainInfo{State: mesospb.DrainState_DRAINED.Enum(), Config: &mesospb.DrainConfig{
					MaxGracePeriod: &mesospb.DurationInfo{Nanoseconds: proto.Int64(5)}, MarkGone: proto.Bool(true)}},
			}}}
			return r
		}(), cat(fVarint(1, 9), fMsg(10, fMsg(1, fMsg(1, fStr(1, "h")), fVarint(2, 0), fStr(3, "v"), fVarint(12, 1), fMsg(13, fVarint(1, 2), fMsg(2, fMsg(1, fVarint(1, 5)), fVarint(2, 1))))))},
		{"GET_MAINTENANCE_SCHEDULE", func() *masterpb.Response {
			r := resp(masterpb.Response_GET_MAINTENANCE_SCHEDULE)
			r.GetMaintenanceSchedule = &masterpb.Response_GetMaintenanceSchedule{Schedule: &maintenancepb.Schedule{}}
			return r
		}(), cat(fVarint(1, 17), fMsg(18, fMsg(1)))},
		{"GET_HEALTH", func() *masterpb.Response {
			r := resp(masterpb.Response_GET_HEALTH)
			r.GetHealth = &masterpb.Response_GetHealth{Healthy: proto.Bool(true)}
			return r
		}(), cat(fVarint(1, 1), fMsg(2, fBool(1, true)))},
		{"GET_FLAGS", func() *masterpb.Response {
			r := resp(masterpb.Response_GET_FLAGS)
			r.GetFlags = &masterpb.Response_GetFlags{Flags: []*mesospb.Flag{{Name: str("a"), Value: str("b")}}}
			return r
		}(), cat(fVarint(1, 2), fMsg(3, fMsg(1, fStr(1, "a"), fStr(2, "b"))))},
		{"GET_VERSION", func() *masterpb.Response {
			r := resp(masterpb.Response_GET_VERSION)
			r.GetVersion = &masterpb.Response_GetVersion{VersionInfo: &mesospb.VersionInfo{Version: str("1")}}
			return r
		}(), cat(fVarint(1, 3), fMsg(4, fMsg(1, fStr(1, "1"))))},
		{"GET_METRICS", func() *masterpb.Response {
			r := resp(masterpb.Response_GET_METRICS)
			r.GetMetrics = &masterpb.Response_GetMetrics{Metrics: []*mesospb.Metric{{Name: str("m"), Value: f64(1)}}}
			return r
		}(), cat(fVarint(1, 4), fMsg(5, fMsg(1, fStr(1, "m"), fDouble(2, 1))))},
		{"GET_LOGGING_LEVEL", func() *masterpb.Response {
			r := resp(masterpb.Response_GET_LOGGING_LEVEL)
			r.GetLoggingLevel = &masterpb.Response_GetLoggingLevel{Level: u32(1)}
			return r
		}(), cat(fVarint(1, 5), fMsg(6, fVarint(1, 1)))},
		{"LIST_FILES", func() *masterpb.Response {
			r := resp(masterpb.Response_LIST_FILES)
			r.ListFiles = &masterpb.Response_ListFiles{FileInfos: []*mesospb.FileInfo{{Path: str("/a")}}}
			return r
		}(), cat(fVarint(1, 6), fMsg(7, fMsg(1, fStr(1, "/a"))))},
		{"READ_FILE", func() *masterpb.Response {
			r := resp(masterpb.Response_READ_FILE)
			r.ReadFile = &masterpb.Response_ReadFile{Size: proto.Uint64(9), Data: []byte("x")}
			return r
		}(), cat(fVarint(1, 7), fMsg(8, fVarint(1, 9), fBytes(2, []byte("x"))))},
		{"GET_STATE", func() *masterpb.Response {
			r := resp(masterpb.Response_GET_STATE)
			r.GetState = &masterpb.Response_GetState{
				GetTasks: &masterpb.Response_GetTasks{
					Tasks:            []*mesospb.Task{goldenTask()},
					UnreachableTasks: []*mesospb.Task{goldenTask()},
					CompletedTasks:   []*mesospb.Task{goldenTask()},
				},
				GetExecutors: &masterpb.Response_GetExecutors{Executors: []*masterpb.Response_GetExecutors_Executor{{
					ExecutorInfo: &mesospb.ExecutorInfo{ExecutorId: &mesospb.ExecutorID{Value: str("e")}},
					AgentId:      &mesospb.AgentID{Value: str("a-1")},
				}}},
				GetFrameworks: &masterpb.Response_GetFrameworks{
					Frameworks:          []*masterpb.Response_GetFrameworks_Framework{goldenFrameworkEntry()},
					CompletedFrameworks: []*masterpb.Response_GetFrameworks_Framework{goldenFrameworkEntry()},
				},
				GetAgents: &masterpb.Response_GetAgents{
					Agents:          []*masterpb.Response_GetAgents_Agent{goldenAgentEntry()},
					RecoveredAgents: []*mesospb.AgentInfo{{Hostname: str("h")}},
				},
			}
			return r
		}(), cat(fVarint(1, 8), fMsg(9,
			fMsg(1, fMsg(2, wireTask()), fMsg(3, wireTask()), fMsg(5, wireTask())),
			fMsg(2, fMsg(1, fMsg(1, fID(1, "e")), fID(2, "a-1"))),
			fMsg(3, fBytes(1, wireFrameworkEntry()), fBytes(2, wireFrameworkEntry())),
			fMsg(4, fBytes(1, wireAgentEntry()), fMsg(2, fStr(1, "h"))),
		))},
		{"GET_OPERATIONS", func() *masterpb.Response {
			r := resp(masterpb.Response_GET_OPERATIONS)
			r.GetOperations = &masterpb.Response_GetOperations{}
			return r
		}(), cat(fVarint(1, 19), fMsg(20))},
		{"GET_ROLES", func() *masterpb.Response {
			r := resp(masterpb.Response_GET_ROLES)
			r.GetRoles = &masterpb.Response_GetRoles{Roles: []*mesospb.Role{{Name: str("web"), Weight: f64(1)}}}
			return r
		}(), cat(fVarint(1, 13), fMsg(14, fMsg(1, fStr(1, "web"), fDouble(2, 1))))},
		{"GET_WEIGHTS", func() *masterpb.Response {
			r := resp(masterpb.Response_GET_WEIGHTS)
			r.GetWeights = &masterpb.Response_GetWeights{WeightInfos: []*mesospb.WeightInfo{{Weight: f64(3), Role: str("a")}}}
			return r
		}(), cat(fVarint(1, 14), fMsg(15, fMsg(1, fDouble(1, 3), fStr(2, "a"))))},
		{"GET_MASTER", func() *masterpb.Response {
			r := resp(masterpb.Response_GET_MASTER)
			r.GetMaster = &masterpb.Response_GetMaster{
				MasterInfo: &mesospb.MasterInfo{Id: str("m"), Ip: u32(1), Port: u32(5050)},
				StartTime:  f64(1), ElectedTime: f64(2),
			}
			return r
		}(), cat(fVarint(1, 15), fMsg(16, fMsg(1, fStr(1, "m"), fVarint(2, 1), fVarint(3, 5050)), fDouble(2, 1), fDouble(3, 2)))},
	}
}

func masterEventGoldens() []golden {
	ev := func(t masterpb.Event_Type) *masterpb.Event { return &masterpb.Event{Type: t.Enum()} }
	return []golden{
		{"SUBSCRIBED", func() *masterpb.Event {
			e := ev(masterpb.Event_SUBSCRIBED)
			e.Subscribed = &masterpb.Event_Subscribed{GetState: &masterpb.Response_GetState{}, HeartbeatIntervalSeconds: f64(15)}
			return e
		}(), cat(fVarint(1, 1), fMsg(2, fMsg(1), fDouble(2, 15)))},
		{"TASK_ADDED", func() *masterpb.Event {
			e := ev(masterpb.Event_TASK_ADDED)
			e.TaskAdded = &masterpb.Event_TaskAdded{Task: goldenTask()}
			return e
		}(), cat(fVarint(1, 2), fMsg(3, fMsg(1, wireTask())))},
		{"TASK_UPDATED", func() *masterpb.Event {
			e := ev(masterpb.Event_TASK_UPDATED)
			e.TaskUpdated = &masterpb.Event_TaskUpdated{
				FrameworkId: &mesospb.FrameworkID{Value: str("f-1")},
				Status:      &mesospb.TaskStatus{TaskId: &mesospb.TaskID{Value: str("t-1")}, State: mesospb.TaskState_TASK_FINISHED.Enum()},
				State:       mesospb.TaskState_TASK_FINISHED.Enum(),
			}
			return e
		}(), cat(fVarint(1, 3), fMsg(4, fID(1, "f-1"), fMsg(2, fID(1, "t-1"), fVarint(2, 2)), fVarint(3, 2)))},
		{"AGENT_ADDED", func() *masterpb.Event {
			e := ev(masterpb.Event_AGENT_ADDED)
			e.AgentAdded = &masterpb.Event_AgentAdded{Agent: goldenAgentEntry()}
			return e
		}(), cat(fVarint(1, 4), fMsg(5, fBytes(1, wireAgentEntry())))},
		{"AGENT_REMOVED", func() *masterpb.Event {
			e := ev(masterpb.Event_AGENT_REMOVED)
			e.AgentRemoved = &masterpb.Event_AgentRemoved{AgentId: &mesospb.AgentID{Value: str("a-1")}}
			return e
		}(), cat(fVarint(1, 5), fMsg(6, fID(1, "a-1")))},
		{"FRAMEWORK_ADDED", func() *masterpb.Event {
			e := ev(masterpb.Event_FRAMEWORK_ADDED)
			e.FrameworkAdded = &masterpb.Event_FrameworkAdded{Framework: goldenFrameworkEntry()}
			return e
		}(), cat(fVarint(1, 6), fMsg(7, fBytes(1, wireFrameworkEntry())))},
		{"FRAMEWORK_UPDATED", func() *masterpb.Event {
			e := ev(masterpb.Event_FRAMEWORK_UPDATED)
			e.FrameworkUpdated = &masterpb.Event_FrameworkUpdated{Framework: goldenFrameworkEntry()}
			return e
		}(), cat(fVarint(1, 7), fMsg(8, fBytes(1, wireFrameworkEntry())))},
		{"FRAMEWORK_REMOVED", func() *masterpb.Event {
			e := ev(masterpb.Event_FRAMEWORK_REMOVED)
			e.FrameworkRemoved = &masterpb.Event_FrameworkRemoved{FrameworkInfo: goldenFrameworkInfo()}
			return e
		}(), cat(fVarint(1, 8), fMsg(9, fBytes(1, wireFrameworkInfo())))},
		{"HEARTBEAT", ev(masterpb.Event_HEARTBEAT), fVarint(1, 9)},
	}
}

func agentGoldens() []golden {
	call := func(t agentpb.Call_Type) *agentpb.Call { return &agentpb.Call{Type: t.Enum()} }
	resp := func(t agentpb.Response_Type) *agentpb.Response { return &agentpb.Response{Type: t.Enum()} }
	return []golden{
		{"Call GET_AGENT", call(agentpb.Call_GET_AGENT), fVarint(1, 20)},
		{"Call GET_OPERATIONS", call(agentpb.Call_GET_OPERATIONS), fVarint(1, 31)},
		{"Call LAUNCH_CONTAINER", call(agentpb.Call_LAUNCH_CONTAINER), fVarint(1, 22)},
		{"Call ATTACH_CONTAINER_OUTPUT", call(agentpb.Call_ATTACH_CONTAINER_OUTPUT), fVarint(1, 19)},
		{"Call READ_FILE", func() *agentpb.Call {
			c := call(agentpb.Call_READ_FILE)
			c.ReadFile = &agentpb.Call_ReadFile{Path: str("/a"), Offset: proto.Uint64(0)}
			return c
		}(), cat(fVarint(1, 8), fMsg(5, fStr(1, "/a"), fVarint(2, 0)))},
		{"Call LIST_FILES", func() *agentpb.Call {
			c := call(agentpb.Call_LIST_FILES)
			c.ListFiles = &agentpb.Call_ListFiles{Path: str("/a")}
			return c
		}(), cat(fVarint(1, 7), fMsg(4, fStr(1, "/a")))},
		{"Call SET_LOGGING_LEVEL", func() *agentpb.Call {
			c := call(agentpb.Call_SET_LOGGING_LEVEL)
			c.SetLoggingLevel = &agentpb.Call_SetLoggingLevel{Level: u32(1), Duration: &mesospb.DurationInfo{Nanoseconds: proto.Int64(1)}}
			return c
		}(), cat(fVarint(1, 6), fMsg(3, fVarint(1, 1), fMsg(2, fVarint(1, 1))))},
		{"Call GET_CONTAINERS", func() *agentpb.Call {
			c := call(agentpb.Call_GET_CONTAINERS)
			c.GetContainers = &agentpb.Call_GetContainers{ShowNested: proto.Bool(true), ShowStandalone: proto.Bool(false)}
			return c
		}(), cat(fVarint(1, 10), fMsg(20, fBool(1, true), fBool(2, false)))},
		{"Response GET_STATE", func() *agentpb.Response {
			r := resp(agentpb.Response_GET_STATE)
			r.GetState = &agentpb.Response_GetState{
				GetTasks: &agentpb.Response_GetTasks{
					PendingTasks: []*mesospb.Task{goldenTask()}, QueuedTasks: []*mesospb.Task{goldenTask()},
					LaunchedTasks: []*mesospb.Task{goldenTask()}, TerminatedTasks: []*mesospb.Task{goldenTask()},
					CompletedTasks: []*mesospb.Task{goldenTask()},
				},
				GetExecutors: &agentpb.Response_GetExecutors{
					Executors:          []*agentpb.Response_GetExecutors_Executor{{ExecutorInfo: &mesospb.ExecutorInfo{ExecutorId: &mesospb.ExecutorID{Value: str("e")}}}},
					CompletedExecutors: []*agentpb.Response_GetExecutors_Executor{{ExecutorInfo: &mesospb.ExecutorInfo{ExecutorId: &mesospb.ExecutorID{Value: str("e")}}}},
				},
				GetFrameworks: &agentpb.Response_GetFrameworks{
					Frameworks:          []*agentpb.Response_GetFrameworks_Framework{{FrameworkInfo: goldenFrameworkInfo()}},
					CompletedFrameworks: []*agentpb.Response_GetFrameworks_Framework{{FrameworkInfo: goldenFrameworkInfo()}},
				},
			}
			return r
		}(), cat(fVarint(1, 8), fMsg(9,
			fMsg(1, fMsg(1, wireTask()), fMsg(2, wireTask()), fMsg(3, wireTask()), fMsg(4, wireTask()), fMsg(5, wireTask())),
			fMsg(2, fMsg(1, fMsg(1, fID(1, "e"))), fMsg(2, fMsg(1, fID(1, "e")))),
			fMsg(3, fMsg(1, fBytes(1, wireFrameworkInfo())), fMsg(2, fBytes(1, wireFrameworkInfo()))),
		))},
		{"Response GET_CONTAINERS", func() *agentpb.Response {
			r := resp(agentpb.Response_GET_CONTAINERS)
			r.GetContainers = &agentpb.Response_GetContainers{Containers: []*agentpb.Response_GetContainers_Container{{
				FrameworkId: &mesospb.FrameworkID{Value: str("f-1")}, ExecutorId: &mesospb.ExecutorID{Value: str("e")},
				ExecutorName: str("n"), ContainerId: &mesospb.ContainerID{Value: str("c")},
			}}}
			return r
		}(), cat(fVarint(1, 9), fMsg(10, fMsg(1, fID(1, "f-1"), fID(2, "e"), fStr(3, "n"), fID(4, "c"))))},
		{"Response GET_OPERATIONS", func() *agentpb.Response {
			r := resp(agentpb.Response_GET_OPERATIONS)
			r.GetOperations = &agentpb.Response_GetOperations{}
			return r
		}(), cat(fVarint(1, 17), fMsg(18))},
		{"Response GET_AGENT", func() *agentpb.Response {
			r := resp(agentpb.Response_GET_AGENT)
			r.GetAgent = &agentpb.Response_GetAgent{AgentInfo: &mesospb.AgentInfo{Hostname: str("h")}}
			return r
		}(), cat(fVarint(1, 14), fMsg(15, fMsg(1, fStr(1, "h"))))},
		{"Response READ_FILE", func() *agentpb.Response {
			r := resp(agentpb.Response_READ_FILE)
			r.ReadFile = &agentpb.Response_ReadFile{Size: proto.Uint64(2), Data: []byte("ab")}
			return r
		}(), cat(fVarint(1, 7), fMsg(8, fVarint(1, 2), fBytes(2, []byte("ab"))))},
	}
}

func TestGoldenMasterOperatorCalls(t *testing.T)     { runGoldens(t, masterCallGoldens()) }
func TestGoldenMasterOperatorResponses(t *testing.T) { runGoldens(t, masterResponseGoldens()) }
func TestGoldenMasterOperatorEvents(t *testing.T)    { runGoldens(t, masterEventGoldens()) }
func TestGoldenAgentOperatorAPI(t *testing.T)        { runGoldens(t, agentGoldens()) }

// The call types meso does not implement must still decode by number, so
// that they get a clear answer instead of a parse error.
func TestOperatorCallTypeNumbers(t *testing.T) {
	master := map[string]int32{
		"RESERVE_RESOURCES": 19, "UNRESERVE_RESOURCES": 20, "CREATE_VOLUMES": 21, "DESTROY_VOLUMES": 22,
		"GROW_VOLUME": 34, "SHRINK_VOLUME": 35, "GET_MAINTENANCE_STATUS": 23, "GET_MAINTENANCE_SCHEDULE": 24,
		"UPDATE_MAINTENANCE_SCHEDULE": 25, "START_MAINTENANCE": 26, "STOP_MAINTENANCE": 27, "GET_QUOTA": 28,
		"SET_QUOTA": 29, "REMOVE_QUOTA": 30, "UPDATE_QUOTA": 36, "DRAIN_AGENT": 37, "DEACTIVATE_AGENT": 38,
		"REACTIVATE_AGENT": 39, "TEARDOWN": 31, "MARK_AGENT_GONE": 32, "GET_OPERATIONS": 33,
	}
	for name, num := range master {
		if got := masterpb.Call_Type_value[name]; got != num {
			t.Errorf("master Call.%s = %d, want %d", name, got, num)
		}
	}
	agent := map[string]int32{
		"GET_RESOURCE_PROVIDERS": 26, "LAUNCH_NESTED_CONTAINER": 14, "WAIT_NESTED_CONTAINER": 15,
		"KILL_NESTED_CONTAINER": 16, "REMOVE_NESTED_CONTAINER": 21, "LAUNCH_NESTED_CONTAINER_SESSION": 17,
		"ATTACH_CONTAINER_INPUT": 18, "ATTACH_CONTAINER_OUTPUT": 19, "LAUNCH_CONTAINER": 22, "WAIT_CONTAINER": 23,
		"KILL_CONTAINER": 24, "REMOVE_CONTAINER": 25, "ADD_RESOURCE_PROVIDER_CONFIG": 27,
		"UPDATE_RESOURCE_PROVIDER_CONFIG": 28, "REMOVE_RESOURCE_PROVIDER_CONFIG": 29,
		"MARK_RESOURCE_PROVIDER_GONE": 32, "PRUNE_IMAGES": 30,
	}
	for name, num := range agent {
		if got := agentpb.Call_Type_value[name]; got != num {
			t.Errorf("agent Call.%s = %d, want %d", name, got, num)
		}
	}
}

func TestGoldenAgentActivationCalls(t *testing.T) {
	runGoldens(t, []golden{
		{"DEACTIVATE_AGENT", &masterpb.Call{Type: masterpb.Call_DEACTIVATE_AGENT.Enum(),
			DeactivateAgent: &masterpb.Call_DeactivateAgent{AgentId: &mesospb.AgentID{Value: str("a-1")}}},
			cat(fVarint(1, 38), fMsg(22, fID(1, "a-1")))},
		{"REACTIVATE_AGENT", &masterpb.Call{Type: masterpb.Call_REACTIVATE_AGENT.Enum(),
			ReactivateAgent: &masterpb.Call_ReactivateAgent{AgentId: &mesospb.AgentID{Value: str("a-1")}}},
			cat(fVarint(1, 39), fMsg(23, fID(1, "a-1")))},
	})
}
