package core

import (
	"errors"
	"fmt"
	"time"

	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/internal/resources"
	"google.golang.org/protobuf/proto"
)

// launchCtx is the state of one ACCEPT: the agent its offers are on, what
// is still available under each role, and the task ids launched so far.
type launchCtx struct {
	now      time.Time
	fw       *framework
	agent    *agent
	avail    map[string]resources.Resources
	launched map[string]bool
	// owned marks the avail entries this ACCEPT made itself (shared
	// with nothing), which later launches subtract in place.
	owned map[string]bool
}

// accept applies an ACCEPT call. Invalid offers drop every task of the call
// (TASK_DROPPED for partition-aware frameworks, TASK_LOST otherwise, reason
// REASON_INVALID_OFFERS); invalid tasks get TASK_ERROR (REASON_TASK_INVALID,
// or REASON_TASK_GROUP_INVALID for a task group). Master-generated updates
// carry no uuid and need no acknowledgement, as in Mesos. Whatever the
// operations leave unused goes back to the allocator with the call's
// filter; an ACCEPT with no operations is therefore a DECLINE.
func (c *Core) accept(now time.Time, fw *framework, acc *schedulerpb.Call_Accept) {
	offers, err := c.validateOffers(fw, acc.GetOfferIds())
	if err != nil {
		for _, o := range offers {
			c.returnOffer(now, o, 0)
		}
		state := mesospb.TaskState_TASK_LOST
		if fw.partitionAware {
			state = mesospb.TaskState_TASK_DROPPED
		}
		msg := "Task launched with invalid offers: " + err.Error()
		for _, ti := range operationTasks(acc.GetOperations()) {
			c.metrics.terminal[state]++
			c.send(fw, updateEvent(masterStatus(now, ti.GetTaskId(), ti.GetAgentId(), state,
				mesospb.TaskStatus_REASON_INVALID_OFFERS, msg)))
		}
		c.dropOperations(fw, acc.GetOperations(), msg)
		return
	}
	lc := &launchCtx{now: now, fw: fw, agent: offers[0].agent, avail: map[string]resources.Resources{}, launched: map[string]bool{}}
	for _, o := range offers {
		c.claim(o)
		c.dropOffer(o)
		lc.avail[o.role] = lc.avail[o.role].Add(o.res)
	}
	for _, op := range acc.GetOperations() {
		switch op.GetType() {
		case mesospb.Offer_Operation_LAUNCH:
			for _, ti := range op.GetLaunch().GetTaskInfos() {
				c.launchTask(lc, ti)
			}
		case mesospb.Offer_Operation_LAUNCH_GROUP:
			c.launchGroup(lc, op.GetLaunchGroup())
		case mesospb.Offer_Operation_RESERVE, mesospb.Offer_Operation_UNRESERVE,
			mesospb.Offer_Operation_CREATE, mesospb.Offer_Operation_DESTROY:
			c.offerOperation(lc, op)
		default:
			c.log.Warn("dropping unsupported offer operation", "framework", fw.id, "type", op.GetType().String())
			c.operationStatus(fw, lc.agent.id, op, mesospb.OperationState_OPERATION_ERROR,
				fmt.Sprintf("meso does not support %v operations", op.GetType()), nil)
		}
	}
	refuse := refuseDuration(acc.GetFilters())
	for _, role := range sortedKeys(lc.avail) {
		c.recover(now, fw.id, role, lc.agent.id, lc.avail[role], refuse)
	}
}

// operationTasks lists the tasks of LAUNCH and LAUNCH_GROUP operations.
func operationTasks(ops []*mesospb.Offer_Operation) []*mesospb.TaskInfo {
	var out []*mesospb.TaskInfo
	for _, op := range ops {
		out = append(out, op.GetLaunch().GetTaskInfos()...)
		out = append(out, op.GetLaunchGroup().GetTaskGroup().GetTasks()...)
	}
	return out
}

