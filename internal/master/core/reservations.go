package core

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/internal/allocator"
	"github.com/mesoproject/meso/internal/resources"
	"google.golang.org/protobuf/proto"
)

// Dynamic reservations and persistent volumes, as Mesos has them.
//
// RESERVE, UNRESERVE, CREATE and DESTROY are conversions: they change what
// some resources of one agent are (reserved to a role by a principal, or a
// persistent volume) without changing how much there is. A framework
// converts resources it was offered (offer operations of ACCEPT, applied in
// order, so a LAUNCH after a RESERVE uses the reserved resources); an
// operator converts unallocated resources (RESERVE_RESOURCES and the
// others; offers on the agent are rescinded when what is asked for is
// offered, and ErrConflict remains when it is still not available). After
// each conversion the master sends the agent the whole list of its
// dynamically reserved resources and volumes (CHECKPOINT_RESOURCES), which
// the agent checkpoints and reports when it registers again, and records
// the list in the registry when the registry keeps them
// (ReservationRegistry). A known agent that registers with another list
// (it missed a CHECKPOINT_RESOURCES) is sent the master's.

// ErrConflict: the resources an operator call names are not available on
// the agent (409, as Mesos answers).
var ErrConflict = errors.New("conflict")

// ReservationRegistry is implemented by registries that record each
// agent's dynamically reserved resources and persistent volumes (a
// serialized mesos.v1.Resource list per agent, see CheckpointedList); a
// Registry without it keeps them only on the agents.
type ReservationRegistry interface {
	SetReservations(agentID string, resources []byte) error
}

// maxOperations bounds the operations with ids the core keeps for
// GET_OPERATIONS (the newest are kept).
const maxOperations = 1000

// reservationBook is the core's state for this file.
type reservationBook struct {
	// recovered holds the registry's lists of agents that have not
	// re-registered since Recover; the master's view when they do.
	recovered map[string]resources.Resources
	// resend names agents to send their list to once their link is up.
	resend map[string]bool
	// operations are the latest offer operations with ids, oldest first.
	operations []*mesospb.Operation
}

// conversion is a validated operation: from becomes to, under role.
type conversion struct {
	role     string
	from, to resources.Resources
}

// CheckpointedList encodes an agent's dynamic reservations and volumes as
// the registry stores them: a mesos.v1.Resource list in a Request message
// (field 2, resources).
func CheckpointedList(r resources.Resources) ([]byte, error) {
	return proto.Marshal(&mesospb.Request{Resources: r.ToProto("", false)})
}

// ParseCheckpointedList decodes CheckpointedList.
func ParseCheckpointedList(b []byte) (resources.Resources, error) {
	var req mesospb.Request
	if err := proto.Unmarshal(b, &req); err != nil {
		return nil, err
	}
	return resources.FromProto(req.GetResources())
}

// agentTotal is an agent's total at registration: its --resources with
// the dynamic reservations and volumes carved out of them (a new agent may
// report some too: as in Mesos, an agent that starts afresh under a new id
// keeps its checkpointed resources and its volumes). For a known
// agent, the master's list wins over the agent's when they differ (and
// the agent is sent the master's once registered), unless it does not
// fit the agent's resources.
func (c *Core) agentTotal(id string, static resources.Resources, reg *linkpb.AgentCall_Register) (resources.Resources, error) {
	reported, err := resources.FromProto(reg.GetCheckpointedResources())
	if err != nil {
		return nil, fmt.Errorf("checkpointed_resources: %w", err)
	}
	if want, ok := c.knownCheckpoint(id); ok && !want.Equal(reported) {
		if total, err := resources.ApplyCheckpointed(static, want); err == nil {
			c.resv.markResend(id)
			return total, nil
		}
		c.log.Warn("agent's resources cannot hold the master's reservations; taking the agent's", "agent", id)
	}
	total, err := resources.ApplyCheckpointed(static, reported)
	if err != nil {
		return nil, fmt.Errorf("checkpointed_resources: %w", err)
	}
	return total, nil
}

