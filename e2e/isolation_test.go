package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
)

// Tests of cgroups isolation through real agent processes: limits
// enforced by the kernel, read back at /monitor/statistics.

// needCgroups skips t where the agent could not create cgroups.
func needCgroups(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("cgroups isolation tests need root (to create cgroups)")
	}
	if _, err := os.Stat("/sys/fs/cgroup"); err != nil {
		t.Skip("no cgroup file system at /sys/fs/cgroup")
	}
}

var cgroupsRoots atomic.Int64

// cgroupsRoot is a --cgroups_root of its own for each agent (agents sharing
// a root remove each other's cgroups at start). The root's directories are
// removed when the test ends, after its agents (the agent leaves its root
// in place, as Mesos does).
func cgroupsRoot(t *testing.T) string {
	root := fmt.Sprintf("meso-e2e-%d-%d", os.Getpid(), cgroupsRoots.Add(1))
	t.Cleanup(func() {
		for _, dir := range cgroupsDirs(root) {
			if err := os.Remove(dir); err != nil {
				t.Errorf("cgroups root left behind: %v", err)
			}
		}
	})
	return root
}

// cgroupsDirs lists the directories of root in every hierarchy.
func cgroupsDirs(root string) []string {
	var out []string
	for _, pattern := range []string{"/sys/fs/cgroup/" + root, "/sys/fs/cgroup/*/" + root,
		"/sys/fs/cgroup/*/*/" + root, "/sys/fs/cgroup/*/*/*/" + root} {
		dirs, _ := filepath.Glob(pattern)
		out = append(out, dirs...)
	}
	return out
}

// boostCPU gives the agent's cgroups root the largest cpu weight, so that
// other work on a busy host cannot starve a measurement (the quota, not
// the competition, must be what limits the task).
func boostCPU(t *testing.T, root string) {
	t.Helper()
	boosted := false
	for _, dir := range cgroupsDirs(root) {
		for file, weight := range map[string]string{"cpu.shares": "262144", "cpu.weight": "10000"} {
			if _, err := os.Stat(filepath.Join(dir, file)); err != nil {
				continue
			}
			if err := os.WriteFile(filepath.Join(dir, file), []byte(weight), 0o644); err != nil {
				t.Fatalf("boosting %s: %v", dir, err)
			}
			boosted = true
		}
	}
	if !boosted {
		t.Logf("no cpu weight to raise for cgroups root %s; a busy host may starve the measurement", root)
	}
}

// statistics is one element of an agent's /monitor/statistics.
type statistics struct {
	ExecutorID   string             `json:"executor_id"`
	ExecutorName string             `json:"executor_name"`
	FrameworkID  string             `json:"framework_id"`
	Source       string             `json:"source"`
	Statistics   map[string]float64 `json:"statistics"`
}

// executorStatistics polls the agent's /monitor/statistics until it lists
// executorID, and returns that entry.
func executorStatistics(t *testing.T, agent *proc, executorID string) statistics {
	t.Helper()
	var found statistics
	eventually(t, 30*time.Second, func() error {
		var list []statistics
		if err := getJSON(agent.url("/monitor/statistics"), &list); err != nil {
			return err
		}
		for _, s := range list {
			if s.ExecutorID == executorID {
				found = s
				return nil
			}
		}
		return fmt.Errorf("executor %s not in /monitor/statistics: %v", executorID, list)
	})
	return found
}

