package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/resources"
)

const executorAgentRes = "cpus:4;mem:4096;disk:4096;ports:[31000-31100]"

var smallTask = resources.MustParse("cpus:0.1;mem:16")

// A framework written with the scheduler package launches 20 tasks through
// one custom executor (the test executor, served over HTTP by the test and
// fetched by the agent), in two ACCEPTs: the second offer lists the running
// executor, and the executor's resources are paid once. Every task
// finishes, every update is acknowledged (by the framework to the agent,
// and by the agent to the executor), the executor's environment is Mesos',
// framework messages round-trip, and SHUTDOWN ends the executor, which
// exits by itself; its resources come back.
func TestCustomExecutorRunsTwentyTasks(t *testing.T) {
	for _, c := range []struct {
		name       string
		codec      codec.Codec
		checkpoint bool
	}{{"protobuf", codec.Protobuf, true}, {"json", codec.JSON, false}} {
		t.Run(c.name, func(t *testing.T) {
			cl := newCluster(t, 1, executorAgentRes, masterFlags...)
			files := newFileServer(t)
			exID := "tx-" + c.name
			ex := testExecutorInfo(exID, executorOptions{
				codec: c.codec, grace: 3 * time.Second,
				uri: files.add("testexecutor", testExecutor(t)),
			})
			f := newFramework(t, cl.master.addr, fwOptions{codec: c.codec, checkpoint: c.checkpoint})

			var ids []string
			launch := func(from, to int) *mesospb.Offer {
				need := executorRes
				for range to - from {
					need = need.Add(smallTask)
				}
				offer := f.takeOffer(need)
				var tasks []*mesospb.TaskInfo
				for i := from; i < to; i++ {
					id := fmt.Sprintf("task-%02d", i)
					ids = append(ids, id)
					tasks = append(tasks, executorTask(id, ex, smallTask, "finish"))
				}
				f.launchOn(offer, tasks...)
				return offer
			}
			first := launch(0, 10)
			if len(first.GetExecutorIds()) != 0 {
				t.Fatalf("first offer lists executors %v", first.GetExecutorIds())
			}
			f.waitState("task-00", mesospb.TaskState_TASK_RUNNING, time.Minute)
			second := launch(10, 20)
			if got := second.GetExecutorIds(); len(got) != 1 || got[0].GetValue() != exID {
				t.Errorf("second offer lists executors %v, want [%s]", got, exID)
			}
			agentID := first.GetAgentId()
			for _, id := range ids {
				st := f.waitState(id, mesospb.TaskState_TASK_FINISHED, time.Minute)
				if st.GetExecutorId().GetValue() != exID || st.GetAgentId().GetValue() != agentID.GetValue() ||
					st.GetSource() != mesospb.TaskStatus_SOURCE_EXECUTOR || st.GetTimestamp() <= 0 {
					t.Errorf("TASK_FINISHED of %s: %v", id, st)
				}
				if states := f.statesOf(id); !slices.Equal(states, []mesospb.TaskState{mesospb.TaskState_TASK_RUNNING, mesospb.TaskState_TASK_FINISHED}) {
					t.Errorf("%s went through %v", id, states)
				}
			}
			eventually(t, time.Minute, func() error { return pendingUpdates(cl.agents[0]) })

			// The executor saw every update acknowledged by the agent,
			// subscribed once, and got its 20 tasks.
			f.message(agentID, exID, "stats")
			var stats struct {
				Subscriptions, Launched, Acknowledged, Unacknowledged int
			}
			decodeReply(t, f.waitMessage(exID, "stats:"), "stats:", &stats)
			if stats.Subscriptions != 1 || stats.Launched != 20 || stats.Acknowledged != 40 || stats.Unacknowledged != 0 {
				t.Errorf("executor stats %+v", stats)
			}

			f.message(agentID, exID, "env")
			var env map[string]string
			decodeReply(t, f.waitMessage(exID, "env:"), "env:", &env)
			checkExecutorEnv(t, env, f.client.FrameworkID().GetValue(), exID, agentID.GetValue(), cl.agents[0].addr, c.checkpoint)

			for i := range 3 {
				f.message(agentID, exID, fmt.Sprintf("ping:%d", i))
			}
			for i := range 3 {
				f.waitMessage(exID, fmt.Sprintf("pong:%d", i))
			}

			if err := f.client.Shutdown(t.Context(), ex.GetExecutorId(), agentID); err != nil {
				t.Fatal(err)
			}
			fail := f.waitFailure(exID)
			if fail.GetAgentId().GetValue() != agentID.GetValue() || fail.Status == nil || fail.GetStatus() != 0 {
				t.Errorf("FAILURE %v: want the executor's own exit, status 0", fail)
			}
			// Everything the executor and its tasks held is offered again.
			f.takeWholeOffer(resources.MustParse("cpus:4;mem:4096"))
		})
	}
}

