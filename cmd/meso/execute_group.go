package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/resources"
)

// meso execute --task_group: mesos-execute's task group mode. The group
// runs in the built-in default executor (ExecutorInfo type DEFAULT, id
// "default-executor", cpus:0.1;mem:32;disk:32, as mesos-execute sets it);
// meso execute waits until every task is terminal, prints each task's
// stdout and stderr, and exits 0 when all finished, else with the exit
// code (as for a single task) of the first task to end without finishing.

const taskGroupUsage = `a TaskGroupInfo in Mesos JSON ({"tasks": [TaskInfo, ...]}), or the path of a file holding one ('file:///path' or '/path'); agent_id need not be set; runs the group in the default executor; excludes --task, --name, --command, --env, --resources`

// taskGroupLong is the --task_group paragraph of the command's help.
const taskGroupLong = `

With --task_group, meso execute launches a whole task group (LAUNCH_GROUP) in
the built-in default executor (executor id "default-executor", with
cpus:0.1;mem:32;disk:32 of its own, as mesos-execute), prints the updates of
every task, waits until all are terminal, prints each task's stdout and
stderr, and exits 0 when every task finished, else with the exit code (as
above) of the first task to end without finishing. A task that fails or is
killed makes the default executor kill the rest of its group.`

// groupExecutorID and groupExecutorResources are mesos-execute's.
const groupExecutorID = "default-executor"

var groupExecutorResources = resources.MustParse("cpus:0.1;mem:32;disk:32")

// groupPlan is the task group part of an executePlan.
type groupPlan struct {
	group *mesospb.TaskGroupInfo // tasks without agent_id
	needs []resources.Resources  // each task's resources, in order
	final map[string]*mesospb.TaskStatus
	ended []string // task ids in the order their terminal updates came
}

// groupFromJSON reads --task_group. Like --task, agent_id may be left out
// of each task. It returns the plan and the resources of the whole launch
// (the executor's and every task's).
func (f *executeFlags) groupFromJSON() (*groupPlan, resources.Resources, error) {
	if f.task != "" || f.name != "" || f.command != "" || f.env != "" || f.resourcesSet || f.container.used() ||
		f.custom.used() || len(f.custom.uris) > 0 {
		return nil, nil, errors.New("--task_group excludes --task, --name, --command, --env, --resources, --docker_image, --containerizer, --volumes, --executor, --uri and --data")
	}
	data, err := flagValueOrFile(f.taskGroup)
	if err != nil {
		return nil, nil, fmt.Errorf("--task_group: %w", err)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil, nil, fmt.Errorf("--task_group: want a JSON object: %w", err)
	}
	var tasks []map[string]json.RawMessage
	if err := json.Unmarshal(obj["tasks"], &tasks); err != nil || len(tasks) == 0 {
		return nil, nil, errors.New(`--task_group: want {"tasks": [...]} with at least one task`)
	}
	for _, t := range tasks {
		if t == nil {
			return nil, nil, errors.New("--task_group: a task is null, want an object")
		}
		if _, ok := t["agent_id"]; !ok {
			t["agent_id"] = json.RawMessage(`{"value": ""}`)
		}
	}
	obj["tasks"], _ = json.Marshal(tasks)
	data, _ = json.Marshal(obj)
	group := &mesospb.TaskGroupInfo{}
	if err := codec.JSON.Unmarshal(data, group); err != nil {
		return nil, nil, fmt.Errorf("--task_group: %w", err)
	}
	p := &groupPlan{group: group, final: map[string]*mesospb.TaskStatus{}}
	total := groupExecutorResources
	seen := map[string]bool{}
	for _, t := range group.GetTasks() {
		id := t.GetTaskId().GetValue()
		switch {
		case id == "":
			return nil, nil, errors.New("--task_group: a task's task_id.value is empty")
		case seen[id]:
			return nil, nil, fmt.Errorf("--task_group: task id %q appears twice", id)
		case t.Executor != nil:
			return nil, nil, fmt.Errorf("--task_group: task %s: tasks of a group must not set an executor", id)
		}
		seen[id] = true
		res, err := resources.FromProto(t.GetResources())
		if err != nil {
			return nil, nil, fmt.Errorf("--task_group: task %s: resources: %w", id, err)
		}
		if res.IsEmpty() {
			return nil, nil, fmt.Errorf("--task_group: task %s needs some resources", id)
		}
		p.needs = append(p.needs, res)
		total = total.Add(res)
		t.AgentId, t.Resources = nil, nil
	}
	return p, total, nil
}

