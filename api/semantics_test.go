package api_test

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/executorpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
)

// Real Mesos clients reject an Offer without hostname; so must we.
func TestUnmarshalRejectsOfferWithoutHostname(t *testing.T) {
	offer := goldenOffer()
	offer.Hostname = nil
	b, err := proto.MarshalOptions{AllowPartial: true}.Marshal(offer)
	if err != nil {
		t.Fatalf("partial marshal: %v", err)
	}
	err = proto.Unmarshal(b, &mesospb.Offer{})
	if err == nil {
		t.Fatal("Offer without hostname decoded without error")
	}
	if !errors.Is(err, proto.Error) || !strings.Contains(err.Error(), "mesos.v1.Offer.hostname") {
		t.Errorf("error = %v, want a proto error naming mesos.v1.Offer.hostname", err)
	}
}

func TestMarshalRejectsMissingRequiredFields(t *testing.T) {
	cases := []struct {
		name  string
		msg   proto.Message
		field string
	}{
		{"TaskStatus without state", &mesospb.TaskStatus{TaskId: &mesospb.TaskID{Value: str("t")}}, "mesos.v1.TaskStatus.state"},
		{"TaskStatus without task_id", &mesospb.TaskStatus{State: mesospb.TaskState_TASK_RUNNING.Enum()}, "mesos.v1.TaskStatus.task_id"},
		{"FrameworkInfo without user", &mesospb.FrameworkInfo{Name: str("fw")}, "mesos.v1.FrameworkInfo.user"},
		{"AgentID without value", &mesospb.AgentID{}, "mesos.v1.AgentID.value"},
		{"Resource without type, nested in an Offer", func() proto.Message {
			o := goldenOffer()
			o.Resources[0].Type = nil
			return o
		}(), "mesos.v1.Resource.type"},
		{"SUBSCRIBED without framework_id", &schedulerpb.Event{
			Type: schedulerpb.Event_SUBSCRIBED.Enum(), Subscribed: &schedulerpb.Event_Subscribed{},
		}, "mesos.v1.scheduler.Event.Subscribed.framework_id"},
		{"executor Call without framework_id", &executorpb.Call{
			ExecutorId: &mesospb.ExecutorID{Value: str("e")}, Type: executorpb.Call_HEARTBEAT.Enum(),
		}, "mesos.v1.executor.Call.framework_id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := proto.Marshal(tc.msg)
			if err == nil {
				t.Fatal("marshal succeeded")
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("error = %v, want it to name %s", err, tc.field)
			}
		})
	}
}

