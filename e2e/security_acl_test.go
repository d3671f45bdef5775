package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/masterpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/resources"
	"google.golang.org/protobuf/proto"
)

// The ACLs of this file's cluster. Master: frameworks only in role "*";
// tasks only as nobody; ops sees every framework, others none. Agent: ops
// reads every sandbox, eve only those of a user that does not run here.
const (
	securityMasterACLs = `{
	  "register_frameworks": [{"principals": {"type": "ANY"}, "roles": {"values": ["*"]}},
	                          {"principals": {"type": "ANY"}, "roles": {"type": "NONE"}}],
	  "run_tasks": [{"principals": {"type": "ANY"}, "users": {"values": ["nobody", "no-such-user-meso"]}},
	                {"principals": {"type": "ANY"}, "users": {"type": "NONE"}}],
	  "view_frameworks": [{"principals": {"values": ["ops"]}, "users": {"type": "ANY"}},
	                      {"principals": {"type": "ANY"}, "users": {"type": "NONE"}}]}`
	securityAgentACLs = `{"permissive": false,
	  "access_sandboxes": [{"principals": {"values": ["ops"]}, "users": {"type": "ANY"}},
	                       {"principals": {"values": ["eve"]}, "users": {"values": ["someone-else"]}}]}`
	securityCredentials = `{"credentials": [{"principal": "ops", "secret": "o-secret"}, {"principal": "eve", "secret": "e-secret"}]}`
)

// Attacks (e) and (f) and the ACLs around them, on real processes: a
// framework in a role its principal may not use is refused 403; a task
// asking for root is refused TASK_ERROR / REASON_TASK_UNAUTHORIZED by
// run_tasks; a user that does not exist gives TASK_FAILED naming it; a
// task asking for nobody runs as nobody (its own `id -u`) in a sandbox
// nobody owns; its
// sandbox is readable by a principal with access_sandboxes and 403 to one
// without, over /files and READ_FILE; GET_STATE shows eve no framework.
func TestSecurityACLUsersAndSandboxes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("switching users needs root")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	// The command executor runs as the task's user: the binary and the
	// agent's work dir must be reachable for nobody.
	for _, dir := range []string{filepath.Dir(mesoBin)} {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	creds := filepath.Join(t.TempDir(), "credentials.json")
	if err := os.WriteFile(creds, []byte(securityCredentials), 0o600); err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, 0, "", append(masterFlags, "--acls="+securityMasterACLs,
		"--credentials=file://"+creds, "--authenticate_http_readwrite")...)
	for d := c.dir; d != filepath.Dir(d) && strings.HasPrefix(d, os.TempDir()) && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	agent := c.addAgent("cpus:2;mem:512", "--acls="+securityAgentACLs, "--credentials="+creds,
		"--authenticate_http_readonly", "--authenticate_http_readwrite")
	c.waitAgents(1)

	// 403 on a role the ACL does not allow.
	sub := `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"root","name":"bad","role":"forbidden"}}}`
	resp, err := http.Post(c.master.url("/api/v1/scheduler"), "application/json", strings.NewReader(sub))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "register_frameworks[1]") {
		t.Fatalf("SUBSCRIBE in role forbidden: %s %s", resp.Status, body)
	}

	f := newFramework(t, c.master.addr, fwOptions{})
	launchAs(f, "as-root", "id -u", "root")
	if st := f.waitState("as-root", mesospb.TaskState_TASK_ERROR, 60*time.Second); st.GetReason() != mesospb.TaskStatus_REASON_TASK_UNAUTHORIZED {
		t.Fatalf("root task: %v", st)
	}
	launchAs(f, "as-missing", "id -u", "no-such-user-meso")
	if st := f.waitState("as-missing", mesospb.TaskState_TASK_FAILED, 60*time.Second); !strings.Contains(st.GetMessage(), "no-such-user-meso") {
		t.Fatalf("task of a user that does not exist: %v", st)
	}
	launchAs(f, "as-nobody", "id -u; exec sleep 300", "nobody")
	f.waitState("as-nobody", mesospb.TaskState_TASK_RUNNING, 60*time.Second)

	ops, eve := [2]string{"ops", "o-secret"}, [2]string{"eve", "e-secret"}
	var state struct {
		Frameworks []struct {
			Executors []struct {
				Directory string `json:"directory"`
			} `json:"executors"`
		} `json:"frameworks"`
	}
	if status, b := getAs(t, agent.url("/state"), [2]string{}); status != http.StatusUnauthorized {
		t.Fatalf("agent /state without credentials: %d %s", status, b)
	}
	_, b := getAs(t, agent.url("/state"), ops)
	if err := json.Unmarshal(b, &state); err != nil || len(state.Frameworks) != 1 || len(state.Frameworks[0].Executors) != 1 {
		t.Fatalf("agent /state: %v %s", err, b)
	}
	sandbox := state.Frameworks[0].Executors[0].Directory
	if st, err := os.Stat(sandbox); err != nil || fmt.Sprint(st.Sys().(*syscall.Stat_t).Uid) != nobody.Uid {
		t.Errorf("sandbox %s: %v, want it owned by nobody (%s)", sandbox, err, nobody.Uid)
	}
	stdout := filepath.Join(sandbox, "stdout")
	read := agent.url("/files/read?offset=0&path=" + stdout)
	eventually(t, 60*time.Second, func() error {
		status, b := getAs(t, read, ops)
		var got struct {
			Data string `json:"data"`
		}
		if status != http.StatusOK || json.Unmarshal(b, &got) != nil {
			return fmt.Errorf("ops reading stdout: %d %s", status, b)
		}
		if strings.TrimSpace(got.Data) != nobody.Uid {
			return fmt.Errorf("task's id -u = %q, want nobody's %s", got.Data, nobody.Uid)
		}
		return nil
	})
	if status, b := getAs(t, read, eve); status != http.StatusForbidden || !strings.Contains(string(b), "access_sandboxes") {
		t.Errorf("eve reading the sandbox: %d %s, want 403 naming the ACL", status, b)
	}
	readFile := fmt.Sprintf(`{"type":"READ_FILE","read_file":{"path":%q,"offset":0}}`, stdout)
	if status, b := postAs(t, agent.url("/api/v1"), readFile, eve); status != http.StatusForbidden {
		t.Errorf("eve's READ_FILE: %d %s, want 403", status, b)
	}
	if status, b := postAs(t, agent.url("/api/v1"), readFile, ops); status != http.StatusOK || !strings.Contains(string(b), "data") {
		t.Errorf("ops' READ_FILE: %d %s", status, b)
	}

	// GET_STATE per principal.
	frameworks := func(who [2]string) int {
		status, b := postAs(t, c.master.url("/api/v1"), `{"type":"GET_STATE"}`, who)
		out := &masterpb.Response{}
		if status != http.StatusOK || codec.JSON.Unmarshal(b, out) != nil {
			t.Fatalf("GET_STATE as %s: %d %s", who[0], status, b)
		}
		return len(out.GetGetState().GetGetFrameworks().GetFrameworks())
	}
	if n := frameworks(ops); n != 1 {
		t.Errorf("ops sees %d frameworks, want 1", n)
	}
	if n := frameworks(eve); n != 0 {
		t.Errorf("eve sees %d frameworks, want 0", n)
	}
}

