package core

import (
	"cmp"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/internal/allocator"
	"github.com/mesoproject/meso/internal/resources"
	"google.golang.org/protobuf/proto"
)

// RegisterAgent opens the agent link `link` (a fresh session id chosen by
// the shell) for a REGISTER call. An error (ErrInvalid) means the call is
// malformed and no link was opened. Otherwise the link's first message is
// REGISTERED, or SHUTDOWN_AGENT followed by the link's closing when the
// agent was marked gone (it must start afresh).
//
// An agent without an id is new and gets one. An agent with an id
// re-registers: the master takes the agent's report of its frameworks,
// executors and tasks as the truth for that agent. Tasks the master knew
// there but the agent does not report get a final update the master holds
// until it is acknowledged (see holdFinal): their terminal update, else
// TASK_DROPPED when still staging, TASK_GONE otherwise (TASK_LOST for
// frameworks that are not partition-aware), reason
// REASON_AGENT_REREGISTERED; tasks it reports that
// the master did not know (after a master restart) are adopted, with their
// frameworks if needed ("recovered" until they subscribe).
//
// An agent the registry records as unreachable (it was lost, see
// agentLost) re-registers too, as in Mesos since partition awareness: the
// tasks it reports come back. A PARTITION_AWARE framework, told
// TASK_UNREACHABLE, gets each task's state again (a master update without
// uuid, REASON_AGENT_REREGISTERED); a framework that is not, told
// TASK_LOST, gets its tasks there killed (KILL_TASK: they end in the
// agent's own TASK_KILLED). A gone agent is refused (SHUTDOWN_AGENT).
func (c *Core) RegisterAgent(now time.Time, link string, call *linkpb.AgentCall) error {
	if call.GetType() != linkpb.AgentCall_REGISTER || call.GetRegister() == nil {
		return fmt.Errorf("%w: expecting a REGISTER call with 'register' present", ErrInvalid)
	}
	if link == "" {
		return fmt.Errorf("%w: empty link id", ErrInvalid)
	}
	reg := call.GetRegister()
	info := proto.Clone(reg.GetAgentInfo()).(*mesospb.AgentInfo)
	static, err := resources.FromProto(info.GetResources())
	if err != nil {
		return fmt.Errorf("%w: agent_info: %w", ErrInvalid, err)
	}
	if ip := reg.GetIp(); ip != "" && net.ParseIP(ip) == nil {
		return fmt.Errorf("%w: register.ip %q is not an IP address", ErrInvalid, ip)
	}
	if c.MachineMode(info.GetHostname(), reg.GetIp()) == mesospb.MachineInfo_DOWN {
		c.shutdownLink(link, "Agent attempted to register on a machine that is in maintenance (DOWN)")
		return nil
	}
	if sc := reg.GetScheme(); sc != "" && sc != "http" && sc != "https" {
		return fmt.Errorf("%w: register.scheme %q is neither \"http\" nor \"https\"", ErrInvalid, sc)
	}
	id := info.GetId().GetValue()
	total, err := c.agentTotal(id, static, reg)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if id == "" {
		return c.addAgent(now, link, info, total, reg)
	}
	if err := validateID(id); err != nil {
		return fmt.Errorf("%w: agent id: %w", ErrInvalid, err)
	}
	returning := false
	if c.agents[id] == nil {
		switch c.cfg.Registry.AgentState(id) {
		case AgentGone:
			c.shutdownLink(link, fmt.Sprintf("agent %s was marked gone; register again without an id", id))
			return nil
		case AgentUnreachable:
			returning = true
		}
	}
	return c.reregisterAgent(now, link, info, total, reg, returning)
}

func (c *Core) shutdownLink(link, msg string) {
	c.out.Messages = append(c.out.Messages, AgentMessage{Link: link, Event: &linkpb.MasterEvent{
		Type:          linkpb.MasterEvent_SHUTDOWN_AGENT.Enum(),
		ShutdownAgent: &linkpb.MasterEvent_ShutdownAgent{Message: proto.String(msg)},
	}})
	c.out.CloseLinks = append(c.out.CloseLinks, link)
}

