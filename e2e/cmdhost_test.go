package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
)

// hostFlags turn the command executor host on, with a short idle time so
// that tests see hosts exit.
var hostFlags = []string{"--command_executor_host", "--command_executor_host_idle=1s"}

// requireHosted fails t unless the process pid is a command executor host.
func requireHosted(t *testing.T, pid int) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(b), "command-host") {
		t.Fatalf("process %d (%q, %v) is not a command executor host", pid, b, err)
	}
}

// parentOf reads "<pid> <ppid> <ppid's cmdline>" a task wrote.
func parentOf(t *testing.T, file string) (ppid int, cmdline string) {
	t.Helper()
	var b []byte
	eventually(t, 30*time.Second, func() error {
		var err error
		b, err = os.ReadFile(file)
		if err == nil && !strings.HasSuffix(string(b), "\n") {
			err = fmt.Errorf("%s not complete", file)
		}
		return err
	})
	f := strings.SplitN(strings.TrimSpace(string(b)), " ", 3)
	if len(f) < 3 {
		t.Fatalf("%s: %q", file, b)
	}
	return atoi(t, f[1]), f[2]
}

// Command tasks through one command executor host: each task keeps its own
// executor id, sandbox and updates (FINISHED, FAILED with the exit status,
// KILLED by its executor), all run as children of the same host process,
// and the host exits once idle.
func TestCommandExecutorHost(t *testing.T) {
	cl := newCluster(t, 0, agentRes, masterFlags...)
	cl.addAgent(agentRes, hostFlags...)
	cl.waitAgents(1)
	f := newFramework(t, cl.master.addr, fwOptions{})
	out := t.TempDir()
	record := func(id string) string {
		return fmt.Sprintf(`echo out-%s; echo err-%s >&2; echo $$ $PPID $(tr '\0' ' ' < /proc/$PPID/cmdline) > %s.tmp; mv %s.tmp %s`,
			id, id, filepath.Join(out, id), filepath.Join(out, id), filepath.Join(out, id))
	}
	const n = 12
	for i := range n {
		f.launch(fmt.Sprintf("t%d", i), record(fmt.Sprintf("t%d", i)), "cpus:0.1;mem:16", "")
	}
	host := 0
	for i := range n {
		id := fmt.Sprintf("t%d", i)
		st := f.waitState(id, mesospb.TaskState_TASK_FINISHED, time.Minute)
		if st.GetExecutorId().GetValue() != id {
			t.Errorf("%s: executor id %q, want the task id", id, st.GetExecutorId().GetValue())
		}
		ppid, cmdline := parentOf(t, filepath.Join(out, id))
		if !strings.Contains(cmdline, "meso-executor command-host") {
			t.Errorf("%s ran under %q, want the command executor host", id, cmdline)
		}
		if host == 0 {
			host = ppid
		} else if ppid != host {
			t.Errorf("%s ran under pid %d, the others under %d: want one host", id, ppid, host)
		}
		// Its own sandbox holds its own output and its executor's log.
		sandboxes, _ := filepath.Glob(filepath.Join(cl.dir, "agent1", "slaves", "*", "frameworks", "*", "executors", id, "runs", "latest"))
		if len(sandboxes) != 1 {
			t.Fatalf("%s: sandboxes %v", id, sandboxes)
		}
		stdout, _ := os.ReadFile(filepath.Join(sandboxes[0], "stdout"))
		stderr, _ := os.ReadFile(filepath.Join(sandboxes[0], "stderr"))
		if string(stdout) != "out-"+id+"\n" || !strings.Contains(string(stderr), "err-"+id+"\n") ||
			!strings.Contains(string(stderr), "command-executor") {
			t.Errorf("%s: stdout %q, stderr %q", id, stdout, stderr)
		}
		if got := f.statesOf(id); len(got) != 3 || got[0] != mesospb.TaskState_TASK_STARTING || got[1] != mesospb.TaskState_TASK_RUNNING {
			t.Errorf("%s: states %v, want STARTING RUNNING FINISHED", id, got)
		}
	}
	offer := f.launch("sleeper", "sleep 1000", "cpus:0.1;mem:16", "")
	f.launch("bad", "echo oops >&2; exit 3", "cpus:0.1;mem:16", "")
	st := f.waitState("bad", mesospb.TaskState_TASK_FAILED, 30*time.Second)
	if !strings.Contains(st.GetMessage(), "exited with status 3") || st.GetSource() != mesospb.TaskStatus_SOURCE_EXECUTOR {
		t.Errorf("TASK_FAILED %s %q, want the exit status from the executor", st.GetSource(), st.GetMessage())
	}
	f.waitState("sleeper", mesospb.TaskState_TASK_RUNNING, 30*time.Second)
	// /monitor/statistics lists the hosted task: its process group's
	// usage (a busy shell) and its limits.
	f.launch("busy", "while :; do :; done", "cpus:0.1;mem:16", "")
	f.waitState("busy", mesospb.TaskState_TASK_RUNNING, 30*time.Second)
	eventually(t, 30*time.Second, func() error {
		st := executorStatistics(t, cl.agents[0], "busy").Statistics
		if st["processes"] < 1 || st["cpus_user_time_secs"] <= 0 || st["mem_rss_bytes"] <= 0 ||
			st["cpus_limit"] != 0.1 || st["mem_limit_bytes"] != 16<<20 {
			return fmt.Errorf("busy's statistics %v", st)
		}
		return nil
	})
	if err := f.client.Kill(context.Background(), taskID("busy"), offer.GetAgentId()); err != nil {
		t.Fatal(err)
	}
	f.waitState("busy", mesospb.TaskState_TASK_KILLED, 30*time.Second)
	if err := f.client.Kill(context.Background(), taskID("sleeper"), offer.GetAgentId()); err != nil {
		t.Fatal(err)
	}
	st = f.waitState("sleeper", mesospb.TaskState_TASK_KILLED, 30*time.Second)
	if st.GetSource() != mesospb.TaskStatus_SOURCE_EXECUTOR {
		t.Errorf("TASK_KILLED source = %s, want SOURCE_EXECUTOR", st.GetSource())
	}

	// Idle for a second, the host exits.
	h := procID{pid: host}
	_, h.start, _ = procStat(host)
	eventually(t, 30*time.Second, func() error {
		if h.alive() {
			return fmt.Errorf("host %d still runs", host)
		}
		return nil
	})
	// A new task starts a new host.
	f.launch("again", record("again"), "cpus:0.1;mem:16", "")
	f.waitState("again", mesospb.TaskState_TASK_FINISHED, 30*time.Second)
	if ppid, cmdline := parentOf(t, filepath.Join(out, "again")); ppid == host || !strings.Contains(cmdline, "command-host") {
		t.Errorf("again ran under %d %q, want a new host", ppid, cmdline)
	}
}

