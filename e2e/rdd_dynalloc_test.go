package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// dynAllocCluster is a 3-agent cluster, 1 cpu each (one 1-cpu executor
// per agent), each agent with an external shuffle service whose cleaner
// runs every 500 ms.
func dynAllocCluster(t *testing.T) *cluster {
	t.Helper()
	c := newCluster(t, 0, "", masterFlags...)
	for range 3 {
		c.addAgent("cpus:1;mem:1024;disk:4096;ports:[31000-32000]",
			"--shuffle_service="+strconv.Itoa(freePort(t)), "--shuffle_service_cleaner_interval=500ms")
	}
	c.waitAgents(3)
	return c
}

// dynAllocArgs are the seed talk's settings with short timeouts.
func dynAllocArgs(c *cluster, pidDir, tmpDir, idle string) []string {
	return []string{"--master", "mesos://" + c.master.addr,
		"--conf", "spark.executor.cores=1", "--conf", "spark.executor.memory=256m",
		"--conf", "spark.dynamicAllocation.enabled=true", "--conf", "spark.shuffle.service.enabled=true",
		"--conf", "spark.dynamicAllocation.minExecutors=1", "--conf", "spark.dynamicAllocation.maxExecutors=3",
		"--conf", "spark.dynamicAllocation.schedulerBacklogTimeout=100ms",
		"--conf", "spark.dynamicAllocation.executorIdleTimeout=" + idle,
		"--conf", "spark.dynamicAllocation.cachedExecutorIdleTimeout=" + idle,
		"--conf", "spark.executor.heartbeatInterval=300ms", "--conf", "spark.storage.blockManagerSlaveTimeoutMs=2000",
		"--conf", "spark.shuffle.io.retryWait=200ms", "--conf", "spark.shuffle.io.maxRetries=1",
		"--conf", "spark.executorEnv.MESO_RDD_PID_DIR=" + pidDir, "--conf", "spark.executorEnv.TMPDIR=" + tmpDir}
}

// interactiveDriver is groupby --interactive with its stdin held by the test.
type interactiveDriver struct {
	t     testing.TB
	cmd   *exec.Cmd
	stdin interface{ Write([]byte) (int, error) }
	out   *syncBuffer
	done  chan struct{}
}

func startInteractive(t testing.TB, bin string, args ...string) *interactiveDriver {
	t.Helper()
	d := &interactiveDriver{t: t, cmd: exec.Command(bin, args...), out: &syncBuffer{}, done: make(chan struct{})}
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	in, err := d.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	d.stdin = in
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.cmd.Wait(); close(d.done) }()
	t.Cleanup(func() {
		d.cmd.Process.Kill()
		<-d.done
		if t.Failed() {
			t.Logf("--- driver output:\n%s", d.out.String())
		}
	})
	return d
}

// waitFor waits until the output matches re and returns the first match.
func (d *interactiveDriver) waitFor(timeout time.Duration, re *regexp.Regexp) []string {
	d.t.Helper()
	var m []string
	eventually(d.t, timeout, func() error {
		if m = re.FindStringSubmatch(d.out.String()); m != nil {
			return nil
		}
		select {
		case <-d.done:
			return errors.New("the driver exited")
		default:
		}
		return fmt.Errorf("no %q in the driver's output yet", re)
	})
	return m
}

// runningExecutors counts the framework's TASK_RUNNING tasks in /master/state.
func runningExecutors(c *cluster) int {
	var st frameworkTasks
	if getJSON(c.master.url("/master/state"), &st) != nil {
		return -1
	}
	n := 0
	for _, f := range st.Frameworks {
		for _, tk := range f.Tasks {
			if tk.State == "TASK_RUNNING" {
				n++
			}
		}
	}
	return n
}

// sampler records the peak of runningExecutors while it runs.
type sampler struct {
	mu   sync.Mutex
	peak int
	stop chan struct{}
}

func sample(c *cluster) *sampler {
	s := &sampler{stop: make(chan struct{})}
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
			n := runningExecutors(c)
			s.mu.Lock()
			s.peak = max(s.peak, n)
			s.mu.Unlock()
		}
	}()
	return s
}

func (s *sampler) Peak() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak
}

var actionLine = regexp.MustCompile(`action (\d+): (\d+) stages run, (\d+) skipped, (\d+) map tasks run`)