// knownCheckpoint is the master's list for an agent id, if it has one.
func (c *Core) knownCheckpoint(id string) (resources.Resources, bool) {
	if id == "" {
		return nil, false
	}
	if ag := c.agents[id]; ag != nil {
		return ag.total.Checkpointed(), true
	}
	r, ok := c.resv.recovered[id]
	return r, ok
}

func (b *reservationBook) markResend(id string) {
	if b.resend == nil {
		b.resend = map[string]bool{}
	}
	b.resend[id] = true
}

// recoverReservations loads the registry's lists (see Recovery).
func (c *Core) recoverReservations(lists map[string][]*mesospb.Resource) error {
	for id, list := range lists {
		r, err := resources.FromProto(list)
		if err != nil {
			return fmt.Errorf("%w: reservations of agent %s: %w", ErrInvalid, id, err)
		}
		if c.resv.recovered == nil {
			c.resv.recovered = map[string]resources.Resources{}
		}
		c.resv.recovered[id] = r
	}
	return nil
}

// registeredWithCheckpoint finishes a registration: the agent's list is
// the master's view from now on, and the agent is sent it if it reported
// another.
func (c *Core) registeredWithCheckpoint(ag *agent) {
	delete(c.resv.recovered, ag.id)
	if c.resv.resend[ag.id] {
		delete(c.resv.resend, ag.id)
		c.checkpoint(ag)
	}
}

// checkpoint sends the agent its list and records it in the registry.
func (c *Core) checkpoint(ag *agent) {
	list := ag.total.Checkpointed()
	c.sendAgent(ag, &linkpb.MasterEvent{
		Type:                linkpb.MasterEvent_CHECKPOINT_RESOURCES.Enum(),
		CheckpointResources: &linkpb.MasterEvent_CheckpointResources{Resources: list.ToProto("", false)},
	})
	reg, ok := c.cfg.Registry.(ReservationRegistry)
	if !ok {
		return
	}
	var blob []byte
	if !list.IsEmpty() {
		var err error
		if blob, err = CheckpointedList(list); err != nil {
			c.log.Warn("cannot encode reservations", "agent", ag.id, "err", err)
			return
		}
	}
	if err := reg.SetReservations(ag.id, blob); err != nil {
		c.log.Warn("registry refused reservations", "agent", ag.id, "err", err)
	}
}

// isConversion reports whether op is one of the four conversions.
func isConversion(op *mesospb.Offer_Operation) bool {
	switch op.GetType() {
	case mesospb.Offer_Operation_RESERVE, mesospb.Offer_Operation_UNRESERVE,
		mesospb.Offer_Operation_CREATE, mesospb.Offer_Operation_DESTROY:
		return true
	}
	return false
}

// offerOperation applies a conversion of an ACCEPT to the offered
// resources in lc; an invalid one is dropped (OPERATION_ERROR when it has
// an id), as Mesos drops it.
func (c *Core) offerOperation(lc *launchCtx, op *mesospb.Offer_Operation) {
	conv, err := c.validateConversion(lc.agent, op, lc.fw, lc.fw.info.GetPrincipal())
	if err == nil && !lc.avail[conv.role].Contains(conv.from) {
		err = fmt.Errorf("the offers do not hold %v under role %q", conv.from, conv.role)
	}
	if err == nil && c.cfg.AuthorizeOperation != nil {
		err = c.cfg.AuthorizeOperation(lc.fw.info.GetPrincipal(), op)
	}
	if err == nil {
		err = c.alloc.ConvertOffered(lc.fw.id, conv.role, lc.agent.id, conv.from, conv.to)
	}
	if err != nil {
		c.log.Warn("dropping invalid offer operation", "framework", lc.fw.id, "type", op.GetType().String(), "err", err)
		c.operationStatus(lc.fw, lc.agent.id, op, mesospb.OperationState_OPERATION_ERROR, err.Error(), nil)
		return
	}
	lc.avail[conv.role] = lc.avail[conv.role].Subtract(conv.from).Add(conv.to)
	delete(lc.owned, conv.role) // Add may give conv.to itself
	lc.agent.total = lc.agent.total.Subtract(conv.from).Add(conv.to)
	c.checkpoint(lc.agent)
	c.operationStatus(lc.fw, lc.agent.id, op, mesospb.OperationState_OPERATION_FINISHED, "",
		conv.to.ToProto(conv.role, lc.fw.multiRole))
}

