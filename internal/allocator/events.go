package allocator

import (
	"fmt"
	"slices"
	"time"

	"github.com/mesoproject/meso/internal/resources"
)

// AddAgent adds an active agent with its total resources and what
// frameworks already use on it (after a master failover or an agent
// re-registration). used may name frameworks not added yet; they hold the
// resources without receiving offers until AddFramework.
func (a *Allocator) AddAgent(id string, total resources.Resources, used []Holding) error {
	if _, ok := a.agents[id]; ok {
		return fmt.Errorf("%w: agent %q", ErrDuplicate, id)
	}
	if id == "" {
		return fmt.Errorf("%w: empty agent id", ErrInvalid)
	}
	var sum resources.Resources
	for _, h := range used {
		if err := validRole(h.Role); err != nil {
			return err
		}
		if h.Framework == "" {
			return fmt.Errorf("%w: used resources without a framework", ErrInvalid)
		}
		sum = sum.Add(h.Resources)
	}
	if !total.Contains(sum) {
		return fmt.Errorf("%w: agent %q uses %v, more than its total %v", ErrInvalid, id, sum, total)
	}
	ag := &agent{id: id, total: total, available: total.Subtract(sum), active: true,
		hasGPU: total.Scalar("gpus") > 0, version: 1}
	a.agentsAdded++
	ag.books = a.agentsAdded << 32
	a.agents[id] = ag
	a.insertAgent(ag)
	a.addScalars(&a.total, total, 1)
	a.sharesDirty = true
	a.headroomGrew()
	for _, h := range used {
		if h.Resources.IsEmpty() {
			continue
		}
		fw := a.frameworks[h.Framework]
		if fw == nil {
			fw = &framework{id: h.Framework, cands: map[string]*candidate{}}
			a.frameworks[h.Framework] = fw
		}
		a.hold(ag, a.candidate(fw, h.Role), h.Resources, true)
	}
	return nil
}

// UpdateAgent replaces an agent's total resources (e.g. after it
// re-registers with different resources). What frameworks hold is kept;
// the total must contain it.
func (a *Allocator) UpdateAgent(id string, total resources.Resources) error {
	ag, ok := a.agents[id]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownAgent, id)
	}
	held := ag.total.Subtract(ag.available)
	if !total.Contains(held) {
		return fmt.Errorf("%w: agent %q holds %v, more than the new total %v", ErrInvalid, id, held, total)
	}
	a.addScalars(&a.total, ag.total, -1)
	a.addScalars(&a.total, total, 1)
	ag.total = total
	ag.hasGPU = total.Scalar("gpus") > 0
	ag.setAvailable(total.Subtract(held), true)
	a.sharesDirty = true
	a.headroomGrew()
	return nil
}

// RemoveAgent forgets an agent, what frameworks hold on it and its
// filters. Later Recover calls for it return ErrUnknownAgent.
func (a *Allocator) RemoveAgent(id string) error {
	ag, ok := a.agents[id]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownAgent, id)
	}
	for i := len(ag.holdings) - 1; i >= 0; i-- {
		c := ag.holdings[i].cand
		a.releaseAll(ag, i)
		a.gcCandidate(c)
	}
	a.addScalars(&a.total, ag.total, -1)
	a.sharesDirty = true
	a.deleteAgent(ag)
	return nil
}

// DeactivateAgent stops offering an agent's resources (it is unreachable
// or draining); what frameworks hold on it stays allocated.
func (a *Allocator) DeactivateAgent(id string) error {
	ag, ok := a.agents[id]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownAgent, id)
	}
	ag.active = false
	ag.books++
	return nil
}

// ActivateAgent offers an agent's resources again.
func (a *Allocator) ActivateAgent(id string) error {
	ag, ok := a.agents[id]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownAgent, id)
	}
	ag.active = true
	ag.books++
	ag.idle = false
	a.headroomGrew()
	return nil
}