func newAgent(id string, info *mesospb.AgentInfo, total resources.Resources, reg *linkpb.AgentCall_Register) *agent {
	return &agent{
		id: id, info: info, total: total, version: reg.GetVersion(), scheme: reg.GetScheme(), ip: reg.GetIp(),
		offers:    map[string]*offer{},
		tasks:     map[taskKey]*task{},
		executors: map[string]map[string]*executor{},
	}
}

func (c *Core) addAgent(now time.Time, link string, info *mesospb.AgentInfo, total resources.Resources, reg *linkpb.AgentCall_Register) error {
	id := c.agentID(c.nextAgentNum)
	info.Id = &mesospb.AgentID{Value: proto.String(id)}
	if err := c.cfg.Registry.AdmitAgent(info); err != nil {
		return fmt.Errorf("%w: registry refused agent: %w", ErrInvalid, err)
	}
	if err := c.alloc.AddAgent(id, total, nil); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	c.nextAgentNum++
	ag := newAgent(id, info, total, reg)
	ag.registered = now
	c.agents[id] = ag
	c.agentAdded(ag)
	c.attachLink(ag, link)
	c.metrics.agentRegistrations++
	c.allocateSoon = true
	return nil
}

// attachLink makes link the agent's session and sends REGISTERED.
func (c *Core) attachLink(ag *agent, link string) {
	if ag.link != "" && ag.link != link {
		c.out.CloseLinks = append(c.out.CloseLinks, ag.link)
		delete(c.links, ag.link)
	}
	ag.link = link
	ag.pingOutstanding, ag.missedPings = false, 0
	c.links[link] = ag
	c.sendAgent(ag, &linkpb.MasterEvent{
		Type: linkpb.MasterEvent_REGISTERED.Enum(),
		Registered: &linkpb.MasterEvent_Registered{
			AgentId:             &mesospb.AgentID{Value: proto.String(ag.id)},
			LinkId:              proto.String(link),
			MasterInfo:          c.cfg.MasterInfo,
			PingIntervalSeconds: proto.Float64(c.cfg.AgentPingTimeout.Seconds()),
		},
	})
	c.registeredWithCheckpoint(ag)
}

// report is an agent's re-registration, parsed.
type report struct {
	tasks     []*task
	executors []*executor
	holdings  []allocator.Holding
	// removed are frameworks the report names that were removed (torn
	// down, or their failover timeout expired): their tasks and executors
	// are left out, and the agent is told to shut them down, as Mesos
	// does for completed frameworks.
	removed []string
}

// removedFramework reports whether a framework named in a report was
// removed, noting it once in rep.removed.
func (c *Core) removedFramework(rep *report, fwID string) bool {
	if c.frameworks[fwID] != nil || !c.cfg.Registry.FrameworkRemoved(fwID) {
		return false
	}
	if !slices.Contains(rep.removed, fwID) {
		rep.removed = append(rep.removed, fwID)
	}
	return true
}