// validateOffers checks the offer ids of an ACCEPT: at least one, no
// duplicates, all outstanding offers of this framework, all on one
// connected agent. It returns the framework's offers among them even when
// the set is invalid, so that they can be returned.
func (c *Core) validateOffers(fw *framework, ids []*mesospb.OfferID) ([]*offer, error) {
	var offers []*offer
	var errs []error
	seen := map[string]bool{}
	for _, id := range ids {
		v := id.GetValue()
		if seen[v] {
			errs = append(errs, fmt.Errorf("duplicate offer %s", v))
			continue
		}
		seen[v] = true
		o := c.offers[v]
		switch {
		case o == nil && c.conflicts[v] != "":
			errs = append(errs, fmt.Errorf("offer %s is no longer valid: %s", v, c.conflicts[v]))
		case o == nil:
			errs = append(errs, fmt.Errorf("offer %s is no longer valid", v))
		case o.fw != fw:
			errs = append(errs, fmt.Errorf("offer %s is not for framework %s", v, fw.id))
		default:
			offers = append(offers, o)
		}
	}
	if len(ids) == 0 {
		errs = append(errs, errors.New("no offers specified"))
	}
	for _, o := range offers {
		if o.agent != offers[0].agent {
			errs = append(errs, fmt.Errorf("offers are on more than one agent (%s and %s)", offers[0].agent.id, o.agent.id))
			break
		}
	}
	if len(offers) > 0 && offers[0].agent.link == "" {
		errs = append(errs, fmt.Errorf("agent %s is disconnected", offers[0].agent.id))
	}
	return offers, errors.Join(errs...)
}

// taskError sends TASK_ERROR for an invalid task.
func (c *Core) taskError(lc *launchCtx, ti *mesospb.TaskInfo, reason mesospb.TaskStatus_Reason, msg string) {
	c.metrics.tasksInvalid++
	c.metrics.terminal[mesospb.TaskState_TASK_ERROR]++
	c.send(lc.fw, updateEvent(masterStatus(lc.now, ti.GetTaskId(), lc.agent.info.GetId(),
		mesospb.TaskState_TASK_ERROR, reason, msg)))
}

// authorizeTask asks Config.AuthorizeTask, when set, about a valid task.
func (c *Core) authorizeTask(lc *launchCtx, ti *mesospb.TaskInfo, ex *mesospb.ExecutorInfo) error {
	if c.cfg.AuthorizeTask == nil {
		return nil
	}
	return c.cfg.AuthorizeTask(lc.fw.info, ti, ex)
}

// launchTask validates and launches one task of a LAUNCH operation.
func (c *Core) launchTask(lc *launchCtx, ti *mesospb.TaskInfo) {
	role, need, execNew, err := c.validateTask(lc, ti)
	if err == nil && !lc.avail[role].Contains(need) {
		err = fmt.Errorf("Task uses more resources %v than available %v", need, lc.avail[role])
	}
	if err != nil {
		c.taskError(lc, ti, mesospb.TaskStatus_REASON_TASK_INVALID, err.Error())
		return
	}
	if err := c.authorizeTask(lc, ti, ti.GetExecutor()); err != nil {
		c.taskError(lc, ti, mesospb.TaskStatus_REASON_TASK_UNAUTHORIZED, err.Error())
		return
	}
	lc.launched[ti.GetTaskId().GetValue()] = true
	c.charge(lc, role, need)
	var ex *mesospb.ExecutorInfo
	if ti.Executor != nil {
		ex = c.useExecutor(lc, role, ti.GetExecutor(), execNew)
	}
	res := need // the task's own resources unless a new executor's are in
	if execNew {
		res, _ = resources.FromProto(ti.GetResources()) // validated
	}
	t := c.addLaunchedTask(lc, role, ti, ex, res)
	c.sendAgent(lc.agent, &linkpb.MasterEvent{
		Type: linkpb.MasterEvent_RUN_TASK.Enum(),
		RunTask: &linkpb.MasterEvent_RunTask{
			Framework: lc.fw.info,
			Executor:  ex,
			Task:      t,
		},
	})
}

