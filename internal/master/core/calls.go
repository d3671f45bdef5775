package core

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/maintenancepb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/internal/allocator"
	"github.com/mesoproject/meso/internal/resources"
	"google.golang.org/protobuf/proto"
)

// ValidateCall checks the structure of a scheduler call the way Mesos does
// before looking at any state: the type is set and known, framework_id is
// present (except on SUBSCRIBE), and the message of the call's type is
// present. Errors wrap ErrInvalid.
func ValidateCall(call *schedulerpb.Call) error {
	if call == nil {
		return fmt.Errorf("%w: empty call", ErrInvalid)
	}
	if call.Type == nil {
		return fmt.Errorf("%w: expecting 'type' to be present", ErrInvalid)
	}
	t := call.GetType()
	if t == schedulerpb.Call_SUBSCRIBE {
		sub := call.GetSubscribe()
		if sub == nil || sub.FrameworkInfo == nil {
			return fmt.Errorf("%w: expecting 'subscribe' with 'framework_info' to be present", ErrInvalid)
		}
		if call.FrameworkId != nil && call.GetFrameworkId().GetValue() != sub.GetFrameworkInfo().GetId().GetValue() {
			return fmt.Errorf("%w: 'framework_id' differs from 'subscribe.framework_info.id'", ErrInvalid)
		}
		return nil
	}
	if call.GetFrameworkId().GetValue() == "" {
		return fmt.Errorf("%w: expecting 'framework_id' to be present", ErrInvalid)
	}
	if err := requirePayload(call); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if t == schedulerpb.Call_ACKNOWLEDGE && len(call.GetAcknowledge().GetUuid()) != 16 {
		return fmt.Errorf("%w: 'acknowledge.uuid' must be a 16-byte UUID", ErrInvalid)
	}
	if t == schedulerpb.Call_UPDATE_FRAMEWORK &&
		call.GetUpdateFramework().GetFrameworkInfo().GetId().GetValue() != call.GetFrameworkId().GetValue() {
		return fmt.Errorf("%w: 'update_framework.framework_info.id' differs from 'framework_id'", ErrInvalid)
	}
	return nil
}

// requirePayload checks that the message named after the call type is set.
func requirePayload(call *schedulerpb.Call) error {
	var present bool
	var name string
	switch call.GetType() {
	case schedulerpb.Call_UNKNOWN:
		return errors.New("unknown call type")
	case schedulerpb.Call_TEARDOWN, schedulerpb.Call_REVIVE, schedulerpb.Call_SUPPRESS:
		return nil
	case schedulerpb.Call_ACCEPT:
		present, name = call.Accept != nil, "accept"
	case schedulerpb.Call_DECLINE:
		present, name = call.Decline != nil, "decline"
	case schedulerpb.Call_ACCEPT_INVERSE_OFFERS:
		present, name = call.AcceptInverseOffers != nil, "accept_inverse_offers"
	case schedulerpb.Call_DECLINE_INVERSE_OFFERS:
		present, name = call.DeclineInverseOffers != nil, "decline_inverse_offers"
	case schedulerpb.Call_KILL:
		present, name = call.Kill != nil, "kill"
	case schedulerpb.Call_SHUTDOWN:
		present, name = call.Shutdown != nil, "shutdown"
	case schedulerpb.Call_ACKNOWLEDGE:
		present, name = call.Acknowledge != nil, "acknowledge"
	case schedulerpb.Call_ACKNOWLEDGE_OPERATION_STATUS:
		present, name = call.AcknowledgeOperationStatus != nil, "acknowledge_operation_status"
	case schedulerpb.Call_RECONCILE:
		present, name = call.Reconcile != nil, "reconcile"
	case schedulerpb.Call_RECONCILE_OPERATIONS:
		present, name = call.ReconcileOperations != nil, "reconcile_operations"
	case schedulerpb.Call_MESSAGE:
		present, name = call.Message != nil, "message"
	case schedulerpb.Call_REQUEST:
		present, name = call.Request != nil, "request"
	case schedulerpb.Call_UPDATE_FRAMEWORK:
		present, name = call.UpdateFramework != nil, "update_framework"
	default:
		return fmt.Errorf("unsupported call type %s", call.GetType())
	}
	if !present {
		return fmt.Errorf("expecting '%s' to be present", name)
	}
	return nil
}