// Mesos' defaults are what a client sees for unset fields; our code reads
// them through the generated getters.
func TestDefaultsMatchMesos(t *testing.T) {
	checks := []struct {
		name      string
		got, want any
	}{
		{"CommandInfo.shell", (&mesospb.CommandInfo{}).GetShell(), true},
		{"CommandInfo.URI.extract", (&mesospb.CommandInfo_URI{}).GetExtract(), true},
		{"Filters.refuse_seconds", (&mesospb.Filters{}).GetRefuseSeconds(), 5.0},
		{"FrameworkInfo.role", (&mesospb.FrameworkInfo{}).GetRole(), "*"},
		{"FrameworkInfo.failover_timeout", (&mesospb.FrameworkInfo{}).GetFailoverTimeout(), 0.0},
		{"FrameworkInfo.checkpoint", (&mesospb.FrameworkInfo{}).GetCheckpoint(), false},
		{"Resource.role", (&mesospb.Resource{}).GetRole(), "*"},
		{"MasterInfo.port", (&mesospb.MasterInfo{}).GetPort(), uint32(5050)},
		{"AgentInfo.port", (&mesospb.AgentInfo{}).GetPort(), int32(5051)},
		{"Environment.Variable.type", (&mesospb.Environment_Variable{}).GetType(), mesospb.Environment_Variable_VALUE},
		{"Image.cached", (&mesospb.Image{}).GetCached(), true},
		{"DockerInfo.network", (&mesospb.ContainerInfo_DockerInfo{}).GetNetwork(), mesospb.ContainerInfo_DockerInfo_HOST},
		{"DockerInfo.privileged", (&mesospb.ContainerInfo_DockerInfo{}).GetPrivileged(), false},
		{"LinuxInfo.share_cgroups", (&mesospb.LinuxInfo{}).GetShareCgroups(), true},
		{"NetworkInfo.IPAddress.protocol", (&mesospb.NetworkInfo_IPAddress{}).GetProtocol(), mesospb.NetworkInfo_IPv4},
		{"HealthCheck.delay_seconds", (&mesospb.HealthCheck{}).GetDelaySeconds(), 15.0},
		{"HealthCheck.interval_seconds", (&mesospb.HealthCheck{}).GetIntervalSeconds(), 10.0},
		{"HealthCheck.timeout_seconds", (&mesospb.HealthCheck{}).GetTimeoutSeconds(), 20.0},
		{"HealthCheck.consecutive_failures", (&mesospb.HealthCheck{}).GetConsecutiveFailures(), uint32(3)},
		{"HealthCheck.grace_period_seconds", (&mesospb.HealthCheck{}).GetGracePeriodSeconds(), 10.0},
		{"HealthCheck.HTTPCheckInfo.protocol", (&mesospb.HealthCheck_HTTPCheckInfo{}).GetProtocol(), mesospb.NetworkInfo_IPv4},
		{"CheckInfo.delay_seconds", (&mesospb.CheckInfo{}).GetDelaySeconds(), 15.0},
		{"CheckInfo.interval_seconds", (&mesospb.CheckInfo{}).GetIntervalSeconds(), 10.0},
		{"CheckInfo.timeout_seconds", (&mesospb.CheckInfo{}).GetTimeoutSeconds(), 20.0},
		{"DrainConfig.mark_gone", (&mesospb.DrainConfig{}).GetMarkGone(), false},
		// First declared value is the proto2 default for unset enums.
		{"TaskStatus.state unset", (&mesospb.TaskStatus{}).GetState(), mesospb.TaskState_TASK_STAGING},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s default = %v, want %v", c.name, c.got, c.want)
		}
	}
}

// Fields a newer peer sends that we do not declare must survive a
// decode/encode round trip (e.g. an agent forwarding an executor's update).
func TestUnknownFieldsSurviveRoundTrip(t *testing.T) {
	extra := cat(fStr(99, "from-the-future"), fVarint(100, 7))
	in := cat(wireTaskStatus(), extra)
	var st mesospb.TaskStatus
	if err := proto.Unmarshal(in, &st); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	out, err := proto.MarshalOptions{Deterministic: true}.Marshal(&st)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	if !strings.Contains(string(out), string(extra)) {
		t.Errorf("unknown fields lost: %x", out)
	}
}

// An enum number from a newer Mesos must not fail decoding, and must be
// forwarded unchanged. (protobuf-go keeps proto2 enums open: the number is
// stored in the field; String() prints it as a number.)
func TestUnknownEnumValueDecodesAndSurvives(t *testing.T) {
	in := cat(fID(1, "t-1"), fVarint(2, 1), fVarint(10, 999))
	var st mesospb.TaskStatus
	if err := proto.Unmarshal(in, &st); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	if got := st.GetReason(); got != 999 {
		t.Errorf("reason = %v, want 999", got)
	}
	out, err := proto.Marshal(&st)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	if string(out) != string(in) {
		t.Errorf("re-encoded %x, want %x", out, in)
	}
}

func TestTruncatedInputIsAnError(t *testing.T) {
	w := wireOffer()
	for _, n := range []int{1, len(w) / 2, len(w) - 1} {
		if err := proto.Unmarshal(w[:n], &mesospb.Offer{}); err == nil {
			t.Errorf("Offer truncated to %d of %d bytes decoded without error", n, len(w))
		}
	}
	// A length prefix pointing past the end.
	bad := protowire.AppendTag(nil, 4, protowire.BytesType)
	bad = protowire.AppendVarint(bad, 50)
	if err := proto.Unmarshal(append(bad, 'x'), &mesospb.Offer{}); err == nil {
		t.Error("overlong length prefix decoded without error")
	}
}
