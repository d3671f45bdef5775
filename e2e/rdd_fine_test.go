package e2e

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
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
	pidDir := t.TempDir()
	out, err := runProgram(t, 5*time.Minute, bin, append(args, fineArgs(c, pidDir)...)...)
	if err != nil {
		t.Fatalf("fine-grained run: %v\n%s", err, out)
	}
	if got, want := checksumOf(t, out), checksumOf(t, local); got != want {
		t.Fatalf("fine-grained %s, local %s\noutput:\n%s", got, want, out)
	}
	wantGroups := regexp.MustCompile(`collected \d+ groups`).FindString(local)
	if !strings.Contains(out, wantGroups) {
		t.Fatalf("fine-grained output lacks %q:\n%s", wantGroups, out)
	}
	// One Mesos executor per agent, and none left once the driver exited.
	pids := executorPIDs(t, pidDir)
	if len(pids) != 2 {
		t.Errorf("%d executors ran (%v), want one per agent", len(pids), pids)
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

// Results larger than a status update may carry (1 MiB) are kept by the
// executor and fetched by the driver; the result is exact.
func TestRDDFineLargeResults(t *testing.T) {
	bin := buildRDDOps(t)
	args := []string{"--op", "join", "--n", "300000", "--parts", "2"}
	local, err := runProgram(t, 2*time.Minute, bin, append(args, "--master", "local[2]")...)
	if err != nil {
		t.Fatalf("local run: %v\n%s", err, local)
	}
	c := newCluster(t, 1, "cpus:3;mem:2048;disk:4096;ports:[31000-32000]", masterFlags...)
	out, err := runProgram(t, 3*time.Minute, bin, append(args, fineArgs(c, t.TempDir())...)...)
	if err != nil {
		t.Fatalf("fine-grained run: %v\n%s", err, out)
	}
	if got, want := checksumOf(t, out), checksumOf(t, local); got != want {
		t.Fatalf("fine-grained %s, local %s\noutput:\n%s", got, want, out)
	}
	logs, _ := filepath.Glob(filepath.Join(c.dir, "*", "slaves", "*", "frameworks", "*", "executors", "*", "runs", "*", "stderr"))
	kept := 0
	for _, l := range logs {
		b, err := os.ReadFile(l)
		if err != nil {
			t.Fatal(err)
		}
		kept += strings.Count(string(b), "result kept for the driver to fetch")
	}
	if kept == 0 {
		t.Errorf("no result went through the fetch path (executor logs %v)", logs)
	}
}

// fineUse is the fine-grained framework's part of /master/state.
type fineUse struct {
	Frameworks []struct {
		Name string `json:"name"`
		Used struct {
			CPUs float64 `json:"cpus"`
		} `json:"used_resources"`
		Tasks          []struct{} `json:"tasks"`
		CompletedTasks []struct{} `json:"completed_tasks"`
	} `json:"frameworks"`
}

// Cpus go back to the master as tasks end: the framework's used cpus,
// sampled from /master/state while the job runs, rise above what its
// executors hold (1 cpu each) and fall back while it is still registered,
// and every rdd task was a Mesos task of its own.
func TestRDDFineCPUsReturned(t *testing.T) {
	bin := buildRDDOps(t)
	c := newCluster(t, 2, "cpus:3;mem:2048;disk:4096;ports:[31000-32000]", masterFlags...)
	stop := make(chan struct{})
	type sample struct {
		cpus  float64
		tasks int
	}
	samples := make(chan []sample, 1)
	go func() {
		var got []sample
		defer func() { samples <- got }()
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			var st fineUse
			if getJSON(c.master.url("/master/state"), &st) != nil {
				continue
			}
			for _, f := range st.Frameworks {
				if f.Name == "rddops" {
					got = append(got, sample{f.Used.CPUs, len(f.Tasks) + len(f.CompletedTasks)})
				}
			}
		}
	}()
	out, err := runProgram(t, 5*time.Minute, bin, append([]string{"--op", "join", "--n", "100000", "--parts", "8", "--slow-ms", "300"},
		fineArgs(c, t.TempDir())...)...)
	close(stop)
	got := <-samples
	if err != nil {
		t.Fatalf("fine-grained run: %v\n%s", err, out)
	}
	peak, peakAt := 0.0, 0
	for i, s := range got {
		if s.cpus > peak {
			peak, peakAt = s.cpus, i
		}
	}
	if peak <= 2 {
		t.Fatalf("the framework held at most %v cpus: its tasks never took cpus beyond the 2 executors' (samples %v)", peak, got)
	}
	low := peak
	for _, s := range got[peakAt:] {
		low = min(low, s.cpus)
	}
	if low >= peak {
		t.Errorf("used cpus never fell after the peak of %v: cpus not returned as tasks end (samples %v)", peak, got)
	}
	// 8 + 8 map tasks and 8 reduce tasks, each its own Mesos task.
	if n := got[len(got)-1].tasks; n < 24 {
		t.Errorf("the framework had %d Mesos tasks, want one per rdd task (at least 24)", n)
	}
	t.Logf("peak %v cpus, then down to %v; %d Mesos tasks", peak, low, got[len(got)-1].tasks)
}

