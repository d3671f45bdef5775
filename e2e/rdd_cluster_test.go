package e2e

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildExample builds one of ./examples into a temporary directory.
func buildExample(t *testing.T, name string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	cmd := exec.Command("go", "build", "-o", bin, "github.com/mesoproject/meso/examples/"+name)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", name, err, out)
	}
	return bin
}

// runProgram runs an rdd program to completion and returns its output.
func runProgram(t *testing.T, timeout time.Duration, bin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

var checksumLine = regexp.MustCompile(`(?m)^checksum [0-9a-f]+$`)

func checksumOf(t *testing.T, out string) string {
	t.Helper()
	c := checksumLine.FindString(out)
	if c == "" {
		t.Fatalf("no checksum in output:\n%s", out)
	}
	return c
}

// executorPIDs reads the pids the executors wrote (MESO_RDD_PID_DIR).
func executorPIDs(t *testing.T, dir string) map[string]int {
	t.Helper()
	out := map[string]int{}
	files, _ := filepath.Glob(filepath.Join(dir, "*.pid"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".pid")] = pid
	}
	return out
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// clusterArgs are the settings of the example command.
func clusterArgs(c *cluster, pidDir string) []string {
	return []string{"--master", "mesos://" + c.master.addr,
		"--conf", "spark.cores.max=4", "--conf", "spark.executor.cores=2", "--conf", "spark.executor.memory=256m",
		"--conf", "spark.executorEnv.MESO_RDD_PID_DIR=" + pidDir}
}

// demoSize is the seed demo's size: 1M integers in 100 partitions by
// default, the full 10M/500 with MESO_E2E_FULL_DEMO=1 (slow on a loaded
// machine).
func demoSize() (string, string) {
	if os.Getenv("MESO_E2E_FULL_DEMO") != "" {
		return "10000000", "500"
	}
	return "1000000", "100"
}

// The seed demo run by a driver on executors that a 3-agent cluster
// launched equals local mode exactly, and every executor process is gone
// once the driver exited.
func TestRDDClusterDemoEqualsLocal(t *testing.T) {
	bin := buildExample(t, "groupby")
	n, parts := demoSize()
	local, err := runProgram(t, 5*time.Minute, bin, "--n", n, "--parts", parts, "--master", "local[2]")
	if err != nil {
		t.Fatalf("local run: %v\n%s", err, local)
	}
	c := newCluster(t, 3, "cpus:2;mem:2048;disk:4096;ports:[31000-32000]", masterFlags...)
	pidDir := t.TempDir()
	out, err := runProgram(t, 5*time.Minute, bin, append([]string{"--n", n, "--parts", parts}, clusterArgs(c, pidDir)...)...)
	if err != nil {
		t.Fatalf("cluster run: %v\n%s", err, out)
	}
	if got, want := checksumOf(t, out), checksumOf(t, local); got != want {
		t.Fatalf("cluster %s, local %s\ncluster output:\n%s", got, want, out)
	}
	wantGroups := regexp.MustCompile(`collected \d+ groups`).FindString(local)
	if !strings.Contains(out, wantGroups) {
		t.Fatalf("cluster output lacks %q:\n%s", wantGroups, out)
	}
	pids := executorPIDs(t, pidDir)
	if len(pids) == 0 {
		t.Fatalf("no executor wrote its pid; output:\n%s", out)
	}
	eventually(t, 20*time.Second, func() error {
		for id, pid := range pids {
			if alive(pid) {
				return errors.New("executor " + id + " (pid " + strconv.Itoa(pid) + ") still runs")
			}
		}
		return nil
	})
}
