package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/resources"
)

// After an agent SIGKILL, no process it started outlives the recovery
// timeout (issue 8, item 5). The executors of a checkpointing framework
// wait for the agent for exactly --recovery_timeout (MESOS_RECOVERY_TIMEOUT),
// then kill their tasks' process groups and exit; the executors of a
// framework that does not checkpoint do so at once, as in Mesos. Both
// built-in executors are covered: a command task (command executor) and a
// task group (default executor). Processes are counted by PID: every task
// writes its own pid, its parent's (the executor's) and its child's (a
// process of its group) to a file.
func TestNoOrphansAfterAgentKill(t *testing.T) { testNoOrphansAfterAgentKill(t) }

// The same with the command tasks' executors in command executor hosts:
// the hosts (the tasks' parents) go too.
func TestNoOrphansAfterAgentKillCommandHost(t *testing.T) {
	testNoOrphansAfterAgentKill(t, hostFlags...)
}

func testNoOrphansAfterAgentKill(t *testing.T, flags ...string) {
	const recovery = 4 * time.Second
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("counting processes needs /proc, which this machine lacks:", err)
	}
	cl := newCluster(t, 0, executorAgentRes, masterFlags...)
	agent := cl.addAgent(executorAgentRes, append([]string{"--recovery_timeout=4secs"}, flags...)...)
	cl.waitAgents(1)
	pidDir := t.TempDir()
	record := func(name string) string {
		return fmt.Sprintf(`sleep 1000 & echo $$ $PPID $! > %s; wait`, filepath.Join(pidDir, name))
	}

	// Each framework runs a command task and a task group of one task from
	// one offer; done is a framework that needs no more offers.
	launch := func(f, done *framework, prefix string) {
		cmd := groupTask(prefix+"-cmd", record(prefix+"-cmd"), smallTask)
		grp := groupTask(prefix+"-grp", record(prefix+"-grp"), smallTask)
		offer := f.takeOfferFrom(done, smallTask.Add(executorRes).Add(smallTask))
		cmd.AgentId, grp.AgentId = offer.GetAgentId(), offer.GetAgentId()
		ex := defaultExecutorInfo(prefix + "-pod")
		ex.FrameworkId = f.client.FrameworkID()
		err := f.client.Accept(context.Background(), []*mesospb.OfferID{offer.GetId()}, []*mesospb.Offer_Operation{
			{Type: mesospb.Offer_Operation_LAUNCH.Enum(), Launch: &mesospb.Offer_Operation_Launch{TaskInfos: []*mesospb.TaskInfo{cmd}}},
			{Type: mesospb.Offer_Operation_LAUNCH_GROUP.Enum(), LaunchGroup: &mesospb.Offer_Operation_LaunchGroup{
				Executor: ex, TaskGroup: &mesospb.TaskGroupInfo{Tasks: []*mesospb.TaskInfo{grp}}}},
		}, &mesospb.Filters{RefuseSeconds: proto.Float64(0)})
		if err != nil {
			t.Fatalf("accept: %v", err)
		}
	}
	ckpt := newFramework(t, cl.master.addr, fwOptions{checkpoint: true})
	launch(ckpt, nil, "ckpt")
	plain := newFramework(t, cl.master.addr, fwOptions{})
	launch(plain, ckpt, "plain")
	for _, w := range []struct {
		f  *framework
		id string
	}{{ckpt, "ckpt-cmd"}, {ckpt, "ckpt-grp"}, {plain, "plain-cmd"}, {plain, "plain-grp"}} {
		w.f.waitState(w.id, mesospb.TaskState_TASK_RUNNING, time.Minute)
	}

	procs := map[string][]procID{} // task name -> [task, executor, task's child]
	for _, name := range []string{"ckpt-cmd", "ckpt-grp", "plain-cmd", "plain-grp"} {
		eventually(t, 30*time.Second, func() error {
			ids, err := readPids(filepath.Join(pidDir, name))
			procs[name] = ids
			return err
		})
	}
	t.Cleanup(func() { // a failed test leaves no process behind either
		for _, ids := range procs {
			for _, p := range ids {
				if p.alive() {
					_ = syscall.Kill(p.pid, syscall.SIGKILL)
				}
			}
		}
		if t.Failed() {
			logExecutorOutputs(t, cl.dir)
		}
	})
	for name, ids := range procs {
		for _, p := range ids {
			if !p.alive() {
				t.Fatalf("%s: pid %d not running before the agent is killed", name, p.pid)
			}
		}
	}
	allGone := func(names ...string) func() error {
		return func() error {
			for _, n := range names {
				for i, p := range procs[n] {
					if p.alive() {
						return fmt.Errorf("%s's %s (pid %d) still runs", n, [3]string{"task", "executor", "task's child"}[i], p.pid)
					}
				}
			}
			return nil
		}
	}

	if len(flags) > 0 { // the command tasks' parents (their executors) are hosts
		requireHosted(t, procs["ckpt-cmd"][1].pid)
		requireHosted(t, procs["plain-cmd"][1].pid)
	}
	agent.kill()
	killed := time.Now()

	// Without checkpointing: gone at once, well inside the first half of
	// the recovery timeout.
	eventually(t, recovery/2, allGone("plain-cmd", "plain-grp"))

	// With checkpointing: every process lives through the first half of
	// the timeout (checked without a pause until then) ...
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for time.Since(killed) < recovery/2 {
		for _, n := range []string{"ckpt-cmd", "ckpt-grp"} {
			for _, p := range procs[n] {
				if !p.alive() {
					t.Fatalf("%s: pid %d gone %v after the agent's death, before half the %v recovery timeout",
						n, p.pid, time.Since(killed).Round(time.Millisecond), recovery)
				}
			}
		}
		<-tick.C
	}
	// ... and none is left once it has passed (slack for a loaded machine:
	// the kill grace is the executor's, and sleep dies on SIGTERM).
	eventually(t, recovery+20*time.Second-time.Since(killed), allGone("ckpt-cmd", "ckpt-grp"))
	gone := time.Since(killed)
	t.Logf("checkpointing executors and tasks gone %v after the agent's death (recovery timeout %v)", gone.Round(time.Millisecond), recovery)
	if gone < recovery {
		t.Errorf("gone after %v, before the %v recovery timeout", gone, recovery)
	}
}

