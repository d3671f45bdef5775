package mesosbackend

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/executor"
	"github.com/mesoproject/meso/internal/agent"
	"github.com/mesoproject/meso/internal/commandexec"
	"github.com/mesoproject/meso/internal/master"
	"github.com/mesoproject/meso/internal/resources"
)

// TestMain lets this test binary be the agents' launcher: `<binary>
// executor` runs the built-in command executor, as `meso executor` does.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "executor" {
		env, err := executor.EnvFromOS()
		if err == nil {
			err = commandexec.Run(context.Background(), commandexec.Config{
				Env: env, Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
			})
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// cluster is a master and agents in this process, on loopback.
type cluster struct {
	master string            // host:port
	agents map[string]string // agent id -> attributes text, filled by agentIDs
}

type agentSpec struct{ resources, attributes string }

func startCluster(t *testing.T, specs ...agentSpec) *cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a master, agents and executor processes")
	}
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	m, err := master.New(master.Config{AllocationInterval: 50 * time.Millisecond, Logger: logger.With("component", "master")})
	if err != nil {
		t.Fatal(err)
	}
	mln := listen(t)
	serve(t, func(ctx context.Context) error { return m.Serve(ctx, mln) })
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range specs {
		attrs, err := resources.ParseAttributes(s.attributes)
		if err != nil {
			t.Fatal(err)
		}
		res := resources.MustParse(s.resources)
		a, err := agent.New(agent.Config{
			Master:                      mln.Addr().String(),
			WorkDir:                     filepath.Join(t.TempDir(), fmt.Sprintf("agent%d", i)),
			Resources:                   res,
			Attributes:                  attrs,
			Launcher:                    self,
			ExecutorShutdownGracePeriod: time.Second,
			Logger:                      logger.With("component", "agent", "agent", i),
		})
		if err != nil {
			t.Fatal(err)
		}
		aln := listen(t)
		serve(t, func(ctx context.Context) error { return a.Serve(ctx, aln) })
	}
	c := &cluster{master: mln.Addr().String()}
	waitFor(t, 10*time.Second, "agents registered", func() bool { return len(c.state(t).Slaves) == len(specs) })
	c.agents = map[string]string{}
	for _, s := range c.state(t).Slaves {
		c.agents[s.ID] = fmt.Sprint(s.Attributes)
	}
	return c
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// serve runs a daemon until the test ends.
func serve(t *testing.T, run func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("daemon: %v", err)
		}
	})
}

type masterState struct {
	Slaves []struct {
		ID         string         `json:"id"`
		Attributes map[string]any `json:"attributes"`
	} `json:"slaves"`
	Frameworks []struct {
		ID    string `json:"id"`
		Tasks []struct {
			ID        string         `json:"id"`
			SlaveID   string         `json:"slave_id"`
			State     string         `json:"state"`
			Resources map[string]any `json:"resources"`
		} `json:"tasks"`
	} `json:"frameworks"`
}

func (c *cluster) state(t *testing.T) masterState {
	t.Helper()
	resp, err := http.Get("http://" + c.master + "/master/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st masterState
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// activeCPUs sums the cpus of the framework's staging and running tasks.
func (c *cluster) activeCPUs(t *testing.T, fw string) (float64, map[string]int) {
	perAgent := map[string]int{}
	total := 0.0
	for _, f := range c.state(t).Frameworks {
		if f.ID != fw {
			continue
		}
		for _, task := range f.Tasks {
			if task.State == "TASK_STAGING" || task.State == "TASK_STARTING" || task.State == "TASK_RUNNING" {
				cpus, _ := task.Resources["cpus"].(float64)
				total += cpus
				perAgent[task.SlaveID]++
			}
		}
	}
	return total, perAgent
}

func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition, with a deadline
	}
}

// events collects a backend's events as they come.
type events struct {
	mu  sync.Mutex
	all []Event
}

func collect(b *Backend) *events {
	e := &events{}
	go func() {
		for ev := range b.Events() {
			e.mu.Lock()
			e.all = append(e.all, ev)
			e.mu.Unlock()
		}
	}()
	return e
}

