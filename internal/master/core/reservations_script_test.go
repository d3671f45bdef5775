package core

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/internal/resources"
	"google.golang.org/protobuf/proto"
)

// The script commands of dynamic reservations and volumes (see
// TestScripts):
//
//	accept F A [id=ID] OP...          accept F's offer on A with offer operations
//	                                  in order, each one of
//	                                    reserve+SPEC   unreserve+SPEC
//	                                    create+SPEC    destroy+SPEC
//	                                    launch+T+SPEC
//	                                  (id= gives every conversion an operation id,
//	                                  ID1, ID2... in order)
//	operator KIND A SPEC [principal=P] RESERVE_RESOURCES (KIND reserve) and the
//	                                  others, by principal P
//	offers F                          F's outstanding offers, with resources
//	forget-checkpoint A               A loses its checkpointed list
//	operations                        GET_OPERATIONS
//
// SPEC is plain resources, then optionally @ROLE,PRINCIPAL (dynamically
// reserved; refinements follow after '|': @eng,ops|eng/web,ops) and
// @ID,PATH (its disk a persistent volume at container path PATH):
// "cpus:1;mem:64@db,ops", "disk:50@db,ops@v1,data", "disk:5@@v2,x" (an
// unreserved volume, which is invalid). A reserve converts
// SPEC without its reservation into SPEC; unreserve the reverse; create
// converts SPEC without its volume into SPEC; destroy the reverse.
func (s *script) reservationCommand(cmd string, pos []string, kv map[string]string) {
	arg := func(i int) string {
		if i >= len(pos) {
			s.fail("%s: missing argument %d", cmd, i+1)
		}
		return pos[i]
	}
	switch cmd {
	case "accept":
		s.acceptOps(s.framework(arg(0)), s.agent(arg(1)), pos[2:], kv["id"])
	case "operator":
		op := conversionOp(s, arg(0), s.spec(arg(2)))
		err := s.c.OperatorOperation(s.now, s.agent(arg(1)).id, op, kv["principal"])
		if err != nil {
			s.printf("error: %v", err)
		} else {
			s.printf("accepted")
		}
	case "offers":
		fw := s.framework(arg(0))
		for _, agName := range slices.Sorted(maps.Keys(fw.offers)) {
			o := s.c.offers[fw.offers[agName]]
			if u := o.proto.GetUnavailability(); u != nil {
				s.printf("offer %s role=%s %s unavailability=%d+%v", agName, o.role, o.res, u.GetStart().GetNanoseconds(), time.Duration(u.GetDuration().GetNanoseconds()))
				continue
			}
			s.printf("offer %s role=%s %s", agName, o.role, o.res)
		}
	case "forget-checkpoint":
		s.agent(arg(0)).ckpt = nil
	case "operations":
		for _, op := range s.c.GetOperations() {
			s.printf("operation %s framework=%s %s %s", op.GetInfo().GetType(), s.name(s.fwName, op.GetFrameworkId().GetValue()),
				op.GetInfo().GetId().GetValue(), op.GetLatestStatus().GetState())
		}
	}
}

// spec parses a SPEC (see reservationCommand).
func (s *script) spec(text string) resources.Resources {
	parts := strings.Split(text, "@")
	r, err := resources.Parse(parts[0])
	if err != nil {
		s.fail("spec %q: %v", text, err)
	}
	principal := ""
	if len(parts) > 1 && parts[1] != "" {
		for _, res := range strings.Split(parts[1], "|") {
			var role string
			role, principal, _ = strings.Cut(res, ",")
			if r, err = r.PushReservation(role, principal); err != nil {
				s.fail("spec %q: %v", text, err)
			}
		}
	}
	if len(parts) > 2 {
		id, path, _ := strings.Cut(parts[2], ",")
		r, err = r.Map(func(x resources.Resource) resources.Resource {
			if x.Name == "disk" {
				x.Volume = resources.Volume{ID: id, Principal: principal, ContainerPath: path}
			}
			return x
		})
		if err != nil {
			s.fail("spec %q: %v", text, err)
		}
	}
	return r
}