// AddFramework adds an active framework. If agents already reported
// resources used by it, it takes them over.
func (a *Allocator) AddFramework(id string, info Framework) error {
	if id == "" {
		return fmt.Errorf("%w: empty framework id", ErrInvalid)
	}
	fw := a.frameworks[id]
	if fw != nil && fw.registered {
		return fmt.Errorf("%w: framework %q", ErrDuplicate, id)
	}
	if err := validateFramework(info); err != nil {
		return err
	}
	if fw == nil {
		fw = &framework{id: id, cands: map[string]*candidate{}}
		a.frameworks[id] = fw
	}
	fw.registered, fw.active = true, true
	a.applyInfo(fw, info)
	return nil
}

func validateFramework(info Framework) error {
	if len(info.Roles) == 0 {
		return fmt.Errorf("%w: framework subscribes to no role", ErrInvalid)
	}
	for _, r := range info.Roles {
		if err := validRole(r); err != nil {
			return err
		}
	}
	for _, r := range info.SuppressedRoles {
		if !slices.Contains(info.Roles, r) {
			return fmt.Errorf("%w: suppressed role %q is not subscribed", ErrInvalid, r)
		}
	}
	return nil
}

// applyInfo sets a framework's roles, suppression and capabilities.
func (a *Allocator) applyInfo(fw *framework, info Framework) {
	if info.GPUResources && !fw.gpu {
		a.epoch++ // agents with GPUs are now open to it
	}
	fw.gpu = info.GPUResources
	for name, c := range fw.cands {
		if !slices.Contains(info.Roles, name) && c.subscribed {
			c.subscribed, c.suppressed = false, false
			a.clearFilters(c)
			a.gcCandidate(c)
		}
	}
	for _, name := range info.Roles {
		c := a.candidate(fw, name)
		suppress := slices.Contains(info.SuppressedRoles, name)
		if !c.subscribed || (c.suppressed && !suppress) {
			a.epoch++
		}
		if c.suppressed && !suppress {
			a.clearFilters(c) // unsuppressing revives
		}
		c.subscribed, c.suppressed = true, suppress
	}
	a.membersDirty = true
}

// UpdateFramework changes a framework's roles, suppressed roles or
// capabilities (a re-SUBSCRIBE or UPDATE_FRAMEWORK). Roles it leaves stop
// receiving offers; resources it still holds in them stay allocated.
func (a *Allocator) UpdateFramework(id string, info Framework) error {
	fw, err := a.registered(id)
	if err != nil {
		return err
	}
	if err := validateFramework(info); err != nil {
		return err
	}
	a.applyInfo(fw, info)
	return nil
}

func (a *Allocator) registered(id string) (*framework, error) {
	fw := a.frameworks[id]
	if fw == nil || !fw.registered {
		return nil, fmt.Errorf("%w: %q", ErrUnknownFramework, id)
	}
	return fw, nil
}

// RemoveFramework forgets a framework; everything it holds (offered or
// used) returns to the agents.
func (a *Allocator) RemoveFramework(id string) error {
	fw, err := a.registered(id)
	if err != nil {
		return err
	}
	for _, ag := range a.agentOrder {
		for i := len(ag.holdings) - 1; i >= 0; i-- {
			if ag.holdings[i].cand.fw == fw {
				a.releaseAll(ag, i)
			}
		}
	}
	fw.registered = false
	for _, c := range fw.cands {
		c.subscribed = false
		a.gcCandidate(c)
	}
	delete(a.frameworks, id)
	return nil
}

// DeactivateFramework stops offers to a framework (disconnected) and, as in
// Mesos, clears its filters. What it holds stays allocated.
func (a *Allocator) DeactivateFramework(id string) error {
	fw, err := a.registered(id)
	if err != nil {
		return err
	}
	fw.active = false
	for _, c := range fw.cands {
		a.clearFilters(c)
	}
	a.membersDirty = true
	return nil
}

// ActivateFramework resumes offers to a framework's unsuppressed roles.
func (a *Allocator) ActivateFramework(id string) error {
	fw, err := a.registered(id)
	if err != nil {
		return err
	}
	if !fw.active {
		fw.active = true
		a.epoch++
		a.membersDirty = true
	}
	return nil
}