// launchGroup accepts o with a LAUNCH_GROUP of the group on the default
// executor; fitted is what fitTask chose for the whole launch (reserved to
// the role, or unreserved), and every task and the executor take their
// resources from the same pool.
func (x *execution) launchGroup(ctx context.Context, o *mesospb.Offer, fitted resources.Resources) {
	role := x.plan.framework.GetRole()
	pool := resources.Unreserved // fitTask took the whole launch from one pool
	if len(fitted) > 0 {
		pool = fitted[0].Role
	}
	shape := func(r resources.Resources) []*mesospb.Resource { return withRole(r, pool).ToProto(role, false) }
	g := x.plan.group
	group := &mesospb.TaskGroupInfo{}
	var ids []string
	for i, t := range g.group.GetTasks() {
		t = proto.CloneOf(t)
		t.AgentId, t.Resources = o.GetAgentId(), shape(g.needs[i])
		group.Tasks = append(group.Tasks, t)
		ids = append(ids, t.GetTaskId().GetValue())
	}
	ex := &mesospb.ExecutorInfo{
		Type:        mesospb.ExecutorInfo_DEFAULT.Enum(),
		ExecutorId:  &mesospb.ExecutorID{Value: proto.String(groupExecutorID)},
		FrameworkId: x.client.FrameworkID(),
		Resources:   shape(groupExecutorResources),
	}
	op := &mesospb.Offer_Operation{
		Type:        mesospb.Offer_Operation_LAUNCH_GROUP.Enum(),
		LaunchGroup: &mesospb.Offer_Operation_LaunchGroup{Executor: ex, TaskGroup: group},
	}
	err := x.call(ctx, func(c context.Context) error {
		return x.client.Accept(c, []*mesospb.OfferID{o.GetId()}, []*mesospb.Offer_Operation{op}, nil)
	})
	if err != nil {
		fmt.Fprintf(x.stderr, "Failed to launch on offer %s: %v\n", o.GetId().GetValue(), err)
		return
	}
	x.launched, x.offer = true, o
	fmt.Fprintf(x.stdout, "Submitted task group with tasks [%s] to agent '%s'\n", strings.Join(ids, ", "), o.GetAgentId().GetValue())
}

// groupUpdate follows an update of a group task; it returns a terminal
// status once every task of the group has one.
func (x *execution) groupUpdate(st *mesospb.TaskStatus) *mesospb.TaskStatus {
	g := x.plan.group
	id := st.GetTaskId().GetValue()
	if !g.has(id) {
		return nil
	}
	if st.GetState() == mesospb.TaskState_TASK_RUNNING && x.flags.killAfter > 0 && x.killTimer == nil {
		x.killTimer = time.After(x.flags.killAfter) // kills the first task, and so the group
	}
	if _, seen := g.final[id]; !seen && mesospb.IsTerminal(st.GetState()) {
		g.final[id] = st
		g.ended = append(g.ended, id)
	}
	if len(g.final) < len(g.group.GetTasks()) {
		return nil
	}
	return st
}

func (g *groupPlan) has(id string) bool {
	for _, t := range g.group.GetTasks() {
		if t.GetTaskId().GetValue() == id {
			return true
		}
	}
	return false
}

// finishGroup prints every task's output, tears the framework down and
// returns the exit code: 0 when every task finished, else that of the
// first task to end without finishing (the one that failed, rather than
// the others the executor then killed).
func (x *execution) finishGroup(ctx context.Context, last *mesospb.TaskStatus) int {
	g := x.plan.group
	if x.offer != nil && last.GetAgentId() != nil {
		x.printGroupOutput(ctx, last.GetAgentId().GetValue())
	}
	x.teardown(ctx)
	for _, id := range g.ended {
		if code := taskExitCode(g.final[id]); code != 0 {
			return code
		}
	}
	return 0
}

// printGroupOutput prints each task's stdout and stderr from its sandbox
// in the default executor's (tasks/<task id>/).
func (x *execution) printGroupOutput(ctx context.Context, agentID string) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	agent, err := x.agentURL(ctx, agentID)
	if err != nil {
		fmt.Fprintf(x.stderr, "Cannot show the tasks' output: %v\n", err)
		return
	}
	dir, gone := sandboxDir(ctx, x.http, agent, x.client.FrameworkID().GetValue(), groupExecutorID)
	for _, t := range x.plan.group.group.GetTasks() {
		if !x.printTaskFiles(ctx, agent, dir+"/tasks/"+t.GetTaskId().GetValue(), t.GetTaskId().GetValue(), gone) {
			return
		}
	}
}

// printTaskFiles prints the stdout and stderr files in dir under headers
// naming the task. When a read fails and gone explains why (the agent no
// longer lists the executor), it prints that once and returns false.
func (x *execution) printTaskFiles(ctx context.Context, agent, dir, taskID string, gone error) bool {
	for _, out := range []struct {
		file string
		w    io.Writer
	}{{"stdout", x.stdout}, {"stderr", x.stderr}} {
		data, err := readSandboxFile(ctx, x.http, agent, dir+"/"+out.file)
		if errors.Is(err, errRefused) && gone != nil {
			fmt.Fprintf(x.stderr, "Cannot show the tasks' output: %v\n", gone)
			return false
		}
		if err != nil {
			fmt.Fprintf(x.stderr, "Cannot read the %s of task '%s': %v\n", out.file, taskID, err)
			continue
		}
		fmt.Fprintf(out.w, "==> %s of task '%s' <==\n", out.file, taskID)
		out.w.Write(data)
		if len(data) > 0 && data[len(data)-1] != '\n' {
			fmt.Fprintln(out.w)
		}
	}
	return true
}