func (e *events) count(typ EventType, state string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.all {
		if ev.Type == typ && (state == "" || ev.State == state) {
			n++
		}
	}
	return n
}

func (e *events) of(typ EventType) []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Event
	for _, ev := range e.all {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

// recorder is an http.RoundTripper keeping every scheduler call sent.
type recorder struct {
	mu    sync.Mutex
	calls []recorded
}

type recorded struct {
	call     *schedulerpb.Call
	streamID string
	ctype    string
	err      error
	status   int
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	call := &schedulerpb.Call{}
	rec := recorded{call: call, streamID: req.Header.Get("Mesos-Stream-Id"), ctype: req.Header.Get("Content-Type")}
	rec.err = proto.Unmarshal(body, call) // enforces proto2 required fields
	resp, err := http.DefaultTransport.RoundTrip(req)
	if resp != nil {
		rec.status = resp.StatusCode
	}
	r.mu.Lock()
	r.calls = append(r.calls, rec)
	r.mu.Unlock()
	return resp, err
}

func (r *recorder) types() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, c := range r.calls {
		out = append(out, c.call.GetType().String())
	}
	return out
}

func (r *recorder) has(typ schedulerpb.Call_Type) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.calls {
		if c.call.GetType() == typ && c.status == http.StatusAccepted {
			return true
		}
	}
	return false
}

func settings(t *testing.T, kv ...string) Settings {
	t.Helper()
	conf := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		conf[kv[i]] = kv[i+1]
	}
	s, err := ParseSettings(conf)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func start(t *testing.T, c *cluster, s Settings, cmd string, env map[string]string, rec *recorder, opts ...func(*Config)) *Backend {
	t.Helper()
	cfg := Config{
		Master:    []string{c.master},
		Name:      t.Name(),
		Settings:  s,
		Command:   Command{Value: cmd, Env: env},
		DriverURL: "http://127.0.0.1:1/driver",
		Logger:    slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	if rec != nil {
		cfg.HTTPClient = &http.Client{Transport: rec}
	}
	for _, o := range opts {
		o(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = b.Stop(ctx)
	})
	return b
}

// TestLifecycle runs executors on a 2-agent cluster: spark.cores.max is
// never exceeded, several executors share an agent with
// spark.executor.cores, SUPPRESS once the target is reached, REVIVE when it
// is raised, and Stop kills every executor process. Every call sent is
// checked against the Mesos v1 call shapes.
func TestLifecycle(t *testing.T) {
	c := startCluster(t,
		agentSpec{resources: "cpus:4;mem:4096;disk:1000"},
		agentSpec{resources: "cpus:4;mem:4096;disk:1000"})
	pidDir := t.TempDir()
	rec := &recorder{}
	s := settings(t, KeyCoresMax, "6", KeyExecutorCores, "2", KeyExecutorMemory, "128m",
		KeyMemoryOverhead, "64", KeyTaskLabels, "team:data", KeyDriverLabels, "app:test", KeyShutdownTimeout, "10s",
		KeyDynamicAllocation, "true", KeyInitialExecutors, "2")
	b := start(t, c, s, `echo $$ > "$PIDDIR/$MESO_RDD_EXECUTOR_ID.pid" && exec sleep 600`,
		map[string]string{"PIDDIR": pidDir}, rec)
	evs := collect(b)
	fw := b.FrameworkID()
	maxCPUs := sampleCPUs(t, c, fw)

	waitFor(t, 20*time.Second, "2 executors running", func() bool { return evs.count(EventRunning, "") >= 2 })
	waitFor(t, 5*time.Second, "SUPPRESS at the target", func() bool { return rec.has(schedulerpb.Call_SUPPRESS) })
	if n := evs.count(EventLaunched, ""); n != 2 {
		t.Fatalf("%d executors launched with target 2", n)
	}

	// Raising the target revives offers; spark.cores.max=6 allows a third
	// 2-cpu executor and no fourth, so one agent holds two.
	if err := b.SetTarget(Unlimited); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "REVIVE", func() bool { return rec.has(schedulerpb.Call_REVIVE) })
	waitFor(t, 20*time.Second, "3 executors running", func() bool { return evs.count(EventRunning, "") >= 3 })
	cpus, perAgent := c.activeCPUs(t, fw)
	if cpus > 6 {
		t.Errorf("executors hold %g cpus, spark.cores.max is 6", cpus)
	}
	two := false
	for _, n := range perAgent {
		two = two || n >= 2
	}
	if !two {
		t.Errorf("executors per agent %v; want one agent with two", perAgent)
	}
	for _, e := range b.Executors() {
		if e.CPUs != 2 || e.MemMiB != 192 || e.Slots != 2 {
			t.Errorf("executor %+v: want cpus 2, mem 192, slots 2", e)
		}
	}
	if got := len(b.Executors()); got != 3 {
		t.Errorf("%d executors alive, want 3", got)
	}

	// The environment reached the executors.
	pids := waitPIDFiles(t, pidDir, 3)

	// A killed executor is replaced (the target is unlimited and its cpus
	// come back under the cap).
	if err := b.Kill("e0"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "a replacement running", func() bool { return evs.count(EventRunning, "") >= 4 })
	if n := evs.count(EventExited, "TASK_KILLED"); n != 1 {
		t.Errorf("%d executors killed, want 1", n)
	}
	pid := waitPIDFiles(t, pidDir, 4)["e3.pid"]
	delete(pids, "e0.pid")
	pids["e3.pid"] = pid

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	if err := b.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	t.Logf("stop took %s", time.Since(start))
	if n := evs.count(EventExited, "TASK_KILLED"); n != 4 {
		t.Errorf("%d executors ended TASK_KILLED, want 4 (events %v)", n, evs.of(EventExited))
	}
	if m := maxCPUs(); m > 6 || m < 6 {
		t.Errorf("sampled at most %g cpus in executors; spark.cores.max is 6 and was reached", m)
	}
	for name, pid := range pids {
		waitFor(t, 5*time.Second, "executor process "+name+" gone", func() bool {
			return syscall.Kill(pid, 0) == syscall.ESRCH
		})
	}
	waitFor(t, 5*time.Second, "framework removed", func() bool {
		for _, f := range c.state(t).Frameworks {
			if f.ID == fw {
				return false
			}
		}
		return true
	})
	checkCallShapes(t, rec)
}

