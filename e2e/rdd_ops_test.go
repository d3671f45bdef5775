package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// buildRDDOps builds the join/sortByKey test program (testdata/rddops).
func buildRDDOps(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "rddops")
	if out, err := exec.Command("go", "build", "-o", bin, "./testdata/rddops").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// A join and a sortByKey on executors of a 3-agent cluster give what local
// mode gives.
func TestRDDClusterJoinAndSortEqualLocal(t *testing.T) {
	bin := buildRDDOps(t)
	c := newCluster(t, 3, "cpus:2;mem:2048;disk:4096;ports:[31000-32000]", masterFlags...)
	for _, op := range []string{"join", "sort"} {
		args := []string{"--op", op, "--n", "200000", "--parts", "8"}
		local, err := runProgram(t, 2*time.Minute, bin, append(args, "--master", "local[2]")...)
		if err != nil {
			t.Fatalf("%s local: %v\n%s", op, err, local)
		}
		out, err := runProgram(t, 3*time.Minute, bin, append(args, clusterArgs(c, t.TempDir())...)...)
		if err != nil {
			t.Fatalf("%s cluster: %v\n%s", op, err, out)
		}
		if got, want := checksumOf(t, out), checksumOf(t, local); got != want {
			t.Fatalf("%s: cluster %s, local %s\ncluster output:\n%s", op, got, want, out)
		}
		if want := "200000 " + map[string]string{"join": "joined", "sort": "sorted"}[op] + " records"; !strings.Contains(out, want) {
			t.Fatalf("%s: output lacks %q:\n%s", op, want, out)
		}
	}
}

// taskAgents is the part of /master/state saying where tasks ran.
type taskAgents struct {
	Slaves []struct {
		ID         string         `json:"id"`
		Attributes map[string]any `json:"attributes"`
	} `json:"slaves"`
	Frameworks []struct {
		Tasks          []taskAgent `json:"tasks"`
		CompletedTasks []taskAgent `json:"completed_tasks"`
	} `json:"frameworks"`
	CompletedFrameworks []struct {
		Tasks          []taskAgent `json:"tasks"`
		CompletedTasks []taskAgent `json:"completed_tasks"`
	} `json:"completed_frameworks"`
}

type taskAgent struct {
	ID      string `json:"id"`
	State   string `json:"state"`
	SlaveID string `json:"slave_id"`
}

func (s taskAgents) tasks() []taskAgent {
	var out []taskAgent
	for _, f := range s.Frameworks {
		out = append(append(out, f.Tasks...), f.CompletedTasks...)
	}
	for _, f := range s.CompletedFrameworks {
		out = append(append(out, f.Tasks...), f.CompletedTasks...)
	}
	return out
}

// spark.mesos.constraints keeps executors off the agents without the
// attribute: of three agents only the one with zone:a runs them.
func TestRDDClusterConstraints(t *testing.T) {
	runConstrained(t, func(c *cluster) []string { return clusterArgs(c, t.TempDir()) })
}

// runConstrained runs a join with spark.mesos.constraints=zone:a (and
// the mode's args) on three agents, of which one has zone:a, and checks
// that every Mesos task of the run was on that agent.
func runConstrained(t *testing.T, modeArgs func(c *cluster) []string) {
	t.Helper()
	bin := buildRDDOps(t)
	c := newCluster(t, 0, "", masterFlags...)
	res := "cpus:2;mem:2048;disk:4096;ports:[31000-32000]"
	c.addAgent(res, "--attributes=zone:b")
	c.addAgent(res, "--attributes=zone:a;rack:r1")
	c.addAgent(res)
	c.waitAgents(3)
	var st taskAgents
	if err := getJSON(c.master.url("/master/state"), &st); err != nil {
		t.Fatal(err)
	}
	want := ""
	for _, a := range st.Slaves {
		if a.Attributes["zone"] == "a" {
			want = a.ID
		}
	}
	if want == "" {
		t.Fatalf("no agent with zone:a in %+v", st.Slaves)
	}
	out, err := runProgram(t, 3*time.Minute, bin, append([]string{"--op", "join", "--n", "50000"},
		append(modeArgs(c), "--conf", "spark.mesos.constraints=zone:a")...)...)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	if err := getJSON(c.master.url("/master/state"), &st); err != nil {
		t.Fatal(err)
	}
	tasks := st.tasks()
	if len(tasks) == 0 {
		t.Fatal("no task in /master/state")
	}
	for _, tk := range tasks {
		if tk.SlaveID != want {
			t.Errorf("task %s ran on agent %s, which lacks zone:a (want %s)", tk.ID, tk.SlaveID, want)
		}
	}
}

