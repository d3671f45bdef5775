package e2e

import (
	"testing"
	"time"
)

// fineArgs run a program in fine-grained mode on c.
func fineArgs(c *cluster, pidDir string, more ...string) []string {
	args := []string{"--master", "mesos://" + c.master.addr,
		"--conf", "spark.mesos.coarse=false", "--conf", "spark.executor.memory=256m",
		"--conf", "spark.mesos.executor.memoryOverhead=64m",
		"--conf", "spark.shuffle.io.retryWait=1s",
		"--conf", "spark.executorEnv.MESO_RDD_PID_DIR=" + pidDir}
	for _, m := range more {
		args = append(args, "--conf", m)
	}
	return args
}

// The seed demo (small) in fine-grained mode equals local mode exactly.
func TestRDDFineDemoEqualsLocal(t *testing.T) {
	bin := buildExample(t, "groupby")
	args := []string{"--n", "300000", "--parts", "24"}
	local, err := runProgram(t, 5*time.Minute, bin, append(args, "--master", "local[2]")...)
	if err != nil {
		t.Fatalf("local run: %v\n%s", err, local)
	}
	c := newCluster(t, 2, "cpus:3;mem:2048;disk:4096;ports:[31000-32000]", masterFlags...)
	out, err := runProgram(t, 5*time.Minute, bin, append(args, fineArgs(c, t.TempDir())...)...)
	if err != nil {
		t.Fatalf("fine-grained run: %v\n%s", err, out)
	}
	if got, want := checksumOf(t, out), checksumOf(t, local); got != want {
		t.Fatalf("fine-grained %s, local %s\noutput:\n%s", got, want, out)
	}
}
