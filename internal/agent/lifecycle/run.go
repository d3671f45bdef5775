package lifecycle

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/executorpb"
	"github.com/mesoproject/meso/api/mesospb"
)

// RunTask handles the master's RUN_TASK. executorInfo is nil for a command
// task: the agent generates the command executor for it. The task is
// delivered to its executor at once when the executor is subscribed, else
// queued and, when the executor does not exist yet, its container launched.
func (c *Core) RunTask(fwInfo *mesospb.FrameworkInfo, executorInfo *mesospb.ExecutorInfo, task *mesospb.TaskInfo, now time.Time) ([]Effect, error) {
	command := executorInfo == nil
	if command {
		if task.GetCommand() == nil {
			return c.dropTasks(fwInfo, []*mesospb.TaskInfo{task}, mesospb.TaskStatus_REASON_TASK_INVALID,
				"Task has neither a command nor an executor", now), nil
		}
		executorInfo = c.CommandExecutorInfo(fwInfo.GetId(), task)
	}
	return c.run(fwInfo, executorInfo, launch{tasks: []*mesospb.TaskInfo{task}}, command, now)
}

// RunTaskGroup handles the master's RUN_TASK_GROUP. An executor without a
// command is the built-in default executor (ExecutorInfo type DEFAULT, or
// no type): the agent supplies its command, `<Launcher> default-executor`,
// as Mesos supplies mesos-default-executor. The group goes to the executor
// as one LAUNCH_GROUP.
func (c *Core) RunTaskGroup(fwInfo *mesospb.FrameworkInfo, executorInfo *mesospb.ExecutorInfo, group *mesospb.TaskGroupInfo, now time.Time) ([]Effect, error) {
	if len(group.GetTasks()) == 0 {
		return nil, fmt.Errorf("%w: empty task group", ErrIgnored)
	}
	if executorInfo.GetCommand() == nil {
		executorInfo = c.DefaultExecutorInfo(executorInfo)
	}
	return c.run(fwInfo, executorInfo, launch{tasks: group.GetTasks(), group: true}, false, now)
}

// DefaultExecutorSubcommand is the meso subcommand that runs the built-in
// default executor.
const DefaultExecutorSubcommand = "default-executor"

// DefaultExecutorInfo returns info with the default executor's command,
// `<Launcher> default-executor`, filled in.
func (c *Core) DefaultExecutorInfo(info *mesospb.ExecutorInfo) *mesospb.ExecutorInfo {
	info = proto.CloneOf(info)
	bin := c.cfg.Launcher
	if c.cfg.LeanExecutor != "" {
		bin = c.cfg.LeanExecutor
	}
	info.Command = &mesospb.CommandInfo{
		Shell:     proto.Bool(false),
		Value:     proto.String(bin),
		Arguments: []string{bin, DefaultExecutorSubcommand},
	}
	if info.Name == nil {
		info.Name = proto.String("Default Executor (Executor: " + info.GetExecutorId().GetValue() + ")")
	}
	return info
}

func (c *Core) run(fwInfo *mesospb.FrameworkInfo, exInfo *mesospb.ExecutorInfo, l launch, command bool, now time.Time) ([]Effect, error) {
	fwID := fwInfo.GetId().GetValue()
	if fwID == "" {
		return nil, fmt.Errorf("%w: run task: framework has no id", ErrIgnored)
	}
	fw := c.fws[fwID]
	if fw == nil {
		fw = &framework{id: fwID, executors: make(map[string]*executor), tasks: make(map[string]*executor)}
		c.fws[fwID] = fw
	} else if fw.terminating {
		return nil, fmt.Errorf("%w: run task: framework %s is terminating", ErrIgnored, fwID)
	}
	if !proto.Equal(fw.info, fwInfo) {
		fw.info = fwInfo
		c.touchFramework(fw)
	}
	for _, t := range l.tasks {
		id := t.GetTaskId().GetValue()
		if ex := fw.executorOfTask(id); ex != nil {
			return nil, fmt.Errorf("%w: run task: task %s of framework %s is already known", ErrIgnored, id, fwID)
		}
	}
	exID := exInfo.GetExecutorId().GetValue()
	ex := fw.executors[exID]
	if ex == nil {
		ex = c.newExecutor(fw, exInfo, command, now)
		ex.queued = append(ex.queued, l)
		fw.track(ex, l)
		c.touch(ex)
		return []Effect{c.launchEffect(fw, ex)}, nil
	}
	switch ex.state {
	case ExecutorTerminating, ExecutorTerminated:
		state := mesospb.TaskState_TASK_LOST
		if partitionAware(fwInfo) {
			state = mesospb.TaskState_TASK_DROPPED
		}
		var effs []Effect
		for _, t := range l.tasks {
			effs = append(effs, c.agentUpdate(fw, nil, t.GetTaskId(), state,
				mesospb.TaskStatus_REASON_EXECUTOR_TERMINATED, "Executor terminating", now)...)
		}
		return effs, nil
	case ExecutorRunning:
		if ex.connected {
			fw.track(ex, l)
			return c.deliver(fw, ex, l), nil
		}
	}
	ex.queued = append(ex.queued, l)
	fw.track(ex, l)
	c.touch(ex)
	return nil, nil
}

