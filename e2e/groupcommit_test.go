package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
)

// An agent SIGKILLed while a checkpointing framework's command tasks go
// through their updates loses none of them, although it group-commits its
// checkpoints (several inputs' writes share one round of fsyncs, their
// effects carried out after it): every task the framework saw RUNNING
// (forwarded, so checkpointed first) ends FINISHED after the restart (its
// executor kept the updates the agent had not acknowledged, and resends
// them to the recovered agent); had the agent acknowledged an update to
// an executor before it was durable, the restarted agent would not know
// it and would report the task failed when its executor exits.
func TestAgentKilledLosesNothingWithGroupCommit(t *testing.T) {
	cl := newCluster(t, 0, executorAgentRes, masterFlags...)
	agent := newRecoveryAgent(cl)
	agent.id()
	f := newFramework(t, cl.master.addr, fwOptions{checkpoint: true})
	const n = 30
	for launched := 0; launched < n; {
		offer := f.takeOffer(smallTask)
		k := min(fitCount(offer, smallTask), n-launched)
		tasks := make([]*mesospb.TaskInfo, k)
		for i := range tasks {
			tasks[i] = commandTaskWithURIs(fmt.Sprintf("t%02d", launched+i), "sleep 0.3")
		}
		f.launchOn(offer, tasks...)
		launched += k
	}
	// Kill it mid-stream, as the first task has finished and the others
	// follow: commits of FINISHED updates are in flight.
	states := func() (running, finished map[string]bool, terminal map[string]mesospb.TaskState) {
		f.mu.Lock()
		defer f.mu.Unlock()
		running, finished, terminal = map[string]bool{}, map[string]bool{}, map[string]mesospb.TaskState{}
		for _, u := range f.updates {
			id := u.GetTaskId().GetValue()
			switch s := u.GetState(); {
			case s == mesospb.TaskState_TASK_RUNNING:
				running[id] = true
			case mesospb.IsTerminal(s):
				terminal[id] = s
				finished[id] = s == mesospb.TaskState_TASK_FINISHED
			}
		}
		return running, finished, terminal
	}
	f.waitFor(time.Minute, "a task to finish", func() bool {
		for _, u := range f.updates {
			if u.GetState() == mesospb.TaskState_TASK_FINISHED {
				return true
			}
		}
		return false
	})
	agent.proc.kill()
	_, _, before := states()
	if len(before) >= n {
		t.Fatalf("every task ended before the agent was killed: nothing tested")
	}
	agent.start()

	eventually(t, 2*time.Minute, func() error {
		running, _, terminal := states()
		for id := range running {
			if _, ok := terminal[id]; !ok {
				return fmt.Errorf("task %s (seen RUNNING) has not ended", id)
			}
		}
		return nil
	})
	running, finished, terminal := states()
	after := 0
	for id := range running {
		if !finished[id] {
			t.Errorf("task %s was RUNNING and ended %s", id, terminal[id])
		}
		if _, ok := before[id]; !ok {
			after++
		}
	}
	if after == 0 {
		t.Fatalf("no task that ran ended after the restart: the kill hit nothing in flight (%d ended before)", len(before))
	}
	t.Logf("%d tasks ran, %d ended before the kill, %d of them after the restart", len(running), len(before), after)
}
