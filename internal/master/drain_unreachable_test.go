package master

import (
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/masterpb"
	"github.com/mesoproject/meso/api/mesospb"
	"google.golang.org/protobuf/proto"
)

// TestDrainUnreachableAgent over real HTTP: as in Mesos, DRAIN_AGENT of an
// agent lost to a partition is accepted (the core applies the drain when
// it returns, see the drain_unreachable script); once it is marked gone,
// draining it is 404.
func TestDrainUnreachableAgent(t *testing.T) {
	_, base := startMaster(t, func(cfg *Config) {
		cfg.AgentPingTimeout = 100 * time.Millisecond
		cfg.MaxAgentPingTimeouts = 3
	})
	c := codec.JSON
	agent := registerAgent(t, base, c, "host1", "cpus:1;mem:64")
	agent.pong.Store(false)
	deadline := time.Now().Add(waitFor)
	for agentView(t, base, c, agent.id) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the silent agent was never removed")
		}
		runtime.Gosched()
	}
	mustOK(t, base, c, drainCall(agent.id, time.Second, false))
	mustOK(t, base, c, &masterpb.Call{Type: masterpb.Call_MARK_AGENT_GONE.Enum(),
		MarkAgentGone: &masterpb.Call_MarkAgentGone{AgentId: &mesospb.AgentID{Value: proto.String(agent.id)}}})
	if status, _, body := operatorCall(t, base, c, drainCall(agent.id, 0, false)); status != http.StatusNotFound ||
		!strings.Contains(string(body), "registered or unreachable") {
		t.Fatalf("DRAIN_AGENT of a gone agent: %d %s; want 404", status, body)
	}
}
