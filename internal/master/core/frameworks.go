package core

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/internal/allocator"
	"github.com/mesoproject/meso/internal/resources"
	"google.golang.org/protobuf/proto"
)

// Subscribe opens the framework stream `stream` (a fresh Mesos-Stream-Id
// chosen by the shell) for a SUBSCRIBE call. An error means the call is
// malformed (400) and no stream was opened. Otherwise the stream is open:
// its first event is SUBSCRIBED, or ERROR followed by the stream's closing
// when the framework may not subscribe (invalid FrameworkInfo, removed
// framework id), as Mesos does.
//
// Without an id the framework is new and gets one. With the id of a known
// framework it fails over to the new stream. The id of a framework the
// Registry records as removed is refused ("Framework has been removed").
// Any other id subscribes as a framework this master does not know: Mesos
// takes it for a framework failing over to a newly elected master. (A
// framework known from the registry, see Recover, is known: it fails over.)
// With Config.DurableFrameworks the registry knows every framework that
// ever subscribed, so such an id was made up and is refused.
func (c *Core) Subscribe(now time.Time, stream string, call *schedulerpb.Call) error {
	if err := ValidateCall(call); err != nil {
		return err
	}
	if call.GetType() != schedulerpb.Call_SUBSCRIBE {
		return fmt.Errorf("%w: expecting a SUBSCRIBE call, got %s", ErrInvalid, call.GetType())
	}
	if stream == "" {
		return fmt.Errorf("%w: empty stream id", ErrInvalid)
	}
	c.metrics.calls[schedulerpb.Call_SUBSCRIBE]++
	sub := call.GetSubscribe()
	info := proto.Clone(sub.GetFrameworkInfo()).(*mesospb.FrameworkInfo)
	if err := validateFrameworkInfo(info, sub.GetSuppressedRoles()); err != nil {
		c.refuseStream(stream, err.Error())
		return nil
	}
	id := info.GetId().GetValue()
	switch fw := c.frameworks[id]; {
	case id != "" && c.cfg.Registry.FrameworkRemoved(id):
		c.refuseStream(stream, "Framework has been removed")
	case fw != nil && !samePrincipal(fw, info):
		// A subscription may take a framework over (failover), but only
		// under the framework's principal: with authentication that
		// principal is proven, so another principal's framework cannot be
		// claimed by knowing its id.
		c.refuseStream(stream, "Changing framework's principal is not allowed")
	case fw != nil:
		c.failover(now, fw, stream, info, sub.GetSuppressedRoles())
	case id != "" && c.cfg.DurableFrameworks:
		// Every framework that ever subscribed is in the registry and was
		// recovered from it, and agents report the frameworks they run:
		// an id nobody knows was made up.
		c.refuseStream(stream, "Framework "+id+" is unknown to this master's registry")
	default:
		if id == "" {
			id = c.newFrameworkID()
			info.Id = &mesospb.FrameworkID{Value: proto.String(id)}
		}
		c.addFramework(now, id, stream, info, sub.GetSuppressedRoles())
	}
	return nil
}

// samePrincipal reports whether info may take fw over: it names fw's
// principal, or fw is known only from agents that did not say it.
func samePrincipal(fw *framework, info *mesospb.FrameworkInfo) bool {
	have := fw.info.GetPrincipal()
	return have == info.GetPrincipal() || (fw.recovered && have == "")
}

// FrameworkPrincipal returns the principal of framework id, if the core
// knows the framework.
func (c *Core) FrameworkPrincipal(id string) (string, bool) {
	fw := c.frameworks[id]
	if fw == nil {
		return "", false
	}
	return fw.info.GetPrincipal(), true
}

// newFrameworkID assigns the next framework id, skipping ids in use or
// removed: a framework may subscribe with an id it made up (Mesos lets an
// unknown id subscribe, as a failover to a new master), so a made-up id can
// be one this master would assign.
func (c *Core) newFrameworkID() string {
	for {
		id := c.frameworkID(c.nextFrameworkNum)
		c.nextFrameworkNum++
		if c.frameworks[id] == nil && !c.cfg.Registry.FrameworkRemoved(id) {
			return id
		}
	}
}