// The seed talk's scenario with short timeouts: dynamic allocation ramps
// the executors from min (1) to max (3) under the first action's backlog
// and back to 1 once they idle; the last executor is then SIGKILLed (lost,
// its agent alive); the second action runs on new executors, skips the
// map stage (the shuffle services serve the removed and lost executors'
// outputs), runs no map task, and gives the exact result. Killing the
// driver (no more heartbeats) makes the services delete the application's
// shuffle files.
// dynAllocRun is a driver after its first action and back to min.
type dynAllocRun struct {
	c                      *cluster
	d                      *interactiveDriver
	local                  string // local mode's output
	pidDir, tmpDir, logDir string
	first                  []string // the first action's actionLine match
}

// firstDynAllocAction starts the interactive demo with dynamic allocation,
// runs the first action, and checks the ramp 1 -> 3 -> 1.
func firstDynAllocAction(t *testing.T, n, parts string) dynAllocRun {
	t.Helper()
	bin := buildExample(t, "groupby")
	local, err := runProgram(t, 3*time.Minute, bin, "--n", n, "--parts", parts, "--master", "local[2]")
	if err != nil {
		t.Fatalf("local run: %v\n%s", err, local)
	}
	c := dynAllocCluster(t)
	pidDir, tmpDir, logDir := t.TempDir(), t.TempDir(), t.TempDir()
	d := startInteractive(t, bin, append([]string{"--interactive", "--n", n, "--parts", parts, "--event-log", logDir},
		dynAllocArgs(c, pidDir, tmpDir, "2s")...)...)
	d.waitFor(60*time.Second, regexp.MustCompile(`press Enter to run action 1`))
	eventually(t, 30*time.Second, func() error { // initialExecutors = minExecutors = 1
		if got := runningExecutors(c); got != 1 {
			return fmt.Errorf("%d executors running, want 1 (min) before any job", got)
		}
		return nil
	})

	s := sample(c)
	d.stdin.Write([]byte("\n"))
	first := d.waitFor(3*time.Minute, actionLine)
	close(s.stop)
	if got := s.Peak(); got != 3 {
		t.Errorf("peak of %d executors during the first action, want 3 (maxExecutors)", got)
	}
	if first[4] == "0" {
		t.Fatalf("the first action ran no map task: %s", first[0])
	}
	eventually(t, 30*time.Second, func() error { // idle 2 s: back to min
		if got := runningExecutors(c); got != 1 {
			return fmt.Errorf("%d executors running, want 1 (minExecutors) after the idle timeout", got)
		}
		return nil
	})
	return dynAllocRun{c: c, d: d, local: local, pidDir: pidDir, tmpDir: tmpDir, logDir: logDir, first: first}
}