func (c *Core) reregisterAgent(now time.Time, link string, info *mesospb.AgentInfo, total resources.Resources, reg *linkpb.AgentCall_Register, returning bool) error {
	id := info.GetId().GetValue()
	fwInfos := map[string]*mesospb.FrameworkInfo{}
	for _, fi := range reg.GetFrameworks() {
		fwInfos[fi.GetId().GetValue()] = fi
	}
	rep, err := c.parseReport(id, reg, fwInfos)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	old := c.agents[id]
	if old != nil {
		// Offers on the agent are void; its allocator entry is rebuilt
		// from the report below.
		for _, oid := range sortedKeys(old.offers) {
			c.rescind(now, old.offers[oid], true)
		}
		if err := c.alloc.RemoveAgent(id); err != nil {
			c.log.Warn("allocator refused agent removal", "agent", id, "err", err)
		}
	} else if err := c.cfg.Registry.AdmitAgent(info); err != nil {
		return fmt.Errorf("%w: registry refused agent: %w", ErrInvalid, err)
	}
	if err := c.alloc.AddAgent(id, total, rep.holdings); err != nil {
		if old != nil {
			// Keep the old view rather than lose the agent.
			_ = c.alloc.AddAgent(id, old.total, c.holdingsOf(old))
		}
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if old != nil && old.deactivated {
		if err := c.alloc.DeactivateAgent(id); err != nil {
			c.log.Warn("allocator refused agent deactivation", "agent", id, "err", err)
		}
	}
	ag := old
	if ag == nil {
		ag = newAgent(id, info, total, reg)
		ag.registered = now
		c.agents[id] = ag
		c.agentAdded(ag)
	} else {
		ag.info, ag.total, ag.version, ag.scheme, ag.ip = info, total, reg.GetVersion(), reg.GetScheme(), reg.GetIp()
		ag.reregistered = now
	}
	delete(c.recovering, id)
	c.mergeReport(now, ag, rep, fwInfos)
	c.attachLink(ag, link)
	for _, fwID := range rep.removed {
		c.shutdownFrameworkOn(ag, fwID)
	}
	if returning {
		c.log.Info("unreachable agent re-registered", "agent", id, "hostname", ag.hostname())
		c.reachableAgain(now, ag, rep)
	}
	c.sendHeldAcks(ag)
	c.drainReregistered(now, ag)
	c.metrics.agentReregistrations++
	c.allocateSoon = true
	return nil
}

// reachableAgain settles the tasks an unreachable agent reported when it
// came back (see RegisterAgent): frameworks that are partition-aware learn
// each live task's state again; the tasks of the others are killed.
func (c *Core) reachableAgain(now time.Time, ag *agent, rep *report) {
	for _, t := range rep.tasks {
		fw := c.frameworks[t.fw]
		if fw == nil {
			continue
		}
		// The task is live again: the copy the master completed when it
		// took the task away (TASK_UNREACHABLE or TASK_LOST, acknowledged)
		// is not its end any more.
		fw.completed.remove(func(old *task) bool {
			return old.id == t.id && old.agent == ag.id && old != t
		})
		if mesospb.IsTerminal(t.state()) {
			continue
		}
		if !fw.partitionAware {
			c.sendAgent(ag, killTask(fw.id, t.id, nil))
			continue
		}
		s := masterStatus(now, t.proto.GetTaskId(), t.proto.GetAgentId(), t.state(),
			mesospb.TaskStatus_REASON_AGENT_REREGISTERED, "Agent re-registered after it was unreachable")
		if t.executorID != "" {
			s.ExecutorId = &mesospb.ExecutorID{Value: proto.String(t.executorID)}
		}
		c.send(fw, updateEvent(s))
	}
}

// parseReport converts a re-registration's executors and tasks, and the
// allocator holdings they imply (tasks not yet terminal, and executors).
func (c *Core) parseReport(agentID string, reg *linkpb.AgentCall_Register, fwInfos map[string]*mesospb.FrameworkInfo) (*report, error) {
	rep := &report{}
	roleOf := func(fwID string, list []*mesospb.Resource) (string, error) {
		fw := c.frameworks[fwID]
		if fw == nil {
			fw = newFramework(fwID)
			info := fwInfos[fwID]
			if info == nil {
				info = &mesospb.FrameworkInfo{}
			}
			fw.setInfo(info)
		}
		return fw.resourceRole(list)
	}
	for _, es := range reg.GetExecutors() {
		ei := es.GetExecutorInfo()
		fwID := es.GetFrameworkId().GetValue()
		if c.removedFramework(rep, fwID) {
			continue
		}
		res, err := resources.FromProto(ei.GetResources())
		if err != nil {
			return nil, fmt.Errorf("executor %s: %w", ei.GetExecutorId().GetValue(), err)
		}
		role, err := roleOf(fwID, ei.GetResources())
		if err != nil {
			return nil, fmt.Errorf("executor %s: %w", ei.GetExecutorId().GetValue(), err)
		}
		e := &executor{id: ei.GetExecutorId().GetValue(), fw: fwID, agent: agentID, role: role,
			info: proto.Clone(ei).(*mesospb.ExecutorInfo), res: res}
		rep.executors = append(rep.executors, e)
		rep.holdings = append(rep.holdings, allocator.Holding{Framework: fwID, Role: role, Resources: res})
	}
	for _, tp := range reg.GetTasks() {
		fwID := tp.GetFrameworkId().GetValue()
		if c.removedFramework(rep, fwID) {
			continue
		}
		res, err := resources.FromProto(tp.GetResources())
		if err != nil {
			return nil, fmt.Errorf("task %s: %w", tp.GetTaskId().GetValue(), err)
		}
		role, err := roleOf(fwID, tp.GetResources())
		if err != nil {
			return nil, fmt.Errorf("task %s: %w", tp.GetTaskId().GetValue(), err)
		}
		t := &task{id: tp.GetTaskId().GetValue(), fw: fwID, agent: agentID, role: role, res: res,
			executorID: tp.GetExecutorId().GetValue(), proto: proto.Clone(tp).(*mesospb.Task), recGen: c.recGen}
		t.proto.AgentId = &mesospb.AgentID{Value: proto.String(agentID)}
		if role != "" && allocationRoleOf(t.proto.Resources) == "" {
			// The record is the task's view: its resources carry their
			// allocation role, as those of the tasks the master launched.
			t.proto.Resources = withAllocationRole(t.proto.Resources, role)
		}
		if n := len(t.proto.Statuses); n > 0 {
			t.latest = t.proto.Statuses[n-1]
		}
		if mesospb.IsTerminal(t.state()) {
			t.freed = true
		} else {
			rep.holdings = append(rep.holdings, allocator.Holding{Framework: fwID, Role: role, Resources: res})
		}
		rep.tasks = append(rep.tasks, t)
	}
	return rep, nil
}

// holdingsOf lists what frameworks use on an agent, per the master's books.
func (c *Core) holdingsOf(ag *agent) []allocator.Holding {
	var hs []allocator.Holding
	for _, k := range sortedTaskKeys(ag.tasks) {
		if t := ag.tasks[k]; !t.freed {
			hs = append(hs, allocator.Holding{Framework: t.fw, Role: t.role, Resources: t.res})
		}
	}
	for _, fwID := range sortedKeys(ag.executors) {
		for _, eid := range sortedKeys(ag.executors[fwID]) {
			e := ag.executors[fwID][eid]
			hs = append(hs, allocator.Holding{Framework: e.fw, Role: e.role, Resources: e.res})
		}
	}
	return hs
}

func sortedTaskKeys(m map[taskKey]*task) []taskKey {
	keys := make([]taskKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b taskKey) int {
		return cmp.Or(cmp.Compare(a.framework, b.framework), cmp.Compare(a.task, b.task))
	})
	return keys
}