func decodeReply(t *testing.T, msg, prefix string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(strings.TrimPrefix(msg, prefix)), v); err != nil {
		t.Fatalf("reply %q: %v", msg, err)
	}
}

// checkExecutorEnv checks the Mesos executor environment as the executor
// saw it.
func checkExecutorEnv(t *testing.T, env map[string]string, fwID, exID, agentID, agentAddr string, checkpoint bool) {
	t.Helper()
	want := map[string]string{
		"MESOS_FRAMEWORK_ID":                   fwID,
		"MESOS_EXECUTOR_ID":                    exID,
		"MESOS_AGENT_ENDPOINT":                 agentAddr,
		"MESOS_SLAVE_ID":                       agentID,
		"MESOS_AGENT_ID":                       agentID,
		"MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": "3secs",
		"MESOS_CHECKPOINT":                     "0",
	}
	if checkpoint {
		want["MESOS_CHECKPOINT"] = "1"
		want["MESOS_RECOVERY_TIMEOUT"] = "15mins"
		want["MESOS_SUBSCRIPTION_BACKOFF_MAX"] = "2secs"
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	if !checkpoint && env["MESOS_RECOVERY_TIMEOUT"] != "" {
		t.Errorf("MESOS_RECOVERY_TIMEOUT set without checkpointing: %q", env["MESOS_RECOVERY_TIMEOUT"])
	}
	if env["MESOS_HTTP_COMMAND_EXECUTOR"] != "" {
		t.Errorf("a custom executor got MESOS_HTTP_COMMAND_EXECUTOR=%q", env["MESOS_HTTP_COMMAND_EXECUTOR"])
	}
	sandbox := env["MESOS_SANDBOX"]
	if sandbox == "" || env["MESOS_DIRECTORY"] != sandbox || env["PWD"] != sandbox ||
		!strings.Contains(sandbox, "/frameworks/"+fwID+"/executors/"+exID+"/runs/") {
		t.Errorf("sandbox: MESOS_SANDBOX=%q MESOS_DIRECTORY=%q cwd=%q", sandbox, env["MESOS_DIRECTORY"], env["PWD"])
	}
}

// An executor that ignores SHUTDOWN and SIGTERM is killed (SIGKILL) when
// the shutdown grace period is over; its task fails.
func TestCustomExecutorIgnoringShutdownIsKilled(t *testing.T) {
	cl := newCluster(t, 1, executorAgentRes, masterFlags...)
	files := newFileServer(t)
	const grace = 2 * time.Second
	ex := testExecutorInfo("stubborn", executorOptions{
		grace: grace, ignoreShutdown: true, uri: files.add("testexecutor", testExecutor(t)),
	})
	f := newFramework(t, cl.master.addr, fwOptions{})
	offer := f.takeOffer(executorRes.Add(smallTask))
	f.launchOn(offer, executorTask("sleeper", ex, smallTask, "hang"))
	f.waitState("sleeper", mesospb.TaskState_TASK_RUNNING, time.Minute)

	start := time.Now()
	if err := f.client.Shutdown(t.Context(), ex.GetExecutorId(), offer.GetAgentId()); err != nil {
		t.Fatal(err)
	}
	fail := f.waitFailure("stubborn")
	if elapsed := time.Since(start); elapsed < grace {
		t.Errorf("executor killed %s after SHUTDOWN, before its grace period (%s) was over", elapsed, grace)
	}
	if ws := syscall.WaitStatus(fail.GetStatus()); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Errorf("FAILURE status %d: want killed by SIGKILL", fail.GetStatus())
	}
	st := f.waitState("sleeper", mesospb.TaskState_TASK_FAILED, time.Minute)
	if st.GetReason() != mesospb.TaskStatus_REASON_EXECUTOR_TERMINATED {
		t.Errorf("task ended %v", st)
	}
}