// Call applies a non-SUBSCRIBE scheduler call that arrived with the
// Mesos-Stream-Id `stream` ("" when the header was missing). nil means 202
// Accepted. Errors wrap ErrInvalid (400), ErrForbidden (403) or ErrStream
// (400).
func (c *Core) Call(now time.Time, stream string, call *schedulerpb.Call) error {
	if err := ValidateCall(call); err != nil {
		return err
	}
	if call.GetType() == schedulerpb.Call_SUBSCRIBE {
		return fmt.Errorf("%w: SUBSCRIBE opens a stream; it cannot be sent as a plain call", ErrInvalid)
	}
	id := call.GetFrameworkId().GetValue()
	fw := c.frameworks[id]
	switch {
	case fw == nil:
		return fmt.Errorf("%w: framework %s cannot be found", ErrForbidden, id)
	case !fw.connected():
		return fmt.Errorf("%w: framework %s is not subscribed", ErrForbidden, id)
	case stream == "":
		return fmt.Errorf("%w: all non-subscribe calls should include the 'Mesos-Stream-Id' header", ErrStream)
	case stream != fw.stream:
		return fmt.Errorf("%w: the stream ID '%s' included in this request didn't match the stream ID currently associated with framework ID %s",
			ErrStream, stream, id)
	}
	c.metrics.calls[call.GetType()]++
	return c.dispatch(now, fw, call)
}

func (c *Core) dispatch(now time.Time, fw *framework, call *schedulerpb.Call) error {
	switch call.GetType() {
	case schedulerpb.Call_TEARDOWN:
		c.removeFramework(now, fw, "framework asked for teardown")
	case schedulerpb.Call_ACCEPT:
		c.accept(now, fw, call.GetAccept())
	case schedulerpb.Call_DECLINE:
		c.decline(now, fw, call.GetDecline().GetOfferIds(), call.GetDecline().GetFilters())
	case schedulerpb.Call_REVIVE:
		if err := c.alloc.Revive(fw.id, call.GetRevive().GetRoles()); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		c.allocateSoon = true
	case schedulerpb.Call_SUPPRESS:
		if err := c.alloc.Suppress(fw.id, call.GetSuppress().GetRoles()); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		}
	case schedulerpb.Call_KILL:
		c.kill(now, fw, call.GetKill())
	case schedulerpb.Call_SHUTDOWN:
		c.shutdownExecutor(fw, call.GetShutdown())
	case schedulerpb.Call_ACKNOWLEDGE:
		c.acknowledge(fw, call.GetAcknowledge())
	case schedulerpb.Call_RECONCILE:
		c.reconcile(now, fw, call.GetReconcile().GetTasks())
	case schedulerpb.Call_MESSAGE:
		c.frameworkMessage(fw, call.GetMessage())
	case schedulerpb.Call_UPDATE_FRAMEWORK:
		return c.updateFramework(now, fw, call.GetUpdateFramework())
	case schedulerpb.Call_ACCEPT_INVERSE_OFFERS:
		c.answerInverse(now, fw, call.GetAcceptInverseOffers().GetInverseOfferIds(), call.GetAcceptInverseOffers().GetFilters(), maintenancepb.InverseOfferStatus_ACCEPT)
	case schedulerpb.Call_DECLINE_INVERSE_OFFERS:
		c.answerInverse(now, fw, call.GetDeclineInverseOffers().GetInverseOfferIds(), call.GetDeclineInverseOffers().GetFilters(), maintenancepb.InverseOfferStatus_DECLINE)
	case schedulerpb.Call_REQUEST, schedulerpb.Call_ACKNOWLEDGE_OPERATION_STATUS, schedulerpb.Call_RECONCILE_OPERATIONS:
		// REQUEST is ignored by Mesos' allocator too. meso tracks no
		// operations, so there is nothing to do.
	}
	return nil
}

// refuseDuration converts Filters.refuse_seconds (default 5 s when unset)
// for the allocator.
func refuseDuration(f *mesospb.Filters) time.Duration {
	s := f.GetRefuseSeconds()
	switch {
	case math.IsNaN(s) || s < 0:
		return allocator.UseDefaultRefuse
	case s >= allocator.MaxRefuse.Seconds():
		return allocator.MaxRefuse
	}
	return time.Duration(s * float64(time.Second))
}

// decline returns offers with a refusal filter. Unknown offer ids (already
// used, rescinded or someone else's) are ignored, as in Mesos.
func (c *Core) decline(now time.Time, fw *framework, ids []*mesospb.OfferID, filters *mesospb.Filters) {
	refuse := refuseDuration(filters)
	for _, id := range ids {
		o := c.offers[id.GetValue()]
		if o == nil || o.fw != fw {
			continue
		}
		c.returnOffer(now, o, refuse)
	}
}

