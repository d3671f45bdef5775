package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/internal/resources"
)

// Tests of task groups (LAUNCH_GROUP with the built-in default executor),
// kill policies and health checks, over real master, agent, executor and
// task processes.

var (
	healthServerOnce sync.Once
	healthServerPath string
	healthServerErr  error
)

// healthServer builds e2e/healthserver once, beside the meso binary.
func healthServer(t testing.TB) string {
	t.Helper()
	healthServerOnce.Do(func() {
		healthServerPath = filepath.Join(filepath.Dir(mesoBin), "healthserver")
		out, err := exec.Command("go", "build", "-o", healthServerPath,
			"github.com/mesoproject/meso/e2e/healthserver").CombinedOutput()
		if err != nil {
			healthServerErr = fmt.Errorf("building the health server: %v\n%s", err, out)
		}
	})
	if healthServerErr != nil {
		t.Fatal(healthServerErr)
	}
	return healthServerPath
}

// defaultExecutorInfo is the ExecutorInfo of a task group run by the
// built-in default executor (no command: the agent supplies it).
func defaultExecutorInfo(id string) *mesospb.ExecutorInfo {
	return &mesospb.ExecutorInfo{
		Type:       mesospb.ExecutorInfo_DEFAULT.Enum(),
		ExecutorId: &mesospb.ExecutorID{Value: proto.String(id)},
		Resources:  executorRes.ToProto("*", false),
	}
}

// groupTask is a shell task of a group.
func groupTask(id, command string, res resources.Resources) *mesospb.TaskInfo {
	return &mesospb.TaskInfo{
		Name:      proto.String(id),
		TaskId:    &mesospb.TaskID{Value: proto.String(id)},
		Resources: res.ToProto("*", false),
		Command:   &mesospb.CommandInfo{Value: proto.String(command)},
	}
}

// launchGroupOn accepts offer with one LAUNCH_GROUP of tasks on executor.
func (f *framework) launchGroupOn(offer *mesospb.Offer, ex *mesospb.ExecutorInfo, tasks ...*mesospb.TaskInfo) {
	f.t.Helper()
	for _, t := range tasks {
		t.AgentId = offer.GetAgentId()
	}
	ex.FrameworkId = f.client.FrameworkID()
	err := f.client.Accept(context.Background(), []*mesospb.OfferID{offer.GetId()},
		[]*mesospb.Offer_Operation{{
			Type: mesospb.Offer_Operation_LAUNCH_GROUP.Enum(),
			LaunchGroup: &mesospb.Offer_Operation_LaunchGroup{
				Executor:  ex,
				TaskGroup: &mesospb.TaskGroupInfo{Tasks: tasks},
			},
		}}, &mesospb.Filters{RefuseSeconds: proto.Float64(0)})
	if err != nil {
		f.t.Fatalf("accept: %v", err)
	}
}

// updatesOf returns the updates of a task, in order.
func (f *framework) updatesOf(taskID string) []*mesospb.TaskStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*mesospb.TaskStatus
	for _, u := range f.updates {
		if u.GetTaskId().GetValue() == taskID {
			out = append(out, u)
		}
	}
	return out
}

func stateNames(sts []*mesospb.TaskStatus) string {
	var out []string
	for _, st := range sts {
		out = append(out, strings.TrimPrefix(st.GetState().String(), "TASK_"))
	}
	return strings.Join(out, " ")
}