// mergeReport replaces the master's view of an agent's tasks and executors
// with the agent's report.
func (c *Core) mergeReport(now time.Time, ag *agent, rep *report, fwInfos map[string]*mesospb.FrameworkInfo) {
	reported := map[taskKey]bool{}
	for _, t := range rep.tasks {
		reported[taskKey{t.fw, t.id}] = true
	}
	for _, k := range sortedTaskKeys(ag.tasks) {
		if reported[k] {
			continue
		}
		t := ag.tasks[k]
		delete(ag.tasks, k)
		fw := c.frameworks[t.fw]
		if fw == nil {
			continue
		}
		state := mesospb.TaskState_TASK_GONE
		if t.state() == mesospb.TaskState_TASK_STAGING {
			state = mesospb.TaskState_TASK_DROPPED
		}
		if !fw.partitionAware {
			state = mesospb.TaskState_TASK_LOST
		}
		const msg = "Task is unknown to the agent after it re-registered"
		c.holdFinal(now, fw, t, masterStatus(now, t.proto.GetTaskId(), t.proto.GetAgentId(), state,
			mesospb.TaskStatus_REASON_AGENT_REREGISTERED, msg), msg)
	}
	for fwID, byID := range ag.executors {
		for _, e := range byID {
			if fw := c.frameworks[fwID]; fw != nil {
				delete(fw.executors, execKey{ag.id, e.id})
			}
		}
	}
	ag.executors = map[string]map[string]*executor{}
	for _, t := range rep.tasks {
		c.ensureFramework(t.fw, fwInfos)
		var prev *task
		if fw := c.frameworks[t.fw]; fw != nil {
			if p := fw.tasks[t.id]; p != nil && p.agent == ag.id {
				prev = p
				if p.held == nil {
					// A status the master made when it took the task
					// away (TASK_UNREACHABLE) is not the task's any more.
					t.latest = p.latest
				}
			}
		}
		c.addTask(t)
		switch {
		case prev == nil:
			c.taskAdded(t)
		case prev.state() != t.state():
			c.taskUpdated(now, t, lastStatus(t))
		}
	}
	for _, e := range rep.executors {
		c.ensureFramework(e.fw, fwInfos)
		c.addExecutor(e)
	}
}

