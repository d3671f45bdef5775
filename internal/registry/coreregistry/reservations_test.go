package coreregistry

import (
	"testing"
	"time"

	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/master/core"
	"github.com/mesoproject/meso/internal/resources"
	"google.golang.org/protobuf/proto"
)

// An operator's reservation goes into the replicated registry; a master
// recovering from it takes it as its view of the agent and sends it to an
// agent that re-registers without it.
func TestReservationsRecovery(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	r := openSingle(t)
	reg := New(r, 5*time.Second, func() time.Time { return now })
	newCore := func(id string) *core.Core {
		c, err := core.New(core.Config{MasterInfo: &mesospb.MasterInfo{Id: proto.String(id), Ip: proto.Uint32(1), Port: proto.Uint32(5050)},
			Registry: reg}, now)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	static := resources.MustParse("cpus:4;mem:1024;disk:1000")
	register := func(c *core.Core, link, id string) {
		info := &mesospb.AgentInfo{Hostname: proto.String("h1"), Resources: static.ToProto("", false)}
		if id != "" {
			info.Id = &mesospb.AgentID{Value: proto.String(id)}
		}
		if err := c.RegisterAgent(now, link, &linkpb.AgentCall{Type: linkpb.AgentCall_REGISTER.Enum(),
			Register: &linkpb.AgentCall_Register{AgentInfo: info}}); err != nil {
			t.Fatal(err)
		}
	}
	c1 := newCore("m1")
	register(c1, "l1", "")
	agentID := c1.GetAgents().GetAgents()[0].GetAgentInfo().GetId().GetValue()
	want, _ := resources.MustParse("cpus:1;disk:100").PushReservation("db", "ops")
	op := &mesospb.Offer_Operation{Type: mesospb.Offer_Operation_RESERVE.Enum(),
		Reserve: &mesospb.Offer_Operation_Reserve{Resources: want.ToProto("", false)}}
	if err := c1.OperatorOperation(now, agentID, op, "ops"); err != nil {
		t.Fatal(err)
	}
	rec, err := Recovery(r.State())
	if err != nil {
		t.Fatal(err)
	}
	c2 := newCore("m2")
	if err := c2.Recover(now, rec); err != nil {
		t.Fatal(err)
	}
	c2.Ready()
	register(c2, "l2", agentID)
	var sent resources.Resources
	for _, m := range c2.Ready().Messages {
		if m.Event.GetType() == linkpb.MasterEvent_CHECKPOINT_RESOURCES {
			sent, _ = resources.FromProto(m.Event.GetCheckpointResources().GetResources())
		}
	}
	if !sent.Equal(want) {
		t.Fatalf("CHECKPOINT_RESOURCES after failover = %v, want %v", sent, want)
	}
	total, _ := resources.FromProto(c2.GetAgents().GetAgents()[0].GetTotalResources())
	if !total.Contains(want) {
		t.Errorf("agent total %v lacks %v", total, want)
	}
}