// A LAUNCH_GROUP of three tasks where one fails: the default executor
// kills the other two, all three end in terminal states with Mesos'
// states, messages and sources, every update is acknowledged, and the
// executor exits by itself (status 0) once nothing is left.
func TestTaskGroupFailureKillsTheGroup(t *testing.T) {
	for _, c := range []struct {
		name  string
		codec codec.Codec
	}{{"protobuf", codec.Protobuf}, {"json", codec.JSON}} {
		t.Run(c.name, func(t *testing.T) {
			cl := newCluster(t, 1, executorAgentRes, masterFlags...)
			f := newFramework(t, cl.master.addr, fwOptions{codec: c.codec,
				capabilities: []mesospb.FrameworkInfo_Capability_Type{mesospb.FrameworkInfo_Capability_TASK_KILLING_STATE}})
			ex := defaultExecutorInfo("pod")
			offer := f.takeOffer(executorRes.Add(smallTask).Add(smallTask).Add(smallTask))
			f.launchGroupOn(offer, ex,
				// The failing task waits until its siblings run.
				groupTask("fails", `while [ ! -f ../../tasks/web/ready ] || [ ! -f ../../tasks/log/ready ]; do sleep 0.01; done; echo giving up >&2; exit 3`, smallTask),
				groupTask("web", `echo web up; touch ready; exec sleep 60`, smallTask),
				groupTask("log", `trap 'echo log stopping; exit 0' TERM; touch ready; while true; do sleep 0.05; done`, smallTask),
			)
			f.waitState("web", mesospb.TaskState_TASK_RUNNING, time.Minute)
			dir, err := agentExecutorDir(cl.agents[0], "pod") // while the executor runs
			if err != nil {
				t.Fatal(err)
			}
			failed := f.waitState("fails", mesospb.TaskState_TASK_FAILED, time.Minute)
			web := f.waitState("web", mesospb.TaskState_TASK_KILLED, time.Minute)
			logTask := f.waitState("log", mesospb.TaskState_TASK_KILLED, time.Minute)
			if failed.GetMessage() != "Command exited with status 3" {
				t.Errorf("failed task: %q", failed.GetMessage())
			}
			if web.GetMessage() != "Command terminated with signal Terminated" {
				t.Errorf("web: %q", web.GetMessage())
			}
			// A task that handles SIGTERM and exits 0 was still killed.
			if logTask.GetMessage() != "Command exited with status 0" {
				t.Errorf("log: %q", logTask.GetMessage())
			}
			for _, id := range []string{"fails", "web", "log"} {
				sts := f.updatesOf(id)
				want := "STARTING RUNNING KILLING KILLED"
				if id == "fails" {
					want = "STARTING RUNNING FAILED"
				}
				if got := stateNames(sts); got != want {
					t.Errorf("%s went %s, want %s", id, got, want)
				}
				last := sts[len(sts)-1]
				if last.GetSource() != mesospb.TaskStatus_SOURCE_EXECUTOR || last.GetExecutorId().GetValue() != "pod" ||
					last.Reason != nil || last.GetContainerStatus().GetContainerId().GetParent() == nil {
					t.Errorf("%s terminal update %v", id, last)
				}
			}
			// The executor exits once its updates are acknowledged.
			if fl := f.waitFailure("pod"); fl.GetStatus() != 0 {
				t.Errorf("default executor exited with status %d", fl.GetStatus())
			}
			eventually(t, 30*time.Second, func() error { return pendingUpdates(cl.agents[0]) })
			for file, want := range map[string]string{
				"tasks/web/stdout":   "web up\n",
				"tasks/fails/stderr": "giving up\n",
				"tasks/log/stdout":   "log stopping\n",
			} {
				if data, err := os.ReadFile(filepath.Join(dir, file)); err != nil || string(data) != want {
					t.Errorf("%s: %q (%v), want %q", file, data, err, want)
				}
			}
		})
	}
}

