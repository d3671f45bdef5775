package e2e

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRDDMasterFailoverMidJob: a job on a group of three masters survives
// SIGKILL of the leading master mid-job, in coarse- and fine-grained mode.
// The driver (a checkpointing framework with a failover timeout, given
// the three masters) follows the new leader and resubscribes under its
// framework id, the agents re-register with their executors and tasks,
// fine-grained mode reconciles its running tasks, and the result equals
// local mode's.
func TestRDDMasterFailoverMidJob(t *testing.T) {
	bin := buildExample(t, "groupby")
	args := []string{"--n", "10000000", "--parts", "200"}
	local, err := runProgram(t, 5*time.Minute, bin, append(args, "--master", "local[2]")...)
	if err != nil {
		t.Fatalf("local run: %v\n%s", err, local)
	}
	for _, mode := range []string{"coarse", "fine"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			g := startHAGroup(t, dir, "--registry_election_timeout=300ms")
			leader := waitLeader(t, 30*time.Second, g.ms...)
			for i := 1; i <= 2; i++ {
				port := freePort(t)
				start(t, fmt.Sprintf("agent%d", i), port, "agent", "--master="+g.list, "--ip=127.0.0.1",
					"--port="+strconv.Itoa(port), "--work_dir="+filepath.Join(dir, fmt.Sprintf("agent%d", i)),
					"--resources=cpus:3;mem:2048;disk:4096;ports:[31000-32000]",
					"--status_update_retry_interval_min=200ms", "--registration_backoff_factor=100ms").waitHealthy()
			}
			run := append(args, "--log-level", "info", "--master", "mesos://"+g.list,
				"--conf", "spark.mesos.checkpoint=true", "--conf", "spark.mesos.driver.failoverTimeout=600",
				"--conf", "spark.executor.memory=256m", "--conf", "spark.shuffle.io.retryWait=1s")
			if mode == "fine" {
				run = append(run, "--conf", "spark.mesos.coarse=false", "--conf", "spark.mesos.executor.memoryOverhead=64m")
			} else {
				run = append(run, "--conf", "spark.cores.max=4", "--conf", "spark.executor.cores=2")
			}
			out, done := startProgram(t, 5*time.Minute, bin, run...)
			eventually(t, 2*time.Minute, func() error {
				if !strings.Contains(out.String(), "Stage") {
					return fmt.Errorf("no stage running yet")
				}
				return nil
			})
			leader.kill()
			next := waitLeader(t, 30*time.Second, g.others(leader)...)
			t.Logf("%s leads after the SIGKILL of %s", next.name, leader.name)
			if err := <-done; err != nil {
				t.Fatalf("%s run across the failover: %v\n%s", mode, err, out.String())
			}
			text := out.String()
			if got, want := checksumOf(t, text), checksumOf(t, local); got != want {
				t.Fatalf("%s %s, local %s\noutput:\n%s", mode, got, want, text)
			}
			if mode == "fine" && !strings.Contains(text, "reconciling running tasks") {
				t.Logf("the fine-grained driver did not reconcile (no task was running when it resubscribed?)")
			}
		})
	}
}
