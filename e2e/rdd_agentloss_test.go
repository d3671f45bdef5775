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
	pidDir := t.TempDir()
	s := killAgentMidJob(t, "cpus:2;mem:2048;disk:4096;ports:[31000-32000]",
		func(c *cluster) []string { return clusterArgs(c, pidDir) }, pidDir,
		// An executor is the Mesos task of the same id.
		func(_ *cluster, st taskAgents, exec string) string {
			for _, tk := range st.tasks() {
				if tk.ID == exec && tk.State == "TASK_RUNNING" {
					return tk.SlaveID
				}
			}
			return ""
		})
	// The driver lost the executor on its Mesos task's state, with the map
	// outputs it held (recomputed: the result is exact).
	if !regexp.MustCompile(`executor lost.*why="?TASK_(LOST|UNREACHABLE|FAILED|GONE).*map_outputs_lost=[1-9]`).MatchString(s) {
		t.Errorf("no executor lost with its Mesos task's state and map outputs in the output:\n%s", s)
	}
	if n := len(executorPIDs(t, pidDir)); n < 3 {
		t.Errorf("%d executors ran, want a replacement for the lost one\n%s", n, s)
	}
}

// killAgentMidJob runs a join (with the mode's args) on three agents of
// res with fast agent-loss detection; once its reduce stage runs (the map
// outputs exist) it SIGKILLs the agent of one executor and every executor
// that agent ran (the machine is gone; agentOf says where an executor id
// runs, "" when not known yet). The run must succeed with the exact
// result; its output is returned.
func killAgentMidJob(t *testing.T, res string, modeArgs func(c *cluster) []string, pidDir string,
	agentOf func(c *cluster, st taskAgents, exec string) string) string {
	t.Helper()
	bin := buildRDDOps(t)
	args := []string{"--op", "join", "--n", "200000", "--parts", "8", "--slow-ms", "1500"}
	local, err := runProgram(t, 3*time.Minute, bin, append(args, "--master", "local[2]")...)
	if err != nil {
		t.Fatalf("local run: %v\n%s", err, local)
	}
	c := newCluster(t, 3, res, fastLossFlags...)
	out, done := startProgram(t, 5*time.Minute, bin, append(args, modeArgs(c)...)...)
	var victim string
	var victimPIDs []int
	eventually(t, 3*time.Minute, func() error {
		if !strings.Contains(out.String(), "[Stage 1") {
			return errors.New("reduce stage not running yet")
		}
		var st taskAgents
		if err := getJSON(c.master.url("/master/state"), &st); err != nil {
			return err
		}
		pids := executorPIDs(t, pidDir)
		for id := range pids {
			if a := agentOf(c, st, id); a != "" {
				victim = a
			}
		}
		if victim == "" {
			return errors.New("no running executor with a pid")
		}
		victimPIDs = nil
		for id, pid := range pids {
			if agentOf(c, st, id) == victim {
				victimPIDs = append(victimPIDs, pid)
			}
		}
		return nil
	})
	if err := c.agentByID(t, victim).cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for _, pid := range victimPIDs {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	killed := time.Now()
	if err := <-done; err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	t.Logf("the run ended %v after the kill", time.Since(killed).Round(time.Millisecond))
	s := out.String()
	if got, want := checksumOf(t, s), checksumOf(t, local); got != want {
		t.Fatalf("cluster %s, local %s\noutput:\n%s", got, want, s)
	}
	return s
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
