package lifecycle

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
)

// With a lean executor, command tasks (but those in a Docker container)
// and task groups run in it; without one, in the meso binary.
func TestExecutorBinaries(t *testing.T) {
	task := func(container *mesospb.ContainerInfo) *mesospb.TaskInfo {
		return &mesospb.TaskInfo{TaskId: &mesospb.TaskID{Value: proto.String("t")},
			Command: &mesospb.CommandInfo{Value: proto.String("true")}, Container: container}
	}
	docker := &mesospb.ContainerInfo{Type: mesospb.ContainerInfo_DOCKER.Enum()}
	mesos := &mesospb.ContainerInfo{Type: mesospb.ContainerInfo_MESOS.Enum()}
	group := &mesospb.ExecutorInfo{Type: mesospb.ExecutorInfo_DEFAULT.Enum(), ExecutorId: &mesospb.ExecutorID{Value: proto.String("e")}}
	for _, c := range []struct {
		lean                 string
		plain, docker, mesos []string
		group                []string
	}{
		{"", []string{"/bin/meso", "executor"}, []string{"/bin/meso", "executor"}, []string{"/bin/meso", "executor"},
			[]string{"/bin/meso", "default-executor"}},
		{"/bin/meso-executor", []string{"/bin/meso-executor"}, []string{"/bin/meso", "executor"}, []string{"/bin/meso-executor"},
			[]string{"/bin/meso-executor", "default-executor"}},
	} {
		core := New(Config{Launcher: "/bin/meso", LeanExecutor: c.lean, Agent: &mesospb.AgentInfo{Hostname: proto.String("h")}})
		fw := &mesospb.FrameworkID{Value: proto.String("f")}
		for _, k := range []struct {
			name string
			got  *mesospb.CommandInfo
			want []string
		}{
			{"plain", core.CommandExecutorInfo(fw, task(nil)).GetCommand(), c.plain},
			{"docker", core.CommandExecutorInfo(fw, task(docker)).GetCommand(), c.docker},
			{"mesos", core.CommandExecutorInfo(fw, task(mesos)).GetCommand(), c.mesos},
			{"group", core.DefaultExecutorInfo(group).GetCommand(), c.group},
		} {
			if k.got.GetValue() != k.want[0] || !slices.Equal(k.got.GetArguments(), k.want) || k.got.GetShell() {
				t.Errorf("lean=%q %s: command %q %q shell=%v, want %q", c.lean, k.name, k.got.GetValue(), k.got.GetArguments(), k.got.GetShell(), k.want)
			}
		}
	}
}