// recover returns offered resources to the allocator, logging a refusal
// (which would mean the master's books and the allocator's disagree).
func (c *Core) recover(now time.Time, fwID, role, agentID string, res resources.Resources, refuse time.Duration) {
	if res.IsEmpty() {
		return
	}
	if err := c.alloc.Recover(fwID, role, agentID, res, refuse, now); err != nil {
		c.log.Warn("allocator refused recover", "framework", fwID, "agent", agentID, "err", err)
	}
}

// release returns resources a task or executor used.
func (c *Core) release(fwID, role, agentID string, res resources.Resources) {
	if res.IsEmpty() {
		return
	}
	if err := c.alloc.Release(fwID, role, agentID, res); err != nil {
		c.log.Warn("allocator refused release", "framework", fwID, "agent", agentID, "err", err)
	}
}

func (c *Core) kill(now time.Time, fw *framework, k *schedulerpb.Call_Kill) {
	t := fw.tasks[k.GetTaskId().GetValue()]
	if t == nil {
		// Mesos answers a kill of an unknown task with reconciliation.
		rt := &schedulerpb.Call_Reconcile_Task{TaskId: k.GetTaskId(), AgentId: k.GetAgentId()}
		c.reconcile(now, fw, []*schedulerpb.Call_Reconcile_Task{rt})
		return
	}
	if t.held != nil {
		// Its agent is gone: the answer is the update the master holds.
		c.send(fw, updateEvent(t.held))
		return
	}
	policy := k.GetKillPolicy()
	if policy == nil {
		policy = t.proto.GetKillPolicy()
	}
	c.sendAgent(c.agents[t.agent], killTask(fw.id, t.id, policy))
}

func (c *Core) shutdownExecutor(fw *framework, s *schedulerpb.Call_Shutdown) {
	ag := c.agents[s.GetAgentId().GetValue()]
	if ag == nil {
		c.log.Warn("dropping executor shutdown for an unknown agent", "framework", fw.id, "agent", s.GetAgentId().GetValue())
		return
	}
	c.sendAgent(ag, &linkpb.MasterEvent{
		Type: linkpb.MasterEvent_SHUTDOWN_EXECUTOR.Enum(),
		ShutdownExecutor: &linkpb.MasterEvent_ShutdownExecutor{
			FrameworkId: &mesospb.FrameworkID{Value: proto.String(fw.id)},
			ExecutorId:  s.GetExecutorId(),
		},
	})
}

func (c *Core) frameworkMessage(fw *framework, m *schedulerpb.Call_Message) {
	ag := c.agents[m.GetAgentId().GetValue()]
	if ag == nil {
		c.log.Warn("dropping framework message for an unknown agent", "framework", fw.id, "agent", m.GetAgentId().GetValue())
		return
	}
	c.metrics.frameworkToExecutor++
	c.sendAgent(ag, &linkpb.MasterEvent{
		Type: linkpb.MasterEvent_FRAMEWORK_MESSAGE.Enum(),
		FrameworkMessage: &linkpb.MasterEvent_FrameworkMessage{
			FrameworkId: &mesospb.FrameworkID{Value: proto.String(fw.id)},
			ExecutorId:  m.GetExecutorId(),
			Data:        m.GetData(),
		},
	})
}

// acknowledge forwards a status update acknowledgement to the agent; a
// terminal update's acknowledgement removes the task from the master. The
// acknowledgement of a final update the master holds (holdFinal) removes
// the task; if the master made that update, the acknowledgement is its
// own and goes to no agent. Other acknowledgements go to the agent if it
// is registered, and are otherwise accepted and dropped.
func (c *Core) acknowledge(fw *framework, a *schedulerpb.Call_Acknowledge) {
	t := fw.tasks[a.GetTaskId().GetValue()]
	if t != nil && t.agent != a.GetAgentId().GetValue() {
		t = nil
	}
	if t != nil && t.held != nil && bytes.Equal(t.held.GetUuid(), a.GetUuid()) {
		c.removeTask(fw, t)
		if t.held.GetSource() == mesospb.TaskStatus_SOURCE_MASTER {
			return
		}
	}
	agentID := a.GetAgentId().GetValue()
	ack := &linkpb.MasterEvent_Acknowledge{
		FrameworkId: fw.idProto(),
		TaskId:      a.GetTaskId(),
		Uuid:        a.GetUuid(),
	}
	ag := c.agents[agentID]
	if ag == nil {
		if c.recovering[agentID] != nil {
			// After a failover, before the agent is back: it lands when
			// the agent re-registers.
			c.holdAck(agentID, ack)
			return
		}
		if t == nil || t.held == nil {
			c.log.Warn("dropping acknowledgement for an unknown agent", "framework", fw.id, "agent", agentID)
		}
		return
	}
	if t != nil && t.held == nil &&
		string(t.proto.GetStatusUpdateUuid()) == string(a.GetUuid()) && mesospb.IsTerminal(t.proto.GetStatusUpdateState()) {
		c.removeTask(fw, t)
	}
	c.sendAgent(ag, &linkpb.MasterEvent{Type: linkpb.MasterEvent_ACKNOWLEDGE.Enum(), Acknowledge: ack})
}

