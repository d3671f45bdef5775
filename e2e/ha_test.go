package e2e

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
)

// haRaftOffset is the --registry_port_offset of the HA tests.
const haRaftOffset = 1

// freePortPair finds a free loopback port whose successor at offset is
// free too (the master's HTTP and raft ports).
func freePortPair(t testing.TB, offset int) int {
	t.Helper()
	for range 100 {
		port := freePort(t)
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+offset))
		if err == nil {
			ln.Close()
			return port
		}
	}
	t.Fatal("no free pair of loopback ports")
	return 0
}

// leaderState is the part of /master/state about leadership.
type leaderState struct {
	PID    string `json:"pid"`
	Leader string `json:"leader"`
	masterState
}

// waitLeader polls the masters until one leads and returns it.
func waitLeader(t testing.TB, timeout time.Duration, masters ...*proc) *proc {
	t.Helper()
	return pollLeader(t, timeout, 20*time.Millisecond, masters)
}

// pollLeader is waitLeader with a chosen polling period.
func pollLeader(t testing.TB, timeout, every time.Duration, masters []*proc) *proc {
	t.Helper()
	var leader *proc
	poll(t, timeout, every, func() error {
		for _, m := range masters {
			var st leaderState
			if err := getJSON(m.url("/master/state"), &st); err == nil && st.Leader != "" && st.Leader == st.PID {
				leader = m
				return nil
			}
		}
		return fmt.Errorf("no master leads")
	})
	return leader
}

// TestMasterFailoverKeepsTasks runs three `meso master` processes, an
// agent and a framework given the list of masters; SIGKILL of the leading
// master elects another within seconds, the agent re-registers under its
// id, the framework resubscribes with its id, its running task is still
// running and reported, and offers resume.
func TestMasterFailoverKeepsTasks(t *testing.T) {
	dir := t.TempDir()
	var ports []int
	var list []string
	for range 3 {
		p := freePortPair(t, haRaftOffset)
		ports = append(ports, p)
		list = append(list, "127.0.0.1:"+strconv.Itoa(p))
	}
	masters := strings.Join(list, ",")
	var ms []*proc
	for i, p := range ports {
		args := append([]string{"master", "--ip=127.0.0.1", "--port=" + strconv.Itoa(p),
			"--work_dir=" + filepath.Join(dir, fmt.Sprintf("master%d", i+1)), "--masters=" + masters,
			"--registry_port_offset=" + strconv.Itoa(haRaftOffset), "--registry_election_timeout=300ms"}, masterFlags...)
		ms = append(ms, start(t, fmt.Sprintf("master%d", i+1), p, args...))
	}
	leader := waitLeader(t, 30*time.Second, ms...)

	aport := freePort(t)
	agent := start(t, "agent1", aport, "agent", "--master="+masters, "--ip=127.0.0.1",
		"--port="+strconv.Itoa(aport), "--work_dir="+filepath.Join(dir, "agent1"), "--resources="+agentRes,
		"--status_update_retry_interval_min=200ms", "--registration_backoff_factor=100ms")
	agent.waitHealthy()
	f := newFramework(t, masters, fwOptions{failoverTimeout: 3600})
	f.launch("survivor", "sleep 1000", "cpus:0.5;mem:64", "")
	f.waitState("survivor", mesospb.TaskState_TASK_RUNNING, 30*time.Second)
	id := f.client.FrameworkID().GetValue()
	var before leaderState
	if err := getJSON(leader.url("/master/state"), &before); err != nil || len(before.Slaves) != 1 {
		t.Fatalf("leader state before the kill: %+v %v", before, err)
	}
	agentID := before.Slaves[0].ID

	killed := time.Now()
	leader.kill()
	var rest []*proc
	for _, m := range ms {
		if m != leader {
			rest = append(rest, m)
		}
	}
	next := waitLeader(t, 30*time.Second, rest...)
	t.Logf("%s leads %s after the SIGKILL", next.name, time.Since(killed).Round(time.Millisecond))

	f.waitFor(30*time.Second, "resubscription to the new leader", func() bool { return f.subs >= 2 })
	if got := f.client.FrameworkID().GetValue(); got != id {
		t.Fatalf("resubscribed as %s, want %s", got, id)
	}
	eventually(t, 30*time.Second, func() error {
		var st leaderState
		if err := getJSON(next.url("/master/state"), &st); err != nil {
			return err
		}
		if len(st.Slaves) != 1 || st.Slaves[0].ID != agentID || !st.Slaves[0].Active {
			return fmt.Errorf("agents %+v; want %s back, active", st.Slaves, agentID)
		}
		for _, fw := range st.Frameworks {
			if fw.ID == id && len(fw.Tasks) == 1 && fw.Tasks[0].State == "TASK_RUNNING" {
				return nil
			}
		}
		return fmt.Errorf("frameworks %+v; want %s with survivor running", st.Frameworks, id)
	})
	f.mu.Lock()
	f.updates = nil
	f.mu.Unlock()
	if err := f.client.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.waitState("survivor", mesospb.TaskState_TASK_RUNNING, 30*time.Second)
	f.launch("after", "sleep 1000", "cpus:0.5;mem:64", agentID)
	f.waitState("after", mesospb.TaskState_TASK_RUNNING, 30*time.Second)
	t.Logf("offers resumed %s after the SIGKILL", time.Since(killed).Round(time.Millisecond))
}