// rolesOf resolves the roles a Suppress or Revive call names: all the
// framework's subscribed roles when roles is empty.
func (a *Allocator) rolesOf(fw *framework, roles []string) ([]*candidate, error) {
	var out []*candidate
	for name, c := range fw.cands {
		if c.subscribed && (len(roles) == 0 || slices.Contains(roles, name)) {
			out = append(out, c)
		}
	}
	for _, name := range roles {
		if c, ok := fw.cands[name]; !ok || !c.subscribed {
			return nil, fmt.Errorf("%w: framework %q is not subscribed to role %q", ErrInvalid, fw.id, name)
		}
	}
	return out, nil
}

// Suppress stops offers to the framework under the given roles (all its
// roles if none are given) until Revive.
func (a *Allocator) Suppress(fwID string, roles []string) error {
	fw, err := a.registered(fwID)
	if err != nil {
		return err
	}
	cands, err := a.rolesOf(fw, roles)
	if err != nil {
		return err
	}
	for _, c := range cands {
		c.suppressed = true
	}
	a.membersDirty = true
	return nil
}

// Revive resumes offers to the framework under the given roles (all its
// roles if none are given) and clears its filters for them.
func (a *Allocator) Revive(fwID string, roles []string) error {
	fw, err := a.registered(fwID)
	if err != nil {
		return err
	}
	cands, err := a.rolesOf(fw, roles)
	if err != nil {
		return err
	}
	for _, c := range cands {
		c.suppressed = false
		a.clearFilters(c)
	}
	a.epoch++
	a.membersDirty = true
	return nil
}

// Recover returns offered resources the framework did not use: a declined
// or rescinded offer, or the unused part of an accepted one, held on the
// agent under role. refuse > 0 also installs a filter for that long (capped
// at MaxRefuse): the framework is not offered, under that role on that
// agent, resources that r contains. refuse == 0 installs none, and
// UseDefaultRefuse (or any negative value) installs Config.DefaultRefuse.
func (a *Allocator) Recover(fwID, role, agentID string, r resources.Resources, refuse time.Duration, now time.Time) error {
	ag, c, h, err := a.lookupHolding(fwID, role, agentID)
	if err != nil {
		return err
	}
	if h == nil || !h.offered.Contains(r) {
		return fmt.Errorf("%w: framework %q role %q on agent %q was not offered %v", ErrNotHeld, fwID, role, agentID, r)
	}
	h.offered = h.offered.Subtract(r)
	a.unhold(ag, c, h, r)
	if d := a.refuseDuration(refuse); d > 0 && c.fw.registered && c.subscribed && !r.IsEmpty() {
		ag.setFilter(c.slot, r, now.Add(d).UnixNano())
	}
	a.gcCandidate(c)
	return nil
}

// Release returns resources the framework used on the agent under role
// (its tasks or executors ended). No filter is installed.
func (a *Allocator) Release(fwID, role, agentID string, r resources.Resources) error {
	ag, c, h, err := a.lookupHolding(fwID, role, agentID)
	if err != nil {
		return err
	}
	if h == nil || !h.used.Contains(r) {
		return fmt.Errorf("%w: framework %q role %q on agent %q does not use %v", ErrNotHeld, fwID, role, agentID, r)
	}
	h.used = h.used.Subtract(r)
	a.unhold(ag, c, h, r)
	a.gcCandidate(c)
	return nil
}

func (a *Allocator) lookupHolding(fwID, role, agentID string) (*agent, *candidate, *holding, error) {
	ag, ok := a.agents[agentID]
	if !ok {
		return nil, nil, nil, fmt.Errorf("%w: %q", ErrUnknownAgent, agentID)
	}
	fw := a.frameworks[fwID]
	if fw == nil {
		return nil, nil, nil, fmt.Errorf("%w: %q", ErrUnknownFramework, fwID)
	}
	c := fw.cands[role]
	if c == nil {
		return ag, nil, nil, fmt.Errorf("%w: framework %q holds nothing under role %q", ErrNotHeld, fwID, role)
	}
	return ag, c, ag.holding(c), nil
}