// An executor that crashes while running tasks: each of its unfinished
// tasks fails with REASON_EXECUTOR_TERMINATED, the framework gets FAILURE
// with the executor id, agent id and exit status, and the resources come
// back.
func TestCustomExecutorCrash(t *testing.T) {
	cl := newCluster(t, 1, executorAgentRes, masterFlags...)
	files := newFileServer(t)
	ex := testExecutorInfo("crasher", executorOptions{uri: files.add("testexecutor", testExecutor(t))})
	f := newFramework(t, cl.master.addr, fwOptions{})
	offer := f.takeOffer(executorRes.Add(smallTask).Add(smallTask))
	f.launchOn(offer, executorTask("bystander", ex, smallTask, "hang"))
	f.waitState("bystander", mesospb.TaskState_TASK_RUNNING, time.Minute)
	offer = f.takeOffer(smallTask)
	f.launchOn(offer, executorTask("crashing", ex, smallTask, "crash:3"))

	for _, id := range []string{"bystander", "crashing"} {
		st := f.waitState(id, mesospb.TaskState_TASK_FAILED, time.Minute)
		if st.GetReason() != mesospb.TaskStatus_REASON_EXECUTOR_TERMINATED || st.GetSource() != mesospb.TaskStatus_SOURCE_AGENT ||
			st.GetExecutorId().GetValue() != "crasher" {
			t.Errorf("%s ended %v", id, st)
		}
	}
	fail := f.waitFailure("crasher")
	if fail.GetAgentId().GetValue() != offer.GetAgentId().GetValue() {
		t.Errorf("FAILURE names agent %v", fail.GetAgentId())
	}
	if ws := syscall.WaitStatus(fail.GetStatus()); !ws.Exited() || ws.ExitStatus() != 3 {
		t.Errorf("FAILURE status %d: want exit status 3", fail.GetStatus())
	}
	eventually(t, time.Minute, func() error { return pendingUpdates(cl.agents[0]) })
	f.takeWholeOffer(resources.MustParse("cpus:4;mem:4096"))
}

// An executor drops its event stream and subscribes again later, listing
// what is unacknowledged. A kill and a framework message sent while it was
// away reach it after it is back.
func TestCustomExecutorResubscribes(t *testing.T) {
	cl := newCluster(t, 1, executorAgentRes, masterFlags...)
	files := newFileServer(t)
	ex := testExecutorInfo("roamer", executorOptions{codec: codec.JSON, uri: files.add("testexecutor", testExecutor(t))})
	f := newFramework(t, cl.master.addr, fwOptions{})
	offer := f.takeOffer(executorRes.Add(smallTask))
	f.launchOn(offer, executorTask("wanderer", ex, smallTask, "park;hang"))
	agent := offer.GetAgentId()

	f.waitMessage("roamer", "parked:wanderer")
	if err := f.client.Kill(t.Context(), &mesospb.TaskID{Value: ptr("wanderer")}, agent); err != nil {
		t.Fatal(err)
	}
	f.message(agent, "roamer", "ping:while-away")
	// The master forwards the kill and the message in order; once the
	// agent counted the message, it holds both.
	eventually(t, time.Minute, func() error {
		var m map[string]float64
		if err := getJSON(cl.agents[0].url("/metrics/snapshot"), &m); err != nil {
			return err
		}
		if m["slave/valid_framework_messages"] < 1 {
			return fmt.Errorf("agent has not taken the message yet")
		}
		return nil
	})
	dir, err := agentExecutorDir(cl.agents[0], "roamer")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "resume", nil, 0o644)

	f.waitMessage("roamer", "pong:while-away")
	st := f.waitState("wanderer", mesospb.TaskState_TASK_KILLED, time.Minute)
	if st.GetSource() != mesospb.TaskStatus_SOURCE_EXECUTOR {
		t.Errorf("TASK_KILLED from %v", st.GetSource())
	}
	f.message(agent, "roamer", "stats")
	var stats struct {
		Subscriptions, Unacknowledged int
		Events                        []string
	}
	decodeReply(t, f.waitMessage("roamer", "stats:"), "stats:", &stats)
	if stats.Subscriptions != 2 {
		t.Errorf("executor subscribed %d times, want 2; events %v", stats.Subscriptions, stats.Events)
	}
	// After the second SUBSCRIBED: the held message and kill, no second
	// LAUNCH (the executor listed its task as unacknowledged).
	second := stats.Events[slices.Index(stats.Events[1:], "SUBSCRIBED")+1:]
	if slices.Contains(second, "LAUNCH") || !slices.Contains(second, "KILL") || !slices.Contains(second, "MESSAGE") {
		t.Errorf("events after subscribing again: %v", second)
	}
	_ = os.Remove(filepath.Join(dir, "resume"))
}

