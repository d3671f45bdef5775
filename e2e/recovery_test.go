package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
)

// recoveryAgent is an agent the test kills (SIGKILL, as a crash) and starts
// again with the same port and work dir.
type recoveryAgent struct {
	cl    *cluster
	port  int
	dir   string
	flags []string // of every run
	proc  *proc
	runs  int
}

func newRecoveryAgent(cl *cluster, flags ...string) *recoveryAgent {
	a := &recoveryAgent{cl: cl, port: freePort(cl.t), dir: filepath.Join(cl.dir, "recovering-agent"), flags: flags}
	a.start()
	return a
}

func (a *recoveryAgent) start(extra ...string) {
	a.cl.t.Helper()
	a.runs++
	args := append([]string{"agent", "--master=" + a.cl.master.addr, "--ip=127.0.0.1",
		"--port=" + strconv.Itoa(a.port), "--work_dir=" + a.dir, "--resources=" + executorAgentRes,
		"--status_update_retry_interval_min=200ms", "--registration_backoff_factor=100ms",
		"--recovery_timeout=5secs"}, append(a.flags, extra...)...)
	a.proc = start(a.cl.t, fmt.Sprintf("agent-run%d", a.runs), a.port, args...)
	a.proc.waitHealthy()
}

// id is the agent's id as the master lists it (active).
func (a *recoveryAgent) id() string {
	a.cl.t.Helper()
	var id string
	eventually(a.cl.t, 30*time.Second, func() error {
		var s struct {
			ID string `json:"id"`
		}
		if err := getJSON(a.proc.url("/state"), &s); err != nil {
			return err
		}
		for _, sl := range a.cl.state().Slaves {
			if sl.ID == s.ID && s.ID != "" && sl.Active {
				id = s.ID
				return nil
			}
		}
		return fmt.Errorf("agent %q not active at the master", s.ID)
	})
	return id
}

// launchOne accepts an offer with one command task, or one task group on
// a default executor.
func launchOne(t *testing.T, f, done *framework, task *mesospb.TaskInfo, group *mesospb.ExecutorInfo) {
	t.Helper()
	need := smallTask
	if group != nil {
		need = need.Add(executorRes)
	}
	offer := f.takeOfferFrom(done, need)
	task.AgentId = offer.GetAgentId()
	op := &mesospb.Offer_Operation{Type: mesospb.Offer_Operation_LAUNCH.Enum(),
		Launch: &mesospb.Offer_Operation_Launch{TaskInfos: []*mesospb.TaskInfo{task}}}
	if group != nil {
		group.FrameworkId = f.client.FrameworkID()
		op = &mesospb.Offer_Operation{Type: mesospb.Offer_Operation_LAUNCH_GROUP.Enum(), LaunchGroup: &mesospb.Offer_Operation_LaunchGroup{
			Executor: group, TaskGroup: &mesospb.TaskGroupInfo{Tasks: []*mesospb.TaskInfo{task}}}}
	}
	if err := f.client.Accept(context.Background(), []*mesospb.OfferID{offer.GetId()}, []*mesospb.Offer_Operation{op},
		&mesospb.Filters{RefuseSeconds: proto.Float64(0)}); err != nil {
		t.Fatalf("accept: %v", err)
	}
}

// An agent killed with SIGKILL and started again on the same work dir
// recovers (issue 10, agent checkpointing): it keeps its id; the command
// task and the task group of a checkpointing framework keep running in
// the same processes (their executors resubscribe), and a kill afterwards
// reaches them; the update of a task that ended while the agent was down
// is delivered after the restart; the task of a framework that does not
// checkpoint is gone and reported.
func TestAgentRecovery(t *testing.T) { testAgentRecovery(t, nil) }

// The same with cgroups isolation: the recovered executors' cgroups are
// kept, not removed as orphans, and the executors still run in them.
func TestAgentRecoveryCgroups(t *testing.T) {
	needCgroups(t)
	root := cgroupsRoot(t)
	testAgentRecovery(t, func(stage string) {
		// Each running container has its cgroup, in every hierarchy:
		// before, the four executors'; after, the two that still run
		// (short's ends once its update is through).
		want := map[string]int{"before": 4, "after": 2}[stage]
		eventually(t, 10*time.Second, func() error {
			var n int
			for _, dir := range cgroupsDirs(root) {
				subs, _ := filepath.Glob(filepath.Join(dir, "*", "cgroup.procs"))
				n = max(n, len(subs))
			}
			if n != want {
				return fmt.Errorf("%s the restart: %d container cgroups under %s, want %d", stage, n, root, want)
			}
			return nil
		})
	}, "--isolation=cgroups/cpu,cgroups/mem", "--cgroups_root="+root)
}