func conversionOp(s *script, kind string, r resources.Resources) *mesospb.Offer_Operation {
	list := r.ToProto("", false)
	switch kind {
	case "reserve":
		return &mesospb.Offer_Operation{Type: mesospb.Offer_Operation_RESERVE.Enum(),
			Reserve: &mesospb.Offer_Operation_Reserve{Resources: list}}
	case "unreserve":
		return &mesospb.Offer_Operation{Type: mesospb.Offer_Operation_UNRESERVE.Enum(),
			Unreserve: &mesospb.Offer_Operation_Unreserve{Resources: list}}
	case "create":
		return &mesospb.Offer_Operation{Type: mesospb.Offer_Operation_CREATE.Enum(),
			Create: &mesospb.Offer_Operation_Create{Volumes: list}}
	case "destroy":
		return &mesospb.Offer_Operation{Type: mesospb.Offer_Operation_DESTROY.Enum(),
			Destroy: &mesospb.Offer_Operation_Destroy{Volumes: list}}
	}
	s.fail("unknown operation %q", kind)
	return nil
}

func (s *script) acceptOps(fw *scriptFramework, ag *scriptAgent, specs []string, withIDs string) {
	offer, ok := fw.offers[ag.name]
	if !ok {
		s.fail("accept: %s has no offer on %s", fw.name, ag.name)
	}
	delete(fw.offers, ag.name)
	acc := &schedulerpb.Call_Accept{OfferIds: []*mesospb.OfferID{{Value: proto.String(offer)}}}
	n := 0
	for _, spec := range specs {
		parts := strings.Split(spec, "+")
		if parts[0] == "launch" {
			if len(parts) != 3 {
				s.fail("accept: %q: want launch+T+SPEC", spec)
			}
			acc.Operations = append(acc.Operations, &mesospb.Offer_Operation{Type: mesospb.Offer_Operation_LAUNCH.Enum(),
				Launch: &mesospb.Offer_Operation_Launch{TaskInfos: []*mesospb.TaskInfo{
					commandTask(parts[1], ag.id, s.spec(parts[2]).ToProto("", false))}}})
			continue
		}
		if len(parts) != 2 {
			s.fail("accept: %q: want KIND+SPEC", spec)
		}
		op := conversionOp(s, parts[0], s.spec(parts[1]))
		if withIDs != "" {
			n++
			op.Id = &mesospb.OperationID{Value: proto.String(fmt.Sprintf("%s%d", withIDs, n))}
		}
		acc.Operations = append(acc.Operations, op)
	}
	s.call(fw, &schedulerpb.Call{Type: schedulerpb.Call_ACCEPT.Enum(), Accept: acc})
}

func (s *script) operationStatus(st *mesospb.OperationStatus) string {
	line := fmt.Sprintf("%s %s", st.GetOperationId().GetValue(), st.GetState())
	if st.AgentId != nil {
		line += " agent=" + s.name(s.agName, st.GetAgentId().GetValue())
	}
	if len(st.GetConvertedResources()) > 0 {
		r, err := resources.FromProto(st.GetConvertedResources())
		if err != nil {
			s.fail("converted_resources: %v", err)
		}
		line += " converted=" + r.String()
	}
	if st.Message != nil {
		line += fmt.Sprintf(" %q", st.GetMessage())
	}
	return line
}

// SetReservations records an agent's list as a replicated registry does.
func (r *recordingRegistry) SetReservations(agentID string, list []byte) error {
	if list == nil {
		delete(r.reservations, agentID)
	} else {
		r.reservations[agentID] = list
	}
	return nil
}

func (r *recordingRegistry) recoveredReservations() map[string][]*mesospb.Resource {
	out := map[string][]*mesospb.Resource{}
	for id, blob := range r.reservations {
		list, err := ParseCheckpointedList(blob)
		if err != nil {
			panic(err)
		}
		out[id] = list.ToProto("", false)
	}
	return out
}