// SIGKILL of the host mid-task: its running tasks end TASK_FAILED (their
// executor terminated), their processes die with it, no update is lost
// (the task that had finished stays FINISHED), and the next task gets a
// new host.
func TestCommandExecutorHostKilled(t *testing.T) {
	for _, checkpoint := range []bool{false, true} {
		t.Run(fmt.Sprintf("checkpoint=%v", checkpoint), func(t *testing.T) {
			cl := newCluster(t, 0, agentRes, masterFlags...)
			cl.addAgent(agentRes, hostFlags...)
			cl.waitAgents(1)
			f := newFramework(t, cl.master.addr, fwOptions{checkpoint: checkpoint})
			out := t.TempDir()
			rec := func(id string) string {
				p := filepath.Join(out, id)
				return fmt.Sprintf(`echo $$ $PPID host > %s.tmp; mv %s.tmp %s; exec sleep 1000`, p, p, p)
			}
			f.launch("done", "true", "cpus:0.1;mem:16", "")
			f.waitState("done", mesospb.TaskState_TASK_FINISHED, 30*time.Second)
			for _, id := range []string{"v1", "v2", "v3"} {
				f.launch(id, rec(id), "cpus:0.1;mem:16", "")
			}
			var host int
			var tasks []procID
			for _, id := range []string{"v1", "v2", "v3"} {
				f.waitState(id, mesospb.TaskState_TASK_RUNNING, 30*time.Second)
				ppid, _ := parentOf(t, filepath.Join(out, id))
				data, _ := os.ReadFile(filepath.Join(out, id))
				p := procID{pid: atoi(t, strings.Fields(string(data))[0])}
				_, p.start, _ = procStat(p.pid)
				tasks = append(tasks, p)
				if host != 0 && ppid != host {
					t.Fatalf("%s under %d, others under %d", id, ppid, host)
				}
				host = ppid
			}
			if err := syscall.Kill(host, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			for _, id := range []string{"v1", "v2", "v3"} {
				st := f.waitState(id, mesospb.TaskState_TASK_FAILED, 30*time.Second)
				if st.GetReason() != mesospb.TaskStatus_REASON_EXECUTOR_TERMINATED {
					t.Errorf("%s: %s %s %q, want REASON_EXECUTOR_TERMINATED", id, st.GetState(), st.GetReason(), st.GetMessage())
				}
			}
			eventually(t, 10*time.Second, func() error {
				for _, p := range tasks {
					if p.alive() {
						return fmt.Errorf("task process %d outlived its host", p.pid)
					}
				}
				return nil
			})
			if got := f.statesOf("done"); got[len(got)-1] != mesospb.TaskState_TASK_FINISHED {
				t.Errorf("done: %v", got)
			}
			f.launch("after", "true", "cpus:0.1;mem:16", "")
			f.waitState("after", mesospb.TaskState_TASK_FINISHED, 30*time.Second)
		})
	}
}

// An agent restart with hosted command executors: the checkpointing
// framework's hosted task survives, is re-attached and killed as before;
// the other framework's ends (testAgentRecovery's checks).
func TestAgentRecoveryCommandHost(t *testing.T) {
	testAgentRecovery(t, nil, hostFlags...)
}

// Hosting is on by default, and a framework torn down retires its host
// as soon as its executors are gone (no wait for the idle time, an hour
// here); another framework's host stays.
func TestCommandExecutorHostRetiredWithFramework(t *testing.T) {
	cl := newCluster(t, 0, agentRes, masterFlags...)
	cl.addAgent(agentRes, "--command_executor_host_idle=1h")
	cl.waitAgents(1)
	out := t.TempDir()
	record := func(id string) string {
		return fmt.Sprintf(`echo $$ $PPID $(tr '\0' ' ' < /proc/$PPID/cmdline) > %s.tmp; mv %s.tmp %s; exec sleep 1000`,
			filepath.Join(out, id), filepath.Join(out, id), filepath.Join(out, id))
	}
	var hosts []procID
	var fws []*framework
	for _, id := range []string{"a", "b"} {
		f := newFramework(t, cl.master.addr, fwOptions{})
		fws = append(fws, f)
		f.launch(id, record(id), "cpus:0.1;mem:16", "")
		f.waitState(id, mesospb.TaskState_TASK_RUNNING, 30*time.Second)
		ppid, cmdline := parentOf(t, filepath.Join(out, id))
		if !strings.Contains(cmdline, "command-host") {
			t.Fatalf("%s ran under %q, want a command executor host (the default)", id, cmdline)
		}
		h := procID{pid: ppid}
		_, h.start, _ = procStat(ppid)
		hosts = append(hosts, h)
	}
	if hosts[0].pid == hosts[1].pid {
		t.Fatalf("both frameworks' tasks ran under host %d", hosts[0].pid)
	}
	if err := fws[0].client.Teardown(t.Context()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		if hosts[0].alive() {
			return fmt.Errorf("the torn down framework's host %d still runs", hosts[0].pid)
		}
		return nil
	})
	if !hosts[1].alive() {
		t.Errorf("the other framework's host %d exited", hosts[1].pid)
	}
}
