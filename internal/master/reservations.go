package master

import (
	"net/http"
	"time"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/masterpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/acl"
	"github.com/mesoproject/meso/internal/master/core"
	"github.com/mesoproject/meso/internal/operator"
	"github.com/mesoproject/meso/internal/resources"
)

// operatorConversion answers RESERVE_RESOURCES, UNRESERVE_RESOURCES,
// CREATE_VOLUMES and DESTROY_VOLUMES as Mesos does: 202 Accepted once the
// master applied the change (the agent is told on its link), 400 for a
// missing payload, bad resources or an unknown agent, 403 when an ACL
// forbids it, 409 when the resources are not available.
func (m *Master) operatorConversion(w http.ResponseWriter, r *http.Request, call *masterpb.Call) {
	agentID, op, ok := conversionOf(w, call)
	if !ok {
		return
	}
	who := principal(r)
	if denied(w, authorizeConversion(m.cfg.ACLs, who, op)) {
		return
	}
	m.operatorApplyStatus(w, r, http.StatusAccepted, func(c *core.Core, now time.Time) error {
		return c.OperatorOperation(now, agentID, op, who)
	})
}

// conversionOf reads an operator conversion call as the equivalent offer
// operation; a missing payload or agent id answers 400.
func conversionOf(w http.ResponseWriter, call *masterpb.Call) (string, *mesospb.Offer_Operation, bool) {
	var agent *mesospb.AgentID
	op := &mesospb.Offer_Operation{}
	switch call.GetType() {
	case masterpb.Call_RESERVE_RESOURCES:
		if !operator.RequirePayload(w, call, "reserve_resources") {
			return "", nil, false
		}
		c := call.GetReserveResources()
		agent = c.GetAgentId()
		op.Type = mesospb.Offer_Operation_RESERVE.Enum()
		op.Reserve = &mesospb.Offer_Operation_Reserve{Source: c.GetSource(), Resources: c.GetResources()}
	case masterpb.Call_UNRESERVE_RESOURCES:
		if !operator.RequirePayload(w, call, "unreserve_resources") {
			return "", nil, false
		}
		c := call.GetUnreserveResources()
		agent = c.GetAgentId()
		op.Type = mesospb.Offer_Operation_UNRESERVE.Enum()
		op.Unreserve = &mesospb.Offer_Operation_Unreserve{Resources: c.GetResources()}
	case masterpb.Call_CREATE_VOLUMES:
		if !operator.RequirePayload(w, call, "create_volumes") {
			return "", nil, false
		}
		c := call.GetCreateVolumes()
		agent = c.GetAgentId()
		op.Type = mesospb.Offer_Operation_CREATE.Enum()
		op.Create = &mesospb.Offer_Operation_Create{Volumes: c.GetVolumes()}
	case masterpb.Call_DESTROY_VOLUMES:
		if !operator.RequirePayload(w, call, "destroy_volumes") {
			return "", nil, false
		}
		c := call.GetDestroyVolumes()
		agent = c.GetAgentId()
		op.Type = mesospb.Offer_Operation_DESTROY.Enum()
		op.Destroy = &mesospb.Offer_Operation_Destroy{Volumes: c.GetVolumes()}
	}
	if agent.GetValue() == "" {
		httpError(w, http.StatusBadRequest, "Expecting 'agent_id' to be present")
		return "", nil, false
	}
	return agent.GetValue(), op, true
}

// authorizeConversion asks the ACLs about a conversion, operator's or
// framework's, as Mesos' master does: reserve_resources and
// create_volumes per role reserved to, unreserve_resources per principal
// that reserved, destroy_volumes per principal that created the volume.
// Resources that do not parse are left to validation (400).
func authorizeConversion(acls *acl.ACLs, who string, op *mesospb.Offer_Operation) error {
	var list []*mesospb.Resource
	var action acl.Action
	object := func(r resources.Resource) string { return r.Role }
	switch op.GetType() {
	case mesospb.Offer_Operation_RESERVE:
		list, action = op.GetReserve().GetResources(), acl.ReserveResources
	case mesospb.Offer_Operation_UNRESERVE:
		list, action = op.GetUnreserve().GetResources(), acl.UnreserveResources
		object = func(r resources.Resource) string {
			if n := len(r.Reservations); n > 0 {
				return r.Reservations[n-1].Principal
			}
			return ""
		}
	case mesospb.Offer_Operation_CREATE:
		list, action = op.GetCreate().GetVolumes(), acl.CreateVolumes
	case mesospb.Offer_Operation_DESTROY:
		list, action = op.GetDestroy().GetVolumes(), acl.DestroyVolumes
		object = func(r resources.Resource) string { return r.Volume.Principal }
	default:
		return nil
	}
	res, err := resources.FromProto(list)
	if err != nil {
		return nil
	}
	for _, r := range res {
		if err := acls.Check(action, who, object(r)); err != nil {
			return err
		}
	}
	return nil
}

// authorizeOperation is core.Config.AuthorizeOperation: the ACLs of
// conversions in an ACCEPT, subject the framework's principal.
func (m *Master) authorizeOperation(principal string, op *mesospb.Offer_Operation) error {
	return authorizeConversion(m.cfg.ACLs, principal, op)
}

// operatorOperations answers GET_OPERATIONS: the latest offer
// operations with ids (see core.GetOperations).
func (m *Master) operatorOperations(w http.ResponseWriter, r *http.Request, out codec.Codec) {
	var ops []*mesospb.Operation
	if err := m.loop.do(r.Context(), func(l *loop, _ time.Time) { ops = l.core.GetOperations() }); err != nil {
		httpError(w, statusOf(err), err.Error())
		return
	}
	operator.Respond(w, out, &masterpb.Response{Type: masterpb.Response_GET_OPERATIONS.Enum(),
		GetOperations: &masterpb.Response_GetOperations{Operations: ops}})
}