// testAgentRecovery runs the scenario on agents started with flags; check
// (if not nil) is called "before" the agent is killed and "after" it
// recovered.
func testAgentRecovery(t *testing.T, check func(stage string), flags ...string) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("counting processes needs /proc, which this machine lacks:", err)
	}
	cl := newCluster(t, 0, executorAgentRes, masterFlags...)
	agent := newRecoveryAgent(cl, flags...)
	agentID := agent.id()
	pidDir := t.TempDir()
	record := func(name string) string {
		return fmt.Sprintf(`sleep 600 & echo $$ $PPID $! > %s; wait`, filepath.Join(pidDir, name))
	}
	release := filepath.Join(pidDir, "release")

	ckpt := newFramework(t, cl.master.addr, fwOptions{checkpoint: true})
	launchOne(t, ckpt, nil, groupTask("cmd", record("cmd"), smallTask), nil)
	launchOne(t, ckpt, nil, groupTask("grp", record("grp"), smallTask), defaultExecutorInfo("pod"))
	launchOne(t, ckpt, nil, groupTask("short", fmt.Sprintf(`echo $$ > %s/short; while [ ! -e %s ]; do sleep 0.05; done`, pidDir, release), smallTask), nil)
	plain := newFramework(t, cl.master.addr, fwOptions{})
	launchOne(t, plain, ckpt, groupTask("plain", record("plain"), smallTask), nil)
	for _, w := range []struct {
		f  *framework
		id string
	}{{ckpt, "cmd"}, {ckpt, "grp"}, {ckpt, "short"}, {plain, "plain"}} {
		w.f.waitState(w.id, mesospb.TaskState_TASK_RUNNING, time.Minute)
	}
	procs := map[string][]procID{}
	for _, name := range []string{"cmd", "grp", "plain"} {
		eventually(t, 30*time.Second, func() error {
			ids, err := readPids(filepath.Join(pidDir, name))
			procs[name] = ids
			return err
		})
	}
	t.Cleanup(func() {
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

	if check != nil {
		check("before")
	}
	agent.proc.kill()
	// While the agent is down: "short" ends (its update waits in its
	// executor), and the executors of the framework that does not
	// checkpoint give up at once.
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	shortPid, err := os.ReadFile(filepath.Join(pidDir, "short"))
	if err != nil {
		t.Fatal(err)
	}
	short := procID{pid: atoi(t, string(shortPid))}
	_, short.start, _ = procStat(short.pid)
	eventually(t, 10*time.Second, func() error {
		if short.alive() {
			return fmt.Errorf("task short (pid %d) still runs", short.pid)
		}
		for i, p := range procs["plain"] {
			if p.alive() {
				return fmt.Errorf("process %d of the framework that does not checkpoint (pid %d) still runs", i, p.pid)
			}
		}
		return nil
	})

	agent.start()
	if got := agent.id(); got != agentID {
		t.Fatalf("agent id after the restart: %s, want %s", got, agentID)
	}
	ckpt.waitState("short", mesospb.TaskState_TASK_FINISHED, 30*time.Second)
	plain.waitFor(30*time.Second, "a terminal update for plain", func() bool {
		for _, u := range plain.updates {
			if u.GetTaskId().GetValue() == "plain" && isTerminalState(u.GetState()) {
				t.Logf("the task of the framework that does not checkpoint: %s %s (%s)", u.GetState(), u.GetReason(), u.GetMessage())
				return true
			}
		}
		return false
	})
	for _, name := range []string{"cmd", "grp"} {
		for i, p := range procs[name] {
			if !p.alive() {
				t.Fatalf("%s: process %d (pid %d) did not survive the agent's restart", name, i, p.pid)
			}
		}
	}
	if check != nil {
		check("after")
	}
	// The master still has them running, on the same agent.
	eventually(t, 10*time.Second, func() error {
		for _, fw := range cl.state().Frameworks {
			if fw.ID != ckpt.client.FrameworkID().GetValue() {
				continue
			}
			running := 0
			for _, task := range fw.Tasks {
				if (task.ID == "cmd" || task.ID == "grp") && task.State == "TASK_RUNNING" {
					running++
				}
			}
			if running == 2 {
				return nil
			}
			return fmt.Errorf("master lists %+v", fw.Tasks)
		}
		return fmt.Errorf("framework not at the master")
	})

	// The recovered executors resubscribed: a kill reaches them, and
	// nothing else ended their tasks first.
	for _, name := range []string{"cmd", "grp"} {
		if err := ckpt.client.Kill(context.Background(), &mesospb.TaskID{Value: proto.String(name)},
			&mesospb.AgentID{Value: proto.String(agentID)}); err != nil {
			t.Fatal(err)
		}
		ckpt.waitState(name, mesospb.TaskState_TASK_KILLED, 30*time.Second)
	}
	eventually(t, 20*time.Second, func() error {
		for _, name := range []string{"cmd", "grp"} {
			for i, p := range procs[name] {
				if p.alive() {
					return fmt.Errorf("%s: process %d (pid %d) still runs after TASK_KILLED", name, i, p.pid)
				}
			}
		}
		return nil
	})
	onlyKilled(t, ckpt, "cmd", "grp")
}

// onlyKilled fails t if a task got a terminal state other than
// TASK_KILLED (the agent's restart must not have ended it).
func onlyKilled(t *testing.T, f *framework, ids ...string) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, u := range f.updates {
		if slices.Contains(ids, u.GetTaskId().GetValue()) && isTerminalState(u.GetState()) &&
			u.GetState() != mesospb.TaskState_TASK_KILLED {
			t.Fatalf("task %s: %s (%s %s), want only TASK_KILLED", u.GetTaskId().GetValue(), u.GetState(), u.GetReason(), u.GetMessage())
		}
	}
}