func TestRDDDynamicAllocationShuffleService(t *testing.T) {
	// A first action long enough for the ramp to 3 executors (two backlog
	// timeouts and an executor start) on a fast build: with prefetched
	// tasks 3M records in 60 partitions took 0.56 s and the third
	// executor came after the job.
	r := firstDynAllocAction(t, "6000000", "120")
	d := r.d
	// The last one is lost: its outputs stay served by its agent's service.
	for id, pid := range executorPIDs(t, r.pidDir) {
		if alive(pid) {
			t.Logf("SIGKILL executor %s (pid %d)", id, pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	d.stdin.Write([]byte("\n"))
	second := d.waitFor(3*time.Minute, regexp.MustCompile(`action 2: (\d+) stages run, (\d+) skipped, (\d+) map tasks run`))
	if second[2] == "0" || second[3] != "0" {
		t.Errorf("second action: %s; want the map stage skipped and no map task run", second[0])
	}
	checks := checksumLine.FindAllString(d.out.String(), -1)
	want := checksumOf(t, r.local)
	if len(checks) != 2 || checks[0] != want || checks[1] != want {
		t.Errorf("checksums %v, want %s twice (local mode's)", checks, want)
	}
	logs, _ := filepath.Glob(filepath.Join(r.logDir, "*"))
	var elog []byte
	for _, f := range logs {
		b, _ := os.ReadFile(f)
		elog = append(elog, b...)
	}
	if !strings.Contains(string(elog), `"reason":"Executor killed by driver.`) {
		t.Errorf("the event log has no ExecutorRemoved with reason \"Executor killed by driver.\"")
	}

	dirs, _ := filepath.Glob(filepath.Join(r.tmpDir, "rdd-*", "shuffle"))
	if len(dirs) == 0 {
		t.Fatalf("no executor shuffle directory under %s", r.tmpDir)
	}
	d.cmd.Process.Kill() // no DELETE, no more heartbeats
	<-d.done
	eventually(t, 30*time.Second, func() error {
		if left, _ := filepath.Glob(filepath.Join(r.tmpDir, "rdd-*")); len(left) > 0 {
			return fmt.Errorf("executor directories left: %v", left)
		}
		return nil
	})
}

// Dynamic allocation without the shuffle service is refused with Spark's
// message; with it on but no service on the agent, the job fails saying
// so (instead of executors exiting one after another).
func TestRDDDynamicAllocationNeedsShuffleService(t *testing.T) {
	bin := buildExample(t, "groupby")
	c := newCluster(t, 1, "cpus:1;mem:1024;disk:4096;ports:[31000-32000]", masterFlags...)
	args := []string{"--n", "1000", "--parts", "2", "--master", "mesos://" + c.master.addr, "--conf", "spark.executor.memory=256m",
		"--conf", "spark.dynamicAllocation.enabled=true"}
	out, err := runProgram(t, time.Minute, bin, args...)
	if err == nil || !strings.Contains(out, "Dynamic allocation of executors requires the external shuffle service. You may enable this through spark.shuffle.service.enabled.") {
		t.Fatalf("err %v, output:\n%s", err, out)
	}
	out, err = runProgram(t, time.Minute, bin, append(args, "--conf", "spark.shuffle.service.enabled=true",
		"--conf", "spark.shuffle.service.port="+strconv.Itoa(freePort(t)))...)
	if err == nil || !strings.Contains(out, "cannot use the external shuffle service on its agent") {
		t.Fatalf("no service on the agent: err %v, output:\n%s", err, out)
	}
}

// BenchmarkRDDExecutorRamp measures dynamic allocation on a real cluster:
// per iteration, one collect of the seed demo (30M integers in 500
// partitions: on a quiet machine the talk's 10M ends before the ramp can
// reach 3 executors; or MESO_E2E_RAMP_N integers in MESO_E2E_RAMP_PARTS
// partitions) from 1
// executor (min) with Spark's default backlog timeouts (1 s): the time
// from the action's start to 3 executors (max) running in /master/state,
// and from its end to 1 again with executorIdleTimeout=5s. Reported: ramp-s,
// release-s and release-overhead-s (release-s minus the 5 s timeout).
func BenchmarkRDDExecutorRamp(b *testing.B) {
	n, parts := "30000000", "500"
	if v := os.Getenv("MESO_E2E_RAMP_N"); v != "" {
		n = v
	}
	if v := os.Getenv("MESO_E2E_RAMP_PARTS"); v != "" {
		parts = v
	}
	bin := buildExample(b, "groupby")
	c := newCluster(b, 0, "", masterFlags...)
	for range 3 {
		c.addAgent("cpus:1;mem:1024;disk:4096;ports:[31000-32000]", "--shuffle_service="+strconv.Itoa(freePort(b)))
	}
	c.waitAgents(3)
	const idle = 5 * time.Second
	logDir := b.TempDir()
	args := []string{"--interactive", "--n", n, "--parts", parts, "--master", "mesos://" + c.master.addr, "--event-log", logDir,
		"--conf", "spark.executor.cores=1", "--conf", "spark.executor.memory=256m",
		"--conf", "spark.dynamicAllocation.enabled=true", "--conf", "spark.shuffle.service.enabled=true",
		"--conf", "spark.dynamicAllocation.minExecutors=1", "--conf", "spark.dynamicAllocation.maxExecutors=3",
		"--conf", "spark.dynamicAllocation.executorIdleTimeout=5s", "--conf", "spark.dynamicAllocation.cachedExecutorIdleTimeout=5s"}
	d := startInteractive(b, bin, args...)
	d.waitFor(time.Minute, regexp.MustCompile(`press Enter to run action 1`))
	waitExecutors := func(want int, timeout time.Duration) time.Time {
		deadline := time.Now().Add(timeout)
		tick := time.NewTicker(20 * time.Millisecond) // the measurement's resolution
		defer tick.Stop()
		for now := range tick.C {
			if runningExecutors(c) == want {
				return now
			}
			if now.After(deadline) {
				break
			}
		}
		b.Fatalf("not %d executors within %v", want, timeout)
		return time.Time{}
	}
	waitExecutors(1, time.Minute)
	var ramp, release time.Duration
	b.ResetTimer()
	for i := range b.N {
		action := i + 1
		start := time.Now()
		reached := make(chan time.Time, 1)
		stop := make(chan struct{})
		go func() { // the first moment 3 run, sampled every 20 ms
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case now := <-tick.C:
					if runningExecutors(c) == 3 {
						reached <- now
						return
					}
				}
			}
		}()
		d.stdin.Write([]byte("\n"))
		d.waitFor(10*time.Minute, regexp.MustCompile(fmt.Sprintf(`action %d: \d+ stages run`, action)))
		end := time.Now()
		close(stop)
		select {
		case at := <-reached:
			ramp += at.Sub(start)
		default:
			b.Fatalf("action %d ended (%v) before 3 executors ran: use a bigger MESO_E2E_RAMP_N", action, end.Sub(start))
		}
		release += waitExecutors(1, time.Minute).Sub(end)
	}
	b.StopTimer()
	b.ReportMetric(ramp.Seconds()/float64(b.N), "ramp-s")
	// Two rounds of the 1 s backlog timeout (1 -> 2 -> 3) are the least.
	b.ReportMetric(ramp.Seconds()/float64(b.N)-2, "ramp-overhead-s")
	b.ReportMetric(release.Seconds()/float64(b.N), "release-s")
	// Idle to released, per released executor, from the event log: its
	// ExecutorRemoved minus its last TaskEnd, minus the timeout.
	over, k := idleOverhead(b, logDir, idle)
	if k > 0 {
		b.ReportMetric(over.Seconds(), "idle-release-overhead-s")
	}
}

// idleOverhead reads an event log directory and returns the mean time by
// which executors released as idle outlived their last task plus idle,
// and how many there were.
func idleOverhead(t testing.TB, dir string, idle time.Duration) (time.Duration, int) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	lastTask := map[string]time.Time{}
	var sum time.Duration
	k := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			var ev struct {
				Event    string    `json:"event"`
				Time     time.Time `json:"time"`
				Executor string    `json:"executor"`
				Reason   string    `json:"reason"`
			}
			if json.Unmarshal([]byte(line), &ev) != nil {
				continue
			}
			switch {
			case ev.Event == "TaskEnd" && ev.Executor != "":
				lastTask[ev.Executor] = ev.Time
			case ev.Event == "ExecutorRemoved" && strings.HasPrefix(ev.Reason, "Executor killed by driver."):
				if at, ok := lastTask[ev.Executor]; ok {
					sum += ev.Time.Sub(at) - idle
					k++
				}
			}
		}
	}
	if k == 0 {
		return 0, 0
	}
	return sum / time.Duration(k), k
}

