package api_test

import (
	"maps"
	"testing"

	"github.com/mesoproject/meso/api/executorpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
)

// Enum numbers travel on the wire in protobuf and enum names in JSON; both
// must be exactly Mesos'. Each table is the complete Mesos v1 value set.
func TestEnumValuesMatchMesos(t *testing.T) {
	cases := []struct {
		name string
		got  map[string]int32
		want map[string]int32
	}{
		{"TaskState", mesospb.TaskState_value, map[string]int32{
			"TASK_STAGING": 6, "TASK_STARTING": 0, "TASK_RUNNING": 1, "TASK_KILLING": 8,
			"TASK_FINISHED": 2, "TASK_FAILED": 3, "TASK_KILLED": 4, "TASK_ERROR": 7, "TASK_LOST": 5,
			"TASK_DROPPED": 9, "TASK_UNREACHABLE": 10, "TASK_GONE": 11, "TASK_GONE_BY_OPERATOR": 12,
			"TASK_UNKNOWN": 13,
		}},
		{"TaskStatus.Source", mesospb.TaskStatus_Source_value, map[string]int32{
			"SOURCE_MASTER": 0, "SOURCE_AGENT": 1, "SOURCE_EXECUTOR": 2,
		}},
		{"TaskStatus.Reason", mesospb.TaskStatus_Reason_value, map[string]int32{
			"REASON_COMMAND_EXECUTOR_FAILED": 0, "REASON_CONTAINER_LAUNCH_FAILED": 21,
			"REASON_CONTAINER_LIMITATION": 19, "REASON_CONTAINER_LIMITATION_DISK": 20,
			"REASON_CONTAINER_LIMITATION_MEMORY": 8, "REASON_CONTAINER_PREEMPTED": 17,
			"REASON_CONTAINER_UPDATE_FAILED": 22, "REASON_MAX_COMPLETION_TIME_REACHED": 33,
			"REASON_EXECUTOR_REGISTRATION_TIMEOUT": 23, "REASON_EXECUTOR_REREGISTRATION_TIMEOUT": 24,
			"REASON_EXECUTOR_TERMINATED": 1, "REASON_EXECUTOR_UNREGISTERED": 2,
			"REASON_FRAMEWORK_REMOVED": 3, "REASON_GC_ERROR": 4, "REASON_INVALID_FRAMEWORKID": 5,
			"REASON_INVALID_OFFERS": 6, "REASON_IO_SWITCHBOARD_EXITED": 27,
			"REASON_MASTER_DISCONNECTED": 7, "REASON_RECONCILIATION": 9, "REASON_RESOURCES_UNKNOWN": 18,
			"REASON_AGENT_DISCONNECTED": 10, "REASON_AGENT_DRAINING": 34, "REASON_AGENT_REMOVED": 11,
			"REASON_AGENT_REMOVED_BY_OPERATOR": 31, "REASON_AGENT_REREGISTERED": 32,
			"REASON_AGENT_RESTARTED": 12, "REASON_AGENT_UNKNOWN": 13,
			"REASON_TASK_KILLED_DURING_LAUNCH": 30, "REASON_TASK_CHECK_STATUS_UPDATED": 28,
			"REASON_TASK_HEALTH_CHECK_STATUS_UPDATED": 29, "REASON_TASK_GROUP_INVALID": 25,
			"REASON_TASK_GROUP_UNAUTHORIZED": 26, "REASON_TASK_INVALID": 14,
			"REASON_TASK_UNAUTHORIZED": 15, "REASON_TASK_UNKNOWN": 16,
		}},
		{"FrameworkInfo.Capability.Type", mesospb.FrameworkInfo_Capability_Type_value, map[string]int32{
			"UNKNOWN": 0, "REVOCABLE_RESOURCES": 1, "TASK_KILLING_STATE": 2, "GPU_RESOURCES": 3,
			"SHARED_RESOURCES": 4, "PARTITION_AWARE": 5, "MULTI_ROLE": 6, "RESERVATION_REFINEMENT": 7,
			"REGION_AWARE": 8,
		}},
		{"AgentInfo.Capability.Type", mesospb.AgentInfo_Capability_Type_value, map[string]int32{
			"UNKNOWN": 0, "MULTI_ROLE": 1, "HIERARCHICAL_ROLE": 2, "RESERVATION_REFINEMENT": 3,
			"RESOURCE_PROVIDER": 4, "RESIZE_VOLUME": 5, "AGENT_OPERATION_FEEDBACK": 6,
			"AGENT_DRAINING": 7, "TASK_RESOURCE_LIMITS": 8,
		}},
		{"MasterInfo.Capability.Type", mesospb.MasterInfo_Capability_Type_value, map[string]int32{
			"UNKNOWN": 0, "AGENT_UPDATE": 1, "AGENT_DRAINING": 2, "QUOTA_V2": 3,
		}},
		{"Value.Type", mesospb.Value_Type_value, map[string]int32{
			"SCALAR": 0, "RANGES": 1, "SET": 2, "TEXT": 3,
		}},
		{"Offer.Operation.Type", mesospb.Offer_Operation_Type_value, map[string]int32{
			"UNKNOWN": 0, "LAUNCH": 1, "LAUNCH_GROUP": 6, "RESERVE": 2, "UNRESERVE": 3, "CREATE": 4,
			"DESTROY": 5, "GROW_VOLUME": 11, "SHRINK_VOLUME": 12, "CREATE_DISK": 13, "DESTROY_DISK": 14,
		}},
		{"OperationState", mesospb.OperationState_value, map[string]int32{
			"OPERATION_UNSUPPORTED": 0, "OPERATION_PENDING": 1, "OPERATION_FINISHED": 2,
			"OPERATION_FAILED": 3, "OPERATION_ERROR": 4, "OPERATION_DROPPED": 5,
			"OPERATION_UNREACHABLE": 6, "OPERATION_GONE_BY_OPERATOR": 7, "OPERATION_RECOVERING": 8,
			"OPERATION_UNKNOWN": 9,
		}},
		{"Resource.ReservationInfo.Type", mesospb.Resource_ReservationInfo_Type_value, map[string]int32{
			"UNKNOWN": 0, "STATIC": 1, "DYNAMIC": 2,
		}},
		{"Resource.DiskInfo.Source.Type", mesospb.Resource_DiskInfo_Source_Type_value, map[string]int32{
			"UNKNOWN": 0, "PATH": 1, "MOUNT": 2, "BLOCK": 3, "RAW": 4,
		}},
		{"ExecutorInfo.Type", mesospb.ExecutorInfo_Type_value, map[string]int32{
			"UNKNOWN": 0, "DEFAULT": 1, "CUSTOM": 2,
		}},
		{"ContainerInfo.Type", mesospb.ContainerInfo_Type_value, map[string]int32{"DOCKER": 1, "MESOS": 2}},
		{"ContainerInfo.DockerInfo.Network", mesospb.ContainerInfo_DockerInfo_Network_value, map[string]int32{
			"HOST": 1, "BRIDGE": 2, "NONE": 3, "USER": 4,
		}},
		{"Image.Type", mesospb.Image_Type_value, map[string]int32{"APPC": 1, "DOCKER": 2}},
		{"Volume.Mode", mesospb.Volume_Mode_value, map[string]int32{"RW": 1, "RO": 2}},
		{"Volume.Source.Type", mesospb.Volume_Source_Type_value, map[string]int32{
			"UNKNOWN": 0, "DOCKER_VOLUME": 1, "HOST_PATH": 4, "SANDBOX_PATH": 2, "SECRET": 3, "CSI_VOLUME": 5,
		}},
		{"NetworkInfo.Protocol", mesospb.NetworkInfo_Protocol_value, map[string]int32{"IPv4": 1, "IPv6": 2}},
		{"Environment.Variable.Type", mesospb.Environment_Variable_Type_value, map[string]int32{
			"UNKNOWN": 0, "VALUE": 1, "SECRET": 2,
		}},
		{"Secret.Type", mesospb.Secret_Type_value, map[string]int32{"UNKNOWN": 0, "REFERENCE": 1, "VALUE": 2}},
		{"CheckInfo.Type", mesospb.CheckInfo_Type_value, map[string]int32{"UNKNOWN": 0, "COMMAND": 1, "HTTP": 2, "TCP": 3}},
		{"HealthCheck.Type", mesospb.HealthCheck_Type_value, map[string]int32{"UNKNOWN": 0, "COMMAND": 1, "HTTP": 2, "TCP": 3}},
		{"DiscoveryInfo.Visibility", mesospb.DiscoveryInfo_Visibility_value, map[string]int32{
			"FRAMEWORK": 0, "CLUSTER": 1, "EXTERNAL": 2,
		}},
		{"MachineInfo.Mode", mesospb.MachineInfo_Mode_value, map[string]int32{"UP": 1, "DRAINING": 2, "DOWN": 3}},
		{"Status", mesospb.Status_value, map[string]int32{
			"DRIVER_NOT_STARTED": 1, "DRIVER_RUNNING": 2, "DRIVER_ABORTED": 3, "DRIVER_STOPPED": 4,
		}},
		{"scheduler.Event.Type", schedulerpb.Event_Type_value, map[string]int32{
			"UNKNOWN": 0, "SUBSCRIBED": 1, "OFFERS": 2, "INVERSE_OFFERS": 9, "RESCIND": 3,
			"RESCIND_INVERSE_OFFER": 10, "UPDATE": 4, "UPDATE_OPERATION_STATUS": 11, "MESSAGE": 5,
			"FAILURE": 6, "ERROR": 7, "HEARTBEAT": 8,
		}},
		{"scheduler.Call.Type", schedulerpb.Call_Type_value, map[string]int32{
			"UNKNOWN": 0, "SUBSCRIBE": 1, "TEARDOWN": 2, "ACCEPT": 3, "DECLINE": 4,
			"ACCEPT_INVERSE_OFFERS": 13, "DECLINE_INVERSE_OFFERS": 14, "REVIVE": 5, "KILL": 6,
			"SHUTDOWN": 7, "ACKNOWLEDGE": 8, "ACKNOWLEDGE_OPERATION_STATUS": 15, "RECONCILE": 9,
			"RECONCILE_OPERATIONS": 16, "MESSAGE": 10, "REQUEST": 11, "SUPPRESS": 12,
			"UPDATE_FRAMEWORK": 17,
		}},
		{"scheduler.Response.Type", schedulerpb.Response_Type_value, map[string]int32{
			"UNKNOWN": 0, "RECONCILE_OPERATIONS": 1,
		}},
		{"executor.Event.Type", executorpb.Event_Type_value, map[string]int32{
			"UNKNOWN": 0, "SUBSCRIBED": 1, "LAUNCH": 2, "LAUNCH_GROUP": 8, "KILL": 3,
			"ACKNOWLEDGED": 4, "MESSAGE": 5, "ERROR": 6, "SHUTDOWN": 7, "HEARTBEAT": 9,
		}},
		{"executor.Call.Type", executorpb.Call_Type_value, map[string]int32{
			"UNKNOWN": 0, "SUBSCRIBE": 1, "UPDATE": 2, "MESSAGE": 3, "HEARTBEAT": 4,
		}},
	}
	for _, tc := range cases {
		if !maps.Equal(tc.got, tc.want) {
			t.Errorf("%s values = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}
