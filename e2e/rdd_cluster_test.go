package e2e

import (
	"context"
	"errors"
	"io"
	"net/http"
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
func buildExample(t testing.TB, name string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	cmd := exec.Command("go", "build", "-o", bin, "github.com/mesoproject/meso/examples/"+name)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", name, err, out)
	}
	return bin
}

// runProgram runs an rdd program to completion and returns its output.
func runProgram(t testing.TB, timeout time.Duration, bin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// startProgram starts bin with args, bounded by timeout, and returns its
// combined output as it grows and a channel with its exit.
func startProgram(t testing.TB, timeout time.Duration, bin string, args ...string) (*syncBuffer, <-chan error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	cmd := exec.CommandContext(ctx, bin, args...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait(); cancel() }()
	t.Cleanup(func() { cancel() }) // never outlives the test
	return out, done
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
		"--conf", "spark.reducer.maxSizeInFlight=4m", "--conf", "spark.shuffle.io.retryWait=1s",
		"--conf", "spark.executorEnv.MESO_RDD_PID_DIR=" + pidDir}
}

// demoSize is the seed demo's size: the talk's 10M integers in 500
// partitions (about 35 s for both runs at load 14), or 1M/100 with
// MESO_E2E_SMALL_DEMO=1 for a quicker look.
func demoSize() (string, string) {
	if os.Getenv("MESO_E2E_SMALL_DEMO") != "" {
		return "1000000", "100"
	}
	return "10000000", "500"
}