func ptr(s string) *string { return &s }

// `meso execute --executor ... --uri ... --data ...` runs its task on the
// test executor, fetched by the agent; `--uri` also serves a command task.
// The output shown is the executor's sandbox.
func TestMesoExecuteWithCustomExecutorAndURIs(t *testing.T) {
	cl := newCluster(t, 1, executorAgentRes, masterFlags...)
	files := newFileServer(t)
	binURL := files.add("testexecutor", testExecutor(t))
	toolURL := files.add("tool.sh", writeFile(t, t.TempDir(), "tool.sh", []byte("#!/bin/sh\necho tool ran\n"), 0o644))

	info := testExecutorInfo("cli-exec", executorOptions{codec: codec.JSON, uri: binURL})
	info.Command.Uris = nil // given with --uri instead
	exJSON, err := codec.JSON.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, code := runMeso(t, ctx, "execute", "--master", cl.master.addr, "--name", "via-executor",
		"--resources", "cpus:0.1;mem:16", "--executor", string(exJSON), "--data", "finish",
		"--uri", `{"value":"`+binURL+`","executable":true}`)
	if code != 0 {
		t.Fatalf("meso execute exited %d:\n%s", code, out)
	}
	for _, want := range []string{"TASK_RUNNING", "TASK_FINISHED", "subscribed to agent"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	out, code = runMeso(t, ctx, "execute", "--master", cl.master.addr, "--name", "with-uri",
		"--resources", "cpus:0.1;mem:16", "--command", "./tool.sh",
		"--uri", `{"value":"`+toolURL+`","executable":true}`)
	if code != 0 || !strings.Contains(out, "tool ran") {
		t.Errorf("meso execute --uri exited %d:\n%s", code, out)
	}
}

// The master charges a custom executor's resources once, when its first
// task launches, lists the executor in later offers, and gives everything
// back as tasks end and the executor exits.
func TestCustomExecutorResourcesChargedOnce(t *testing.T) {
	cl := newCluster(t, 1, executorAgentRes, masterFlags...)
	files := newFileServer(t)
	ex := testExecutorInfo("accounted", executorOptions{uri: files.add("testexecutor", testExecutor(t))})
	f := newFramework(t, cl.master.addr, fwOptions{})

	offer := f.takeOffer(executorRes.Add(smallTask))
	f.launchOn(offer, executorTask("first", ex, smallTask, "hang"))
	f.waitState("first", mesospb.TaskState_TASK_RUNNING, time.Minute)
	offer = f.offerOf(t, "cpus:3.8;mem:4048") // 4 - executor 0.1 - task 0.1; 4096 - 32 - 16
	if ids := offer.GetExecutorIds(); len(ids) != 1 || ids[0].GetValue() != "accounted" {
		t.Errorf("offer lists executors %v", ids)
	}
	f.launchOn(offer, executorTask("second", ex, smallTask, "hang"))
	f.waitState("second", mesospb.TaskState_TASK_RUNNING, time.Minute)
	f.decline(t, f.offerOf(t, "cpus:3.7;mem:4032")) // the second task only

	if err := f.client.Kill(t.Context(), &mesospb.TaskID{Value: ptr("first")}, offer.GetAgentId()); err != nil {
		t.Fatal(err)
	}
	f.waitState("first", mesospb.TaskState_TASK_KILLED, time.Minute)
	f.decline(t, f.offerOf(t, "cpus:3.8;mem:4048"))

	if err := f.client.Shutdown(t.Context(), ex.GetExecutorId(), offer.GetAgentId()); err != nil {
		t.Fatal(err)
	}
	f.waitFailure("accounted")
	if ids := f.offerOf(t, "cpus:4;mem:4096").GetExecutorIds(); len(ids) != 0 {
		t.Errorf("offer after the executor exited lists %v", ids)
	}
}

// offerOf declines offers (refuse_seconds 0) until one holds exactly the
// given cpus and mem, and returns it; the caller uses or declines it.
func (f *framework) offerOf(t *testing.T, want string) *mesospb.Offer {
	t.Helper()
	w := resources.MustParse(want)
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		offer := f.takeOffer(resources.MustParse("cpus:0.01"))
		have, err := resources.FromProto(offer.GetResources())
		if err != nil {
			t.Fatal(err)
		}
		if have.Filter(func(r *resources.Resource) bool { return r.Name == "cpus" || r.Name == "mem" }).Equal(w) {
			return offer
		}
		f.decline(t, offer)
	}
	t.Fatalf("no offer of %s within a minute", want)
	return nil
}