// unhold returns r, already taken out of h, to the agent.
func (a *Allocator) unhold(ag *agent, c *candidate, h *holding, r resources.Resources) {
	a.charge(c, r, -1)
	a.orderDirty = true
	ag.setAvailable(ag.available.Add(r), true)
	dropIfEmpty(ag, c, h)
}

// dropIfEmpty removes c's holding h from ag once it holds nothing.
func dropIfEmpty(ag *agent, c *candidate, h *holding) {
	if h.offered.IsEmpty() && h.used.IsEmpty() {
		i := slices.IndexFunc(ag.holdings, func(x holding) bool { return x.cand == c })
		ag.holdings = slices.Delete(ag.holdings, i, i+1)
		ag.books++
		c.holdings--
	}
}

// subscribed returns the registered framework's candidate for a role it
// subscribes to.
func (a *Allocator) subscribed(fwID, role string) (*candidate, error) {
	fw, err := a.registered(fwID)
	if err != nil {
		return nil, err
	}
	c := fw.cands[role]
	if c == nil || !c.subscribed {
		return nil, fmt.Errorf("%w: framework %q is not subscribed to role %q", ErrInvalid, fwID, role)
	}
	return c, nil
}

// Allocated records that the framework now uses r, out of what it was
// offered on the agent under role (tasks or executors were launched).
func (a *Allocator) Allocated(fwID, role, agentID string, r resources.Resources) error {
	ag, _, h, err := a.lookupHolding(fwID, role, agentID)
	if err != nil {
		return err
	}
	if h == nil || !h.offered.Contains(r) {
		return fmt.Errorf("%w: framework %q role %q on agent %q was not offered %v", ErrNotHeld, fwID, role, agentID, r)
	}
	h.offered = h.offered.Subtract(r)
	h.used = h.used.Add(r)
	ag.books++
	return nil
}

// headroomGrew ends every idle mark when guarantees exist: more free
// resources may let other agents offer what the headroom held back.
func (a *Allocator) headroomGrew() {
	if len(a.topGuarantees) > 0 {
		a.epoch++
	}
}

// Transfer moves offered resources r on an agent from one framework's
// holding under fromRole to another's under toRole: with optimistic
// offers, the framework of a shadow offer accepted first, so the
// resources become its own. The receiving framework must be registered
// and subscribed to toRole.
func (a *Allocator) Transfer(fromFw, fromRole, toFw, toRole, agentID string, r resources.Resources) error {
	ag, c, h, err := a.lookupHolding(fromFw, fromRole, agentID)
	if err != nil {
		return err
	}
	if h == nil || !h.offered.Contains(r) {
		return fmt.Errorf("%w: framework %q role %q on agent %q was not offered %v", ErrNotHeld, fromFw, fromRole, agentID, r)
	}
	to, err := a.subscribed(toFw, toRole)
	if err != nil {
		return err
	}
	if to == c {
		return nil
	}
	h.offered = h.offered.Subtract(r)
	ag.books++
	a.charge(c, r, -1)
	dropIfEmpty(ag, c, h)
	a.hold(ag, to, r, false)
	a.orderDirty = true
	a.gcCandidate(c)
	return nil
}

// Refuse installs the filter a Recover of r with refuse would, without
// returning anything: a framework declined a shadow offer (Offer.Shadow),
// whose resources it never held.
func (a *Allocator) Refuse(fwID, role, agentID string, r resources.Resources, refuse time.Duration, now time.Time) error {
	ag, ok := a.agents[agentID]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownAgent, agentID)
	}
	c, err := a.subscribed(fwID, role)
	if err != nil {
		return err
	}
	if d := a.refuseDuration(refuse); d > 0 && !r.IsEmpty() {
		ag.setFilter(c.slot, r, now.Add(d).UnixNano())
	}
	return nil
}
