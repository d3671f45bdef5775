package core

import (
	"strconv"
	"strings"
	"time"

	"github.com/mesoproject/meso/api/maintenancepb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"google.golang.org/protobuf/proto"
)

// The script commands of maintenance and draining (see TestScripts; an
// agent's hostname is its script name):
//
//	maint schedule [H,H...]...        UPDATE_MAINTENANCE_SCHEDULE: one window per
//	                                  argument (its machines by hostname, H@IP
//	                                  or @IP with an ip), from time 0 for an
//	                                  hour; no argument: empty
//	maint start H... | maint stop H...
//	                                  START_MAINTENANCE / STOP_MAINTENANCE
//	maint status                      GET_MAINTENANCE_STATUS, machine by machine
//	drain A [grace=DUR] [gone]        DRAIN_AGENT, max_grace_period DUR, mark_gone
//	reactivate A                      REACTIVATE_AGENT
//	agent-status A                    GET_AGENTS' active, deactivated, drain_info
//	inverse-offers F                  GET_FRAMEWORKS' inverse_offers of F (marshalled)
//	accept-inverse F A [refuse=SECS] | decline-inverse F A [refuse=SECS]
//	                                  F answers its inverse offer for A (filters'
//	                                  refuse_seconds SECS)
//
// maint status prints each framework's answer after a draining machine;
// INVERSE_OFFERS print the agent and the window's start and duration.
func (s *script) maintenanceCommand(cmd string, pos []string, kv map[string]string) {
	arg := func(i int) string {
		if i >= len(pos) {
			s.fail("%s: missing argument %d", cmd, i+1)
		}
		return pos[i]
	}
	machines := func(hosts []string) []*mesospb.MachineID {
		var ids []*mesospb.MachineID
		for _, h := range hosts {
			host, ip, _ := strings.Cut(h, "@")
			id := &mesospb.MachineID{}
			if host != "" {
				id.Hostname = proto.String(host)
			}
			if ip != "" {
				id.Ip = proto.String(ip)
			}
			ids = append(ids, id)
		}
		return ids
	}
	switch cmd {
	case "maint":
		switch arg(0) {
		case "schedule":
			sched := &maintenancepb.Schedule{}
			for _, w := range pos[1:] {
				sched.Windows = append(sched.Windows, &maintenancepb.Window{MachineIds: machines(strings.Split(w, ",")),
					Unavailability: &mesospb.Unavailability{Start: &mesospb.TimeInfo{Nanoseconds: proto.Int64(0)},
						Duration: &mesospb.DurationInfo{Nanoseconds: proto.Int64(int64(time.Hour))}}})
			}
			s.accepted(s.c.UpdateMaintenanceSchedule(s.now, sched))
		case "start":
			s.accepted(s.c.StartMaintenance(s.now, machines(pos[1:])))
		case "stop":
			s.accepted(s.c.StopMaintenance(s.now, machines(pos[1:])))
		case "status":
			st := s.c.GetMaintenanceStatus()
			for _, d := range st.GetDrainingMachines() {
				line := "draining " + d.GetId().GetHostname()
				for _, io := range d.GetStatuses() {
					line += " " + s.name(s.fwName, io.GetFrameworkId().GetValue()) + "=" + io.GetStatus().String()
				}
				s.printf("%s", line)
			}
			for _, id := range st.GetDownMachines() {
				s.printf("down %s", id.GetHostname())
			}
		default:
			s.fail("maint %s: unknown", arg(0))
		}
	case "drain":
		var grace *mesospb.DurationInfo
		if g, ok := kv["grace"]; ok {
			d, err := time.ParseDuration(g)
			if err != nil {
				s.fail("drain grace=%s: %v", g, err)
			}
			grace = &mesospb.DurationInfo{Nanoseconds: proto.Int64(int64(d))}
		}
		gone := len(pos) > 1 && pos[1] == "gone"
		s.accepted(s.c.DrainAgent(s.now, s.agentID(arg(0)), grace, gone))
	case "inverse-offers":
		fw := s.framework(arg(0))
		gf := s.c.GetFrameworks()
		if _, err := proto.Marshal(gf); err != nil {
			s.fail("GET_FRAMEWORKS does not marshal: %v", err)
		}
		for _, f := range gf.GetFrameworks() {
			if f.GetFrameworkInfo().GetId().GetValue() != fw.id {
				continue
			}
			for _, io := range f.GetInverseOffers() {
				s.printf("inverse offer of %s on %s", arg(0), s.name(s.agName, io.GetAgentId().GetValue()))
			}
		}
	case "accept-inverse", "decline-inverse":
		fw := s.framework(arg(0))
		id, ok := s.inverseIDs[arg(0)+"/"+arg(1)]
		if !ok {
			s.fail("%s has no inverse offer for %s", arg(0), arg(1))
		}
		ids := []*mesospb.OfferID{{Value: proto.String(id)}}
		var filters *mesospb.Filters
		if r, ok := kv["refuse"]; ok {
			secs, err := strconv.ParseFloat(r, 64)
			if err != nil {
				s.fail("%s refuse=%s: %v", cmd, r, err)
			}
			filters = &mesospb.Filters{RefuseSeconds: proto.Float64(secs)}
		}
		call := &schedulerpb.Call{Type: schedulerpb.Call_ACCEPT_INVERSE_OFFERS.Enum(),
			AcceptInverseOffers: &schedulerpb.Call_AcceptInverseOffers{InverseOfferIds: ids, Filters: filters}}
		if cmd == "decline-inverse" {
			call = &schedulerpb.Call{Type: schedulerpb.Call_DECLINE_INVERSE_OFFERS.Enum(),
				DeclineInverseOffers: &schedulerpb.Call_DeclineInverseOffers{InverseOfferIds: ids, Filters: filters}}
		}
		s.call(fw, call)
	case "reactivate":
		s.accepted(s.c.ReactivateAgent(s.agentID(arg(0))))
	case "agent-status":
		id := s.agentID(arg(0))
		for _, a := range s.c.GetAgents().GetAgents() {
			if a.GetAgentInfo().GetId().GetValue() != id {
				continue
			}
			line := "agent " + arg(0) + " active=" + boolText(a.GetActive()) + " deactivated=" + boolText(a.GetDeactivated())
			if d := a.GetDrainInfo(); d != nil {
				line += " drain=" + d.GetState().String()
			}
			s.printf("%s", line)
			return
		}
		s.printf("agent %s not registered", arg(0))
	}
}