// takeOfferFrom waits for an offer holding need, declining the offers of
// f that do not, and declining for a minute every offer of done (a
// framework that needs nothing more; it would otherwise sit on the
// resources f waits for, or win every tie of the allocator).
func (f *framework) takeOfferFrom(done *framework, need resources.Resources) *mesospb.Offer {
	f.t.Helper()
	var offer *mesospb.Offer
	eventually(f.t, time.Minute, func() error {
		f.mu.Lock()
		for id, o := range f.offers {
			if have, err := resources.FromProto(o.GetResources()); err == nil && have.Contains(need) && offer == nil {
				offer = o
				delete(f.offers, id)
			}
		}
		f.mu.Unlock()
		if offer != nil {
			return nil
		}
		f.declineAll()
		if done != nil {
			done.declineFor(time.Minute)
		}
		return fmt.Errorf("no offer holds %s yet", need)
	})
	return offer
}

// declineFor declines every outstanding offer with a filter of d.
func (f *framework) declineFor(d time.Duration) {
	f.t.Helper()
	f.mu.Lock()
	var ids []*mesospb.OfferID
	for _, o := range f.offers {
		ids = append(ids, o.GetId())
	}
	clear(f.offers)
	f.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	if err := f.client.Decline(context.Background(), ids, &mesospb.Filters{RefuseSeconds: proto.Float64(d.Seconds())}); err != nil {
		f.t.Fatal(err)
	}
}

// procID names a process by pid and start time, so a reused pid is not
// taken for the process it was.
type procID struct {
	pid   int
	start string // field 22 of /proc/<pid>/stat
}

// readPids reads "<task pid> <executor pid> <child pid>" from file.
func readPids(file string) ([]procID, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	f := strings.Fields(string(data))
	if len(f) != 3 {
		return nil, fmt.Errorf("%s: %q, want three pids", file, data)
	}
	var ids []procID
	for _, s := range f {
		pid, err := strconv.Atoi(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		_, start, ok := procStat(pid)
		if !ok {
			return nil, fmt.Errorf("%s: pid %d does not run", file, pid)
		}
		ids = append(ids, procID{pid: pid, start: start})
	}
	return ids, nil
}

// alive: the process runs (a zombie, never reaped because its parent is
// gone, counts as dead).
func (p procID) alive() bool {
	state, start, ok := procStat(p.pid)
	return ok && start == p.start && state != "Z" && state != "X"
}

// procStat returns the state and start time of pid from /proc.
func procStat(pid int) (state, start string, ok bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", "", false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')') // the command name may hold spaces
	if i < 0 {
		return "", "", false
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state)
	if len(f) < 20 {
		return "", "", false
	}
	return f[0], f[19], true
}

// logExecutorOutputs logs the stderr of every executor under dir.
func logExecutorOutputs(t *testing.T, dir string) {
	files, _ := filepath.Glob(filepath.Join(dir, "agent*", "slaves", "*", "frameworks", "*", "executors", "*", "runs", "latest", "stderr"))
	for _, f := range files {
		data, _ := os.ReadFile(f)
		t.Logf("--- %s:\n%s", f, data)
	}
}