// Task failures in fine-grained mode are retried per spark.task.maxFailures:
// each partition failing twice still gives the exact result; failing as
// many times as allowed fails the job, saying so. The shuffle service is
// refused in fine-grained mode.
func TestRDDFineTaskRetries(t *testing.T) {
	bin := buildRDDOps(t)
	args := []string{"--op", "join", "--n", "40000", "--parts", "4"}
	local, err := runProgram(t, 2*time.Minute, bin, append(args, "--master", "local[2]")...)
	if err != nil {
		t.Fatalf("local run: %v\n%s", err, local)
	}
	c := newCluster(t, 2, "cpus:3;mem:2048;disk:4096;ports:[31000-32000]", masterFlags...)
	retry := append(args, "--fail-dir", t.TempDir(), "--fail-times", "2")
	out, err := runProgram(t, 3*time.Minute, bin, append(retry, fineArgs(c, t.TempDir(), "spark.task.maxFailures=4")...)...)
	if err != nil {
		t.Fatalf("fine-grained run with 2 failures per partition: %v\n%s", err, out)
	}
	if got, want := checksumOf(t, out), checksumOf(t, local); got != want {
		t.Fatalf("fine-grained %s, local %s\noutput:\n%s", got, want, out)
	}
	fail := append(args, "--fail-dir", t.TempDir(), "--fail-times", "3")
	out, err = runProgram(t, 3*time.Minute, bin, append(fail, fineArgs(c, t.TempDir(), "spark.task.maxFailures=3")...)...)
	if err == nil || !strings.Contains(out, "task failed 3 times") || !strings.Contains(out, "injected failure 3") {
		t.Fatalf("3 failures with spark.task.maxFailures=3: err %v, want the job failed after 3 attempts; output:\n%s", err, out)
	}
	// The external shuffle service (and so dynamic allocation) needs
	// coarse-grained executors, as in Spark.
	out, err = runProgram(t, time.Minute, bin, append(args, fineArgs(c, t.TempDir(), "spark.shuffle.service.enabled=true")...)...)
	if err == nil || !strings.Contains(out, "need coarse-grained mode") {
		t.Fatalf("fine-grained with the shuffle service: err %v, want it refused; output:\n%s", err, out)
	}
}

// spark.mesos.constraints in fine-grained mode: every Mesos task (and so
// every executor) is on the one agent with zone:a.
func TestRDDFineConstraints(t *testing.T) {
	runConstrained(t, func(c *cluster) []string { return fineArgs(c, t.TempDir()) })
}