// refuseStream sends ERROR on a stream that belongs to no framework and
// closes it.
func (c *Core) refuseStream(stream, msg string) {
	c.out.Events = append(c.out.Events, FrameworkEvent{Stream: stream, Event: errorEvent(msg)})
	c.out.CloseStreams = append(c.out.CloseStreams, stream)
}

func errorEvent(msg string) *schedulerpb.Event {
	return &schedulerpb.Event{
		Type:  schedulerpb.Event_ERROR.Enum(),
		Error: &schedulerpb.Event_Error{Message: proto.String(msg)},
	}
}

// validateFrameworkInfo checks what Mesos checks on subscription.
func validateFrameworkInfo(info *mesospb.FrameworkInfo, suppressed []string) error {
	if id := info.GetId(); id != nil {
		if err := validateID(id.GetValue()); err != nil {
			return fmt.Errorf("invalid framework id: %w", err)
		}
	}
	roles := frameworkRoles(info)
	if mesospb.HasCapability(info, mesospb.FrameworkInfo_Capability_MULTI_ROLE) {
		if info.Role != nil {
			return errors.New("'FrameworkInfo.role' must not be set with the MULTI_ROLE capability; use 'roles'")
		}
		if len(roles) == 0 {
			return errors.New("a MULTI_ROLE framework must subscribe to at least one role")
		}
	} else if len(info.GetRoles()) > 0 {
		return errors.New("'FrameworkInfo.roles' requires the MULTI_ROLE capability")
	}
	seen := map[string]bool{}
	for _, r := range roles {
		if err := resources.ValidateRole(r); err != nil {
			return err
		}
		if seen[r] {
			return fmt.Errorf("'FrameworkInfo.roles' contains duplicate role %q", r)
		}
		seen[r] = true
	}
	for _, r := range suppressed {
		if !seen[r] {
			return fmt.Errorf("suppressed role %q is not one of the framework's roles", r)
		}
	}
	if ft := info.GetFailoverTimeout(); math.IsNaN(ft) || ft < 0 {
		return fmt.Errorf("invalid failover_timeout %v", ft)
	}
	return nil
}

// frameworkRoles returns the roles a framework subscribes to.
func frameworkRoles(info *mesospb.FrameworkInfo) []string {
	if mesospb.HasCapability(info, mesospb.FrameworkInfo_Capability_MULTI_ROLE) {
		return slices.Clone(info.GetRoles())
	}
	return []string{info.GetRole()} // default "*"
}

func (fw *framework) setInfo(info *mesospb.FrameworkInfo) {
	fw.info = info
	fw.roles = frameworkRoles(info)
	fw.multiRole = mesospb.HasCapability(info, mesospb.FrameworkInfo_Capability_MULTI_ROLE)
	fw.partitionAware = mesospb.HasCapability(info, mesospb.FrameworkInfo_Capability_PARTITION_AWARE)
	fw.gpu = mesospb.HasCapability(info, mesospb.FrameworkInfo_Capability_GPU_RESOURCES)
}

func (fw *framework) allocatorInfo(suppressed []string) allocator.Framework {
	return allocator.Framework{Roles: fw.roles, SuppressedRoles: suppressed, GPUResources: fw.gpu}
}

func newFramework(id string) *framework {
	return &framework{
		id:        id,
		offers:    map[string]*offer{},
		tasks:     map[string]*task{},
		executors: map[execKey]*executor{},
	}
}

// addFramework subscribes a framework this master does not know.
func (c *Core) addFramework(now time.Time, id, stream string, info *mesospb.FrameworkInfo, suppressed []string) {
	fw := newFramework(id)
	fw.setInfo(info)
	fw.registered = now
	if err := c.alloc.AddFramework(id, fw.allocatorInfo(suppressed)); err != nil {
		// Validated above; the allocator agrees on what is valid.
		c.refuseStream(stream, err.Error())
		return
	}
	c.frameworks[id] = fw
	c.recordFramework(fw)
	c.connect(fw, stream)
	c.frameworkAdded(fw)
	c.allocateSoon = true
}

