package e2e

import (
	"testing"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/resources"
)

// BenchmarkCommandTasks measures issue 12's command-task goal: command
// tasks (`true`, shell=true as typical frameworks send them, each in its
// own lean command executor) on a two-agent cluster of real processes
// (`meso master`, two `meso agent`s with cpus:8 each, so at most 160 run
// at once), launched as fast as offers allow; the clock stops when every
// task has finished and neither agent holds an unacknowledged update.
// Reported as tasks/s. With checkpoint=true the framework checkpoints, so
// the agents write (and fsync) each task's records before any of its
// effects; with checkpoint=false only the container's handle is written.
// Reproduce with:
//
//	go test -run '^$' -bench CommandTasks/ -benchtime 300x ./e2e
func BenchmarkCommandTasks(b *testing.B) {
	task := resources.MustParse("cpus:0.1;mem:16")
	for _, v := range []struct {
		name       string
		checkpoint bool
		flags      []string
	}{
		// A lean executor process per task.
		{"agents=2/checkpoint=false", false, []string{"--command_executor_host=false"}},
		{"agents=2/checkpoint=true", true, []string{"--command_executor_host=false"}},
		// In one command executor host per framework and agent (the default).
		{"agents=2/host/checkpoint=false", false, []string{"--command_executor_host=true"}},
		{"agents=2/host/checkpoint=true", true, []string{"--command_executor_host=true"}},
	} {
		checkpoint := v.checkpoint
		b.Run(v.name, func(b *testing.B) {
			cl := newCluster(b, 0, "", "--allocation_interval=10ms")
			for range 2 {
				cl.addAgent("cpus:8;mem:16384;disk:1024", v.flags...)
			}
			cl.waitAgents(2)
			f := newFramework(b, cl.master.addr, fwOptions{codec: codec.Protobuf, checkpoint: checkpoint})
			measureLaunches(b, f, cl.agents, task, func(id string) *mesospb.TaskInfo {
				return commandTaskWithURIs(id, "true")
			})
		})
	}
}
