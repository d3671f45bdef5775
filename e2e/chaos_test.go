package e2e

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

var (
	chaosSeed   = flag.Uint64("chaos.seed", 0, "seed of the chaos schedule (0: from the clock; printed)")
	chaosTasks  = flag.Int("chaos.tasks", 0, "logical tasks of the chaos suite (0: 200, 2000 with MESO_CHAOS_LONG=1)")
	chaosFaults = flag.Int("chaos.faults", 0, "faults the chaos suite injects (0: 10, 60 with MESO_CHAOS_LONG=1)")
	chaosKinds  = flag.String("chaos.kinds", "", "comma-separated fault kinds to inject (default: all)")
)

// The fault kinds of the chaos suite.
const (
	faultMaster    = "kill-leading-master"
	faultAgent     = "kill-agent"
	faultFramework = "kill-framework"
	faultPartition = "stop-agent"
)

var faultKinds = []string{faultMaster, faultAgent, faultFramework, faultPartition}

// knownBugs are the fault kinds that, injected, show a bug not fixed yet,
// and the bug: the default run leaves them out. None is known today; the
// bugs the suite found are fixed (docs/ARCHITECTURE.md, "Chaos suite").
var knownBugs = map[string]string{}

// ciFaultKinds are the kinds the default run injects: those without a
// known bug.
var ciFaultKinds = []string{faultMaster, faultAgent, faultFramework, faultPartition}

// ciSeed is the default run's seed: a fixed schedule, so that a failure in
// CI can be run again as it was (the timing of the processes still
// varies). MESO_CHAOS=1 takes the seed from the clock.
const ciSeed = 42

// chaosMasterFlags make failures quick to see: an agent silent for 1.5 s
// is unreachable, a new leader waits 5 s for agents to re-register. The
// raft election timeout stays at raft's 1 s: with 300ms the loaded CI
// machine changes leaders by itself, which brings in the failover bugs
// (knownBugs) without any fault injected.
var chaosMasterFlags = []string{
	"--allocation_interval=100ms", "--agent_ping_timeout=500ms", "--max_agent_ping_timeouts=3",
	"--agent_reregister_timeout=5secs", "--registry_election_timeout=1secs",
	"--registry_port_offset=" + strconv.Itoa(haRaftOffset),
}