// charge moves resources from the offer pool to the framework's use.
func (c *Core) charge(lc *launchCtx, role string, need resources.Resources) {
	if cur := lc.avail[role]; lc.owned[role] {
		lc.avail[role] = cur.SubtractInPlace(need)
	} else {
		lc.avail[role] = cur.Subtract(need)
		if len(cur) > 0 && len(need) > 0 { // a new slice (or nil)
			if lc.owned == nil {
				lc.owned = map[string]bool{}
			}
			lc.owned[role] = true
		}
	}
	if need.IsEmpty() {
		return
	}
	if err := c.alloc.Allocated(lc.fw.id, role, lc.agent.id, need); err != nil {
		c.log.Warn("allocator refused allocation", "framework", lc.fw.id, "agent", lc.agent.id, "err", err)
	}
}

// validateTask checks a TaskInfo of a LAUNCH. It returns the role the task
// runs under, the resources it needs out of the offers (its own, plus its
// executor's when the executor is new) and whether the executor is new.
func (c *Core) validateTask(lc *launchCtx, ti *mesospb.TaskInfo) (string, resources.Resources, bool, error) {
	if err := c.validateTaskID(lc, ti); err != nil {
		return "", nil, false, err
	}
	switch {
	case ti.Executor != nil && ti.Command != nil:
		return "", nil, false, errors.New("Task should have at most one of CommandInfo or ExecutorInfo present")
	case ti.Executor == nil && ti.Command == nil:
		return "", nil, false, errors.New("Task uses neither CommandInfo nor ExecutorInfo")
	}
	lists := [][]*mesospb.Resource{ti.GetResources()}
	execNew := false
	if ti.Executor != nil {
		var err error
		execNew, err = c.validateExecutor(lc, ti.GetExecutor())
		if err != nil {
			return "", nil, false, err
		}
		if execNew {
			lists = append(lists, ti.GetExecutor().GetResources())
		}
	}
	role, err := lc.fw.resourceRole(lists...)
	if err != nil {
		return "", nil, false, err
	}
	need, err := resources.FromProto(ti.GetResources())
	if err != nil {
		return "", nil, false, err
	}
	if execNew {
		er, err := resources.FromProto(ti.GetExecutor().GetResources())
		if err != nil {
			return "", nil, false, fmt.Errorf("executor: %w", err)
		}
		need = need.Add(er)
	}
	if need.IsEmpty() {
		return "", nil, false, errors.New("Task and its executor use no resources")
	}
	if _, ok := lc.avail[role]; !ok {
		return "", nil, false, fmt.Errorf("Task uses resources of role %q, which the offers do not hold", role)
	}
	return role, need, execNew, nil
}

// validateTaskID checks a task's id, uniqueness and agent.
func (c *Core) validateTaskID(lc *launchCtx, ti *mesospb.TaskInfo) error {
	id := ti.GetTaskId().GetValue()
	if err := validateID(id); err != nil {
		return fmt.Errorf("Task ID is invalid: %w", err)
	}
	if lc.fw.tasks[id] != nil || lc.launched[id] {
		return fmt.Errorf("Task has duplicate ID: %s", id)
	}
	if got := ti.GetAgentId().GetValue(); got != lc.agent.id {
		return fmt.Errorf("Task uses agent %s but the offers are for agent %s", got, lc.agent.id)
	}
	return nil
}