// dropOperations answers the conversions with ids of an ACCEPT whose
// offers were invalid: OPERATION_DROPPED (the offers were gone, a
// transient failure; the framework may try again with new offers).
func (c *Core) dropOperations(fw *framework, ops []*mesospb.Offer_Operation, msg string) {
	for _, op := range ops {
		if isConversion(op) {
			c.operationStatus(fw, "", op, mesospb.OperationState_OPERATION_DROPPED, msg, nil)
		}
	}
}

// OperatorOperation applies an operator's RESERVE_RESOURCES,
// UNRESERVE_RESOURCES, CREATE_VOLUMES or DESTROY_VOLUMES, given as the
// equivalent offer operation, by principal ("" without authentication).
// It fails with ErrInvalid for bad input or an unknown agent (Mesos
// answers 400 for both) and ErrConflict when the resources are not
// available even after rescinding the agent's offers.
func (c *Core) OperatorOperation(now time.Time, agentID string, op *mesospb.Offer_Operation, principal string) error {
	ag := c.agents[agentID]
	if ag == nil {
		return fmt.Errorf("%w: no agent found with id %q", ErrInvalid, agentID)
	}
	conv, err := c.validateConversion(ag, op, nil, principal)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	err = c.alloc.ConvertAvailable(agentID, conv.from, conv.to)
	if errors.Is(err, allocator.ErrNotAvailable) && len(ag.offers) > 0 {
		for _, id := range sortedKeys(ag.offers) {
			c.rescind(now, ag.offers[id], true)
		}
		err = c.alloc.ConvertAvailable(agentID, conv.from, conv.to)
	}
	switch {
	case errors.Is(err, allocator.ErrNotAvailable):
		return fmt.Errorf("%w: %w", ErrConflict, err)
	case err != nil:
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	ag.total = ag.total.Subtract(conv.from).Add(conv.to)
	c.checkpoint(ag)
	c.allocateSoon = true
	return nil
}

// validateConversion checks a conversion as Mesos validates it and
// returns what it converts. fw is the framework of an ACCEPT (nil for an
// operator); principal is the framework's or the operator's.
func (c *Core) validateConversion(ag *agent, op *mesospb.Offer_Operation, fw *framework, principal string) (conversion, error) {
	var list []*mesospb.Resource
	switch op.GetType() {
	case mesospb.Offer_Operation_RESERVE:
		list = op.GetReserve().GetResources()
	case mesospb.Offer_Operation_UNRESERVE:
		list = op.GetUnreserve().GetResources()
	case mesospb.Offer_Operation_CREATE:
		list = op.GetCreate().GetVolumes()
	case mesospb.Offer_Operation_DESTROY:
		list = op.GetDestroy().GetVolumes()
	default:
		return conversion{}, fmt.Errorf("operation %v is not a conversion", op.GetType())
	}
	if len(list) == 0 {
		return conversion{}, fmt.Errorf("%v names no resources", op.GetType())
	}
	res, err := resources.FromProto(list)
	if err != nil {
		return conversion{}, err
	}
	conv := conversion{}
	if fw != nil {
		if conv.role, err = fw.resourceRole(list); err != nil {
			return conversion{}, err
		}
	}
	switch op.GetType() {
	case mesospb.Offer_Operation_RESERVE:
		err = c.validateReserve(&conv, res, op.GetReserve().GetSource(), fw, principal)
	case mesospb.Offer_Operation_UNRESERVE:
		err = validateUnreserve(&conv, res, fw)
	case mesospb.Offer_Operation_CREATE:
		err = validateCreate(&conv, ag, res, fw, principal)
	case mesospb.Offer_Operation_DESTROY:
		err = validateDestroy(&conv, ag, res, fw)
	}
	return conv, err
}

func (c *Core) validateReserve(conv *conversion, res resources.Resources, source []*mesospb.Resource, fw *framework, principal string) error {
	for _, r := range res {
		switch {
		case !r.Dynamic():
			return fmt.Errorf("resource %v is not dynamically reserved", r)
		case r.IsVolume():
			return fmt.Errorf("a persistent volume (%v) cannot be reserved", r)
		}
		if p := r.Reservations[len(r.Reservations)-1].Principal; (fw != nil || principal != "") && p != principal {
			return fmt.Errorf("a reserve operation was attempted by principal %q, which does not match a reserved resource in the request with principal %q", principal, p)
		}
		if fw != nil && r.Role != conv.role {
			return fmt.Errorf("a reserve operation was attempted for role %q, but the resources are allocated to role %q", r.Role, conv.role)
		}
		if fw != nil && len(r.Stack()) > 1 && !mesospb.HasCapability(fw.info, mesospb.FrameworkInfo_Capability_RESERVATION_REFINEMENT) {
			return fmt.Errorf("refining the reservation of %v needs the RESERVATION_REFINEMENT capability", r)
		}
	}
	var err error
	if conv.from, err = res.Map(resources.Resource.PopReservation); err != nil {
		return err
	}
	if len(source) > 0 {
		src, err := resources.FromProto(source)
		if err != nil {
			return fmt.Errorf("source: %w", err)
		}
		if !src.Equal(conv.from) {
			return fmt.Errorf("source %v is not what the reservation refines (%v)", src, conv.from)
		}
	}
	conv.to = res
	return nil
}

func validateUnreserve(conv *conversion, res resources.Resources, fw *framework) error {
	for _, r := range res {
		switch {
		case !r.Dynamic():
			return fmt.Errorf("resource %v is not dynamically reserved", r)
		case r.IsVolume():
			return fmt.Errorf("a persistent volume (%v) cannot be unreserved; destroy it first", r)
		case fw != nil && r.Role != conv.role:
			return fmt.Errorf("an unreserve operation was attempted for role %q, but the resources are allocated to role %q", r.Role, conv.role)
		}
	}
	to, err := res.Map(resources.Resource.PopReservation)
	conv.from, conv.to = res, to
	return err
}

func validateCreate(conv *conversion, ag *agent, res resources.Resources, fw *framework, principal string) error {
	ids := map[[2]string]bool{}
	for _, v := range ag.total.Volumes() {
		ids[[2]string{v.Role, v.Volume.ID}] = true
	}
	for _, r := range res {
		key := [2]string{r.Role, r.Volume.ID}
		switch {
		case !r.IsVolume():
			return fmt.Errorf("resource %v is not a persistent volume (disk with persistence and volume)", r)
		case !r.Reserved():
			return fmt.Errorf("persistent volume %q cannot be created from unreserved resources", r.Volume.ID)
		case (fw != nil || principal != "") && r.Volume.Principal != principal:
			return fmt.Errorf("a create operation was attempted by principal %q, which does not match the volume's persistence principal %q", principal, r.Volume.Principal)
		case fw != nil && r.Role != conv.role:
			return fmt.Errorf("a create operation was attempted for role %q, but the resources are allocated to role %q", r.Role, conv.role)
		case ids[key]:
			return fmt.Errorf("persistence id %q is already in use by role %q on agent %s", r.Volume.ID, r.Role, ag.id)
		}
		ids[key] = true
	}
	from, err := res.Map(func(r resources.Resource) resources.Resource { r.Volume = resources.Volume{}; return r })
	conv.from, conv.to = from, res
	return err
}

func validateDestroy(conv *conversion, ag *agent, res resources.Resources, fw *framework) error {
	inUse := volumesInUse(ag)
	for _, r := range res {
		switch {
		case !r.IsVolume():
			return fmt.Errorf("resource %v is not a persistent volume", r)
		case !ag.total.Contains(resources.Resources{r}):
			return fmt.Errorf("persistent volume %q of role %q does not exist on agent %s", r.Volume.ID, r.Role, ag.id)
		case inUse[[2]string{r.Role, r.Volume.ID}]:
			return fmt.Errorf("persistent volume %q of role %q is in use by a task or executor", r.Volume.ID, r.Role)
		case fw != nil && r.Role != conv.role:
			return fmt.Errorf("a destroy operation was attempted for role %q, but the resources are allocated to role %q", r.Role, conv.role)
		}
	}
	to, err := res.Map(func(r resources.Resource) resources.Resource { r.Volume = resources.Volume{}; return r })
	conv.from, conv.to = res, to
	return err
}

// volumesInUse lists the (role, persistence id) of the volumes used by the
// agent's live tasks and executors.
func volumesInUse(ag *agent) map[[2]string]bool {
	used := map[[2]string]bool{}
	add := func(res resources.Resources) {
		for _, v := range res.Volumes() {
			used[[2]string{v.Role, v.Volume.ID}] = true
		}
	}
	for _, t := range ag.tasks {
		if !t.freed {
			add(t.res)
		}
	}
	for _, byID := range ag.executors {
		for _, e := range byID {
			add(e.res)
		}
	}
	return used
}

// operationStatus sends UPDATE_OPERATION_STATUS for an operation with an
// id and keeps the operation for GET_OPERATIONS. The master sends it once
// the conversion is in its books (and, with a replicated registry, in the
// same registry commit as the list: the loop commits a step's writes
// before its outputs go out); it carries no uuid: there is nothing to
// acknowledge or retry.
func (c *Core) operationStatus(fw *framework, agentID string, op *mesospb.Offer_Operation, state mesospb.OperationState, msg string, converted []*mesospb.Resource) {
	if op.GetId().GetValue() == "" {
		return
	}
	st := &mesospb.OperationStatus{
		OperationId:        op.GetId(),
		State:              state.Enum(),
		ConvertedResources: converted,
	}
	if msg != "" {
		st.Message = proto.String(msg)
	}
	if agentID != "" {
		st.AgentId = &mesospb.AgentID{Value: proto.String(agentID)}
	}
	c.send(fw, &schedulerpb.Event{
		Type:                  schedulerpb.Event_UPDATE_OPERATION_STATUS.Enum(),
		UpdateOperationStatus: &schedulerpb.Event_UpdateOperationStatus{Status: st},
	})
	rec := &mesospb.Operation{
		FrameworkId:  &mesospb.FrameworkID{Value: proto.String(fw.id)},
		AgentId:      st.AgentId,
		Info:         op,
		LatestStatus: st,
		Statuses:     []*mesospb.OperationStatus{st},
		Uuid:         &mesospb.UUID{Value: c.newUUID()},
	}
	c.resv.operations = append(c.resv.operations, rec)
	if n := len(c.resv.operations); n > maxOperations {
		c.resv.operations = slices.Delete(c.resv.operations, 0, n-maxOperations)
	}
}

// GetOperations lists the latest offer operations with ids (at most
// maxOperations), oldest first: GET_OPERATIONS.
func (c *Core) GetOperations() []*mesospb.Operation {
	out := make([]*mesospb.Operation, len(c.resv.operations))
	for i, op := range c.resv.operations {
		out[i] = proto.Clone(op).(*mesospb.Operation)
	}
	return out
}