// recordFramework records a subscribed framework in the registry, so that
// a new leader knows it.
func (c *Core) recordFramework(fw *framework) {
	if err := c.cfg.Registry.AddFramework(fw.info); err != nil {
		c.log.Warn("registry refused to record a framework", "framework", fw.id, "err", err)
	}
}

// failover moves a known framework to a new stream, keeping its tasks.
func (c *Core) failover(now time.Time, fw *framework, stream string, info *mesospb.FrameworkInfo, suppressed []string) {
	if fw.connected() && fw.stream != stream {
		old := fw.stream
		c.send(fw, errorEvent("Framework failed over"))
		c.out.CloseStreams = append(c.out.CloseStreams, old)
		delete(c.streams, old)
		fw.stream = ""
	}
	fw.setInfo(info)
	var err error
	if fw.recovered {
		err = c.alloc.AddFramework(fw.id, fw.allocatorInfo(suppressed))
		fw.recovered = false
		fw.registered = now
	} else {
		err = c.alloc.UpdateFramework(fw.id, fw.allocatorInfo(suppressed))
		if err == nil {
			err = c.alloc.ActivateFramework(fw.id)
		}
		fw.reregistered = now
	}
	if err != nil {
		c.log.Warn("allocator refused framework update", "framework", fw.id, "err", err)
	}
	fw.failoverDeadline = time.Time{}
	delete(c.failingOver, fw.id)
	c.recordFramework(fw)
	c.connect(fw, stream)
	// Offers made to the previous connection are void (Mesos rescinds them).
	for _, id := range sortedKeys(fw.offers) {
		c.rescind(now, fw.offers[id], true)
	}
	c.redeliverHeld(fw)
	c.frameworkUpdated(fw)
	c.allocateSoon = true
}

// connect attaches a stream to a framework and sends SUBSCRIBED.
func (c *Core) connect(fw *framework, stream string) {
	fw.stream = stream
	c.streams[stream] = fw
	c.send(fw, &schedulerpb.Event{
		Type: schedulerpb.Event_SUBSCRIBED.Enum(),
		Subscribed: &schedulerpb.Event_Subscribed{
			FrameworkId:              &mesospb.FrameworkID{Value: proto.String(fw.id)},
			HeartbeatIntervalSeconds: proto.Float64(c.cfg.HeartbeatInterval.Seconds()),
			MasterInfo:               c.cfg.MasterInfo,
		},
	})
}

// StreamClosed tells the core that a framework stream ended (the client
// went away, or the shell closed it). For the framework's current stream
// this is a disconnection: the framework turns inactive, its offers are
// rescinded, and its failover timeout starts; with a failover_timeout of 0
// (the default) it is removed at once, tasks killed, as in Mesos. Closing a
// stream that was already replaced does nothing.
func (c *Core) StreamClosed(now time.Time, stream string) {
	fw := c.streams[stream]
	if fw == nil {
		return
	}
	delete(c.streams, stream)
	fw.stream = ""
	fw.unregistered = now
	if err := c.alloc.DeactivateFramework(fw.id); err != nil {
		c.log.Warn("allocator refused deactivation", "framework", fw.id, "err", err)
	}
	for _, id := range sortedKeys(fw.offers) {
		c.rescind(now, fw.offers[id], false)
	}
	timeout := failoverTimeout(fw.info)
	if timeout <= 0 {
		c.removeFramework(now, fw, "framework disconnected with no failover timeout")
		return
	}
	fw.failoverDeadline = now.Add(timeout)
	c.failingOver[fw.id] = fw
	c.frameworkUpdated(fw)
	if err := c.cfg.Registry.DisconnectFramework(fw.id, fw.failoverDeadline); err != nil {
		c.log.Warn("registry refused to record a framework disconnection", "framework", fw.id, "err", err)
	}
}

