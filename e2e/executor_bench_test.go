package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/resources"
)

// BenchmarkCustomExecutorThroughput measures the sustained launch
// throughput through one custom executor on a one-agent cluster of real
// processes: b.N tasks are launched on the test executor (already running)
// as fast as offers allow, each reports TASK_RUNNING and TASK_FINISHED, the
// framework acknowledges every update, and the clock stops when the last
// task has finished and the agent holds no unacknowledged update. Reported
// as tasks/s. The baseline, CommandTasks, runs the same flow with command
// tasks (`true`), each in its own command executor process: the lean
// meso-executor, and `meso executor` as before it existed. Tasks take
// cpus:0.1 of the agent's 8, so at most 80 run at once in both. Reproduce
// with:
//
//	go test -run '^$' -bench CustomExecutorThroughput -benchtime 2000x ./e2e
func BenchmarkCustomExecutorThroughput(b *testing.B) {
	task := resources.MustParse("cpus:0.1;mem:16")
	for _, c := range []struct {
		name  string
		codec codec.Codec
	}{{"protobuf", codec.Protobuf}, {"json", codec.JSON}} {
		b.Run("CustomExecutor/"+c.name, func(b *testing.B) {
			files := newFileServer(b)
			ex := testExecutorInfo("bench", executorOptions{codec: c.codec, uri: files.add("testexecutor", testExecutor(b))})
			benchThroughput(b, c.codec, task, func(id string) *mesospb.TaskInfo {
				return executorTask(id, ex, task, "finish")
			})
		})
	}
	// Command tasks in the lean executor (meso-executor) and, as before it
	// existed, in `meso executor` (--launcher_dir=none), each in its own
	// process (--command_executor_host=false); "host" runs them in one
	// command executor host (the default).
	for _, v := range []struct {
		name, launcherDir string
		host              bool
	}{{"lean", "", false}, {"meso", "none", false}, {"host", "", true}} {
		b.Run("CommandTasks/protobuf/"+v.name, func(b *testing.B) {
			var flags []string
			if v.launcherDir != "" {
				flags = append(flags, "--launcher_dir="+v.launcherDir)
			}
			flags = append(flags, fmt.Sprintf("--command_executor_host=%t", v.host))
			benchThroughput(b, codec.Protobuf, task, func(id string) *mesospb.TaskInfo {
				return commandTaskWithURIs(id, "true")
			}, flags...)
		})
	}
}

// benchThroughput launches b.N tasks made by newTask (of size one) as fast
// as offers allow, after one warm-up task, and reports tasks/s until all
// have finished and every update is acknowledged.
func benchThroughput(b *testing.B, c codec.Codec, one resources.Resources, newTask func(id string) *mesospb.TaskInfo, agentFlags ...string) {
	cl := newCluster(b, 0, "", "--allocation_interval=10ms")
	cl.addAgent("cpus:8;mem:16384;disk:1024", agentFlags...)
	cl.waitAgents(1)
	f := newFramework(b, cl.master.addr, fwOptions{codec: c})
	measureLaunches(b, f, cl.agents, one, newTask)
}

// measureLaunches launches, after one warm-up task, b.N tasks made by
// newTask (of size one) as fast as f's offers allow, and reports tasks/s
// until all have finished and none of agents holds an unacknowledged
// update.
func measureLaunches(b *testing.B, f *framework, agents []*proc, one resources.Resources, newTask func(id string) *mesospb.TaskInfo) {
	// Warm up (for a custom executor: start it; its launch is not what is
	// measured).
	f.launchOn(f.takeOffer(executorRes.Add(one)), newTask("warmup"))
	f.waitState("warmup", mesospb.TaskState_TASK_FINISHED, time.Minute)

	b.ResetTimer()
	start := time.Now()
	for launched := 0; launched < b.N; {
		offer := f.takeOffer(one)
		n := min(fitCount(offer, one), b.N-launched)
		tasks := make([]*mesospb.TaskInfo, n)
		for i := range tasks {
			tasks[i] = newTask(fmt.Sprintf("t%06d", launched+i))
		}
		f.launchOn(offer, tasks...)
		launched += n
	}
	f.waitFinished(b.N + 1) // and the warm-up task
	for _, a := range agents {
		eventually(b, time.Minute, func() error { return pendingUpdates(a) })
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "tasks/s")
}

// fitCount is how many tasks of size one the offer holds.
func fitCount(offer *mesospb.Offer, one resources.Resources) int {
	have, err := resources.FromProto(offer.GetResources())
	if err != nil {
		return 0
	}
	n := 0
	for need := one; have.Contains(need); need = need.Add(one) {
		n++
	}
	return n
}

// waitFinished waits until n tasks have reached TASK_FINISHED, counting
// updates as they arrive (linear in the number of updates).
func (f *framework) waitFinished(n int) {
	f.t.Helper()
	seen, finished := 0, 0
	f.waitFor(5*time.Minute, fmt.Sprintf("%d tasks to finish", n), func() bool {
		for ; seen < len(f.updates); seen++ {
			if f.updates[seen].GetState() == mesospb.TaskState_TASK_FINISHED {
				finished++
			}
		}
		return finished >= n
	})
}