// A task that allocates more memory than its mem fails with the memory
// limitation, its message giving the limit.
func TestCgroupsMemoryLimit(t *testing.T) {
	needCgroups(t)
	c := newCluster(t, 0, "", masterFlags...)
	c.addAgent("cpus:2;mem:1024", "--isolation=cgroups/mem", "--cgroups_root="+cgroupsRoot(t))
	c.waitAgents(1)
	f := newFramework(t, c.master.addr, fwOptions{})

	// tail keeps a line without newline whole: 200MB in a 64MB container.
	f.launch("hog", "head -c 200m /dev/zero | tail", "cpus:0.1;mem:64", "")
	st := f.waitState("hog", mesospb.TaskState_TASK_FAILED, time.Minute)
	if st.GetReason() != mesospb.TaskStatus_REASON_CONTAINER_LIMITATION_MEMORY {
		t.Errorf("reason = %v (message %q), want REASON_CONTAINER_LIMITATION_MEMORY", st.GetReason(), st.GetMessage())
	}
	if msg := st.GetMessage(); !strings.Contains(msg, "Memory limit exceeded") || !strings.Contains(msg, "64MB") {
		t.Errorf("message = %q, want the limit (64MB) and the usage", msg)
	}
	if st.GetSource() != mesospb.TaskStatus_SOURCE_AGENT {
		t.Logf("source = %v", st.GetSource())
	}
}

// A spinning task with cpus:0.5 and a CFS quota uses about half a core,
// measured from the cpu time /monitor/statistics reports.
func TestCgroupsCPUQuota(t *testing.T) {
	needCgroups(t)
	c := newCluster(t, 0, "", masterFlags...)
	root := cgroupsRoot(t)
	agent := c.addAgent("cpus:2;mem:1024", "--isolation=cgroups/cpu,cgroups/mem", "--cgroups_enable_cfs", "--cgroups_root="+root)
	c.waitAgents(1)
	boostCPU(t, root)
	f := newFramework(t, c.master.addr, fwOptions{})

	f.launch("spin", "while :; do :; done", "cpus:0.5;mem:64", "")
	f.waitState("spin", mesospb.TaskState_TASK_RUNNING, time.Minute)
	first := executorStatistics(t, agent, "spin")
	if got := first.Statistics["cpus_limit"]; got != 0.5 {
		t.Errorf("cpus_limit = %v, want 0.5", got)
	}
	if got := first.Statistics["mem_limit_bytes"]; got != 64<<20 {
		t.Errorf("mem_limit_bytes = %v, want %d", got, 64<<20)
	}
	if first.FrameworkID == "" || !strings.Contains(first.ExecutorName, "Command Executor") || first.Source != "spin" {
		t.Errorf("entry = %+v, want the command executor of spin", first)
	}
	// The same statistics are Prometheus gauges at /metrics.
	prom := fetchText(t, agent.url("/metrics"))
	for _, want := range []string{
		`meso_container_cpus_limit{executor_id="spin",framework_id="` + first.FrameworkID + `"} 0.5`,
		`meso_container_mem_limit_bytes{executor_id="spin",framework_id="` + first.FrameworkID + `"} 6.7108864e+07`,
		"meso_slave_executors_running 1",
	} {
		if !strings.Contains(prom, want) {
			t.Errorf("agent /metrics lacks %s", want)
		}
	}
	if _, ok := first.Statistics["cpus_nr_periods"]; !ok {
		t.Errorf("no CFS accounting (cpus_nr_periods) with --cgroups_enable_cfs: %v", first.Statistics)
	}
	<-time.After(3 * time.Second) // the measurement window
	second := executorStatistics(t, agent, "spin")
	cpu := func(s statistics) float64 {
		return s.Statistics["cpus_user_time_secs"] + s.Statistics["cpus_system_time_secs"]
	}
	elapsed := second.Statistics["timestamp"] - first.Statistics["timestamp"]
	if elapsed <= 0 {
		t.Fatalf("timestamps did not advance: %v then %v", first.Statistics["timestamp"], second.Statistics["timestamp"])
	}
	used := (cpu(second) - cpu(first)) / elapsed
	t.Logf("a spinning task with cpus:0.5 used %.2f cores over %.1fs", used, elapsed)
	// The quota caps it at 0.5 (generous tolerance: the host is shared).
	if used > 0.65 || used < 0.3 {
		t.Errorf("used %.2f cores, want about 0.5", used)
	}
	if used > 0.4 && second.Statistics["cpus_nr_throttled"] == 0 {
		t.Errorf("at the quota but never throttled: %v", second.Statistics)
	}
}