// decline returns an offer's resources at once (refuse_seconds 0).
func (f *framework) decline(t *testing.T, offer *mesospb.Offer) {
	t.Helper()
	if err := f.client.Decline(t.Context(), []*mesospb.OfferID{offer.GetId()}, &mesospb.Filters{RefuseSeconds: ptrFloat(0)}); err != nil {
		t.Fatal(err)
	}
}

func ptrFloat(v float64) *float64 { return &v }

// An executor that never subscribes is destroyed after
// --executor_registration_timeout; its task fails with
// REASON_EXECUTOR_REGISTRATION_TIMEOUT and the framework hears of the exit.
func TestCustomExecutorRegistrationTimeout(t *testing.T) {
	cl := newCluster(t, 0, executorAgentRes, masterFlags...)
	cl.addAgent(executorAgentRes, "--executor_registration_timeout=1secs")
	cl.waitAgents(1)
	f := newFramework(t, cl.master.addr, fwOptions{})
	ex := &mesospb.ExecutorInfo{
		Type:       mesospb.ExecutorInfo_CUSTOM.Enum(),
		ExecutorId: &mesospb.ExecutorID{Value: ptr("silent")},
		Command:    &mesospb.CommandInfo{Value: ptr("exec sleep 600")},
		Resources:  executorRes.ToProto("*", false),
	}
	f.launchOn(f.takeOffer(executorRes.Add(smallTask)), executorTask("waiting", ex, smallTask, "finish"))
	st := f.waitState("waiting", mesospb.TaskState_TASK_FAILED, time.Minute)
	if st.GetReason() != mesospb.TaskStatus_REASON_EXECUTOR_REGISTRATION_TIMEOUT {
		t.Errorf("task ended %v", st)
	}
	if ws := syscall.WaitStatus(f.waitFailure("silent").GetStatus()); !ws.Signaled() {
		t.Errorf("FAILURE status %d: want a killed process", ws)
	}
}

// Tearing the framework down shuts its executor down: it gets SHUTDOWN,
// exits by itself, and the agent forgets it.
func TestTeardownShutsCustomExecutorDown(t *testing.T) {
	cl := newCluster(t, 1, executorAgentRes, masterFlags...)
	files := newFileServer(t)
	ex := testExecutorInfo("torn", executorOptions{uri: files.add("testexecutor", testExecutor(t))})
	f := newFramework(t, cl.master.addr, fwOptions{})
	f.launchOn(f.takeOffer(executorRes.Add(smallTask)), executorTask("idle", ex, smallTask, "hang"))
	f.waitState("idle", mesospb.TaskState_TASK_RUNNING, time.Minute)
	dir, err := agentExecutorDir(cl.agents[0], "torn")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.client.Teardown(t.Context()); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, func() error {
		stderr, err := os.ReadFile(filepath.Join(dir, "stderr"))
		if err != nil {
			return err
		}
		if !strings.Contains(string(stderr), "exiting after SHUTDOWN") {
			return fmt.Errorf("executor has not exited after SHUTDOWN; stderr:\n%s", stderr)
		}
		var st struct {
			Frameworks []struct {
				Executors []struct{ ID string } `json:"executors"`
			} `json:"frameworks"`
		}
		if err := getJSON(cl.agents[0].url("/state"), &st); err != nil {
			return err
		}
		for _, fw := range st.Frameworks {
			if len(fw.Executors) > 0 {
				return fmt.Errorf("agent still runs executors %v", fw.Executors)
			}
		}
		return nil
	})
}
