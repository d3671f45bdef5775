package e2e

import (
	"fmt"
	"testing"
	"time"

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
	for _, checkpoint := range []bool{false, true} {
		b.Run(fmt.Sprintf("agents=2/checkpoint=%v", checkpoint), func(b *testing.B) {
			cl := newCluster(b, 0, "", "--allocation_interval=10ms")
			for range 2 {
				cl.addAgent("cpus:8;mem:16384;disk:1024")
			}
			cl.waitAgents(2)
			f := newFramework(b, cl.master.addr, fwOptions{codec: codec.Protobuf, checkpoint: checkpoint})
			f.launchOn(f.takeOffer(task), commandTaskWithURIs("warmup", "true"))
			f.waitState("warmup", mesospb.TaskState_TASK_FINISHED, time.Minute)

			b.ResetTimer()
			start := time.Now()
			for launched := 0; launched < b.N; {
				offer := f.takeOffer(task)
				n := min(fitCount(offer, task), b.N-launched)
				tasks := make([]*mesospb.TaskInfo, n)
				for i := range tasks {
					tasks[i] = commandTaskWithURIs(fmt.Sprintf("t%06d", launched+i), "true")
				}
				f.launchOn(offer, tasks...)
				launched += n
			}
			f.waitFinished(b.N + 1)
			for _, a := range cl.agents {
				eventually(b, time.Minute, func() error { return pendingUpdates(a) })
			}
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "tasks/s")
		})
	}
}