// validateExecutor checks an ExecutorInfo; it reports whether the executor
// is new on the agent (an existing one must be given unchanged).
func (c *Core) validateExecutor(lc *launchCtx, ei *mesospb.ExecutorInfo) (bool, error) {
	id := ei.GetExecutorId().GetValue()
	if err := validateID(id); err != nil {
		return false, fmt.Errorf("Executor ID is invalid: %w", err)
	}
	if err := validateExecutorType(ei); err != nil {
		return false, err
	}
	if ei.FrameworkId != nil && ei.GetFrameworkId().GetValue() != lc.fw.id {
		return false, fmt.Errorf("ExecutorInfo has an invalid FrameworkID (%s)", ei.GetFrameworkId().GetValue())
	}
	if _, err := resources.FromProto(ei.GetResources()); err != nil {
		return false, fmt.Errorf("Executor uses invalid resources: %w", err)
	}
	existing := lc.fw.executors[execKey{lc.agent.id, id}]
	if existing == nil {
		return true, nil
	}
	if !sameExecutor(existing.info, ei, lc.fw.id) {
		return false, fmt.Errorf("ExecutorInfo is not compatible with the running executor %s", id)
	}
	return false, nil
}

// validateExecutorType checks the command against the executor's type, as
// Mesos does: a CUSTOM executor runs its command, the DEFAULT (built-in)
// executor has none. An unset type is not checked.
func validateExecutorType(ei *mesospb.ExecutorInfo) error {
	switch ei.GetType() {
	case mesospb.ExecutorInfo_CUSTOM:
		if ei.Command == nil {
			return errors.New("'ExecutorInfo.command' must be set for 'CUSTOM' executor")
		}
	case mesospb.ExecutorInfo_DEFAULT:
		if ei.Command != nil {
			return errors.New("'ExecutorInfo.command' must not be set for 'DEFAULT' executor")
		}
	}
	return nil
}

// sameExecutor compares a running executor's info (as stored: framework id
// set, allocation info on resources) with a newly given one.
func sameExecutor(stored, given *mesospb.ExecutorInfo, fwID string) bool {
	g := proto.Clone(given).(*mesospb.ExecutorInfo)
	g.FrameworkId = &mesospb.FrameworkID{Value: proto.String(fwID)}
	s := proto.Clone(stored).(*mesospb.ExecutorInfo)
	for _, list := range [][]*mesospb.Resource{g.Resources, s.Resources} {
		for _, r := range list {
			r.AllocationInfo = nil
		}
	}
	return proto.Equal(s, g)
}

// resourceRole finds the one role that the given resources are allocated
// to: allocation_info.role for MULTI_ROLE frameworks (required), and the
// framework's role otherwise (allocation_info optional, and must match).
func (fw *framework) resourceRole(lists ...[]*mesospb.Resource) (string, error) {
	role := ""
	for _, list := range lists {
		for r := range allocationRoles(list) {
			switch {
			case r == "" && fw.multiRole:
				return "", errors.New("resources of a MULTI_ROLE framework must carry allocation_info")
			case r == "":
				r = fw.roles[0]
			case !fw.multiRole && r != fw.roles[0]:
				return "", fmt.Errorf("resources are allocated to role %q, not the framework's role %q", r, fw.roles[0])
			}
			if role != "" && r != role {
				return "", fmt.Errorf("resources are allocated to more than one role (%q and %q)", role, r)
			}
			role = r
		}
	}
	if role == "" {
		role = fw.roles[0]
	}
	return role, nil
}

// useExecutor returns the ExecutorInfo to send with a task, recording the
// executor when it is new.
func (c *Core) useExecutor(lc *launchCtx, role string, ei *mesospb.ExecutorInfo, isNew bool) *mesospb.ExecutorInfo {
	key := execKey{lc.agent.id, ei.GetExecutorId().GetValue()}
	if !isNew {
		return lc.fw.executors[key].info
	}
	info := proto.Clone(ei).(*mesospb.ExecutorInfo)
	info.FrameworkId = &mesospb.FrameworkID{Value: proto.String(lc.fw.id)}
	info.Resources = withAllocationRole(info.Resources, role)
	res, _ := resources.FromProto(ei.GetResources()) // validated
	c.addExecutor(&executor{id: key.executor, fw: lc.fw.id, agent: lc.agent.id, role: role, info: info, res: res})
	return info
}

