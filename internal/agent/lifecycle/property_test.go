package lifecycle

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/mesospb"
)

// TestRandomInputs drives a Core with random sequences of every input and
// checks its invariants after each step: the task index matches where
// tasks are, no task is in two places, and updates for one task reach the
// master in the order the Core accepted them.
func TestRandomInputs(t *testing.T) {
	seeds := 200
	if testing.Short() {
		seeds = 20
	}
	for seed := range uint64(seeds) { // deterministic: seeds 0..n-1
		t.Run(fmt.Sprint(seed), func(t *testing.T) { randomRun(t, seed) })
	}
}

func randomRun(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0))
	h := &harness{t: t, epoch: time.Unix(0, 0)}
	c := New(Config{
		Agent:                       &mesospb.AgentInfo{Hostname: proto.String("h")},
		Launcher:                    "/bin/meso",
		ExecutorRegistrationTimeout: 5 * time.Second,
		ExecutorShutdownGracePeriod: time.Second,
		StatusUpdateRetryMin:        time.Second,
		NewUUID: func() []byte {
			h.uuids++
			return uuid(fmt.Sprintf("g%d", h.uuids))
		},
		NewContainerID: func() string {
			h.ids++
			return fmt.Sprintf("c%d", h.ids)
		},
		MaxCompletedTasksPerExecutor: 3, MaxCompletedExecutorsPerFramework: 3, MaxCompletedFrameworks: 3,
	})
	now := h.epoch
	pick := func(list ...string) string { return list[rng.IntN(len(list))] }
	fws := []string{"f1", "f2"}
	tasks := []string{"t1", "t2", "t3", "t4", "t5"}
	execs := []string{"e1", "e2", "t1", "t2", "t3", "t4", "t5"}
	states := []mesospb.TaskState{mesospb.TaskState_TASK_STARTING, mesospb.TaskState_TASK_RUNNING,
		mesospb.TaskState_TASK_FINISHED, mesospb.TaskState_TASK_FAILED, mesospb.TaskState_TASK_KILLED}
	// The last uuid sent to the master per task, and every forwarded one.
	sent := map[string][]string{}
	var acked []SendMaster
	record := func(effs []Effect) {
		for _, e := range effs {
			if m, ok := e.(SendMaster); ok && m.Call.GetType() == linkpb.AgentCall_STATUS_UPDATE {
				u := m.Call.GetStatusUpdate()
				key := u.GetFrameworkId().GetValue() + "/" + u.GetStatus().GetTaskId().GetValue()
				sent[key] = append(sent[key], string(u.GetStatus().GetUuid()))
				acked = append(acked, m)
			}
		}
	}
	c.Registered("a1", now)
	for step := range 300 {
		now = now.Add(time.Duration(rng.IntN(3000)) * time.Millisecond)
		fw, task, ex := pick(fws...), pick(tasks...), pick(execs...)
		var effs []Effect
		switch rng.IntN(14) {
		case 0, 1:
			var exInfo *mesospb.ExecutorInfo
			if rng.IntN(2) == 0 {
				exInfo = &mesospb.ExecutorInfo{ExecutorId: &mesospb.ExecutorID{Value: proto.String(pick("e1", "e2"))},
					Command: &mesospb.CommandInfo{Value: proto.String("x")}}
			}
			effs, _ = c.RunTask(&mesospb.FrameworkInfo{User: proto.String("u"), Name: proto.String("n"),
				Id: &mesospb.FrameworkID{Value: proto.String(fw)}}, exInfo, &mesospb.TaskInfo{Name: proto.String(task),
				TaskId: &mesospb.TaskID{Value: proto.String(task)}, AgentId: &mesospb.AgentID{Value: proto.String("a1")},
				Command: &mesospb.CommandInfo{Value: proto.String("y")}}, now)
		case 2:
			effs, _ = c.ExecutorSubscribe(fw, ex, nil, now)
		case 3, 4:
			st := &mesospb.TaskStatus{TaskId: &mesospb.TaskID{Value: proto.String(task)}, State: states[rng.IntN(len(states))].Enum()}
			effs, _ = c.ExecutorUpdate(fw, ex, st, now)
		case 5, 6:
			if len(acked) > 0 { // acknowledge something forwarded, maybe stale
				m := acked[rng.IntN(len(acked))].Call.GetStatusUpdate()
				effs, _ = c.Acknowledge(m.GetFrameworkId().GetValue(), m.GetStatus().GetTaskId().GetValue(), m.GetStatus().GetUuid(), now)
			}
		case 7:
			effs, _ = c.KillTask(fw, task, nil, now)
		case 8:
			effs, _ = c.ExecutorExited(fw, ex, c.ContainerID(fw, ex), Termination{Status: int32(rng.IntN(300))}, now)
		case 9:
			effs, _ = c.ShutdownExecutor(fw, ex, now)
		case 10:
			if rng.IntN(4) == 0 {
				effs, _ = c.ShutdownFramework(fw, now)
			}
		case 11:
			c.ExecutorDisconnected(fw, ex)
		case 12:
			if rng.IntN(3) == 0 {
				c.Disconnected()
			} else {
				effs = c.Registered("a1", now)
			}
		case 13:
			effs = c.Tick(now)
		}
		record(effs)
		if err := checkInvariants(c); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
	}
	// Per task, each uuid is forwarded in one contiguous run (retries),
	// never going back to an earlier one.
	for key, list := range sent {
		seen := map[string]bool{}
		for i, u := range list {
			if seen[u] && list[i-1] != u {
				t.Fatalf("task %s: update %q forwarded again after a later one: %q", key, u, list)
			}
			seen[u] = true
		}
	}
}

func checkInvariants(c *Core) error {
	for fwID, fw := range c.fws {
		places := map[string]string{}
		for exID, ex := range fw.executors {
			if ex.id != exID || ex.frameworkID != fwID {
				return fmt.Errorf("executor %s/%s filed under %s/%s", ex.frameworkID, ex.id, fwID, exID)
			}
			add := func(id, where string) error {
				if prev, ok := places[id]; ok {
					return fmt.Errorf("task %s/%s both %s and %s", fwID, id, prev, where)
				}
				places[id] = where
				if fw.tasks[id] != ex {
					return fmt.Errorf("task %s/%s (%s) missing from the index", fwID, id, where)
				}
				return nil
			}
			for _, l := range ex.queued {
				for _, t := range l.tasks {
					if err := add(t.GetTaskId().GetValue(), "queued on "+exID); err != nil {
						return err
					}
				}
			}
			for id, rec := range ex.launched {
				if mesospb.IsTerminal(rec.task.GetState()) {
					return fmt.Errorf("terminal task %s among the launched", id)
				}
				if err := add(id, "launched on "+exID); err != nil {
					return err
				}
			}
			for id, rec := range ex.terminated {
				if !mesospb.IsTerminal(rec.task.GetState()) {
					return fmt.Errorf("non-terminal task %s among the terminated", id)
				}
				if err := add(id, "terminated on "+exID); err != nil {
					return err
				}
			}
			if ex.state == ExecutorTerminated && len(ex.launched)+len(ex.queued) > 0 {
				return fmt.Errorf("terminated executor %s still has unfinished tasks", exID)
			}
		}
		if len(places) != len(fw.tasks) {
			return fmt.Errorf("framework %s: index has %d tasks, executors %d", fwID, len(fw.tasks), len(places))
		}
		if len(fw.executors) == 0 {
			return fmt.Errorf("framework %s kept without executors", fwID)
		}
	}
	return nil
}