// sampleCPUs samples the cpus of the framework's live tasks in
// /master/state until the test ends; the returned function gives the
// largest sum seen so far.
func sampleCPUs(t *testing.T, c *cluster, fw string) func() float64 {
	var mu sync.Mutex
	peak := 0.0
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			resp, err := http.Get("http://" + c.master + "/master/state")
			if err != nil {
				continue
			}
			var st masterState
			err = json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
			if err != nil {
				continue
			}
			sum := 0.0
			for _, f := range st.Frameworks {
				for _, task := range f.Tasks {
					if f.ID == fw && (task.State == "TASK_STAGING" || task.State == "TASK_STARTING" || task.State == "TASK_RUNNING") {
						cpus, _ := task.Resources["cpus"].(float64)
						sum += cpus
					}
				}
			}
			mu.Lock()
			peak = max(peak, sum)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	return func() float64 {
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

// checkCallShapes checks every recorded call against the documented Mesos
// v1 scheduler call shapes: decodable with proto2 required fields, type
// set, framework id and stream id on every call after SUBSCRIBE, the
// fields each type needs, and a 202 answer.
func checkCallShapes(t *testing.T, rec *recorder) {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	seen := map[schedulerpb.Call_Type]int{}
	for i, r := range rec.calls {
		c := r.call
		where := fmt.Sprintf("call %d (%s)", i, c.GetType())
		if r.err != nil {
			t.Errorf("%s: does not decode: %v", where, r.err)
			continue
		}
		if r.ctype != "application/x-protobuf" {
			t.Errorf("%s: Content-Type %q", where, r.ctype)
		}
		if c.Type == nil || c.GetType() == schedulerpb.Call_UNKNOWN {
			t.Errorf("%s: no type", where)
		}
		seen[c.GetType()]++
		if c.GetType() == schedulerpb.Call_SUBSCRIBE {
			fi := c.GetSubscribe().GetFrameworkInfo()
			if fi.GetUser() == "" || fi.GetName() == "" {
				t.Errorf("%s: framework_info without user or name", where)
			}
			if len(fi.GetLabels().GetLabels()) != 1 {
				t.Errorf("%s: labels %v", where, fi.GetLabels())
			}
			continue
		}
		if c.GetFrameworkId().GetValue() == "" || r.streamID == "" {
			t.Errorf("%s: framework_id %q, Mesos-Stream-Id %q", where, c.GetFrameworkId().GetValue(), r.streamID)
		}
		if r.status != http.StatusAccepted {
			t.Errorf("%s: answered %d", where, r.status)
		}
		switch c.GetType() {
		case schedulerpb.Call_ACCEPT:
			a := c.GetAccept()
			if len(a.GetOfferIds()) != 1 || len(a.GetOperations()) != 1 {
				t.Errorf("%s: offers %d, operations %d", where, len(a.GetOfferIds()), len(a.GetOperations()))
				continue
			}
			op := a.GetOperations()[0]
			if op.GetType().String() != "LAUNCH" || len(op.GetLaunch().GetTaskInfos()) == 0 {
				t.Errorf("%s: operation %v", where, op.GetType())
			}
			for _, ti := range op.GetLaunch().GetTaskInfos() {
				if len(ti.GetLabels().GetLabels()) != 1 {
					t.Errorf("%s: task labels %v", where, ti.GetLabels())
				}
				if ti.GetAgentId().GetValue() == "" || ti.GetTaskId().GetValue() == "" || ti.GetName() == "" ||
					ti.GetCommand().GetValue() == "" || len(ti.GetResources()) == 0 {
					t.Errorf("%s: incomplete task %v", where, ti)
				}
				env := map[string]bool{}
				for _, v := range ti.GetCommand().GetEnvironment().GetVariables() {
					env[v.GetName()] = v.GetValue() != ""
				}
				for _, k := range []string{EnvDriverURL, EnvExecutorID, EnvExecutorCores, EnvExecutorMemory, EnvAppID, EnvHostname} {
					if !env[k] {
						t.Errorf("%s: task %s has no %s", where, ti.GetTaskId().GetValue(), k)
					}
				}
			}
		case schedulerpb.Call_DECLINE:
			if len(c.GetDecline().GetOfferIds()) == 0 {
				t.Errorf("%s: no offer ids", where)
			}
		case schedulerpb.Call_KILL:
			if c.GetKill().GetTaskId().GetValue() == "" {
				t.Errorf("%s: no task id", where)
			}
		case schedulerpb.Call_ACKNOWLEDGE:
			ack := c.GetAcknowledge()
			if ack.GetAgentId().GetValue() == "" || ack.GetTaskId().GetValue() == "" || len(ack.GetUuid()) == 0 {
				t.Errorf("%s: incomplete %v", where, ack)
			}
		case schedulerpb.Call_SUPPRESS, schedulerpb.Call_REVIVE, schedulerpb.Call_TEARDOWN:
		default:
			t.Errorf("%s: a call the backend should not send", where)
		}
	}
	for _, typ := range []schedulerpb.Call_Type{schedulerpb.Call_SUBSCRIBE, schedulerpb.Call_ACCEPT,
		schedulerpb.Call_ACKNOWLEDGE, schedulerpb.Call_SUPPRESS, schedulerpb.Call_REVIVE,
		schedulerpb.Call_KILL, schedulerpb.Call_TEARDOWN} {
		if seen[typ] == 0 {
			t.Errorf("no %s call was sent (calls: %v)", typ, seen)
		}
	}
}

// TestConstraintsKeepExecutorsOff: with spark.mesos.constraints=rack:r1
// every executor lands on the one agent that has the attribute.
func TestConstraintsKeepExecutorsOff(t *testing.T) {
	c := startCluster(t,
		agentSpec{resources: "cpus:3;mem:4096;disk:1000", attributes: "rack:r2"},
		agentSpec{resources: "cpus:3;mem:4096;disk:1000", attributes: "rack:r1"},
		agentSpec{resources: "cpus:3;mem:4096;disk:1000"})
	s := settings(t, KeyConstraints, "rack:r1", KeyExecutorCores, "1", KeyExecutorMemory, "64m", KeyMemoryOverhead, "64")
	b := start(t, c, s, "exec sleep 600", nil, nil)
	evs := collect(b)
	waitFor(t, 20*time.Second, "3 executors running", func() bool { return evs.count(EventRunning, "") >= 3 })
	for _, e := range evs.of(EventLaunched) {
		if attrs := c.agents[e.Executor.Agent]; !strings.Contains(attrs, "r1") {
			t.Errorf("executor %s on agent %s with attributes %s", e.Executor.ID, e.Executor.Agent, attrs)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := b.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestFailingAgentsBlacklisted: an executor command that fails makes each
// agent fail twice, and then neither is used again.
func TestFailingAgentsBlacklisted(t *testing.T) {
	c := startCluster(t,
		agentSpec{resources: "cpus:2;mem:2048;disk:1000"},
		agentSpec{resources: "cpus:2;mem:2048;disk:1000"})
	s := settings(t, KeyExecutorCores, "1", KeyCoresMax, "1", KeyExecutorMemory, "64m", KeyMemoryOverhead, "64")
	b := start(t, c, s, "exit 1", nil, nil)
	evs := collect(b)
	waitFor(t, 30*time.Second, "4 failures", func() bool { return evs.count(EventExited, "TASK_FAILED") >= 4 })
	var blacklisted []string
	if err := b.do(func(time.Time) {
		for id := range c.agents {
			if b.core.Blacklisted(id) {
				blacklisted = append(blacklisted, id)
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	if len(blacklisted) != 2 {
		t.Errorf("blacklisted agents %v, want both", blacklisted)
	}
	perAgent := map[string]int{}
	for _, e := range evs.of(EventExited) {
		perAgent[e.Executor.Agent]++
		if e.Message == "" {
			t.Errorf("exit of %s without a message", e.Executor.ID)
		}
	}
	for id, n := range perAgent {
		if n != 2 {
			t.Errorf("agent %s: %d failed executors, want 2", id, n)
		}
	}
	if n := evs.count(EventLaunched, ""); n != 4 {
		t.Errorf("%d launches, want 4", n)
	}
}

// TestStopWaitIsBounded: an executor that ignores SIGTERM outlives its
// kill's grace period (3 s); Stop waits only spark.mesos.coarse.shutdownTimeout
// for it, tears down, and the process is still gone in the end.
func TestStopWaitIsBounded(t *testing.T) {
	c := startCluster(t, agentSpec{resources: "cpus:1;mem:1024;disk:1000"})
	pidDir := t.TempDir()
	s := settings(t, KeyExecutorMemory, "64m", KeyMemoryOverhead, "64", KeyShutdownTimeout, "300ms")
	b := start(t, c, s, `trap "" TERM; echo $$ > "$PIDDIR/pid"; while :; do sleep 0.1; done`,
		map[string]string{"PIDDIR": pidDir}, nil)
	evs := collect(b)
	waitFor(t, 20*time.Second, "the executor running", func() bool { return evs.count(EventRunning, "") == 1 })
	var pid int
	waitFor(t, 5*time.Second, "its pid file", func() bool {
		data, err := os.ReadFile(filepath.Join(pidDir, "pid"))
		pid, _ = strconv.Atoi(strings.TrimSpace(string(data)))
		return err == nil && pid > 1
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	began := time.Now()
	if err := b.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > 2500*time.Millisecond {
		t.Errorf("Stop took %s with a 300ms shutdown timeout", took)
	}
	waitFor(t, 15*time.Second, "the executor process gone", func() bool { return syscall.Kill(pid, 0) == syscall.ESRCH })
}

// TestNoOfferBigEnough: executors need more memory than any agent has;
// the backend says so, naming the short resource, and launches nothing.
func TestNoOfferBigEnough(t *testing.T) {
	c := startCluster(t, agentSpec{resources: "cpus:2;mem:1024;disk:1000"})
	s := settings(t, KeyExecutorCores, "1", KeyExecutorMemory, "2g")
	b := start(t, c, s, "exec sleep 600", nil, nil, func(cfg *Config) { cfg.ShortageInterval = 200 * time.Millisecond })
	evs := collect(b)
	waitFor(t, 10*time.Second, "a shortage report", func() bool { return evs.count(EventShortage, "") > 0 })
	sh := evs.of(EventShortage)[0].Shortage
	if sh.NeedCPUs != 1 || sh.NeedMemMiB != 2048+384 || sh.MaxMemMiB != 1024 || strings.Join(sh.Short, ",") != "mem" {
		t.Errorf("shortage %+v", sh)
	}
	t.Log(sh)
	if n := evs.count(EventLaunched, ""); n != 0 {
		t.Errorf("%d executors launched", n)
	}
}

// TestMastersTriedInOrder: an unreachable first master is skipped for the
// next one in the list.
func TestMastersTriedInOrder(t *testing.T) {
	c := startCluster(t, agentSpec{resources: "cpus:1;mem:1024;disk:1000"})
	closed := listen(t)
	dead := closed.Addr().String()
	closed.Close()
	s := settings(t, KeyConnectTimeout, "10s", KeyExecutorMemory, "64m", KeyMemoryOverhead, "64")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	began := time.Now()
	b, err := Start(ctx, Config{Master: []string{dead, c.master}, Settings: s, Command: Command{Value: "exec sleep 600"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("subscribed after %s", time.Since(began))
	evs := collect(b)
	waitFor(t, 20*time.Second, "an executor running", func() bool { return evs.count(EventRunning, "") == 1 })
	if want := "http://" + c.master; b.Leader() != want {
		t.Errorf("leader %q, want %q", b.Leader(), want)
	}
	t.Logf("running after %s", time.Since(began))
	if err := b.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("stopped after %s", time.Since(began))
}

// TestMasterUnreachable: Start fails within the connect timeout, saying
// why, for a refused port and for a port that accepts but never answers.
func TestMasterUnreachable(t *testing.T) {
	closed := listen(t)
	refused := closed.Addr().String()
	closed.Close()
	silent := listen(t)
	defer silent.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			conn, err := silent.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	for name, addr := range map[string]string{"refused": refused, "silent": silent.Addr().String()} {
		t.Run(name, func(t *testing.T) {
			s := settings(t, KeyConnectTimeout, "500ms")
			began := time.Now()
			b, err := Start(context.Background(), Config{Master: []string{addr}, Settings: s, Command: Command{Value: "true"}})
			took := time.Since(began)
			if err == nil {
				b.Stop(context.Background())
				t.Fatal("Start succeeded")
			}
			if !errors.Is(err, ErrConnect) || !strings.Contains(err.Error(), addr) || took > 5*time.Second {
				t.Errorf("after %s: %v", took, err)
			}
			t.Logf("after %s: %v", took, err)
		})
	}
}

// waitPIDFiles waits until dir holds n pid files, each with a whole pid
// (a shell creates the file before it writes the number), and returns them
// by file name.
func waitPIDFiles(t *testing.T, dir string, n int) map[string]int {
	t.Helper()
	pids := map[string]int{}
	waitFor(t, 5*time.Second, fmt.Sprintf("%d pid files", n), func() bool {
		entries, _ := os.ReadDir(dir)
		if len(entries) != n {
			return false
		}
		clear(pids)
		for _, e := range entries {
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			pid, perr := strconv.Atoi(strings.TrimSpace(string(data)))
			if err != nil || perr != nil || pid <= 1 || !strings.HasSuffix(string(data), "\n") {
				return false
			}
			pids[e.Name()] = pid
		}
		return true
	})
	return pids
}