// --recover=cleanup: the restarted agent kills what the last run left and
// registers as a new agent.
func TestAgentRecoverCleanup(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("counting processes needs /proc, which this machine lacks:", err)
	}
	cl := newCluster(t, 0, executorAgentRes, masterFlags...)
	agent := newRecoveryAgent(cl)
	agentID := agent.id()
	pidDir := t.TempDir()
	ckpt := newFramework(t, cl.master.addr, fwOptions{checkpoint: true})
	launchOne(t, ckpt, nil, groupTask("cmd", fmt.Sprintf(`sleep 600 & echo $$ $PPID $! > %s/cmd; wait`, pidDir), smallTask), nil)
	ckpt.waitState("cmd", mesospb.TaskState_TASK_RUNNING, time.Minute)
	var procs []procID
	eventually(t, 30*time.Second, func() error {
		var err error
		procs, err = readPids(filepath.Join(pidDir, "cmd"))
		return err
	})
	t.Cleanup(func() {
		for _, p := range procs {
			if p.alive() {
				_ = syscall.Kill(p.pid, syscall.SIGKILL)
			}
		}
	})
	agent.proc.kill()
	// The cleanup sends SIGTERM and waits the shutdown grace period: the
	// executors kill their tasks meanwhile.
	agent.start("--recover=cleanup", "--executor_shutdown_grace_period=1secs")
	eventually(t, 20*time.Second, func() error {
		for i, p := range procs {
			if p.alive() {
				return fmt.Errorf("process %d (pid %d) still runs", i, p.pid)
			}
		}
		return nil
	})
	if got := agent.id(); got == agentID {
		t.Fatalf("agent kept its id %s after --recover=cleanup", got)
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A Docker command task of a checkpointing framework survives an agent
// SIGKILL and restart: the recovering agent keeps its container (Docker's
// Recover with the recovered ids) instead of removing it as an orphan, and
// the task can still be killed.
func TestAgentRecoveryDocker(t *testing.T) {
	d := needDocker(t)
	cl := newCluster(t, 0, executorAgentRes, masterFlags...)
	agent := newRecoveryAgent(cl, "--containerizers=docker,mesos")
	agentID := agent.id()
	f := newFramework(t, cl.master.addr, fwOptions{checkpoint: true})
	task := &mesospb.TaskInfo{
		Name:    proto.String("sleeper"),
		TaskId:  &mesospb.TaskID{Value: proto.String("sleeper")},
		Command: &mesospb.CommandInfo{Value: proto.String("sleep 1000")},
		Container: &mesospb.ContainerInfo{
			Type:   mesospb.ContainerInfo_DOCKER.Enum(),
			Docker: &mesospb.ContainerInfo_DockerInfo{Image: proto.String(d.image)},
		},
		KillPolicy: &mesospb.KillPolicy{GracePeriod: &mesospb.DurationInfo{Nanoseconds: proto.Int64(int64(time.Second))}},
	}
	f.launchTask(task, "cpus:0.5;mem:96")
	f.waitState("sleeper", mesospb.TaskState_TASK_RUNNING, time.Minute)
	before := d.containersOf(t, cl.dir)
	if len(before) != 1 {
		t.Fatalf("containers while the task runs: %v, want one", before)
	}

	agent.proc.kill()
	agent.start()
	if got := agent.id(); got != agentID {
		t.Fatalf("agent id after the restart: %s, want %s", got, agentID)
	}
	if after := d.containersOf(t, cl.dir); len(after) != 1 || after[0] != before[0] {
		t.Fatalf("containers after the restart: %v, want %v", after, before)
	}
	if err := f.client.Kill(context.Background(), task.GetTaskId(), &mesospb.AgentID{Value: proto.String(agentID)}); err != nil {
		t.Fatal(err)
	}
	f.waitState("sleeper", mesospb.TaskState_TASK_KILLED, time.Minute)
	onlyKilled(t, f, "sleeper")
	eventually(t, 30*time.Second, func() error {
		if left := d.containersOf(t, cl.dir); len(left) > 0 {
			return fmt.Errorf("containers left: %v", left)
		}
		return nil
	})
}

// `meso agent` stopped gracefully (SIGTERM, as for an upgrade) leaves the
// executors of checkpointing frameworks running and destroys the others;
// started again, it recovers the former.
func TestAgentRestartGraceful(t *testing.T) { testAgentRestartGraceful(t) }

// The same with command executor hosts: the checkpointing framework's host
// (the task's parent) stays with its task through the stop, the other's
// goes with its task.
func TestAgentRestartGracefulCommandHost(t *testing.T) { testAgentRestartGraceful(t, hostFlags...) }

func testAgentRestartGraceful(t *testing.T, flags ...string) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("counting processes needs /proc, which this machine lacks:", err)
	}
	cl := newCluster(t, 0, executorAgentRes, masterFlags...)
	agent := newRecoveryAgent(cl, flags...)
	agentID := agent.id()
	pidDir := t.TempDir()
	record := func(name string) string {
		return fmt.Sprintf(`sleep 600 & echo $$ $PPID $! > %s; wait`, filepath.Join(pidDir, name))
	}
	ckpt := newFramework(t, cl.master.addr, fwOptions{checkpoint: true})
	launchOne(t, ckpt, nil, groupTask("cmd", record("cmd"), smallTask), nil)
	ckpt.waitState("cmd", mesospb.TaskState_TASK_RUNNING, time.Minute)
	plain := newFramework(t, cl.master.addr, fwOptions{})
	launchOne(t, plain, ckpt, groupTask("plain", record("plain"), smallTask), nil)
	plain.waitState("plain", mesospb.TaskState_TASK_RUNNING, time.Minute)
	procs := map[string][]procID{}
	for _, name := range []string{"cmd", "plain"} {
		eventually(t, 30*time.Second, func() error {
			ids, err := readPids(filepath.Join(pidDir, name))
			procs[name] = ids
			return err
		})
	}
	t.Cleanup(func() {
		for _, ids := range procs {
			for _, p := range ids {
				if p.alive() {
					_ = syscall.Kill(p.pid, syscall.SIGKILL)
				}
			}
		}
	})

	if len(flags) > 0 { // the tasks' parents (their executors) are hosts
		requireHosted(t, procs["cmd"][1].pid)
		requireHosted(t, procs["plain"][1].pid)
	}
	agent.proc.stop()
	eventually(t, 20*time.Second, func() error {
		for i, p := range procs["plain"] {
			if p.alive() {
				return fmt.Errorf("process %d of the framework that does not checkpoint (pid %d) still runs", i, p.pid)
			}
		}
		return nil
	})
	for i, p := range procs["cmd"] {
		if !p.alive() {
			t.Fatalf("process %d of the checkpointing framework (pid %d) did not survive the agent's stop", i, p.pid)
		}
	}
	agent.start()
	if got := agent.id(); got != agentID {
		t.Fatalf("agent id after the restart: %s, want %s", got, agentID)
	}
	if err := ckpt.client.Kill(context.Background(), &mesospb.TaskID{Value: proto.String("cmd")},
		&mesospb.AgentID{Value: proto.String(agentID)}); err != nil {
		t.Fatal(err)
	}
	ckpt.waitState("cmd", mesospb.TaskState_TASK_KILLED, 30*time.Second)
	onlyKilled(t, ckpt, "cmd")
	eventually(t, 20*time.Second, func() error {
		for i, p := range procs["cmd"] {
			if p.alive() {
				return fmt.Errorf("process %d (pid %d) still runs after TASK_KILLED", i, p.pid)
			}
		}
		return nil
	})
}
