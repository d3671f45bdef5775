package e2e

import (
	"context"
	"errors"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

var computedLine = regexp.MustCompile(`(?m)^input records computed (\d+)$`)

func inputComputed(t *testing.T, out string) int {
	t.Helper()
	m := computedLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no input count in output:\n%s", out)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// An iterative job on executors launched through offers: 5 iterations
// whose Func takes the cached input (and a driver Parallelize) as
// arguments compute the input once, as local mode does, with the same
// results. Then an executor holding cached partitions is SIGKILLed between
// iterations: its partitions are recomputed from the lineage and the
// results stay exact.
func TestRDDClusterIterationsOverCachedInput(t *testing.T) {
	bin := buildExample(t, "iterate")
	args := []string{"--n", "200000", "--parts", "8", "--iterations", "5"}
	local, err := runProgram(t, 2*time.Minute, bin, append(args, "--master", "local[2]", "--conf", "spark.rdd.checkPortable=true")...)
	if err != nil {
		t.Fatalf("local run: %v\n%s", err, local)
	}
	if n := inputComputed(t, local); n != 200000 {
		t.Fatalf("local mode computed %d input records", n)
	}
	c := newCluster(t, 2, "cpus:2;mem:2048;disk:4096;ports:[31000-32000]", masterFlags...)
	out, err := runProgram(t, 3*time.Minute, bin, append(args, clusterArgs(c, t.TempDir())...)...)
	if err != nil {
		t.Fatalf("cluster run: %v\n%s", err, out)
	}
	if got, want := checksumOf(t, out), checksumOf(t, local); got != want {
		t.Fatalf("cluster %s, local %s\ncluster output:\n%s", got, want, out)
	}
	if n := inputComputed(t, out); n != 200000 {
		t.Fatalf("the cluster computed %d input records over 5 iterations, want 200000 (once)\n%s", n, out)
	}

	// Kill an executor after iteration 2 (the cache is on both executors).
	pidDir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(append(args, "--pause-after", "2"), clusterArgs(c, pidDir)...)...)
	var buf syncBuffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	eventually(t, 2*time.Minute, func() error {
		if !strings.Contains(buf.String(), "iteration 2:") {
			return errors.New("iteration 2 not done")
		}
		return nil
	})
	pids := executorPIDs(t, pidDir)
	if len(pids) < 2 {
		t.Fatalf("%d executors ran iterations 1 and 2, want 2 (spark.cores.max=4, 2 cores each)", len(pids))
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		break
	}
	stdin.Write([]byte("\n"))
	stdin.Close()
	if err := <-done; err != nil {
		t.Fatalf("cluster run: %v\n%s", err, buf.String())
	}
	out = buf.String()
	if got, want := checksumOf(t, out), checksumOf(t, local); got != want {
		t.Fatalf("after the kill: cluster %s, local %s\ncluster output:\n%s", got, want, out)
	}
	// The killed executor's cached partitions were recomputed (each
	// partition is 25000 records), the others read from the cache.
	if n := inputComputed(t, out); n < 200000 || n > 400000 || n%25000 != 0 {
		t.Fatalf("after the kill the cluster computed %d input records, want 200000 plus the lost partitions\n%s", n, out)
	} else {
		t.Logf("after the kill: %d input records computed (%d partitions recomputed)", n, (n-200000)/25000)
	}
}