func (c *Core) addExecutor(e *executor) {
	fw, ag := c.frameworks[e.fw], c.agents[e.agent]
	if fw != nil {
		fw.executors[execKey{e.agent, e.id}] = e
	}
	if ag != nil {
		if ag.executors[e.fw] == nil {
			ag.executors[e.fw] = map[string]*executor{}
		}
		ag.executors[e.fw][e.id] = e
	}
}

// forgetExecutor drops an executor from the books (its resources are the
// caller's business).
func (c *Core) forgetExecutor(e *executor) {
	if fw := c.frameworks[e.fw]; fw != nil {
		delete(fw.executors, execKey{e.agent, e.id})
	}
	if ag := c.agents[e.agent]; ag != nil {
		delete(ag.executors[e.fw], e.id)
		if len(ag.executors[e.fw]) == 0 {
			delete(ag.executors, e.fw)
		}
	}
}

// addLaunchedTask records a task in TASK_STAGING and returns the TaskInfo
// to send to the agent (allocation_info set on its resources); res is the
// task's own resources.
func (c *Core) addLaunchedTask(lc *launchCtx, role string, ti *mesospb.TaskInfo, ex *mesospb.ExecutorInfo, res resources.Resources) *mesospb.TaskInfo {
	send := cloneTaskInfo(ti)
	send.Resources = withAllocationRole(ti.Resources, role)
	if ex != nil {
		send.Executor = ex
	}
	t := &task{
		id: ti.GetTaskId().GetValue(), fw: lc.fw.id, agent: lc.agent.id, role: role, res: res,
		proto: taskFromInfo(lc.fw, send), recGen: c.recGen,
	}
	if ex != nil {
		t.executorID = ex.GetExecutorId().GetValue()
	}
	c.addTask(t)
	c.taskAdded(t)
	c.metrics.tasksLaunched++
	return send
}

// cloneTaskInfo deep-copies ti but for its resources (nil in the copy),
// which the caller replaces: they are not copied twice. ti is the call's
// (the loop's alone while it runs); its resources are put back at once.
func cloneTaskInfo(ti *mesospb.TaskInfo) *mesospb.TaskInfo {
	rs := ti.Resources
	ti.Resources = nil
	send := proto.Clone(ti).(*mesospb.TaskInfo)
	ti.Resources = rs
	return send
}

// taskFromInfo builds the master's Task record of a launched TaskInfo.
func taskFromInfo(fw *framework, ti *mesospb.TaskInfo) *mesospb.Task {
	t := &mesospb.Task{
		Name:        ti.Name,
		TaskId:      ti.TaskId,
		FrameworkId: fw.idProto(),
		AgentId:     ti.AgentId,
		State:       mesospb.TaskState_TASK_STAGING.Enum(),
		Resources:   ti.Resources,
		Labels:      ti.Labels,
		Discovery:   ti.Discovery,
		Container:   ti.Container,
		HealthCheck: ti.HealthCheck,
		KillPolicy:  ti.KillPolicy,
		Limits:      ti.Limits,
	}
	if ti.Executor != nil {
		t.ExecutorId = ti.Executor.ExecutorId
	}
	user := fw.info.GetUser()
	if u := ti.GetCommand().GetUser(); u != "" {
		user = u
	}
	t.User = proto.String(user)
	return t
}

func (c *Core) addTask(t *task) {
	if fw := c.frameworks[t.fw]; fw != nil {
		if old := fw.tasks[t.id]; old != nil && old.views == &fw.views {
			fw.views.drop(old)
		}
		fw.tasks[t.id] = t
		fw.views.put(t)
	}
	if ag := c.agents[t.agent]; ag != nil {
		ag.tasks[taskKey{t.fw, t.id}] = t
	}
}