// An executor binary that cannot be fetched (spark.executor.uri answers
// 404): each executor's TASK_FAILED and its reason are shown, executors
// are retried, then the job fails naming the cause instead of waiting:
// after 4 in a row on 2 agents, and on 1 agent once it saw 2 fail (it is
// not used again, so nothing else would be launched).
func TestRDDClusterExecutorUnfetchable(t *testing.T) {
	bin := buildRDDOps(t)
	missing := httptest.NewServer(http.NotFoundHandler())
	defer missing.Close()
	for _, tc := range []struct {
		agents int
		want   string
	}{
		{2, "4 executors in a row ended before registering"},
		{1, "on each of the 1 agents tried, 2 executors ended before registering"},
	} {
		c := newCluster(t, tc.agents, "cpus:2;mem:2048;disk:4096;ports:[31000-32000]", masterFlags...)
		out, err := runProgram(t, 3*time.Minute, bin, append([]string{"--op", "join", "--n", "1000"},
			append(clusterArgs(c, t.TempDir()), "--conf", "spark.executor.uri="+missing.URL+"/rddops")...)...)
		if err == nil {
			t.Fatalf("%d agents: the job ran without executors:\n%s", tc.agents, out)
		}
		for _, want := range []string{"TASK_FAILED", "executor ended before registering", "executors cannot start", tc.want, "404"} {
			if !strings.Contains(out, want) {
				t.Errorf("%d agents: output lacks %q:\n%s", tc.agents, want, out)
			}
		}
	}
}

// A master nobody answers at: the driver fails within
// spark.mesos.connectTimeout instead of hanging.
func TestRDDClusterMasterUnreachable(t *testing.T) {
	bin := buildRDDOps(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	closed := freePort(t) // nothing listens
	for _, master := range []string{ln.Addr().String(), "127.0.0.1:" + strconv.Itoa(closed)} {
		start := time.Now()
		out, err := runProgram(t, 90*time.Second, bin, "--op", "join", "--n", "1000", "--master", "mesos://"+master,
			"--conf", "spark.mesos.connectTimeout=3s")
		took := time.Since(start)
		if err == nil {
			t.Fatalf("%s: the driver ran without a master:\n%s", master, out)
		}
		if errors.Is(err, context.DeadlineExceeded) || took > 60*time.Second {
			t.Fatalf("%s: the driver took %v to give up:\n%s", master, took, out)
		}
		if !strings.Contains(out, master) {
			t.Errorf("%s: the error does not name the master:\n%s", master, out)
		}
	}
}

// No offer is ever big enough for an executor: the driver says which
// resource is short (spark.mesos.shortageReportInterval apart).
func TestRDDClusterNoOfferBigEnough(t *testing.T) {
	bin := buildRDDOps(t)
	c := newCluster(t, 2, "cpus:2;mem:1024;disk:4096;ports:[31000-32000]", masterFlags...)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--op", "join", "--n", "1000", "--master", "mesos://"+c.master.addr,
		"--conf", "spark.executor.memory=2g", "--conf", "spark.mesos.shortageReportInterval=1s")
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	defer func() { cmd.Process.Kill(); <-done }()
	eventually(t, 2*time.Minute, func() error {
		if s := out.String(); !strings.Contains(s, "no offer is big enough") || !strings.Contains(s, "short of mem") {
			return fmt.Errorf("no shortage report yet:\n%s", s)
		}
		return nil
	})
}
