package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/resources"
)

// postRegister sends a REGISTER to the master's agent link as an attacker
// would, with HTTP Basic credentials when user is set, and returns the
// status and body (the stream is not read).
func postRegister(t *testing.T, master, agentID, user, pass string) (int, string) {
	t.Helper()
	info := &mesospb.AgentInfo{Hostname: proto.String("evil"), Port: proto.Int32(1),
		Resources: resources.MustParse("cpus:1000;mem:1000000").ToProto("", false)}
	call := &linkpb.AgentCall{Type: linkpb.AgentCall_REGISTER.Enum(), Register: &linkpb.AgentCall_Register{AgentInfo: info}}
	if agentID != "" {
		info.Id = &mesospb.AgentID{Value: proto.String(agentID)}
		call.AgentId = info.Id
	}
	body, err := codec.JSON.Marshal(call)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, "http://"+master+"/internal/v1/link", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", codec.MediaTypeJSON)
	req.Header.Set("Accept", codec.MediaTypeJSON)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return resp.StatusCode, "(a link stream)"
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestAgentIdentityOnTheLink runs a master with --authenticate_agents and
// an agent with its --credential. Attack (a): a fake agent without
// credentials is refused (401: no stream, so no RUN_TASK). Attack (b): a
// REGISTER claiming the live agent's id with an empty task list, even
// with a valid credential, is refused without the secret the master
// issued to that agent (403), and the agent's task keeps running with no
// update sent. The agent checkpoints its secret: restarted, it registers
// again under its id.
func TestAgentIdentityOnTheLink(t *testing.T) {
	dir := t.TempDir()
	creds, cred := filepath.Join(dir, "credentials.json"), filepath.Join(dir, "credential.json")
	if err := os.WriteFile(creds, []byte(`{"credentials":[{"principal":"agent","secret":"s3cret"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cred, []byte(`{"principal":"agent","secret":"s3cret"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cl := newCluster(t, 0, "", append(masterFlags, "--authenticate_agents", "--credentials="+creds)...)
	port := freePort(t)
	agentArgs := []string{"agent", "--master=" + cl.master.addr, "--ip=127.0.0.1", "--port=" + strconv.Itoa(port),
		"--work_dir=" + filepath.Join(dir, "agent"), "--resources=cpus:2;mem:256",
		"--registration_backoff_factor=100ms", "--credential=" + cred}
	agent := start(t, "agent", port, agentArgs...)
	agent.waitHealthy()
	cl.waitAgents(1)
	agentID := cl.state().Slaves[0].ID

	// (a)
	for _, who := range [][2]string{{"", ""}, {"agent", "wrong"}} {
		if code, body := postRegister(t, cl.master.addr, "", who[0], who[1]); code != http.StatusUnauthorized {
			t.Fatalf("fake agent with credential %q: %d %s; want 401", who[0], code, body)
		}
	}

	f := newFramework(t, cl.master.addr, fwOptions{})
	f.launch("sleeper", "sleep 1000", "cpus:0.5;mem:64", "")
	f.waitState("sleeper", mesospb.TaskState_TASK_RUNNING, 60*time.Second)

	// (b)
	if code, body := postRegister(t, cl.master.addr, agentID, "agent", "s3cret"); code != http.StatusForbidden {
		t.Fatalf("REGISTER claiming %s without its secret: %d %s; want 403", agentID, code, body)
	}
	if err := f.client.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.waitFor(60*time.Second, "the reconciliation's update", func() bool {
		for _, u := range f.updates {
			if u.GetReason() == mesospb.TaskStatus_REASON_RECONCILIATION {
				return true
			}
		}
		return false
	})
	f.mu.Lock()
	for _, u := range f.updates {
		if u.GetState() != mesospb.TaskState_TASK_STARTING && u.GetState() != mesospb.TaskState_TASK_RUNNING {
			t.Errorf("update after the refused registration: %s %s", u.GetState(), u.GetMessage())
		}
	}
	f.mu.Unlock()
	if err := checkRunning(cl, agentID, "sleeper"); err != nil {
		t.Fatal(err)
	}

	// The agent's secret survives its restart.
	agent.stop()
	agent = start(t, "agent-restarted", port, agentArgs...)
	agent.waitHealthy()
	eventually(t, 60*time.Second, func() error {
		st := cl.state()
		if len(st.Slaves) != 1 || st.Slaves[0].ID != agentID || !st.Slaves[0].Active {
			return fmt.Errorf("agents %+v; want %s active again", st.Slaves, agentID)
		}
		return nil
	})
}

// checkRunning says whether the master lists the agent active and the task
// running.
func checkRunning(cl *cluster, agentID, task string) error {
	st := cl.state()
	if len(st.Slaves) != 1 || st.Slaves[0].ID != agentID || !st.Slaves[0].Active {
		return fmt.Errorf("agents %+v; want only %s, active", st.Slaves, agentID)
	}
	for _, fw := range st.Frameworks {
		for _, tk := range fw.Tasks {
			if tk.ID == task && tk.State == "TASK_RUNNING" {
				return nil
			}
		}
	}
	return fmt.Errorf("the master does not list %s running: %+v", task, st.Frameworks)
}
