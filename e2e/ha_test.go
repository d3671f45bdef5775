package e2e

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"slices"
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

// haGroup is three `meso master` processes sharing one replicated
// registry, on loopback ports whose raft ports are free too.
type haGroup struct {
	tb    testing.TB
	dir   string
	ports []int
	list  string   // the --masters value
	extra []string // flags given to every master (before masterFlags)
	ms    []*proc
}

// startHAGroup starts the three masters with work dirs under dir.
func startHAGroup(tb testing.TB, dir string, extra ...string) *haGroup {
	tb.Helper()
	g := &haGroup{tb: tb, dir: dir, extra: extra}
	var addrs []string
	for range 3 {
		p := freePortPair(tb, haRaftOffset)
		g.ports = append(g.ports, p)
		addrs = append(addrs, "127.0.0.1:"+strconv.Itoa(p))
	}
	g.list = strings.Join(addrs, ",")
	g.ms = make([]*proc, len(g.ports))
	for i := range g.ms {
		g.ms[i] = g.start(i)
	}
	return g
}

func (g *haGroup) start(i int) *proc {
	args := append([]string{"master", "--ip=127.0.0.1", "--port=" + strconv.Itoa(g.ports[i]),
		"--work_dir=" + filepath.Join(g.dir, fmt.Sprintf("master%d", i+1)), "--masters=" + g.list,
		"--registry_port_offset=" + strconv.Itoa(haRaftOffset)}, g.extra...)
	return start(g.tb, fmt.Sprintf("master%d", i+1), g.ports[i], append(args, masterFlags...)...)
}

// restart starts the (killed) master m again on its work dir and waits
// until it is healthy.
func (g *haGroup) restart(m *proc) *proc {
	i := slices.Index(g.ms, m)
	g.ms[i] = g.start(i)
	g.ms[i].waitHealthy()
	return g.ms[i]
}

// others is the group without m.
func (g *haGroup) others(m *proc) []*proc {
	var rest []*proc
	for _, o := range g.ms {
		if o != m {
			rest = append(rest, o)
		}
	}
	return rest
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
	g := startHAGroup(t, dir, "--registry_election_timeout=300ms")
	masters := g.list
	leader := waitLeader(t, 30*time.Second, g.ms...)

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
	next := waitLeader(t, 30*time.Second, g.others(leader)...)
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