// ensureFramework creates a recovered framework for tasks of a framework
// that has not subscribed to this master yet.
func (c *Core) ensureFramework(id string, fwInfos map[string]*mesospb.FrameworkInfo) {
	if c.frameworks[id] != nil || c.cfg.Registry.FrameworkRemoved(id) {
		return
	}
	fw := newFramework(id)
	info := fwInfos[id]
	if info == nil {
		info = &mesospb.FrameworkInfo{User: proto.String(""), Name: proto.String("")}
	}
	fw.setInfo(proto.Clone(info).(*mesospb.FrameworkInfo))
	fw.recovered = true
	c.frameworks[id] = fw
	c.frameworkAdded(fw)
}

// AgentCall applies a non-REGISTER call from an agent. nil means 202.
// ErrStaleLink (409) means the link id is not the agent's current session;
// ErrInvalid (400) a malformed call.
func (c *Core) AgentCall(now time.Time, call *linkpb.AgentCall) error {
	if call == nil || call.Type == nil {
		return fmt.Errorf("%w: expecting 'type' to be present", ErrInvalid)
	}
	if call.GetType() == linkpb.AgentCall_REGISTER {
		return fmt.Errorf("%w: REGISTER opens a link; it cannot be sent as a plain call", ErrInvalid)
	}
	if call.GetLinkId() == "" {
		return fmt.Errorf("%w: expecting 'link_id' to be present", ErrInvalid)
	}
	ag := c.links[call.GetLinkId()]
	if ag == nil || (call.AgentId != nil && call.GetAgentId().GetValue() != ag.id) {
		return fmt.Errorf("%w: link %s is not an agent's current session", ErrStaleLink, call.GetLinkId())
	}
	switch call.GetType() {
	case linkpb.AgentCall_STATUS_UPDATE:
		if call.StatusUpdate == nil {
			return fmt.Errorf("%w: expecting 'status_update' to be present", ErrInvalid)
		}
		c.statusUpdate(now, ag, call.GetStatusUpdate())
	case linkpb.AgentCall_PONG:
		ag.pingOutstanding, ag.missedPings = false, 0
	case linkpb.AgentCall_EXECUTOR_EXITED:
		if call.ExecutorExited == nil {
			return fmt.Errorf("%w: expecting 'executor_exited' to be present", ErrInvalid)
		}
		c.executorExited(now, ag, call.GetExecutorExited())
	case linkpb.AgentCall_FRAMEWORK_MESSAGE:
		if call.FrameworkMessage == nil {
			return fmt.Errorf("%w: expecting 'framework_message' to be present", ErrInvalid)
		}
		c.executorMessage(ag, call.GetFrameworkMessage())
	default:
		return fmt.Errorf("%w: unknown agent call type %s", ErrInvalid, call.GetType())
	}
	return nil
}

