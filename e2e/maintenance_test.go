package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/maintenancepb"
	"github.com/mesoproject/meso/api/masterpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
)

// operatorDo posts an operator call to the master in codec c and returns
// the status and the decoded answer (nil for an empty body).
func operatorDo(t *testing.T, master *proc, c codec.Codec, call *masterpb.Call) (int, *masterpb.Response, string) {
	t.Helper()
	body, err := c.Marshal(call)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, master.url("/api/v1"), strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", c.MediaType())
	req.Header.Set("Accept", c.MediaType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || len(data) == 0 {
		return resp.StatusCode, nil, string(data)
	}
	out := &masterpb.Response{}
	if err := c.Unmarshal(data, out); err != nil {
		t.Fatalf("%s answer does not decode: %v", call.GetType(), err)
	}
	return resp.StatusCode, out, ""
}

// TestMaintenanceAndDrain, both codecs, against real binaries: a framework
// with a task on the agent gets an inverse offer when the agent's machine
// is scheduled for maintenance, with the window; its ACCEPT shows in
// GET_MAINTENANCE_STATUS. DRAIN_AGENT then kills the task (the framework
// sees TASK_KILLED), the agent becomes DRAINED, and `meso reactivate`
// ends the drain.
func TestMaintenanceAndDrain(t *testing.T) {
	for _, c := range []codec.Codec{codec.JSON, codec.Protobuf} {
		t.Run(c.MediaType(), func(t *testing.T) {
			cl := newCluster(t, 1, agentRes, conformanceMasterFlags...)
			s := subscribeWire(t, cl.master, c.MediaType(), "subscribe.json", schedVars(t))
			o, _ := s.offer()
			agentID := o.GetAgentId().GetValue()
			s.vars["AGENT_ID"] = agentID
			s.launch("accept_launch.json", o, "maint-task", "sleep 600", "REFUSE", "0")
			s.ackedUpdate("maint-task", mesospb.TaskState_TASK_RUNNING)

			start := time.Now().Add(time.Hour).UnixNano()
			sched := &masterpb.Call{Type: masterpb.Call_UPDATE_MAINTENANCE_SCHEDULE.Enum(),
				UpdateMaintenanceSchedule: &masterpb.Call_UpdateMaintenanceSchedule{Schedule: &maintenancepb.Schedule{
					Windows: []*maintenancepb.Window{{MachineIds: []*mesospb.MachineID{{Hostname: proto.String(o.GetHostname())}},
						Unavailability: &mesospb.Unavailability{Start: &mesospb.TimeInfo{Nanoseconds: proto.Int64(start)}}}}}}}
			if status, _, body := operatorDo(t, cl.master, c, sched); status != http.StatusOK {
				t.Fatalf("UPDATE_MAINTENANCE_SCHEDULE: %d %s", status, body)
			}
			ev, _ := s.event(schedulerpb.Event_INVERSE_OFFERS, nil)
			io := ev.GetInverseOffers().GetInverseOffers()
			if len(io) != 1 || io[0].GetAgentId().GetValue() != agentID || io[0].GetUnavailability().GetStart().GetNanoseconds() != start {
				t.Fatalf("INVERSE_OFFERS = %v", ev)
			}
			inverseListed := func() int {
				status, resp, body := operatorDo(t, cl.master, c, &masterpb.Call{Type: masterpb.Call_GET_FRAMEWORKS.Enum()})
				fws := resp.GetGetFrameworks().GetFrameworks()
				if len(fws) != 1 {
					t.Fatalf("GET_FRAMEWORKS: %d %v %s", status, resp, body)
				}
				return len(fws[0].GetInverseOffers())
			}
			if n := inverseListed(); n != 1 {
				t.Fatalf("GET_FRAMEWORKS lists %d inverse offers, want the outstanding one", n)
			}
			s.accepted("accept_inverse_offers.json", "INVERSE_OFFER_ID", io[0].GetId().GetValue())
			eventually(t, 10*time.Second, func() error {
				_, resp, body := operatorDo(t, cl.master, c, &masterpb.Call{Type: masterpb.Call_GET_MAINTENANCE_STATUS.Enum()})
				dm := resp.GetGetMaintenanceStatus().GetStatus().GetDrainingMachines()
				if len(dm) != 1 || len(dm[0].GetStatuses()) != 1 || dm[0].GetStatuses()[0].GetStatus() != maintenancepb.InverseOfferStatus_ACCEPT ||
					dm[0].GetStatuses()[0].GetFrameworkId().GetValue() != s.fwID {
					return fmt.Errorf("GET_MAINTENANCE_STATUS = %v %s", resp, body)
				}
				return nil
			})
			if n := inverseListed(); n != 0 {
				t.Fatalf("GET_FRAMEWORKS lists %d inverse offers after the answer", n)
			}

			drain := &masterpb.Call{Type: masterpb.Call_DRAIN_AGENT.Enum(), DrainAgent: &masterpb.Call_DrainAgent{
				AgentId: &mesospb.AgentID{Value: proto.String(agentID)}, MaxGracePeriod: durationpb.New(time.Second)}}
			if status, _, body := operatorDo(t, cl.master, c, drain); status != http.StatusOK {
				t.Fatalf("DRAIN_AGENT: %d %s", status, body)
			}
			s.ackedUpdate("maint-task", mesospb.TaskState_TASK_KILLED)
			agent := func() *masterpb.Response_GetAgents_Agent {
				_, resp, _ := operatorDo(t, cl.master, c, &masterpb.Call{Type: masterpb.Call_GET_AGENTS.Enum()})
				for _, a := range resp.GetGetAgents().GetAgents() {
					if a.GetAgentInfo().GetId().GetValue() == agentID {
						return a
					}
				}
				return nil
			}
			eventually(t, 10*time.Second, func() error {
				if a := agent(); a.GetDrainInfo().GetState() != mesospb.DrainState_DRAINED || a.GetActive() {
					return fmt.Errorf("agent = %v; want DRAINED and inactive", a)
				}
				return nil
			})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if out, code := runMeso(t, ctx, "reactivate", agentID, "--master="+cl.master.addr); code != 0 || !strings.Contains(out, "reactivated") {
				t.Fatalf("meso reactivate: exit %d %s", code, out)
			}
			if a := agent(); a.DrainInfo != nil || !a.GetActive() {
				t.Fatalf("agent after meso reactivate = %v", a)
			}
		})
	}
}