// launchGroup validates and launches a LAUNCH_GROUP operation: all of its
// tasks start, or all get TASK_ERROR (REASON_TASK_GROUP_INVALID).
func (c *Core) launchGroup(lc *launchCtx, lg *mesospb.Offer_Operation_LaunchGroup) {
	tasks := lg.GetTaskGroup().GetTasks()
	role, need, execNew, err := c.validateGroup(lc, lg)
	if err == nil && !lc.avail[role].Contains(need) {
		err = fmt.Errorf("Task group uses more resources %v than available %v", need, lc.avail[role])
	}
	if err != nil {
		for _, ti := range tasks {
			c.taskError(lc, ti, mesospb.TaskStatus_REASON_TASK_GROUP_INVALID, err.Error())
		}
		return
	}
	for _, ti := range tasks {
		if err := c.authorizeTask(lc, ti, lg.GetExecutor()); err != nil {
			for _, ti := range tasks {
				c.taskError(lc, ti, mesospb.TaskStatus_REASON_TASK_GROUP_UNAUTHORIZED, err.Error())
			}
			return
		}
	}
	c.charge(lc, role, need)
	ex := c.useExecutor(lc, role, lg.GetExecutor(), execNew)
	group := &mesospb.TaskGroupInfo{}
	for _, ti := range tasks {
		lc.launched[ti.GetTaskId().GetValue()] = true
		res, _ := resources.FromProto(ti.GetResources()) // validated
		group.Tasks = append(group.Tasks, c.addLaunchedTask(lc, role, ti, ex, res))
	}
	// Tasks in a group name their executor through the group, not
	// TaskInfo.executor.
	for _, ti := range group.Tasks {
		ti.Executor = nil
	}
	c.sendAgent(lc.agent, &linkpb.MasterEvent{
		Type: linkpb.MasterEvent_RUN_TASK_GROUP.Enum(),
		RunTaskGroup: &linkpb.MasterEvent_RunTaskGroup{
			Framework: lc.fw.info,
			Executor:  ex,
			TaskGroup: group,
		},
	})
}

func (c *Core) validateGroup(lc *launchCtx, lg *mesospb.Offer_Operation_LaunchGroup) (string, resources.Resources, bool, error) {
	ei := lg.GetExecutor()
	if ei.Type != nil && ei.GetType() != mesospb.ExecutorInfo_DEFAULT {
		return "", nil, false, errors.New("'ExecutorInfo.type' must be 'DEFAULT' for a task group")
	}
	execNew, err := c.validateExecutor(lc, ei)
	if err != nil {
		return "", nil, false, err
	}
	tasks := lg.GetTaskGroup().GetTasks()
	if len(tasks) == 0 {
		return "", nil, false, errors.New("Task group must contain at least one task")
	}
	var lists [][]*mesospb.Resource
	if execNew {
		lists = append(lists, ei.GetResources())
	}
	var need resources.Resources
	ids := map[string]bool{}
	for _, ti := range tasks {
		if err := c.validateTaskID(lc, ti); err != nil {
			return "", nil, false, err
		}
		if ids[ti.GetTaskId().GetValue()] {
			return "", nil, false, fmt.Errorf("Task group has duplicate task ID: %s", ti.GetTaskId().GetValue())
		}
		ids[ti.GetTaskId().GetValue()] = true
		if ti.Executor != nil {
			return "", nil, false, fmt.Errorf("Task %s in a task group must not set 'TaskInfo.executor'", ti.GetTaskId().GetValue())
		}
		r, err := resources.FromProto(ti.GetResources())
		if err != nil {
			return "", nil, false, fmt.Errorf("Task %s: %w", ti.GetTaskId().GetValue(), err)
		}
		need = need.Add(r)
		lists = append(lists, ti.GetResources())
	}
	if execNew {
		er, _ := resources.FromProto(ei.GetResources()) // validated by validateExecutor
		need = need.Add(er)
	}
	role, err := lc.fw.resourceRole(lists...)
	if err != nil {
		return "", nil, false, err
	}
	if _, ok := lc.avail[role]; !ok {
		return "", nil, false, fmt.Errorf("Task group uses resources of role %q, which the offers do not hold", role)
	}
	return role, need, execNew, nil
}