// LinkClosed tells the core that an agent link ended. For the agent's
// current link, the agent is disconnected: its offers are rescinded and it
// gets no new ones, but its tasks stay until it re-registers or misses
// --max_agent_ping_timeouts pings (then it is lost).
func (c *Core) LinkClosed(now time.Time, link string) {
	ag := c.links[link]
	if ag == nil {
		return
	}
	delete(c.links, link)
	ag.link = ""
	if err := c.alloc.DeactivateAgent(ag.id); err != nil {
		c.log.Warn("allocator refused agent deactivation", "agent", ag.id, "err", err)
	}
	for _, id := range sortedKeys(ag.offers) {
		c.rescind(now, ag.offers[id], true)
	}
}

// pingAgents runs one round of pings: an agent whose previous ping is
// still unanswered misses one; at --max_agent_ping_timeouts misses in a row
// it is lost.
func (c *Core) pingAgents(now time.Time) {
	c.pingSeq++
	for _, id := range sortedKeys(c.agents) {
		ag := c.agents[id]
		if ag.pingOutstanding {
			ag.missedPings++
			if ag.missedPings >= c.cfg.MaxAgentPingTimeouts {
				c.agentLost(now, ag, fmt.Sprintf("missed %d pings in a row", ag.missedPings))
				continue
			}
		}
		ag.pingOutstanding = true
		c.sendAgent(ag, &linkpb.MasterEvent{
			Type: linkpb.MasterEvent_PING.Enum(),
			Ping: &linkpb.MasterEvent_Ping{Seq: proto.Uint64(c.pingSeq)},
		})
	}
}

// agentLost removes an agent that stopped answering: every task of it
// whose terminal update the framework has not acknowledged gets a final
// update the master holds until it is acknowledged (see holdFinal); its
// offers are rescinded; every framework gets FAILURE with the agent id; the
// registry marks it unreachable (it may re-register if it comes back, see
// RegisterAgent).
func (c *Core) agentLost(now time.Time, ag *agent, why string) {
	c.log.Warn("agent lost", "agent", ag.id, "hostname", ag.hostname(), "reason", why)
	if err := c.cfg.Registry.MarkUnreachable(ag.id, now); err != nil {
		c.log.Warn("registry refused to mark agent unreachable", "agent", ag.id, "err", err)
	}
	c.dropAgent(now, ag, false, fmt.Sprintf("Agent %s (%s) is unreachable: %s", ag.id, ag.hostname(), why))
}

// MarkAgentGone applies an operator's MARK_AGENT_GONE: the agent is gone
// for good. A registered agent is shut down (SHUTDOWN_AGENT on its link)
// and removed as a lost one is, except that its tasks end in
// TASK_GONE_BY_OPERATOR (TASK_LOST for frameworks that are not partition
// aware) with REASON_AGENT_REMOVED_BY_OPERATOR; an unreachable one is
// recorded gone. Either may never re-register with its id. An id the
// master does not know is ErrNotFound.
func (c *Core) MarkAgentGone(now time.Time, agentID string) error {
	ag := c.agents[agentID]
	if ag == nil {
		if c.cfg.Registry.AgentState(agentID) != AgentUnreachable {
			return fmt.Errorf("%w: no agent %q is registered or unreachable", ErrNotFound, agentID)
		}
		if err := c.cfg.Registry.RemoveAgent(agentID); err != nil {
			return fmt.Errorf("%w: registry refused to mark agent %s gone: %w", ErrInvalid, agentID, err)
		}
		if err := c.setDrain(agentID, nil); err != nil {
			return err
		}
		// Its tasks held as TASK_UNREACHABLE end now.
		msg := fmt.Sprintf("Agent %s was marked gone by the operator", agentID)
		for _, fwID := range sortedKeys(c.frameworks) {
			fw := c.frameworks[fwID]
			for _, id := range sortedKeys(fw.tasks) {
				if t := fw.tasks[id]; t.agent == agentID && t.state() == mesospb.TaskState_TASK_UNREACHABLE {
					c.holdFinal(now, fw, t, masterStatus(now, t.proto.GetTaskId(), t.proto.GetAgentId(),
						mesospb.TaskState_TASK_GONE_BY_OPERATOR, mesospb.TaskStatus_REASON_AGENT_REMOVED_BY_OPERATOR, msg), msg)
				}
			}
		}
		return nil
	}
	c.log.Warn("agent marked gone by the operator", "agent", ag.id, "hostname", ag.hostname())
	if err := c.cfg.Registry.RemoveAgent(ag.id); err != nil {
		return fmt.Errorf("%w: registry refused to mark agent %s gone: %w", ErrInvalid, ag.id, err)
	}
	if err := c.setDrain(ag.id, nil); err != nil {
		return err
	}
	if ag.link != "" {
		c.sendAgent(ag, &linkpb.MasterEvent{
			Type:          linkpb.MasterEvent_SHUTDOWN_AGENT.Enum(),
			ShutdownAgent: &linkpb.MasterEvent_ShutdownAgent{Message: proto.String("the operator marked this agent gone")},
		})
	}
	c.dropAgent(now, ag, true, fmt.Sprintf("Agent %s (%s) was marked gone by the operator", ag.id, ag.hostname()))
	return nil
}