func (fw *framework) track(ex *executor, l launch) {
	for _, t := range l.tasks {
		fw.tasks[t.GetTaskId().GetValue()] = ex
	}
}

func (c *Core) newExecutor(fw *framework, info *mesospb.ExecutorInfo, command bool, now time.Time) *executor {
	info = proto.CloneOf(info)
	if info.FrameworkId == nil {
		info.FrameworkId = &mesospb.FrameworkID{Value: proto.String(fw.id)}
	}
	ex := &executor{
		id:               info.GetExecutorId().GetValue(),
		frameworkID:      fw.id,
		info:             info,
		containerID:      c.cfg.NewContainerID(),
		command:          command,
		state:            ExecutorRegistering,
		launchedAt:       now,
		launched:         make(map[string]*taskRecord),
		terminated:       make(map[string]*taskRecord),
		registerDeadline: now.Add(c.cfg.ExecutorRegistrationTimeout),
	}
	fw.executors[ex.id] = ex
	c.counters.ExecutorsLaunched++
	return ex
}

func (c *Core) launchEffect(fw *framework, ex *executor) LaunchExecutor {
	res := append([]*mesospb.Resource(nil), ex.info.GetResources()...)
	user := fw.info.GetUser()
	if u := ex.info.GetCommand().GetUser(); u != "" {
		user = u
	}
	if ex.command {
		// The generated executor's resources are the task's own.
		res = nil
		for _, l := range ex.queued {
			for _, t := range l.tasks {
				res = append(res, t.GetResources()...)
				if u := t.GetCommand().GetUser(); u != "" {
					user = u
				}
			}
		}
	} else {
		for _, l := range ex.queued {
			for _, t := range l.tasks {
				res = append(res, t.GetResources()...)
			}
		}
	}
	return LaunchExecutor{
		FrameworkID:     fw.id,
		ExecutorID:      ex.id,
		ContainerID:     ex.containerID,
		Framework:       fw.info,
		Executor:        ex.info,
		CommandExecutor: ex.command,
		User:            user,
		Resources:       res,
	}
}

// deliver sends a launch to a subscribed executor: the tasks become
// launched in TASK_STAGING.
func (c *Core) deliver(fw *framework, ex *executor, l launch) []Effect {
	for _, t := range l.tasks {
		ex.launched[t.GetTaskId().GetValue()] = &taskRecord{info: t, task: c.newTask(fw, ex, t)}
	}
	c.touch(ex)
	ev := &executorpb.Event{}
	if l.group {
		ev.Type = executorpb.Event_LAUNCH_GROUP.Enum()
		ev.LaunchGroup = &executorpb.Event_LaunchGroup{TaskGroup: &mesospb.TaskGroupInfo{Tasks: l.tasks}}
	} else {
		ev.Type = executorpb.Event_LAUNCH.Enum()
		ev.Launch = &executorpb.Event_Launch{Task: l.tasks[0]}
	}
	return []Effect{SendExecutor{FrameworkID: fw.id, ExecutorID: ex.id, Event: ev}}
}