func (s *script) printInverse(to string, ev *schedulerpb.Event) {
	if s.inverseIDs == nil {
		s.inverseIDs = map[string]string{}
	}
	if r := ev.GetRescindInverseOffer(); r != nil {
		for k, id := range s.inverseIDs {
			if id == r.GetInverseOfferId().GetValue() {
				delete(s.inverseIDs, k)
				s.printf("%s <- RESCIND_INVERSE_OFFER %s", to, strings.TrimPrefix(k, to+"/"))
			}
		}
		return
	}
	for _, io := range ev.GetInverseOffers().GetInverseOffers() {
		ag := s.name(s.agName, io.GetAgentId().GetValue())
		s.inverseIDs[to+"/"+ag] = io.GetId().GetValue()
		u := io.GetUnavailability()
		s.printf("%s <- INVERSE_OFFERS %s start=%d duration=%v", to, ag, u.GetStart().GetNanoseconds(), time.Duration(u.GetDuration().GetNanoseconds()))
	}
}

// agentID is a script agent's id, or its name when it has none (an agent
// the script never registered: the core answers not found).
func (s *script) agentID(name string) string {
	if ag := s.agents[name]; ag != nil {
		return ag.id
	}
	return name
}

func (s *script) accepted(err error) {
	if err != nil {
		s.printf("error: %v", err)
		return
	}
	s.printf("accepted")
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
