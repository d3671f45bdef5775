package api_test

import (
	"fmt"
	"sort"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/mesoproject/meso/api/executorpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
)

// wantRequired lists every proto2 `required` field we declare, as
// "full.message.name.field=number", checked against the published Mesos v1
// API. Real Mesos clients reject messages missing any of these, and send
// messages without the fields that are optional there, so a label change in
// either direction breaks interoperability.
var wantRequired = []string{
	"mesos.v1.FrameworkID.value=1",
	"mesos.v1.OfferID.value=1",
	"mesos.v1.AgentID.value=1",
	"mesos.v1.TaskID.value=1",
	"mesos.v1.ExecutorID.value=1",
	"mesos.v1.ContainerID.value=1",
	"mesos.v1.ResourceProviderID.value=1",
	"mesos.v1.OperationID.value=1",
	"mesos.v1.TimeInfo.nanoseconds=1",
	"mesos.v1.DurationInfo.nanoseconds=1",
	"mesos.v1.Address.port=3",
	"mesos.v1.URL.scheme=1",
	"mesos.v1.URL.address=2",
	"mesos.v1.Unavailability.start=1",
	"mesos.v1.MachineInfo.id=1",
	"mesos.v1.FrameworkInfo.user=1",
	"mesos.v1.FrameworkInfo.name=2",
	"mesos.v1.DomainInfo.FaultDomain.region=1",
	"mesos.v1.DomainInfo.FaultDomain.zone=2",
	"mesos.v1.DomainInfo.FaultDomain.RegionInfo.name=1",
	"mesos.v1.DomainInfo.FaultDomain.ZoneInfo.name=1",
	"mesos.v1.MasterInfo.id=1",
	"mesos.v1.MasterInfo.ip=2",
	"mesos.v1.MasterInfo.port=3",
	"mesos.v1.AgentInfo.hostname=1",
	"mesos.v1.CheckInfo.Command.command=1",
	"mesos.v1.CheckInfo.Http.port=1",
	"mesos.v1.CheckInfo.Tcp.port=1",
	"mesos.v1.HealthCheck.HTTPCheckInfo.port=1",
	"mesos.v1.HealthCheck.TCPCheckInfo.port=1",
	"mesos.v1.CommandInfo.URI.value=1",
	"mesos.v1.ExecutorInfo.executor_id=1",
	"mesos.v1.TaskInfo.name=1",
	"mesos.v1.TaskInfo.task_id=2",
	"mesos.v1.TaskInfo.agent_id=3",
	"mesos.v1.Task.name=1",
	"mesos.v1.Task.task_id=2",
	"mesos.v1.Task.framework_id=3",
	"mesos.v1.Task.agent_id=5",
	"mesos.v1.Task.state=6",
	"mesos.v1.UUID.value=1",
	"mesos.v1.TaskStatus.task_id=1",
	"mesos.v1.TaskStatus.state=2",
	"mesos.v1.OperationStatus.state=2",
	"mesos.v1.Operation.info=3",
	"mesos.v1.Operation.latest_status=4",
	"mesos.v1.Operation.uuid=6",
	"mesos.v1.Value.type=1",
	"mesos.v1.Value.Scalar.value=1",
	"mesos.v1.Value.Range.begin=1",
	"mesos.v1.Value.Range.end=2",
	"mesos.v1.Value.Text.value=1",
	"mesos.v1.Attribute.name=1",
	"mesos.v1.Attribute.type=2",
	"mesos.v1.Resource.name=1",
	"mesos.v1.Resource.type=2",
	"mesos.v1.Resource.DiskInfo.Persistence.id=1",
	"mesos.v1.Resource.DiskInfo.Source.type=1",
	"mesos.v1.TrafficControlStatistics.id=1",
	"mesos.v1.ResourceStatistics.timestamp=1",
	"mesos.v1.ResourceUsage.Executor.executor_info=1",
	"mesos.v1.ResourceUsage.Executor.container_id=4",
	"mesos.v1.ResourceUsage.Executor.Task.name=1",
	"mesos.v1.ResourceUsage.Executor.Task.id=2",
	"mesos.v1.PerfStatistics.timestamp=1",
	"mesos.v1.PerfStatistics.duration=2",
	"mesos.v1.Offer.id=1",
	"mesos.v1.Offer.framework_id=2",
	"mesos.v1.Offer.agent_id=3",
	"mesos.v1.Offer.hostname=4",
	"mesos.v1.Offer.Operation.LaunchGroup.executor=1",
	"mesos.v1.Offer.Operation.LaunchGroup.task_group=2",
	"mesos.v1.Offer.Operation.GrowVolume.volume=1",
	"mesos.v1.Offer.Operation.GrowVolume.addition=2",
	"mesos.v1.Offer.Operation.ShrinkVolume.volume=1",
	"mesos.v1.Offer.Operation.ShrinkVolume.subtract=2",
	"mesos.v1.Offer.Operation.CreateDisk.source=1",
	"mesos.v1.Offer.Operation.CreateDisk.target_type=2",
	"mesos.v1.Offer.Operation.DestroyDisk.source=1",
	"mesos.v1.InverseOffer.id=1",
	"mesos.v1.InverseOffer.framework_id=3",
	"mesos.v1.InverseOffer.unavailability=5",
	"mesos.v1.Environment.Variable.name=1",
	"mesos.v1.Parameter.key=1",
	"mesos.v1.Parameter.value=2",
	"mesos.v1.Credential.principal=1",
	"mesos.v1.Secret.Reference.name=1",
	"mesos.v1.Secret.Value.data=1",
	"mesos.v1.Image.type=1",
	"mesos.v1.Image.Appc.name=1",
	"mesos.v1.Image.Docker.name=1",
	"mesos.v1.Volume.mode=3",
	"mesos.v1.Volume.container_path=1",
	"mesos.v1.Volume.Source.DockerVolume.name=2",
	"mesos.v1.Volume.Source.HostPath.path=1",
	"mesos.v1.Volume.Source.SandboxPath.path=2",
	"mesos.v1.Volume.Source.CSIVolume.plugin_name=1",
	"mesos.v1.Volume.Source.CSIVolume.VolumeCapability.access_mode=3",
	"mesos.v1.Volume.Source.CSIVolume.VolumeCapability.AccessMode.mode=1",
	"mesos.v1.Volume.Source.CSIVolume.StaticProvisioning.volume_id=1",
	"mesos.v1.Volume.Source.CSIVolume.StaticProvisioning.volume_capability=2",
	"mesos.v1.NetworkInfo.PortMapping.host_port=1",
	"mesos.v1.NetworkInfo.PortMapping.container_port=2",
	"mesos.v1.TTYInfo.WindowSize.rows=1",
	"mesos.v1.TTYInfo.WindowSize.columns=2",
	"mesos.v1.ContainerInfo.type=1",
	"mesos.v1.ContainerInfo.DockerInfo.image=1",
	"mesos.v1.ContainerInfo.DockerInfo.PortMapping.host_port=1",
	"mesos.v1.ContainerInfo.DockerInfo.PortMapping.container_port=2",
	"mesos.v1.Device.Number.major_number=1",
	"mesos.v1.Device.Number.minor_number=2",
	"mesos.v1.Label.key=1",
	"mesos.v1.Port.number=1",
	"mesos.v1.DiscoveryInfo.visibility=1",
	"mesos.v1.WeightInfo.weight=1",
	"mesos.v1.VersionInfo.version=1",
	"mesos.v1.Flag.name=1",
	"mesos.v1.Role.name=1",
	"mesos.v1.Role.weight=2",
	"mesos.v1.Metric.name=1",
	"mesos.v1.FileInfo.path=1",
	"mesos.v1.DrainInfo.state=1",
	"mesos.v1.DrainInfo.config=2",
	"mesos.v1.scheduler.Event.Subscribed.framework_id=1",
	"mesos.v1.scheduler.Event.Rescind.offer_id=1",
	"mesos.v1.scheduler.Event.RescindInverseOffer.inverse_offer_id=1",
	"mesos.v1.scheduler.Event.Update.status=1",
	"mesos.v1.scheduler.Event.UpdateOperationStatus.status=1",
	"mesos.v1.scheduler.Event.Message.agent_id=1",
	"mesos.v1.scheduler.Event.Message.executor_id=2",
	"mesos.v1.scheduler.Event.Message.data=3",
	"mesos.v1.scheduler.Event.Error.message=1",
	"mesos.v1.scheduler.AttributeConstraint.selector=1",
	"mesos.v1.scheduler.AttributeConstraint.predicate=2",
	"mesos.v1.scheduler.AttributeConstraint.Predicate.TextEquals.value=1",
	"mesos.v1.scheduler.AttributeConstraint.Predicate.TextNotEquals.value=1",
	"mesos.v1.scheduler.AttributeConstraint.Predicate.TextMatches.regex=1",
	"mesos.v1.scheduler.AttributeConstraint.Predicate.TextNotMatches.regex=1",
	"mesos.v1.scheduler.Call.Subscribe.framework_info=1",
	"mesos.v1.scheduler.Call.Kill.task_id=1",
	"mesos.v1.scheduler.Call.Shutdown.executor_id=1",
	"mesos.v1.scheduler.Call.Shutdown.agent_id=2",
	"mesos.v1.scheduler.Call.Acknowledge.agent_id=1",
	"mesos.v1.scheduler.Call.Acknowledge.task_id=2",
	"mesos.v1.scheduler.Call.Acknowledge.uuid=3",
	"mesos.v1.scheduler.Call.AcknowledgeOperationStatus.uuid=3",
	"mesos.v1.scheduler.Call.AcknowledgeOperationStatus.operation_id=4",
	"mesos.v1.scheduler.Call.Reconcile.Task.task_id=1",
	"mesos.v1.scheduler.Call.ReconcileOperations.Operation.operation_id=1",
	"mesos.v1.scheduler.Call.Message.agent_id=1",
	"mesos.v1.scheduler.Call.Message.executor_id=2",
	"mesos.v1.scheduler.Call.Message.data=3",
	"mesos.v1.scheduler.Call.UpdateFramework.framework_info=1",
	"mesos.v1.executor.Event.Subscribed.executor_info=1",
	"mesos.v1.executor.Event.Subscribed.framework_info=2",
	"mesos.v1.executor.Event.Subscribed.agent_info=3",
	"mesos.v1.executor.Event.Launch.task=1",
	"mesos.v1.executor.Event.LaunchGroup.task_group=1",
	"mesos.v1.executor.Event.Kill.task_id=1",
	"mesos.v1.executor.Event.Acknowledged.task_id=1",
	"mesos.v1.executor.Event.Acknowledged.uuid=2",
	"mesos.v1.executor.Event.Message.data=1",
	"mesos.v1.executor.Event.Error.message=1",
	"mesos.v1.executor.Call.executor_id=1",
	"mesos.v1.executor.Call.framework_id=2",
	"mesos.v1.executor.Call.Update.status=1",
	"mesos.v1.executor.Call.Message.data=2",
}