// A KILL of one task of a group kills the whole group; the KILL call's
// kill_policy overrides the task's (an hour): a task ignoring SIGTERM is
// SIGKILLed after the KILL's 200ms. Another group on the same executor
// goes on, and the executor stays until it is done.
func TestKillOneTaskKillsItsGroup(t *testing.T) {
	cl := newCluster(t, 1, executorAgentRes, masterFlags...)
	f := newFramework(t, cl.master.addr, fwOptions{})
	ex := defaultExecutorInfo("pods")
	stubborn := groupTask("stubborn", `trap "" TERM; touch ready; sleep 60 & wait; sleep 60`, smallTask)
	stubborn.KillPolicy = &mesospb.KillPolicy{GracePeriod: &mesospb.DurationInfo{Nanoseconds: proto.Int64(int64(time.Hour))}}
	f.launchGroupOn(f.takeOffer(executorRes.Add(smallTask).Add(smallTask)), ex, stubborn, groupTask("friend", "exec sleep 60", smallTask))
	f.waitState("stubborn", mesospb.TaskState_TASK_RUNNING, time.Minute)
	// A second group on the running executor (its resources are not paid again).
	f.launchGroupOn(f.takeOffer(smallTask), defaultExecutorInfo("pods"), groupTask("other", `while [ ! -f go ]; do sleep 0.01; done`, smallTask))
	f.waitState("other", mesospb.TaskState_TASK_RUNNING, time.Minute)
	dir, err := agentExecutorDir(cl.agents[0], "pods")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		_, err := os.Stat(filepath.Join(dir, "tasks", "stubborn", "ready"))
		return err
	})
	start := time.Now()
	err = f.client.Call(context.Background(), &schedulerpb.Call{
		Type: schedulerpb.Call_KILL.Enum(),
		Kill: &schedulerpb.Call_Kill{
			TaskId:     stubborn.GetTaskId(),
			AgentId:    stubborn.GetAgentId(),
			KillPolicy: &mesospb.KillPolicy{GracePeriod: &mesospb.DurationInfo{Nanoseconds: proto.Int64(int64(200 * time.Millisecond))}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	killed := f.waitState("stubborn", mesospb.TaskState_TASK_KILLED, time.Minute)
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("the kill took %v: the KILL's grace period was not used", d)
	}
	if killed.GetMessage() != "Command terminated with signal Killed" {
		t.Errorf("stubborn: %q, want SIGKILL after the grace period", killed.GetMessage())
	}
	f.waitState("friend", mesospb.TaskState_TASK_KILLED, time.Minute)
	for _, id := range []string{"stubborn", "friend"} {
		if got := stateNames(f.updatesOf(id)); got != "STARTING RUNNING KILLED" {
			t.Errorf("%s went %s (no TASK_KILLING: the framework lacks TASK_KILLING_STATE)", id, got)
		}
	}
	if got := stateNames(f.updatesOf("other")); got != "STARTING RUNNING" {
		t.Errorf("the other group's task went %s, want still running", got)
	}
	if err := os.WriteFile(filepath.Join(dir, "tasks", "other", "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	f.waitState("other", mesospb.TaskState_TASK_FINISHED, time.Minute)
	f.waitFailure("pods")
}

// offeredPort returns the first port of an offer's ports.
func offeredPort(t *testing.T, o *mesospb.Offer) uint32 {
	t.Helper()
	for _, r := range o.GetResources() {
		if r.GetName() == "ports" && len(r.GetRanges().GetRange()) > 0 {
			return uint32(r.GetRanges().GetRange()[0].GetBegin())
		}
	}
	t.Fatal("the offer has no ports")
	return 0
}

// An HTTP server task with a health check, run by the default executor (in
// a group, with a sidecar) and by the command executor: reported healthy
// once it serves, then, when it stops answering, reported unhealthy at each
// of the configured consecutive failures and killed; the terminal update
// says healthy=false. The sidecar of the group goes with it. command-host
// is the command executor in a command executor host.
func TestHealthCheckKillsUnresponsiveServer(t *testing.T) {
	server := healthServer(t)
	for _, mode := range []string{"group", "command", "command-host"} {
		t.Run(mode, func(t *testing.T) {
			var flags []string
			if mode == "command-host" {
				flags = hostFlags
			}
			cl := newCluster(t, 0, executorAgentRes, masterFlags...)
			cl.addAgent(executorAgentRes, flags...)
			cl.waitAgents(1)
			f := newFramework(t, cl.master.addr, fwOptions{})
			offer := f.takeOffer(executorRes.Add(smallTask).Add(smallTask).Add(resources.MustParse("ports:[31000-31100]")))
			port := offeredPort(t, offer)
			portRes := resources.MustParse(fmt.Sprintf("ports:[%d-%d]", port, port))
			web := groupTask("web", fmt.Sprintf("exec %s --port=%d", server, port), smallTask.Add(portRes))
			web.HealthCheck = &mesospb.HealthCheck{
				Type:                mesospb.HealthCheck_HTTP.Enum(),
				Http:                &mesospb.HealthCheck_HTTPCheckInfo{Port: proto.Uint32(port), Path: proto.String("/health")},
				DelaySeconds:        proto.Float64(0),
				IntervalSeconds:     proto.Float64(0.1),
				TimeoutSeconds:      proto.Float64(2),
				GracePeriodSeconds:  proto.Float64(30), // until it first answers
				ConsecutiveFailures: proto.Uint32(3),
			}
			executorID, serving := "web-pod", filepath.Join("tasks", "web", "serving")
			if mode == "group" {
				f.launchGroupOn(offer, defaultExecutorInfo(executorID), web, groupTask("sidecar", "exec sleep 60", smallTask))
			} else {
				executorID, serving = "web", "serving" // the command executor's id is the task's
				web.AgentId = offer.GetAgentId()
				if err := f.client.Launch(context.Background(), offer, web); err != nil {
					t.Fatal(err)
				}
			}
			f.waitFor(time.Minute, "web to be reported healthy", func() bool {
				for _, u := range f.updates {
					if u.GetTaskId().GetValue() == "web" && u.Healthy != nil {
						return true
					}
				}
				return false
			})
			first := f.updatesOf("web")[2]
			if first.GetState() != mesospb.TaskState_TASK_RUNNING || !first.GetHealthy() ||
				first.GetReason() != mesospb.TaskStatus_REASON_TASK_HEALTH_CHECK_STATUS_UPDATED {
				t.Fatalf("first health update %v", first)
			}
			dir, err := agentExecutorDir(cl.agents[0], executorID)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(filepath.Join(dir, serving)); err != nil {
				t.Fatal(err)
			}
			killed := f.waitState("web", mesospb.TaskState_TASK_KILLED, time.Minute)
			if mode == "group" {
				f.waitState("sidecar", mesospb.TaskState_TASK_KILLED, time.Minute)
			}
			if killed.Healthy == nil || killed.GetHealthy() {
				t.Errorf("terminal update %v: want healthy=false", killed)
			}
			// Counted by uuid: the agent sends an update again when its
			// acknowledgement is slow (after 200 ms here), so the
			// framework may see one twice.
			unhealthy, seen := 0, map[string]bool{}
			for _, u := range f.updatesOf("web") {
				if u.GetState() == mesospb.TaskState_TASK_RUNNING && u.Healthy != nil && !u.GetHealthy() && !seen[string(u.GetUuid())] {
					seen[string(u.GetUuid())] = true
					unhealthy++
				}
			}
			if unhealthy != 3 {
				t.Errorf("%d unhealthy updates, want one per consecutive failure (3): %s", unhealthy, stateNames(f.updatesOf("web")))
			}
			if mode == "group" { // no FAILURE event for a command executor, as in Mesos
				f.waitFailure(executorID)
			}
		})
	}
}

// `meso execute --task_group`: a group in the default executor, every
// task's output, and the exit code of the task that failed (the other one
// killed); a group that finishes exits 0.
func TestExecuteTaskGroup(t *testing.T) {
	cl := newCluster(t, 1, executorAgentRes, masterFlags...)
	task := func(id, command string) string {
		return fmt.Sprintf(`{"name": %q, "task_id": {"value": %q}, "command": {"value": %q},
			"resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}}, {"name": "mem", "type": "SCALAR", "scalar": {"value": 16}}]}`,
			id, id, command)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	ok := `{"tasks": [` + task("alpha", "echo alpha says hi") + `, ` + task("beta", "echo beta complains >&2") + `]}`
	out, code := runMeso(t, ctx, "execute", "--master", cl.master.addr, "--task_group", ok)
	if code != 0 {
		t.Fatalf("meso execute exited %d, want 0:\n%s", code, out)
	}
	for _, want := range []string{"Submitted task group with tasks [alpha, beta]", "==> stdout of task 'alpha' <==\nalpha says hi",
		"==> stderr of task 'beta' <==\nbeta complains"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	file := writeFile(t, t.TempDir(), "group.json", []byte(`{"tasks": [`+
		task("server", "touch ready; exec sleep 60")+`, `+
		task("job", "while [ ! -f ../../tasks/server/ready ]; do sleep 0.01; done; exit 5")+`]}`), 0o644)
	out, code = runMeso(t, ctx, "execute", "--master", cl.master.addr, "--task_group", file)
	if code != 5 {
		t.Fatalf("meso execute exited %d, want the failed task's 5:\n%s", code, out)
	}
	for _, want := range []string{"TASK_KILLED", "TASK_FAILED", "Command exited with status 5"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