// failoverTimeout converts FrameworkInfo.failover_timeout (seconds).
func failoverTimeout(info *mesospb.FrameworkInfo) time.Duration {
	s := info.GetFailoverTimeout()
	switch {
	case math.IsNaN(s) || s <= 0:
		return 0
	case s >= math.MaxInt64/float64(time.Second):
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(s * float64(time.Second))
}

func (c *Core) expireFailovers(now time.Time) {
	if len(c.failingOver) == 0 {
		return
	}
	for _, id := range sortedKeys(c.failingOver) {
		fw := c.failingOver[id]
		if !now.Before(fw.failoverDeadline) {
			c.removeFramework(now, fw, "framework failover timeout expired")
		}
	}
}

// removeFramework forgets a framework: its tasks are killed (agents get
// SHUTDOWN_FRAMEWORK), its offers and resources go back, its stream (if
// any) is closed, and its id may not subscribe again.
func (c *Core) removeFramework(now time.Time, fw *framework, why string) {
	c.log.Info("removing framework", "framework", fw.id, "reason", why)
	for _, o := range fw.offers {
		c.dropOffer(o)
	}
	agents := map[string]bool{}
	for _, id := range sortedKeys(fw.tasks) {
		t := fw.tasks[id]
		agents[t.agent] = true
		// As Mesos does, the master records TASK_KILLED in the task's
		// statuses (not sent: the framework is gone); a task already
		// terminal keeps its state.
		killed := masterStatus(now, t.proto.GetTaskId(), t.proto.GetAgentId(), mesospb.TaskState_TASK_KILLED,
			mesospb.TaskStatus_REASON_FRAMEWORK_REMOVED, "Framework "+fw.id+" removed")
		if e := t.proto.GetExecutorId(); e != nil {
			killed.ExecutorId = &mesospb.ExecutorID{Value: proto.String(e.GetValue())}
		}
		if !mesospb.IsTerminal(t.state()) {
			c.setState(t, mesospb.TaskState_TASK_KILLED)
			c.taskUpdated(now, t, killed)
		}
		c.recordStatus(t, killed)
		if fw.recovered {
			// The allocator holds a recovered framework's resources
			// (from its agents' re-registrations) without knowing the
			// framework: RemoveFramework below does not return them.
			c.freeTask(now, t)
		}
		c.removeTask(fw, t)
	}
	for k, e := range fw.executors {
		agents[k.agent] = true
		c.forgetExecutor(e)
		if fw.recovered {
			c.release(e.fw, e.role, e.agent, e.res)
		}
	}
	for _, agentID := range sortedKeys(agents) {
		c.sendAgent(c.agents[agentID], &linkpb.MasterEvent{
			Type: linkpb.MasterEvent_SHUTDOWN_FRAMEWORK.Enum(),
			ShutdownFramework: &linkpb.MasterEvent_ShutdownFramework{
				FrameworkId: &mesospb.FrameworkID{Value: proto.String(fw.id)},
			},
		})
	}
	if !fw.recovered {
		if err := c.alloc.RemoveFramework(fw.id); err != nil {
			c.log.Warn("allocator refused framework removal", "framework", fw.id, "err", err)
		}
	}
	if fw.connected() {
		c.out.CloseStreams = append(c.out.CloseStreams, fw.stream)
		delete(c.streams, fw.stream)
		fw.stream = ""
	}
	fw.unregistered = now
	delete(c.frameworks, fw.id)
	delete(c.failingOver, fw.id)
	if err := c.cfg.Registry.RemoveFramework(fw.id); err != nil {
		c.log.Warn("registry refused to record a framework removal", "framework", fw.id, "err", err)
	}
	c.completed = append(c.completed, fw)
	c.frameworkRemoved(fw)
	if n := len(c.completed) - c.cfg.MaxCompletedFrameworks; n > 0 {
		c.completed = slices.Delete(c.completed, 0, n)
	}
}