// maxHeldAcks bounds the acknowledgements held for one absent agent; past
// it the oldest go (the agent sends their updates again, and they are
// acknowledged again).
const maxHeldAcks = 4096

// holdAck keeps an acknowledgement for an agent that is away until it
// (re-)registers (sendHeldAcks).
func (c *Core) holdAck(agentID string, ack *linkpb.MasterEvent_Acknowledge) {
	held := append(c.heldAcks[agentID], ack)
	if n := len(held) - maxHeldAcks; n > 0 {
		held = slices.Delete(held, 0, n)
	}
	c.heldAcks[agentID] = held
}

// sendHeldAcks sends a re-registered agent the acknowledgements made
// while it was still to re-register, after REGISTERED; one of a terminal
// update it reported as its last one removes the task, as acknowledge
// does. (The agent would send those updates again, and the framework
// acknowledge them again; an acknowledgement of an update the agent no
// longer has is ignored there.)
func (c *Core) sendHeldAcks(ag *agent) {
	for _, ack := range c.heldAcks[ag.id] {
		if fw := c.frameworks[ack.GetFrameworkId().GetValue()]; fw != nil {
			if t := fw.tasks[ack.GetTaskId().GetValue()]; t != nil && t.agent == ag.id && t.held == nil &&
				bytes.Equal(t.proto.GetStatusUpdateUuid(), ack.GetUuid()) && mesospb.IsTerminal(t.proto.GetStatusUpdateState()) {
				c.removeTask(fw, t)
			}
		}
		c.sendAgent(ag, &linkpb.MasterEvent{Type: linkpb.MasterEvent_ACKNOWLEDGE.Enum(), Acknowledge: ack})
	}
	delete(c.heldAcks, ag.id)
}

// updateFramework applies UPDATE_FRAMEWORK: new roles, suppressed roles or
// capabilities. Offers under roles the framework left are rescinded.
func (c *Core) updateFramework(now time.Time, fw *framework, u *schedulerpb.Call_UpdateFramework) error {
	info := proto.Clone(u.GetFrameworkInfo()).(*mesospb.FrameworkInfo)
	if err := validateFrameworkInfo(info, u.GetSuppressedRoles()); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	old := fw.info
	fw.setInfo(info)
	if err := c.alloc.UpdateFramework(fw.id, fw.allocatorInfo(u.GetSuppressedRoles())); err != nil {
		fw.setInfo(old)
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	for _, id := range sortedKeys(fw.offers) {
		if o := fw.offers[id]; !slices.Contains(fw.roles, o.role) {
			c.rescind(now, o, true)
		}
	}
	agents := map[string]bool{}
	for _, t := range fw.tasks {
		agents[t.agent] = true
	}
	for _, agentID := range sortedKeys(agents) {
		c.sendAgent(c.agents[agentID], &linkpb.MasterEvent{
			Type:            linkpb.MasterEvent_UPDATE_FRAMEWORK.Enum(),
			UpdateFramework: &linkpb.MasterEvent_UpdateFramework{Framework: info},
		})
	}
	c.frameworkUpdated(fw)
	c.allocateSoon = true
	return nil
}

// validateID checks a framework-chosen id (task, executor) the way Mesos
// does: non-empty, no '/', no control characters or whitespace, not "." or
// "..".
func validateID(id string) error {
	switch {
	case id == "":
		return errors.New("id must not be empty")
	case id == "." || id == "..":
		return fmt.Errorf("id %q is not allowed", id)
	case strings.ContainsRune(id, '/'):
		return fmt.Errorf("id %q must not contain '/'", id)
	}
	for _, r := range id {
		if r < ' ' || r == 0x7f || r == ' ' {
			return fmt.Errorf("id %q contains whitespace or control characters", id)
		}
	}
	return nil
}
