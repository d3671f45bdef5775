package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The operator CLI against real binaries: a task that writes a line every
// 100ms shows in `meso tasks` (and its JSON), `meso cat` prints its output,
// `meso tail -f` shows lines written after it started and ends 0 on
// Ctrl-C, `meso teardown` removes the framework, and bad inputs exit 1
// with a message.
func TestOperatorCLI(t *testing.T) {
	cl := newCluster(t, 1, "cpus:2;mem:512", masterFlags...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	m := "--master=" + cl.master.addr

	start(t, "execute", 0, "execute", m, "--name", "ticker", "--resources", "cpus:0.1;mem:16",
		"--command", `i=0; while true; do i=$((i+1)); echo "line $i"; sleep 0.1; done`)

	// meso tasks: the task is listed running.
	eventually(t, 30*time.Second, func() error {
		out, code := runMeso(t, ctx, "tasks", m)
		if code != 0 {
			return fmt.Errorf("meso tasks exited %d: %s", code, out)
		}
		ls := lines(out)
		if len(ls) != 2 || !strings.HasPrefix(ls[0], "ID") || !strings.HasPrefix(ls[1], "ticker") || !strings.Contains(ls[1], "TASK_RUNNING") {
			return fmt.Errorf("meso tasks:\n%s", out)
		}
		return nil
	})
	// -o json parses as the operator API's answer.
	out, code := runMeso(t, ctx, "tasks", m, "-o", "json")
	var tasks struct {
		GetTasks struct {
			Tasks []struct {
				TaskID      struct{ Value string } `json:"task_id"`
				FrameworkID struct{ Value string } `json:"framework_id"`
				State       string                 `json:"state"`
			} `json:"tasks"`
		} `json:"get_tasks"`
	}
	if err := json.Unmarshal([]byte(out), &tasks); code != 0 || err != nil || len(tasks.GetTasks.Tasks) != 1 ||
		tasks.GetTasks.Tasks[0].TaskID.Value != "ticker" || tasks.GetTasks.Tasks[0].State != "TASK_RUNNING" {
		t.Fatalf("meso tasks -o json (exit %d, %v):\n%s", code, err, out)
	}
	fw := tasks.GetTasks.Tasks[0].FrameworkID.Value
	for _, cmd := range [][]string{{"agents", m}, {"frameworks", m}} {
		out, code := runMeso(t, ctx, cmd...)
		if code != 0 || len(lines(out)) != 2 {
			t.Errorf("meso %s (exit %d):\n%s", cmd[0], code, out)
		}
		if cmd[0] == "frameworks" && !strings.Contains(out, fw) {
			t.Errorf("meso frameworks does not list %s:\n%s", fw, out)
		}
	}

	// meso cat prints the task's stdout from its first line.
	eventually(t, 30*time.Second, func() error {
		out, code := runMeso(t, ctx, "cat", m, "ticker")
		if code != 0 || !strings.HasPrefix(out, "line 1\nline 2\n") {
			return fmt.Errorf("meso cat (exit %d):\n%s", code, out)
		}
		return nil
	})

	// meso tail -f: the last line, then lines written after it started.
	tail := exec.CommandContext(ctx, mesoBin, "tail", "-f", "-n", "1", m, "ticker")
	stdout, err := tail.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	tail.Stderr = &stderr
	if err := tail.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	lineNo := func() int {
		t.Helper()
		if !sc.Scan() {
			t.Fatalf("meso tail -f ended: %v %s", sc.Err(), stderr.String())
		}
		n, err := strconv.Atoi(strings.TrimPrefix(sc.Text(), "line "))
		if err != nil {
			t.Fatalf("meso tail -f printed %q", sc.Text())
		}
		return n
	}
	first := lineNo()
	for n := first; n < first+3; {
		next := lineNo()
		if next != n+1 {
			t.Fatalf("meso tail -f: line %d after line %d", next, n)
		}
		n = next
	}
	tail.Process.Signal(syscall.SIGINT)
	go io.Copy(io.Discard, stdout)
	if err := tail.Wait(); err != nil {
		t.Errorf("meso tail -f after Ctrl-C: %v %s", err, stderr.String())
	}

	// Bad inputs: exit 1 with a message.
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"cat", m, "no-such-task"}, `unknown task "no-such-task"`},
		{[]string{"tasks", m, "-o", "yaml"}, "-o/--output must be table or json"},
		{[]string{"cat", m, "ticker", "../../etc/passwd"}, "inside the sandbox"},
		{[]string{"tasks", "--master=127.0.0.1:1"}, "no master answered"},
		{[]string{"drain", m, "some-agent"}, "501 Not Implemented: DRAIN_AGENT is not implemented"},
		{[]string{"reserve", m, "some-agent", "--resources", "cpus(web):1"}, "no agent found"},
		{[]string{"teardown", m, "no-such-framework"}, "400 Bad Request"},
	} {
		out, code := runMeso(t, ctx, tc.args...)
		if code != 1 || !strings.Contains(out, tc.msg) {
			t.Errorf("meso %s: exit %d, output %q; want 1 and %q", strings.Join(tc.args, " "), code, out, tc.msg)
		}
	}

	// meso teardown removes the framework; its task ends killed.
	if out, code := runMeso(t, ctx, "teardown", m, fw); code != 0 || !strings.Contains(out, "torn down") {
		t.Fatalf("meso teardown (exit %d):\n%s", code, out)
	}
	eventually(t, 30*time.Second, func() error {
		out, code := runMeso(t, ctx, "frameworks", m, "--all")
		if code != 0 || !strings.Contains(out, fw) || !strings.Contains(out, "completed") {
			return fmt.Errorf("meso frameworks --all (exit %d):\n%s", code, out)
		}
		return nil
	})
	if out, _ := runMeso(t, ctx, "frameworks", m); strings.Contains(out, fw) {
		t.Errorf("meso frameworks still lists the torn-down framework:\n%s", out)
	}
}

// Against a group of three `meso master` processes: a follower's 307 is
// followed, and a dead address first in --master is skipped.
func TestOperatorCLIFollowsTheLeader(t *testing.T) {
	dir := t.TempDir()
	g := startHAGroup(t, dir, "--registry_election_timeout=300ms")
	ms := g.ms
	leader := waitLeader(t, 30*time.Second, ms...)
	var follower *proc
	for _, m := range ms {
		if m != leader {
			follower = m
			break
		}
	}
	aport := freePort(t)
	agent := start(t, "agent1", aport, "agent", "--master="+g.list, "--ip=127.0.0.1",
		"--port="+strconv.Itoa(aport), "--work_dir="+filepath.Join(dir, "agent1"), "--resources=cpus:1;mem:128",
		"--registration_backoff_factor=100ms")
	agent.waitHealthy()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dead := "127.0.0.1:" + strconv.Itoa(freePort(t))
	eventually(t, 30*time.Second, func() error {
		out, code := runMeso(t, ctx, "agents", "--master="+dead+","+follower.addr)
		if ls := lines(out); code != 0 || len(ls) != 2 || !strings.Contains(ls[1], ":"+strconv.Itoa(aport)+" ") {
			return fmt.Errorf("meso agents through the follower (exit %d):\n%s", code, out)
		}
		return nil
	})
}
