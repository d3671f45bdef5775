package e2e

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// An agent killed (SIGKILL of `meso agent`, and of the executors it ran:
// the machine is gone) while a join's reduce stage runs: the master marks
// the executor's task unreachable, the driver loses that executor (its
// running tasks retried elsewhere, its map outputs recomputed), asks for a
// replacement on another agent, and the result is exact.
func TestRDDClusterAgentKilledMidJob(t *testing.T) {
	bin := buildRDDOps(t)
	args := []string{"--op", "join", "--n", "200000", "--parts", "8", "--slow-ms", "1500"}
	local, err := runProgram(t, 3*time.Minute, bin, append(args, "--master", "local[2]")...)
	if err != nil {
		t.Fatalf("local run: %v\n%s", err, local)
	}
	c := newCluster(t, 3, "cpus:2;mem:2048;disk:4096;ports:[31000-32000]", fastLossFlags...)
	pidDir := t.TempDir()
	out, done := startProgram(t, 5*time.Minute, bin, append(args, clusterArgs(c, pidDir)...)...)
	// Once the reduce stage runs (the map outputs exist on both
	// executors), kill the agent of one executor and its processes.
	var victim string
	var victimPIDs []int
	eventually(t, 3*time.Minute, func() error {
		if !strings.Contains(out.String(), "[Stage 1") {
			return errors.New("reduce stage not running yet")
		}
		pids := executorPIDs(t, pidDir)
		var st taskAgents
		if err := getJSON(c.master.url("/master/state"), &st); err != nil {
			return err
		}
		for _, tk := range st.tasks() {
			if tk.State == "TASK_RUNNING" && pids[tk.ID] != 0 {
				victim = tk.SlaveID
			}
		}
		if victim == "" {
			return errors.New("no running executor with a pid")
		}
		victimPIDs = nil
		for _, tk := range st.tasks() {
			if tk.SlaveID == victim && pids[tk.ID] != 0 {
				victimPIDs = append(victimPIDs, pids[tk.ID])
			}
		}
		return nil
	})
	agent := c.agentByID(t, victim)
	if err := agent.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for _, pid := range victimPIDs {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	if err := <-done; err != nil {
		t.Fatalf("cluster run: %v\n%s", err, out.String())
	}
	s := out.String()
	if got, want := checksumOf(t, s), checksumOf(t, local); got != want {
		t.Fatalf("cluster %s, local %s\ncluster output:\n%s", got, want, s)
	}
	// The driver lost the executor on its Mesos task's state, with the map
	// outputs it held (recomputed: the result above is exact).
	if !regexp.MustCompile(`executor lost.*why="?TASK_(LOST|UNREACHABLE|FAILED|GONE).*map_outputs_lost=[1-9]`).MatchString(s) {
		t.Errorf("no executor lost with its Mesos task's state and map outputs in the output:\n%s", s)
	}
	if n := len(executorPIDs(t, pidDir)); n < 3 {
		t.Errorf("%d executors ran, want a replacement for the lost one\n%s", n, s)
	}
}

// agentByID finds the agent process the master knows by id.
func (c *cluster) agentByID(t *testing.T, id string) *proc {
	t.Helper()
	for _, p := range c.agents {
		if agentIDOf(p) == id {
			return p
		}
	}
	t.Fatalf("no agent process with id %s", id)
	return nil
}

// agentIDOf asks an agent its id (/state).
func agentIDOf(p *proc) string {
	var st struct {
		ID string `json:"id"`
	}
	if err := getJSON(p.url("/state"), &st); err != nil {
		return fmt.Sprint(err)
	}
	return st.ID
}
