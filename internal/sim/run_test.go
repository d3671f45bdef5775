package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/agent"
	"github.com/mesoproject/meso/internal/master"
	"github.com/mesoproject/meso/internal/resources"
)

// TestRunSmall runs the simulator end to end over loopback and checks
// that the run was correct: every task finished, every update was
// acknowledged exactly once, and the report says so in both forms; with
// and without TASK_STARTING.
func TestRunSmall(t *testing.T) {
	for _, starting := range []bool{false, true} {
		t.Run(fmt.Sprintf("task_starting=%v", starting), func(t *testing.T) { testRunSmall(t, starting, 0) })
	}
	// The frameworks' calls pipelined over two connections each: every
	// acknowledgement still arrives once.
	t.Run("pipeline_calls=2", func(t *testing.T) { testRunSmall(t, false, 2) })
}

func testRunSmall(t *testing.T, starting bool, pipeline int) {
	agents, frameworks, tasks := 50, 3, 2000
	if raceEnabled {
		tasks = 500
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, r, err := run(ctx, Config{
		Agents: agents, Frameworks: frameworks, Tasks: tasks,
		TaskDuration:       10 * time.Millisecond,
		TaskStarting:       starting,
		PipelineCalls:      pipeline,
		AllocationInterval: 100 * time.Millisecond,
		ProfileDir:         t.TempDir(),
		UpdateRetry:        time.Hour, // no retries: each update is delivered once
		Audit:              true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Mode != "in-process" || rep.Agents != agents || rep.Frameworks != frameworks || rep.Tasks != tasks {
		t.Errorf("report header: %+v", rep)
	}
	if int(rep.Launched) != tasks || int(rep.Running) != tasks || int(rep.FinishedAcked) != tasks || rep.Failed != 0 {
		t.Errorf("launched %d, running %d, finished and acked %d, failed %d; want %d, %d, %d, 0",
			rep.Launched, rep.Running, rep.FinishedAcked, rep.Failed, tasks, tasks, tasks)
	}
	if rep.UnexpectedAcks != 0 || rep.LinkFailures != 0 || rep.CallErrors != 0 {
		t.Errorf("unexpected acks %d, link failures %d, call errors %d", rep.UnexpectedAcks, rep.LinkFailures, rep.CallErrors)
	}
	// RUNNING and FINISHED per task, STARTING first when asked for.
	perTask := 2
	if starting {
		perTask = 3
	}
	if int(rep.UpdatesSent) != perTask*tasks || int(rep.AcksReceived) != perTask*tasks || int(rep.UpdatesReceived) != perTask*tasks {
		t.Errorf("updates sent %d, received %d, acks %d; want %d each",
			rep.UpdatesSent, rep.UpdatesReceived, rep.AcksReceived, perTask*tasks)
	}
	if rep.UpdateLatency.Samples != perTask*tasks || rep.UpdateLatency.P50 <= 0 || rep.UpdateLatency.P99 < rep.UpdateLatency.P50 {
		t.Errorf("update latency %+v", rep.UpdateLatency)
	}
	if rep.ToRunningRate <= 0 || rep.ToFinishedRate <= 0 || rep.RegistrationRate <= 0 || rep.Offers == 0 {
		t.Errorf("rates: running %v, finished %v, registration %v, offers %d",
			rep.ToRunningRate, rep.ToFinishedRate, rep.RegistrationRate, rep.Offers)
	}
	// Every task's offer to RUNNING is measured once; the slots of 50
	// agents are far from busy with 10 ms tasks.
	if rep.OfferToRunning.Samples != tasks || rep.OfferToRunning.P50 <= 0 || rep.OfferToRunning.P99 < rep.OfferToRunning.P50 {
		t.Errorf("offer to RUNNING %+v, want %d samples", rep.OfferToRunning, tasks)
	}
	if rep.Utilisation <= 0 || rep.Utilisation >= 1 {
		t.Errorf("utilisation %v, want in (0, 1)", rep.Utilisation)
	}
	if rep.Memory == nil || rep.Memory.Scope != "master+sim" || rep.Memory.RSSBytes == 0 || rep.Memory.HeapBytes == 0 {
		t.Errorf("memory %+v", rep.Memory)
	}
	checkAudit(t, r.audit, tasks, starting)
	for _, name := range []string{"register.pprof", "heap-registered.pprof", "cpu.pprof", "heap.pprof"} {
		if fi, err := statFile(filepath.Join(r.cfg.ProfileDir, name)); err != nil || fi == 0 {
			t.Errorf("profile %s: %d bytes, %v", name, fi, err)
		}
	}

	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(table.String()), "\n") {
		if !LineRegexp.MatchString(line) {
			t.Errorf("table line %q does not match LineRegexp", line)
		}
	}
	figs, err := ParseTable(table.String())
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{
		"tasks launched": float64(tasks), "tasks reached RUNNING": float64(tasks), "tasks FINISHED (acked)": float64(tasks),
		"tasks failed": 0, "agents": float64(agents), "unexpected acks": 0,
	} {
		if got := figs[name].Value; got != want {
			t.Errorf("table %q = %v, want %v", name, got, want)
		}
	}
	if f := figs["to RUNNING"]; f.Unit != "tasks/s" || f.Value <= 0 {
		t.Errorf("table to RUNNING: %+v", f)
	}
	if f := figs["to FINISHED (acked)"]; f.Unit != "tasks/s" || f.Value <= 0 {
		t.Errorf("table to FINISHED (acked): %+v", f)
	}

	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := json.Unmarshal(js.Bytes(), &obj); err != nil {
		t.Fatalf("JSON output does not parse: %v\n%s", err, js.String())
	}
	if obj["tasks_finished_acked"] != float64(tasks) || obj["to_running_tasks_per_s"].(float64) <= 0 {
		t.Errorf("JSON: finished %v, to running %v", obj["tasks_finished_acked"], obj["to_running_tasks_per_s"])
	}
}

// checkAudit: every update the agents made was acknowledged exactly once,
// and every task had RUNNING and FINISHED, and STARTING when starting.
func checkAudit(t *testing.T, au *audit, tasks int, starting bool) {
	t.Helper()
	au.mu.Lock()
	defer au.mu.Unlock()
	states := map[taskKey][]mesospb.TaskState{}
	for uuid, u := range au.updates {
		if n := au.acks[uuid]; n != 1 {
			t.Errorf("update %s of task %s acknowledged %d times", u.state, u.key.task, n)
		}
		states[u.key] = append(states[u.key], u.state)
	}
	for uuid := range au.acks {
		if _, ok := au.updates[uuid]; !ok {
			t.Errorf("acknowledgement of an update no agent made (uuid %x)", uuid)
		}
	}
	if len(states) != tasks {
		t.Errorf("%d tasks had updates, want %d", len(states), tasks)
	}
	want := map[mesospb.TaskState]bool{mesospb.TaskState_TASK_RUNNING: true, mesospb.TaskState_TASK_FINISHED: true}
	if starting {
		want[mesospb.TaskState_TASK_STARTING] = true
	}
	for key, ss := range states {
		got := map[mesospb.TaskState]bool{}
		for _, s := range ss {
			got[s] = true
		}
		if len(ss) != len(want) || !reflect.DeepEqual(got, want) {
			t.Errorf("task %s had updates %v", key.task, ss)
		}
	}
}

// TestSimulatedAgentLikeReal registers a real agent and a simulated one
// with the same resources and checks that the master shows both alike in
// /master/state.
func TestSimulatedAgentLikeReal(t *testing.T) {
	const res = "cpus:2;mem:1024;disk:4096;ports:[31000-31099]"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()

	mln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m, err := master.New(master.Config{})
	if err != nil {
		t.Fatal(err)
	}
	wg.Go(func() { _ = m.Serve(ctx, mln) })
	addr := mln.Addr().String()

	aln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	real, err := agent.New(agent.Config{Master: addr, WorkDir: t.TempDir(), Resources: resources.MustParse(res)})
	if err != nil {
		t.Fatal(err)
	}
	wg.Go(func() { _ = real.Serve(ctx, aln) })

	cfg := Config{Agents: 1, Frameworks: 1, Tasks: 1, AgentResources: resources.MustParse(res), Version: agent.Version}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	r := &runner{cfg: cfg, log: cfg.Logger, epoch: time.Now(), lat: newLatencyBook()}
	pool := newAgentPool(r, addr, &http.Client{})
	pool.start(ctx, &wg)

	var slaves []map[string]any
	for {
		slaves = stateSlaves(t, ctx, addr)
		if len(slaves) == 2 && r.c.registered.Load() == 1 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("want 2 agents in /master/state, have %d", len(slaves))
		case <-time.After(20 * time.Millisecond):
		}
	}
	var sim, other map[string]any
	for _, s := range slaves {
		if strings.HasPrefix(s["hostname"].(string), "sim-agent-") {
			sim = s
		} else {
			other = s
		}
	}
	if sim == nil || other == nil {
		t.Fatalf("want one simulated and one real agent, got %v", slaves)
	}
	pool.agents[0].mu.Lock()
	simID := pool.agents[0].id
	pool.agents[0].mu.Unlock()
	if sim["id"] != simID || sim["active"] != true {
		t.Errorf("simulated agent in state: id %v active %v, want %s active", sim["id"], sim["active"], simID)
	}
	for _, field := range []string{"id", "pid", "hostname", "port", "registered_time"} {
		delete(sim, field)
		delete(other, field)
	}
	if !reflect.DeepEqual(sim, other) {
		t.Errorf("the master shows the simulated agent differently:\nsim:  %v\nreal: %v", sim, other)
	}
	if got := sim["resources"].(map[string]any)["cpus"]; got != 2.0 {
		t.Errorf("simulated agent's cpus: %v", got)
	}
}

func stateSlaves(t *testing.T, ctx context.Context, addr string) []map[string]any {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/master/state", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Slaves []map[string]any `json:"slaves"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st.Slaves
}

func statFile(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// TestRunOptimistic runs the simulator against a master with optimistic
// offers and a framework think time: the other offers of a group are
// rescinded, tasks of accepts that lose a conflict are launched again, and
// still every task runs once and finishes.
func TestRunOptimistic(t *testing.T) {
	tasks := 600
	if raceEnabled {
		tasks = 200
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, _, err := run(ctx, Config{
		Agents: 20, Frameworks: 5, Tasks: tasks,
		TaskDuration:       10 * time.Millisecond,
		AllocationInterval: 50 * time.Millisecond,
		OfferMode:          master.OfferOptimistic, OfferFanout: 3,
		DecisionTime: 5 * time.Millisecond, DeclineFraction: 0.3,
		UpdateRetry: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	if int(rep.Launched) != tasks || int(rep.Running) != tasks || int(rep.FinishedAcked) != tasks || rep.Failed != 0 {
		t.Errorf("launched %d, running %d, finished and acked %d, failed %d; want %d, %d, %d, 0",
			rep.Launched, rep.Running, rep.FinishedAcked, rep.Failed, tasks, tasks, tasks)
	}
	if rep.UnexpectedAcks != 0 || rep.CallErrors != 0 || int(rep.UpdatesSent) != 2*tasks {
		t.Errorf("unexpected acks %d, call errors %d, updates sent %d (want %d)", rep.UnexpectedAcks, rep.CallErrors, rep.UpdatesSent, 2*tasks)
	}
	if rep.Rescinded == 0 {
		t.Error("no offer was rescinded: the offers were not optimistic")
	}
	if rep.OfferMode != master.OfferOptimistic || rep.DecisionTime != 0.005 {
		t.Errorf("report says offer mode %q, decision time %v", rep.OfferMode, rep.DecisionTime)
	}
	// A task is placed once it reaches RUNNING, after at least one think
	// time (2.5 ms at the least) and more when a launch was lost.
	if rep.OfferToRunning.Samples != tasks || rep.OfferToRunning.P50 < 2.5 {
		t.Errorf("offer to RUNNING %+v, want %d samples, p50 >= 2.5 ms", rep.OfferToRunning, tasks)
	}
	t.Logf("rescinded %d, conflicts %d, offer to RUNNING %+v, utilisation %.3f", rep.Rescinded, rep.Conflicts, rep.OfferToRunning, rep.Utilisation)
}

// The sampler asks either state query while tasks run, and both are
// answered (an unanswered or refused query counts as an error).
func TestRunStateQueries(t *testing.T) {
	for _, q := range []string{StateQueryHTTP, StateQueryOperator} {
		t.Run(q, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			rep, _, err := run(ctx, Config{
				Agents: 5, Frameworks: 1, Tasks: 20,
				TaskDuration:       time.Second,
				AllocationInterval: 100 * time.Millisecond,
				UpdateRetry:        time.Hour,
				StateInterval:      time.Millisecond,
				StateQuery:         q,
			})
			if err != nil {
				t.Fatal(err)
			}
			if rep.StateLatency.Queries == 0 || rep.StateLatency.Errors != 0 || rep.StateLatency.P50 <= 0 {
				t.Fatalf("state queries %+v", rep.StateLatency)
			}
		})
	}
	if err := (&Config{Agents: 1, Frameworks: 1, Tasks: 1, StateQuery: "GET_STATE"}).validate(); !errors.Is(err, ErrConfig) {
		t.Fatalf("an unknown state query: %v", err)
	}
}

// With a steady phase the held tasks run until the end (none finishes),
// the steady tasks are launched at the asked pace once every held task
// runs, each one's launch latency is taken, and the state queries run.
func TestRunSteadyPhase(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const held, rate, steadyFor = 100, 40.0, 1500 * time.Millisecond
	rep, r, err := run(ctx, Config{
		Agents: 20, Frameworks: 2, Tasks: held,
		TaskDuration:       200 * time.Millisecond,
		AllocationInterval: 50 * time.Millisecond,
		UpdateRetry:        time.Hour,
		StateInterval:      20 * time.Millisecond,
		LaunchRate:         rate,
		SteadyDuration:     steadyFor,
		Audit:              true,
	})
	if err != nil {
		t.Fatal(err)
	}
	st := rep.Steady
	steady := int64(rate * steadyFor.Seconds())
	if st == nil || st.Tasks != steady || st.Running != steady || st.LaunchRate != rate {
		t.Fatalf("steady phase %+v, want %d tasks", st, steady)
	}
	if rep.Launched != held+steady || rep.Running != held+steady || rep.FinishedAcked != steady || rep.Failed != 0 || rep.CallErrors != 0 {
		t.Errorf("launched %d, running %d, finished and acked %d, failed %d, call errors %d; want %d, %d, %d, 0, 0",
			rep.Launched, rep.Running, rep.FinishedAcked, rep.Failed, rep.CallErrors, held+steady, held+steady, steady)
	}
	if st.LaunchLatency.Samples != int(steady) || st.LaunchLatency.P50 <= 0 || st.UpdateLatency.Samples != 2*int(steady) {
		t.Errorf("launch latency %+v, update latency %+v", st.LaunchLatency, st.UpdateLatency)
	}
	// Paced: the steady tasks reach RUNNING over about steadyFor, not at once.
	if span := float64(st.Running) / st.ToRunningRate; span < 0.8*steadyFor.Seconds() {
		t.Errorf("steady tasks reached RUNNING within %.2f s, want about %v", span, steadyFor)
	}
	if rep.StateLatency.Queries == 0 || rep.StateLatency.Errors != 0 {
		t.Errorf("state queries %+v", rep.StateLatency)
	}
	heldSeen := 0
	for _, u := range r.audit.updates {
		if heldTask(u.key.task) {
			heldSeen++
			if u.state != mesospb.TaskState_TASK_RUNNING {
				t.Errorf("held task %s got %v", u.key.task, u.state)
			}
		}
	}
	if heldSeen != held {
		t.Errorf("%d updates of held tasks, want %d (TASK_RUNNING each)", heldSeen, held)
	}
	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	figs, err := ParseTable(table.String())
	if err != nil {
		t.Fatal(err)
	}
	if figs["steady tasks reached RUNNING"].Value != float64(steady) || figs["steady launch latency p99"].Unit != "ms" {
		t.Errorf("table: %v", figs["steady tasks reached RUNNING"])
	}
	if err := (&Config{Agents: 1, Frameworks: 2, Tasks: 2, LaunchRate: 1, SteadyDuration: time.Second}).validate(); !errors.Is(err, ErrConfig) {
		t.Errorf("a steady phase of fewer tasks than frameworks: %v", err)
	}
}