// TestChaos is the chaos suite (issue 10): three `meso master` processes,
// four `meso agent` processes and one framework process
// (e2e/chaosframework: checkpointing, failover_timeout 1 h,
// PARTITION_AWARE) running short command tasks, while a seeded schedule
// SIGKILLs the leading master, an agent or the framework and starts it
// again (same work dir, same framework id), or SIGSTOPs an agent past the
// ping timeout and SIGCONTs it. At the end every logical task finished
// exactly once (one TASK_FINISHED delivered and acknowledged, one marker
// file), the master's and the agents' books agree (no task left live on
// either), and no process is left over.
//
// The schedule is time-based by design: faults are spaced by the
// schedule's own pacing (a seeded random pause), not by waiting for an
// event; everything else polls with deadlines.
//
//	go test ./e2e -run TestChaos -v -chaos.seed=42
//	MESO_CHAOS_LONG=1 go test ./e2e -run TestChaos -v -timeout 30m
func TestChaos(t *testing.T) {
	if _, err := os.Stat("/proc/self/environ"); err != nil {
		t.Skip("the leftover check reads /proc, which this machine lacks:", err)
	}
	long := os.Getenv("MESO_CHAOS_LONG") == "1"
	if testing.Short() && !long {
		t.Skip("the chaos suite takes about a minute; not with -short")
	}
	tasks, faults := 200, 10
	if long {
		tasks, faults = 2000, 60
	}
	if *chaosTasks > 0 {
		tasks = *chaosTasks
	}
	if *chaosFaults > 0 {
		faults = *chaosFaults
	}
	seed := *chaosSeed
	if seed == 0 {
		seed = ciSeed
		if long || os.Getenv("MESO_CHAOS") == "1" {
			seed = uint64(time.Now().UnixNano())
		}
	}
	kinds := faultKinds
	if !long {
		// Known bugs the suite shows (docs/ARCHITECTURE.md, "Chaos
		// suite"): the default run leaves out the fault kinds that trigger
		// them; the long run and -chaos.kinds inject every kind.
		kinds = ciFaultKinds
		for _, k := range faultKinds {
			if why, ok := knownBugs[k]; ok {
				t.Logf("chaos: the default run leaves out %s: %s", k, why)
			}
		}
	}
	if *chaosKinds != "" {
		kinds = strings.Split(*chaosKinds, ",")
	}
	t.Logf("chaos: seed %d (-chaos.seed=%d), %d tasks, %d faults of %v", seed, seed, tasks, faults, kinds)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	fwBin := chaosFramework(t)

	dir := t.TempDir()
	markers := filepath.Join(dir, "markers")
	if err := os.Mkdir(markers, 0o755); err != nil {
		t.Fatal(err)
	}
	var list []string
	masters := make([]*chaosNode, 3)
	for i := range masters {
		p := freePortPair(t, haRaftOffset)
		masters[i] = &chaosNode{t: t, name: fmt.Sprintf("master%d", i+1), port: p, bin: mesoBin}
		list = append(list, "127.0.0.1:"+strconv.Itoa(p))
	}
	masterList := strings.Join(list, ",")
	for i, m := range masters {
		m.args = append([]string{"master", "--ip=127.0.0.1", "--port=" + strconv.Itoa(m.port),
			"--work_dir=" + filepath.Join(dir, fmt.Sprintf("master%d", i+1)), "--masters=" + masterList}, chaosMasterFlags...)
		m.start()
	}
	leader := func() *chaosNode {
		t.Helper()
		var live []*proc
		for _, m := range masters {
			if m.alive() {
				live = append(live, m.proc)
			}
		}
		p := waitLeader(t, 60*time.Second, live...)
		for _, m := range masters {
			if m.proc == p {
				return m
			}
		}
		return nil
	}
	leader()
	agents := make([]*chaosNode, 4)
	for i := range agents {
		p := freePort(t)
		agents[i] = &chaosNode{t: t, name: fmt.Sprintf("agent%d", i+1), port: p, bin: mesoBin, args: []string{
			"agent", "--master=" + masterList, "--ip=127.0.0.1", "--port=" + strconv.Itoa(p),
			"--work_dir=" + filepath.Join(dir, fmt.Sprintf("agent%d", i+1)), "--resources=cpus:2;mem:1024",
			"--status_update_retry_interval_min=200ms", "--registration_backoff_factor=100ms",
			"--recovery_timeout=20secs", "--executor_shutdown_grace_period=1secs",
			// An update whose acknowledgement died with a killed framework
			// is sent again within 2 s, not after up to 10 minutes.
			"--status_update_retry_interval_max=2secs"}}
		agents[i].start()
		agents[i].proc.waitHealthy()
	}
	statePath := filepath.Join(dir, "framework.json")
	fw := &chaosNode{t: t, name: "framework", bin: fwBin, args: []string{
		"-master=" + masterList, "-state=" + statePath, "-markers=" + markers, "-tasks=" + strconv.Itoa(tasks)}}
	fw.start()
	readState := func() (fwState, error) {
		var st fwState
		b, err := os.ReadFile(statePath)
		if err != nil {
			return st, err
		}
		return st, json.Unmarshal(b, &st)
	}
	finished := func() int {
		st, err := readState()
		if err != nil {
			return 0
		}
		n := 0
		for _, tk := range st.Tasks {
			if len(tk.Finished) > 0 {
				n++
			}
		}
		return n
	}

	order := rng.Perm(len(kinds))
	injected := map[string]int{}
	began := time.Now()
	for i := range faults {
		// The schedule's pacing: 0.5-2.5 s between faults.
		pause := 500*time.Millisecond + time.Duration(rng.IntN(2000))*time.Millisecond
		time.Sleep(pause)
		// The first faults are every kind once, in a seeded order, so
		// that any seed exercises each kind; then kinds at random.
		kind := kinds[rng.IntN(len(kinds))]
		if i < len(order) {
			kind = kinds[order[i]]
		}
		injected[kind]++
		switch kind {
		case faultMaster:
			m := leader()
			t.Logf("chaos %d at %s (%d finished): SIGKILL leading %s", i+1, time.Since(began).Round(time.Millisecond), finished(), m.name)
			m.proc.kill()
			leader()
			m.start()
		case faultAgent:
			a := agents[rng.IntN(len(agents))]
			t.Logf("chaos %d at %s (%d finished): SIGKILL %s", i+1, time.Since(began).Round(time.Millisecond), finished(), a.name)
			a.proc.kill()
			a.start()
			a.proc.waitHealthy()
		case faultFramework:
			t.Logf("chaos %d at %s (%d finished): SIGKILL the framework", i+1, time.Since(began).Round(time.Millisecond), finished())
			if fw.alive() {
				fw.proc.kill()
			}
			fw.start()
		case faultPartition:
			a := agents[rng.IntN(len(agents))]
			t.Logf("chaos %d at %s (%d finished): SIGSTOP %s for 3s", i+1, time.Since(began).Round(time.Millisecond), finished(), a.name)
			pid := a.proc.cmd.Process.Pid
			if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			// Past the ping timeout (3 x 500ms): the master marks it
			// unreachable.
			time.Sleep(3 * time.Second)
			if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("unknown fault kind %q (have %v)", kind, faultKinds)
		}
	}
	t.Logf("chaos: faults done at %s, %d of %d tasks finished", time.Since(began).Round(time.Millisecond), finished(), tasks)

	// The framework exits 0 once every task finished and is acknowledged.
	// Generous: at load 38 on 2 cores the short run's tasks take about
	// 70 s to finish after the last fault.
	timeout := 5 * time.Minute
	if long {
		timeout = 30 * time.Minute
	}
	eventually(t, timeout, func() error {
		if !fw.alive() {
			if fw.proc.cmd.ProcessState.ExitCode() == 0 {
				return nil
			}
			t.Fatalf("the framework failed: %s", fw.proc.out.String())
		}
		return fmt.Errorf("%d of %d tasks finished", finished(), tasks)
	})
	st, err := readState()
	if err != nil || !st.Done {
		t.Fatalf("framework state: done=%v %v", st.Done, err)
	}

	// Exactly one finished attempt and one marker per logical task.
	runs := map[string]int{}
	ents, err := os.ReadDir(markers)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		l, _, _ := strings.Cut(e.Name(), ".")
		runs[l]++
	}
	var twice, finishedTwice, unacked []string
	for l, tk := range st.Tasks {
		if runs[l] != 1 {
			twice = append(twice, fmt.Sprintf("%s ran %d times", l, runs[l]))
		}
		if len(tk.Finished) != 1 {
			finishedTwice = append(finishedTwice, fmt.Sprintf("%s finished as %v", l, tk.Finished))
		}
		if len(tk.Acked) == 0 {
			unacked = append(unacked, l)
		}
	}
	sort.Strings(twice)
	sort.Strings(finishedTwice)

	var fk []string
	for _, k := range faultKinds {
		fk = append(fk, fmt.Sprintf("%s=%d", k, injected[k]))
	}
	t.Logf("chaos figures: seed=%d tasks=%d faults: %s; framework runs=%d; updates delivered=%d (redelivered after ack %d); terminal states %v; attempts relaunched=%d; duplicates=%d; lost=%d; took %s",
		seed, tasks, strings.Join(fk, " "), st.Runs, st.Updates, st.Redelivered, st.Ends, st.Relaunched,
		len(twice)+len(finishedTwice), len(unacked), time.Since(began).Round(time.Second))
	for _, p := range fw.all {
		for _, line := range strings.Split(p.out.String(), "\n") {
			if strings.Contains(line, "TASK_") {
				t.Log(p.name, line)
			}
		}
	}
	if len(twice) > 0 || len(finishedTwice) > 0 || len(unacked) > 0 {
		t.Errorf("ran other than once: %v; finished other than once: %v; not acknowledged: %v", twice, finishedTwice, unacked)
	}
	// Reconciliation: the leader and every agent agree that no task of
	// the framework is live any more.
	lead := leader()
	eventually(t, 30*time.Second, func() error {
		var ms leaderState
		if err := getJSON(lead.proc.url("/master/state"), &ms); err != nil {
			return err
		}
		// A terminal task stays among the live ones until its update is
		// acknowledged: none may be left.
		for _, f := range ms.Frameworks {
			for _, tk := range f.Tasks {
				return fmt.Errorf("the leader lists %s as %s (not acknowledged)", tk.ID, tk.State)
			}
		}
		for _, a := range agents {
			var as struct {
				Frameworks []struct {
					Executors []struct {
						ID    string `json:"id"`
						Tasks []struct {
							ID    string `json:"id"`
							State string `json:"state"`
						} `json:"tasks"`
					} `json:"executors"`
				} `json:"frameworks"`
			}
			if err := getJSON(a.proc.url("/state"), &as); err != nil {
				return err
			}
			for _, f := range as.Frameworks {
				for _, e := range f.Executors {
					if len(e.Tasks) > 0 {
						return fmt.Errorf("%s still runs executor %s with %+v", a.name, e.ID, e.Tasks)
					}
				}
			}
		}
		return nil
	})

	// No executor or task is left once its work is done; then nothing at
	// all once the daemons are stopped.
	daemons := map[int]bool{}
	for _, n := range append(append([]*chaosNode{}, masters...), agents...) {
		daemons[n.proc.cmd.Process.Pid] = true
	}
	eventually(t, 30*time.Second, func() error {
		for pid, cmd := range procsUnder(dir) {
			if !daemons[pid] {
				return fmt.Errorf("pid %d still runs: %s", pid, cmd)
			}
		}
		return nil
	})
	for _, n := range append(append([]*chaosNode{}, masters...), agents...) {
		n.proc.stop()
	}
	eventually(t, 15*time.Second, func() error {
		for pid, cmd := range procsUnder(dir) {
			return fmt.Errorf("pid %d left over: %s", pid, cmd)
		}
		return nil
	})

}

// fwState is the chaos framework's state file (e2e/chaosframework).
type fwState struct {
	Tasks map[string]struct {
		Finished []string `json:"finished"`
		Acked    []string `json:"acked"`
	} `json:"tasks"`
	Updates     int            `json:"updates"`
	Redelivered int            `json:"redelivered"`
	Relaunched  int            `json:"relaunched"`
	Ends        map[string]int `json:"ends"`
	Runs        int            `json:"runs"`
	Done        bool           `json:"done"`
}
