package master

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/internal/authn"
	"github.com/mesoproject/meso/internal/resources"
)

func fakeRegister(id, secret string) *linkpb.AgentCall {
	info := &mesospb.AgentInfo{Hostname: proto.String("evil"), Port: proto.Int32(5051),
		Resources: resources.MustParse("cpus:1000;mem:1000000").ToProto("", false)}
	call := &linkpb.AgentCall{Type: linkpb.AgentCall_REGISTER.Enum(), Register: &linkpb.AgentCall_Register{AgentInfo: info}}
	if id != "" {
		info.Id = &mesospb.AgentID{Value: proto.String(id)}
		call.AgentId = info.Id
		call.Register.Secret = proto.String(secret)
	}
	return call
}

// registerStatus posts a REGISTER as who and returns the status and body
// (the stream is closed at once).
func registerStatus(t *testing.T, base string, call *linkpb.AgentCall, who basic) (int, string) {
	t.Helper()
	resp := send(t, http.MethodPost, base+"/internal/v1/link", encode(t, codec.JSON, call), who,
		map[string]string{"Content-Type": codec.MediaTypeJSON, "Accept": codec.MediaTypeJSON})
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return resp.StatusCode, ""
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestAuthenticateAgents is attack (a): with --authenticate_agents an
// agent without credentials (or with wrong ones) cannot register, so it
// never sees a RUN_TASK; one with its credential can.
func TestAuthenticateAgents(t *testing.T) {
	creds, err := authn.New([]authn.Credential{{Principal: "agent", Secret: "s3cret"}})
	if err != nil {
		t.Fatal(err)
	}
	_, base := startMaster(t, func(c *Config) { c.Credentials, c.AuthenticateAgents = creds, true })
	for _, who := range []basic{{}, {"agent", "wrong"}, {"nobody", "s3cret"}} {
		code, body := registerStatus(t, base, fakeRegister("", ""), who)
		if code != http.StatusUnauthorized {
			t.Fatalf("REGISTER as %q: %d %s; want 401", who.user, code, body)
		}
	}
	// Nor can a refused agent send calls on someone's link.
	if code, body := registerStatus(t, base, &linkpb.AgentCall{Type: linkpb.AgentCall_PONG.Enum(), LinkId: proto.String("x"),
		Pong: &linkpb.AgentCall_Pong{Seq: proto.Uint64(1)}}, basic{}); code != http.StatusUnauthorized {
		t.Fatalf("PONG without credentials: %d %s", code, body)
	}
	if code, body := registerStatus(t, base, fakeRegister("", ""), basic{"agent", "s3cret"}); code != http.StatusOK {
		t.Fatalf("REGISTER with the credential: %d %s", code, body)
	}
	if code, _ := registerStatus(t, base, fakeRegister("", ""), basic{}); code != http.StatusUnauthorized {
		t.Fatal("authentication is not required once an agent registered")
	}
}

// TestAgentIDNeedsItsSecret is attack (b): a REGISTER claiming a live
// agent's id with an empty task list, without the agent's secret or with
// a wrong one, is refused; the framework gets no update for the real
// agent's task, which stays running, and the real agent keeps its link.
func TestAgentIDNeedsItsSecret(t *testing.T) {
	_, base := startMaster(t)
	a := registerAgent(t, base, codec.JSON, "host1", "cpus:2;mem:256")
	if a.secret == "" {
		t.Fatal("REGISTERED carried no agent secret")
	}
	f := subscribe(t, base, codec.JSON, fwInfo("web"))
	launchRunning(t, f, a, "t1")

	for _, secret := range []string{"", "guess", a.secret + "x"} {
		code, body := registerStatus(t, base, fakeRegister(a.id, secret), basic{})
		if code != http.StatusForbidden || !strings.Contains(body, "secret") {
			t.Fatalf("REGISTER as %s with secret %q: %d %s; want 403", a.id, secret, code, body)
		}
	}
	// The first update the framework sees is its reconciliation's: the
	// task runs (no TASK_GONE or TASK_LOST came before it).
	f.mustCall(&schedulerpb.Call{Type: schedulerpb.Call_RECONCILE.Enum(), Reconcile: &schedulerpb.Call_Reconcile{
		Tasks: []*schedulerpb.Call_Reconcile_Task{{TaskId: &mesospb.TaskID{Value: proto.String("t1")}}}}})
	for {
		ev := f.events.next()
		if ev.GetType() != schedulerpb.Event_UPDATE {
			continue
		}
		st := ev.GetUpdate().GetStatus()
		if st.GetState() != mesospb.TaskState_TASK_RUNNING || st.GetReason() != mesospb.TaskStatus_REASON_RECONCILIATION {
			t.Fatalf("first update after the refused registrations: %v", st)
		}
		break
	}
	if code, body := a.send(&linkpb.AgentCall{Type: linkpb.AgentCall_PONG.Enum(),
		Pong: &linkpb.AgentCall_Pong{Seq: proto.Uint64(1)}}); code != http.StatusAccepted {
		t.Fatalf("the real agent's link after the attack: %d %s", code, body)
	}
	// The real agent, with its secret, re-registers and keeps its id.
	b := registerWith(t, base, codec.JSON, &linkpb.AgentCall{Type: linkpb.AgentCall_REGISTER.Enum(), AgentId: &mesospb.AgentID{Value: proto.String(a.id)},
		Register: &linkpb.AgentCall_Register{AgentInfo: &mesospb.AgentInfo{Id: &mesospb.AgentID{Value: proto.String(a.id)},
			Hostname: proto.String("host1"), Port: proto.Int32(5051), Resources: resources.MustParse("cpus:2;mem:256").ToProto("", false)},
			Secret: proto.String(a.secret)}})
	if b.id != a.id {
		t.Fatalf("re-registered as %s, want %s", b.id, a.id)
	}
}