// dropAgent takes a lost (or, gone, marked gone) agent out of the books:
// its offers are rescinded, its tasks get their final update from the
// master, its executors are forgotten, its link closes, and every
// framework is told (FAILURE).
func (c *Core) dropAgent(now time.Time, ag *agent, gone bool, msg string) {
	for _, id := range sortedKeys(ag.offers) {
		o := ag.offers[id]
		c.dropOffer(o)
		c.sendRescind(o)
	}
	for _, k := range sortedTaskKeys(ag.tasks) {
		t := ag.tasks[k]
		fw := c.frameworks[t.fw]
		if fw == nil {
			continue
		}
		state, reason := mesospb.TaskState_TASK_LOST, mesospb.TaskStatus_REASON_AGENT_REMOVED
		switch {
		case gone && fw.partitionAware:
			state, reason = mesospb.TaskState_TASK_GONE_BY_OPERATOR, mesospb.TaskStatus_REASON_AGENT_REMOVED_BY_OPERATOR
		case gone:
			reason = mesospb.TaskStatus_REASON_AGENT_REMOVED_BY_OPERATOR
		case fw.partitionAware:
			state = mesospb.TaskState_TASK_UNREACHABLE
		}
		s := masterStatus(now, t.proto.GetTaskId(), t.proto.GetAgentId(), state, reason, msg)
		if state == mesospb.TaskState_TASK_UNREACHABLE {
			s.UnreachableTime = &mesospb.TimeInfo{Nanoseconds: proto.Int64(now.UnixNano())}
		}
		c.holdFinal(now, fw, t, s, msg)
	}
	for _, fwID := range sortedKeys(ag.executors) {
		for _, e := range ag.executors[fwID] {
			c.forgetExecutor(e)
		}
	}
	if err := c.alloc.RemoveAgent(ag.id); err != nil {
		c.log.Warn("allocator refused agent removal", "agent", ag.id, "err", err)
	}
	if ag.link != "" {
		c.out.CloseLinks = append(c.out.CloseLinks, ag.link)
		delete(c.links, ag.link)
		ag.link = ""
	}
	delete(c.agents, ag.id)
	delete(c.heldAcks, ag.id)
	c.agentRemoved(ag.id)
	c.metrics.agentsLost++
	failure := &schedulerpb.Event{
		Type:    schedulerpb.Event_FAILURE.Enum(),
		Failure: &schedulerpb.Event_Failure{AgentId: &mesospb.AgentID{Value: proto.String(ag.id)}},
	}
	for _, id := range sortedKeys(c.frameworks) {
		c.send(c.frameworks[id], failure)
	}
}

// LinkAgent returns the id of the agent whose session link is, or "".
func (c *Core) LinkAgent(link string) string {
	if ag := c.links[link]; ag != nil {
		return ag.id
	}
	return ""
}

// Registry is the core's registry, for the shell's checks of agent
// secrets (Registry.AgentSecret), made in the same loop step as the
// core's own writes.
func (c *Core) Registry() Registry { return c.cfg.Registry }