// newTask builds the agent's record of a task, in TASK_STAGING.
func (c *Core) newTask(fw *framework, ex *executor, t *mesospb.TaskInfo) *mesospb.Task {
	task := &mesospb.Task{
		Name:        proto.String(t.GetName()),
		TaskId:      t.GetTaskId(),
		FrameworkId: &mesospb.FrameworkID{Value: proto.String(fw.id)},
		AgentId:     &mesospb.AgentID{Value: proto.String(c.agentID)},
		State:       mesospb.TaskState_TASK_STAGING.Enum(),
		Resources:   t.GetResources(),
		Labels:      t.GetLabels(),
		Discovery:   t.GetDiscovery(),
		Container:   t.GetContainer(),
		HealthCheck: t.GetHealthCheck(),
		KillPolicy:  t.GetKillPolicy(),
		Limits:      t.GetLimits(),
	}
	if !ex.command {
		task.ExecutorId = ex.info.GetExecutorId()
	}
	if u := t.GetCommand().GetUser(); u != "" {
		task.User = proto.String(u)
	} else if u := fw.info.GetUser(); u != "" {
		task.User = proto.String(u)
	}
	return task
}

// commandExecutorCommand is the command executor's command for task: the
// lean executor when there is one and the task has no Docker container,
// else `<Launcher> executor`.
func (c *Core) commandExecutorCommand(task *mesospb.TaskInfo) *mesospb.CommandInfo {
	// (GetType of an absent ContainerInfo is DOCKER, proto2's first value.)
	if ci := task.GetContainer(); c.cfg.LeanExecutor != "" && (ci == nil || ci.GetType() != mesospb.ContainerInfo_DOCKER) {
		return &mesospb.CommandInfo{Shell: proto.Bool(false), Value: proto.String(c.cfg.LeanExecutor),
			Arguments: []string{c.cfg.LeanExecutor}}
	}
	return &mesospb.CommandInfo{Shell: proto.Bool(false), Value: proto.String(c.cfg.Launcher),
		Arguments: []string{c.cfg.Launcher, "executor"}}
}

// CommandExecutorInfo returns the ExecutorInfo the agent generates for a
// command task, as Mesos does: executor id = task id, command
// `<launcher> executor`, the task's resources, and a descriptive name.
func (c *Core) CommandExecutorInfo(frameworkID *mesospb.FrameworkID, task *mesospb.TaskInfo) *mesospb.ExecutorInfo {
	info := &mesospb.ExecutorInfo{
		ExecutorId:  &mesospb.ExecutorID{Value: proto.String(task.GetTaskId().GetValue())},
		FrameworkId: frameworkID,
		Name: proto.String(fmt.Sprintf("Command Executor (Task: %s) (Command: %s)",
			task.GetTaskId().GetValue(), describeCommand(task.GetCommand()))),
		Source:    proto.String(task.GetTaskId().GetValue()),
		Command:   c.commandExecutorCommand(task),
		Resources: task.GetResources(),
		Container: task.GetContainer(),
		Labels:    task.GetLabels(),
	}
	// As Mesos does, the executor takes the task command's URIs (fetched
	// into the sandbox the task runs in), environment and user.
	if ci := task.GetCommand(); ci != nil {
		info.Command.Uris = ci.GetUris()
		info.Command.Environment = ci.GetEnvironment()
		info.Command.User = ci.User
	}
	return info
}

// describeCommand renders a command the way Mesos names command executors:
// sh -c '<value>' for shell commands, [argv...] otherwise.
func describeCommand(ci *mesospb.CommandInfo) string {
	if ci.GetShell() {
		return "sh -c '" + ci.GetValue() + "'"
	}
	return "[" + strings.Join(ci.GetArguments(), ", ") + "]"
}

// dropTasks fails tasks that never reach an executor.
func (c *Core) dropTasks(fwInfo *mesospb.FrameworkInfo, tasks []*mesospb.TaskInfo, reason mesospb.TaskStatus_Reason, msg string, now time.Time) []Effect {
	fwID := fwInfo.GetId().GetValue()
	var effs []Effect
	for _, t := range tasks {
		effs = append(effs, c.forward(c.generated(fwID, nil, t.GetTaskId(), mesospb.TaskState_TASK_FAILED, reason, msg, now))...)
	}
	return effs
}