// launchAs launches a command task running as user on the first offer
// with room for it.
func launchAs(f *framework, id, command, user string) {
	f.t.Helper()
	need := resources.MustParse("cpus:0.1;mem:32")
	var offer *mesospb.Offer
	f.waitFor(30*time.Second, "an offer for "+id, func() bool {
		for oid, o := range f.offers {
			if have, err := resources.FromProto(o.GetResources()); err == nil && have.Contains(need) {
				offer = o
				delete(f.offers, oid)
				return true
			}
		}
		return false
	})
	task := &mesospb.TaskInfo{Name: proto.String(id), TaskId: &mesospb.TaskID{Value: proto.String(id)},
		AgentId: offer.GetAgentId(), Resources: need.ToProto("*", false),
		Command: &mesospb.CommandInfo{Value: proto.String(command), User: proto.String(user)}}
	if err := f.client.Launch(context.Background(), offer, task); err != nil {
		f.t.Fatalf("launch %s: %v", id, err)
	}
}

func getAs(t *testing.T, url string, who [2]string) (int, []byte) {
	t.Helper()
	return doAs(t, http.MethodGet, url, "", who)
}

func postAs(t *testing.T, url, body string, who [2]string) (int, []byte) {
	t.Helper()
	return doAs(t, http.MethodPost, url, body, who)
}

func doAs(t *testing.T, method, url, body string, who [2]string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if who[0] != "" {
		req.SetBasicAuth(who[0], who[1])
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// With --switch_user=false a task asking for nobody runs as the agent's
// user, and with no ACLs (Mesos' permissive default) a task may ask for
// root.
func TestSecurityNoSwitchUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to tell switching from not switching")
	}
	c := newCluster(t, 0, "", masterFlags...)
	agent := c.addAgent("cpus:1;mem:256", "--switch_user=false")
	c.waitAgents(1)
	f := newFramework(t, c.master.addr, fwOptions{})
	launchAs(f, "as-nobody", "id -u", "nobody")
	f.waitState("as-nobody", mesospb.TaskState_TASK_FINISHED, 60*time.Second)
	launchAs(f, "as-root", "id -u", "root")
	f.waitState("as-root", mesospb.TaskState_TASK_FINISHED, 60*time.Second)
	var state struct {
		CompletedFrameworks []struct {
			CompletedExecutors []struct {
				Directory string `json:"directory"`
			} `json:"completed_executors"`
		} `json:"completed_frameworks"`
		Frameworks []struct {
			CompletedExecutors []struct {
				Directory string `json:"directory"`
			} `json:"completed_executors"`
		} `json:"frameworks"`
	}
	var dirs []string
	eventually(t, 30*time.Second, func() error {
		if err := getJSON(agent.url("/state"), &state); err != nil {
			return err
		}
		dirs = nil
		for _, fw := range append(state.Frameworks, state.CompletedFrameworks...) {
			for _, ex := range fw.CompletedExecutors {
				dirs = append(dirs, ex.Directory)
			}
		}
		if len(dirs) != 2 {
			return fmt.Errorf("want 2 completed executors: %+v", state)
		}
		return nil
	})
	for _, dir := range dirs {
		out, err := os.ReadFile(filepath.Join(dir, "stdout"))
		if err != nil || strings.TrimSpace(string(out)) != "0" {
			t.Errorf("%s: id -u = %q (%v), want the agent's 0", dir, out, err)
		}
	}
}