// Against a master with --authenticate_frameworks, fine-grained mode
// subscribes with spark.mesos.principal and spark.mesos.secret and gives
// the exact result; with a wrong secret the run fails saying the master
// refused it (401).
func TestRDDFineAuthenticates(t *testing.T) {
	bin := buildRDDOps(t)
	args := []string{"--op", "join", "--n", "20000", "--parts", "2"}
	local, err := runProgram(t, 2*time.Minute, bin, append(args, "--master", "local[2]")...)
	if err != nil {
		t.Fatalf("local run: %v\n%s", err, local)
	}
	creds := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(creds, []byte("rdd s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, 1, "cpus:3;mem:2048;disk:4096;ports:[31000-32000]",
		append(masterFlags, "--authenticate_frameworks", "--credentials="+creds)...)
	out, err := runProgram(t, 3*time.Minute, bin, append(args, fineArgs(c, t.TempDir(),
		"spark.mesos.principal=rdd", "spark.mesos.secret=s3cret")...)...)
	if err != nil {
		t.Fatalf("fine-grained run with the principal's secret: %v\n%s", err, out)
	}
	if got, want := checksumOf(t, out), checksumOf(t, local); got != want {
		t.Fatalf("fine-grained %s, local %s\noutput:\n%s", got, want, out)
	}
	out, err = runProgram(t, 2*time.Minute, bin, append(args, fineArgs(c, t.TempDir(),
		"spark.mesos.principal=rdd", "spark.mesos.secret=nope")...)...)
	if err == nil || !strings.Contains(out, "401") {
		t.Fatalf("fine-grained run with a wrong secret: err %v, want it refused with 401; output:\n%s", err, out)
	}
}

// SIGKILL of a fine-grained executor mid-job: its Mesos tasks end FAILED,
// they run again (on a new executor incarnation or the other agent), its
// map outputs are recomputed, and the result is exact.
func TestRDDFineExecutorKilledMidJob(t *testing.T) {
	bin := buildRDDOps(t)
	args := []string{"--op", "join", "--n", "100000", "--parts", "8", "--slow-ms", "400"}
	local, err := runProgram(t, 2*time.Minute, bin, append(args, "--master", "local[2]")...)
	if err != nil {
		t.Fatalf("local run: %v\n%s", err, local)
	}
	c := newCluster(t, 2, "cpus:3;mem:2048;disk:4096;ports:[31000-32000]", masterFlags...)
	pidDir := t.TempDir()
	out := killAnExecutorMidJob(t, bin, append(args, fineArgs(c, pidDir)...), pidDir)
	if got, want := checksumOf(t, out), checksumOf(t, local); got != want {
		t.Fatalf("fine-grained %s, local %s\noutput:\n%s", got, want, out)
	}
	// Its tasks failed as lost (it may have died before registering with
	// the driver, so the driver's own "executor lost" line is not sure).
	if !strings.Contains(out, "rdd: executor lost: ") {
		t.Errorf("no task of the killed executor failed as lost; output:\n%s", out)
	}
}

// killAnExecutorMidJob runs bin with args, SIGKILLs one executor (pids in
// pidDir) once two run and a stage shows on the progress line, and returns
// the output of the run, which must succeed.
func killAnExecutorMidJob(t *testing.T, bin string, args []string, pidDir string) string {
	t.Helper()
	out, done := startProgram(t, 5*time.Minute, bin, args...)
	var victim int
	eventually(t, 2*time.Minute, func() error {
		pids := executorPIDs(t, pidDir)
		if len(pids) < 2 || !strings.Contains(out.String(), "Stage") {
			return errors.New("executors not running tasks yet")
		}
		for _, pid := range pids {
			victim = pid
			break
		}
		return nil
	})
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	return out.String()
}

// An agent killed (SIGKILL of `meso agent` and of the executor it ran)
// while a join's reduce stage runs in fine-grained mode: its tasks end
// lost, the driver loses that executor with its map outputs, the tasks run
// again on the other agents, and the result is exact.
func TestRDDFineAgentKilledMidJob(t *testing.T) {
	pidDir := t.TempDir()
	s := killAgentMidJob(t, "cpus:3;mem:2048;disk:4096;ports:[31000-32000]",
		func(c *cluster) []string { return fineArgs(c, pidDir) }, pidDir,
		// Executor ids are "<agent id>-f<n>".
		func(c *cluster, _ taskAgents, exec string) string {
			for _, a := range c.agents {
				if id := agentIDOf(a); strings.HasPrefix(exec, id+"-f") {
					return id
				}
			}
			return ""
		})
	if !regexp.MustCompile(`executor lost.*why=.*map_outputs_lost=[1-9]`).MatchString(s) {
		t.Errorf("the driver never lost the killed agent's executor with its map outputs; output:\n%s", s)
	}
}

// An executor binary that cannot be fetched in fine-grained mode: each
// task's TASK_FAILED is shown, the agent is blacklisted after 2 failed
// executors, and once every agent offered is, the job fails naming the
// cause instead of waiting for offers it declines (as coarse mode does,
// TestRDDClusterExecutorUnfetchable).
func TestRDDFineExecutorUnfetchable(t *testing.T) {
	bin := buildRDDOps(t)
	missing := httptest.NewServer(http.NotFoundHandler())
	defer missing.Close()
	c := newCluster(t, 1, "cpus:3;mem:2048;disk:4096;ports:[31000-32000]", masterFlags...)
	out, err := runProgram(t, 3*time.Minute, bin, append([]string{"--op", "join", "--n", "1000", "--parts", "2"},
		fineArgs(c, t.TempDir(), "spark.executor.uri="+missing.URL+"/rddops", "spark.task.maxFailures=100")...)...)
	if err == nil {
		t.Fatalf("the job ran without executors:\n%s", out)
	}
	for _, want := range []string{"executors cannot start", "on each of the 1 agents offered, 2 executors failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