// An agent lost with its shuffle service takes the map outputs it served:
// the second action recomputes exactly those (FetchFailed), no others, and
// gives the exact result.
func TestRDDDynamicAllocationAgentLost(t *testing.T) {
	// A map stage long enough for the ramp: the outputs spread over agents.
	r := firstDynAllocAction(t, "10000000", "200")
	var st taskAgents
	if err := getJSON(r.c.master.url("/master/state"), &st); err != nil {
		t.Fatal(err)
	}
	agentOf := map[string]string{}
	for _, tk := range st.tasks() {
		agentOf[tk.ID] = tk.SlaveID
	}
	// The first action's map tasks per agent, from the event log (flushed
	// at each job's end); the victim is the agent that ran the fewest (but
	// some), so that most outputs survive it.
	perAgent := map[string]int{}
	logs, _ := filepath.Glob(filepath.Join(r.logDir, "*"))
	for _, f := range logs {
		b, _ := os.ReadFile(f)
		for _, line := range strings.Split(string(b), "\n") {
			var ev struct {
				Event    string `json:"event"`
				Shuffle  int    `json:"shuffle"`
				Executor string `json:"executor"`
				Error    string `json:"error"`
			}
			if json.Unmarshal([]byte(line), &ev) == nil && ev.Event == "TaskEnd" && ev.Shuffle >= 0 && ev.Error == "" {
				perAgent[agentOf[ev.Executor]]++
			}
		}
	}
	victim, onVictim := "", 0
	for a, k := range perAgent {
		if a != "" && (victim == "" || k < onVictim) {
			victim, onVictim = a, k
		}
	}
	if victim == "" {
		t.Fatalf("no map task on a known agent: %v", perAgent)
	}
	t.Logf("map tasks per agent: %v", perAgent)
	pids := executorPIDs(t, r.pidDir)
	r.c.agentByID(t, victim).cmd.Process.Signal(syscall.SIGKILL)
	for id, pid := range pids {
		if agentOf[id] == victim && alive(pid) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	r.d.stdin.Write([]byte("\n"))
	second := r.d.waitFor(3*time.Minute, regexp.MustCompile(`action 2: (\d+) stages run, (\d+) skipped, (\d+) map tasks run`))
	t.Logf("%d map tasks ran on the lost agent; %s", onVictim, second[0])
	if got := second[3]; got != strconv.Itoa(onVictim) {
		t.Errorf("second action: %s; want the %d map outputs of the lost agent recomputed, no others", second[0], onVictim)
	}
	checks := checksumLine.FindAllString(r.d.out.String(), -1)
	if want := checksumOf(t, r.local); len(checks) != 2 || checks[1] != want {
		t.Errorf("checksums %v, want the second %s (local mode's)", checks, want)
	}
}