// The seed demo run by a driver on executors that a 3-agent cluster
// launched equals local mode exactly, and every executor process is gone
// once the driver exited.
func TestRDDClusterDemoEqualsLocal(t *testing.T) {
	bin := buildExample(t, "groupby")
	n, parts := demoSize()
	began := time.Now()
	local, err := runProgram(t, 5*time.Minute, bin, "--n", n, "--parts", parts, "--master", "local[2]")
	if err != nil {
		t.Fatalf("local run: %v\n%s", err, local)
	}
	localTime := time.Since(began)
	c := newCluster(t, 3, "cpus:2;mem:2048;disk:4096;ports:[31000-32000]", masterFlags...)
	pidDir := t.TempDir()
	// spark.cores.max (4) is never exceeded: the cpus of the framework's
	// live tasks in /master/state, sampled while the job runs. The
	// framework's webui_url is the driver UI, whose executors page lists
	// the executors registered.
	stopSampling := make(chan struct{})
	maxCPUs := make(chan float64, 1)
	uiExecutors := 0 // executor rows seen on the driver UI; read after maxCPUs
	go func() {
		peak := 0.0
		defer func() { maxCPUs <- peak }()
		for {
			select {
			case <-stopSampling:
				return
			case <-time.After(100 * time.Millisecond):
			}
			var st frameworkTasks
			if getJSON(c.master.url("/master/state"), &st) != nil {
				continue
			}
			sum := 0.0
			for _, f := range st.Frameworks {
				if f.WebUIURL != "" && uiExecutors == 0 {
					if resp, err := http.Get(f.WebUIURL + "/executors/"); err == nil {
						body, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						uiExecutors = strings.Count(string(body), `<tr class="executor"`)
					}
				}
				for _, tk := range f.Tasks {
					if tk.State == "TASK_STAGING" || tk.State == "TASK_STARTING" || tk.State == "TASK_RUNNING" {
						sum += tk.Resources.CPUs
					}
				}
			}
			peak = max(peak, sum)
		}
	}()
	began = time.Now()
	out, err := runProgram(t, 5*time.Minute, bin, append([]string{"--n", n, "--parts", parts}, clusterArgs(c, pidDir)...)...)
	close(stopSampling)
	if err != nil {
		t.Fatalf("cluster run: %v\n%s", err, out)
	}
	// The figures of docs/BENCHMARKS.md "The demo on the cluster": whole
	// program runs, process start to exit.
	t.Logf("demo %s/%s: local[2] %v, cluster %v", n, parts, localTime.Round(10*time.Millisecond), time.Since(began).Round(10*time.Millisecond))
	if peak := <-maxCPUs; peak > 4 || peak == 0 {
		t.Errorf("executors held %v cpus at most, want (0, 4] (spark.cores.max=4)", peak)
	}
	if uiExecutors == 0 {
		t.Errorf("the driver UI at the framework's webui_url never listed an executor")
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

// Word count over a generated text file gives the same counts on the
// cluster as in local mode.
func TestRDDClusterWordCountEqualsLocal(t *testing.T) {
	bin := buildExample(t, "wordcount")
	input := filepath.Join(t.TempDir(), "words.txt")
	var b strings.Builder
	for i := range 200_000 {
		b.WriteString("w" + strconv.Itoa(i%5003) + " x" + strconv.Itoa(i%17) + " common\n")
	}
	if err := os.WriteFile(input, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	local, err := runProgram(t, 2*time.Minute, bin, "--mode", "engine", "--input", input, "--master", "local[2]")
	if err != nil {
		t.Fatalf("local run: %v\n%s", err, local)
	}
	c := newCluster(t, 3, "cpus:2;mem:2048;disk:4096;ports:[31000-32000]", masterFlags...)
	out, err := runProgram(t, 2*time.Minute, bin, append([]string{"--mode", "engine", "--input", input}, clusterArgs(c, t.TempDir())...)...)
	if err != nil {
		t.Fatalf("cluster run: %v\n%s", err, out)
	}
	if got, want := checksumOf(t, out), checksumOf(t, local); got != want {
		t.Fatalf("cluster %s, local %s\ncluster output:\n%s", got, want, out)
	}
	if !strings.Contains(out, "5021 distinct words, 600000 words") {
		t.Fatalf("cluster output:\n%s", out)
	}
}

// SIGKILL of an executor process mid-job: its tasks are retried elsewhere,
// its map outputs recomputed, a replacement executor is launched, and the
// result is exact.
func TestRDDClusterExecutorKilledMidJob(t *testing.T) {
	bin := buildExample(t, "groupby")
	args := []string{"--n", "2000000", "--parts", "40"}
	local, err := runProgram(t, 5*time.Minute, bin, append(args, "--master", "local[2]")...)
	if err != nil {
		t.Fatalf("local run: %v\n%s", err, local)
	}
	c := newCluster(t, 3, "cpus:2;mem:2048;disk:4096;ports:[31000-32000]", masterFlags...)
	pidDir := t.TempDir()
	out := killAnExecutorMidJob(t, bin, append(args, clusterArgs(c, pidDir)...), pidDir)
	if got, want := checksumOf(t, out), checksumOf(t, local); got != want {
		t.Fatalf("cluster %s, local %s\ncluster output:\n%s", got, want, out)
	}
	if n := len(executorPIDs(t, pidDir)); n < 3 {
		t.Errorf("%d executors ran, want a replacement for the killed one", n)
	}
}

// Executors whose Func registry differs from the driver's are refused, and
// the job fails naming the first differing Func.
func TestRDDClusterRegistryMismatch(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "rddmismatch")
	if out, err := exec.Command("go", "build", "-o", bin, "./testdata/rddmismatch").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	c := newCluster(t, 1, "cpus:2;mem:2048;disk:4096;ports:[31000-32000]", masterFlags...)
	out, err := runProgram(t, 2*time.Minute, bin, "--master", "mesos://"+c.master.addr,
		"--conf", "spark.executor.memory=256m", "--conf", "spark.executorEnv.RDD_EXTRA_FUNC=1")
	if err == nil {
		t.Fatalf("the job ran on mismatched executors:\n%s", out)
	}
	// Entry 0 is the engine's own (Counter's merge, the same on both
	// sides); the program's first Func is entry 1.
	for _, want := range []string{"Func registry differs", "Func 1 is registered at main.go:23 on the driver and at main.go:20 on the executor"} {
		if !strings.Contains(out, want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	}
}

// A driver killed with SIGKILL mid-job leaves no executor behind: they
// stop reaching it and exit.
func TestRDDClusterDriverKilledExecutorsExit(t *testing.T) {
	bin := buildExample(t, "groupby")
	c := newCluster(t, 2, "cpus:2;mem:2048;disk:4096;ports:[31000-32000]", masterFlags...)
	pidDir := t.TempDir()
	cmd := exec.Command(bin, append([]string{"--n", "20000000", "--parts", "200"}, clusterArgs(c, pidDir)...)...)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	defer func() { cmd.Process.Kill(); <-done }()
	var pids map[string]int
	eventually(t, 2*time.Minute, func() error {
		if pids = executorPIDs(t, pidDir); len(pids) < 2 || !strings.Contains(out.String(), "Stage") {
			return errors.New("executors not running tasks yet")
		}
		return nil
	})
	cmd.Process.Signal(syscall.SIGKILL)
	<-done
	eventually(t, 60*time.Second, func() error {
		for id, pid := range pids {
			if alive(pid) {
				return errors.New("executor " + id + " (pid " + strconv.Itoa(pid) + ") still runs")
			}
		}
		return nil
	})
}

// frameworkTasks is the part of /master/state about the frameworks' tasks
// and their resources.
type frameworkTasks struct {
	Frameworks []struct {
		WebUIURL string `json:"webui_url"`
		Tasks    []struct {
			State     string `json:"state"`
			Resources struct {
				CPUs float64 `json:"cpus"`
			} `json:"resources"`
		} `json:"tasks"`
	} `json:"frameworks"`
}