func files() []protoreflect.FileDescriptor {
	return []protoreflect.FileDescriptor{
		mesospb.File_mesos_v1_mesos_proto,
		schedulerpb.File_mesos_v1_scheduler_scheduler_proto,
		executorpb.File_mesos_v1_executor_executor_proto,
	}
}

func collectRequired(md protoreflect.MessageDescriptors, out *[]string) {
	for i := 0; i < md.Len(); i++ {
		m := md.Get(i)
		for j := 0; j < m.Fields().Len(); j++ {
			f := m.Fields().Get(j)
			if f.Cardinality() == protoreflect.Required {
				*out = append(*out, fmt.Sprintf("%s.%s=%d", m.FullName(), f.Name(), f.Number()))
			}
		}
		collectRequired(m.Messages(), out)
	}
}

func TestRequiredFieldsMatchMesos(t *testing.T) {
	var got []string
	for _, fd := range files() {
		collectRequired(fd.Messages(), &got)
	}
	want := append([]string(nil), wantRequired...)
	sort.Strings(got)
	sort.Strings(want)
	gotSet := map[string]bool{}
	for _, g := range got {
		gotSet[g] = true
	}
	wantSet := map[string]bool{}
	for _, w := range want {
		wantSet[w] = true
		if !gotSet[w] {
			t.Errorf("%s: must be required (with that number), but is not", w)
		}
	}
	for _, g := range got {
		if !wantSet[g] {
			t.Errorf("%s: required in our .proto but optional in Mesos", g)
		}
	}
}
