package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDispatcherAuthConstraints runs a master that authenticates
// frameworks, two agents (rack r1 and r2) and a dispatcher with
// --credentials that authenticates itself to the master with its own
// principal. `meso submit` without credentials is refused (401 with a
// Basic challenge on the REST API and the UI); with MESOS_PRINCIPAL and
// MESOS_SECRET it submits, reads the status and kills. The driver, with
// spark.mesos.driver.constraints=rack:r2, 0.5 cpus and 128m, runs on the
// r2 agent with cpus 0.5 and mem 128 + 384 MiB, as /master/state shows;
// the dispatcher's UI lists it with its agent.
func TestDispatcherAuthConstraints(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	masterCreds := filepath.Join(dir, "master-credentials.json")
	if err := os.WriteFile(masterCreds, []byte(`{"credentials":[{"principal":"dispatcher","secret":"d-secret"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	userCreds := filepath.Join(dir, "users")
	if err := os.WriteFile(userCreds, []byte("alice a-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cl := newCluster(t, 0, "", append(masterFlags, "--authenticate_frameworks", "--credentials="+masterCreds)...)
	cl.addAgent(agentRes, "--attributes=rack:r1")
	cl.addAgent(agentRes, "--attributes=rack:r2")
	cl.waitAgents(2)
	driver := filepath.Join(dir, "driver.sh")
	if err := os.WriteFile(driver, []byte("#!/bin/sh\nexec sleep 1000\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	dmaster := "mesos://127.0.0.1:" + strconv.Itoa(port)
	start(t, "dispatcher", port, "dispatcher", "--master="+cl.master.addr, "--port="+strconv.Itoa(port),
		"--work_dir="+filepath.Join(dir, "dispatcher"), "--credentials=file://"+userCreds,
		"--principal=dispatcher", "--secret=d-secret")
	get := func(path, user, pass string) (int, string, string) {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error(), ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header.Get("WWW-Authenticate")
	}
	eventually(t, 30*time.Second, func() error {
		if code, body, _ := get("/", "alice", "a-secret"); code != http.StatusOK {
			return fmt.Errorf("dispatcher UI: %d %s", code, body)
		}
		return nil
	})
	for _, path := range []string{"/", "/v1/submissions/status/driver-none"} {
		if code, _, challenge := get(path, "", ""); code != http.StatusUnauthorized || !strings.HasPrefix(challenge, "Basic") {
			t.Errorf("%s without credentials: %d %q, want 401 with a Basic challenge", path, code, challenge)
		}
	}
	ctx := context.Background()
	submit := func(env []string, args ...string) (string, int) {
		cmd := exec.CommandContext(ctx, mesoBin, append([]string{"submit", "--master", dmaster}, args...)...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(out)), 0
	}
	creds := []string{"MESOS_PRINCIPAL=alice", "MESOS_SECRET=a-secret"}
	subArgs := []string{"--driver-cores", "0.5", "--driver-memory", "128m", "--conf", "spark.mesos.driver.constraints=rack:r2", driver}
	if out, code := submit(nil, subArgs...); code == 0 || !strings.Contains(out, "401") {
		t.Fatalf("submit without credentials: exit %d %q, want a 401 refusal", code, out)
	}
	if out, code := submit([]string{"MESOS_PRINCIPAL=alice", "MESOS_SECRET=wrong"}, subArgs...); code == 0 || !strings.Contains(out, "401") {
		t.Fatalf("submit with a wrong secret: exit %d %q, want a 401 refusal", code, out)
	}
	id, code := submit(creds, subArgs...)
	if code != 0 || !strings.HasPrefix(id, "driver-") {
		t.Fatalf("submit: exit %d %q", code, id)
	}
	eventually(t, 60*time.Second, func() error {
		if out, _ := submit(creds, "--status", id); !strings.Contains(out, " RUNNING") {
			return fmt.Errorf("status %q, want RUNNING", out)
		}
		return nil
	})

	// The driver's task in the master's state: on the r2 agent, with the
	// driver's resources, under the dispatcher's authenticated framework.
	var st struct {
		Slaves []struct {
			ID         string         `json:"id"`
			Attributes map[string]any `json:"attributes"`
		} `json:"slaves"`
		Frameworks []struct {
			Name      string `json:"name"`
			Principal string `json:"principal"`
			Tasks     []struct {
				ID      string         `json:"id"`
				State   string         `json:"state"`
				SlaveID string         `json:"slave_id"`
				Raw     map[string]any `json:"resources"`
			} `json:"tasks"`
		} `json:"frameworks"`
	}
	eventually(t, 30*time.Second, func() error {
		if err := getJSON(cl.master.url("/master/state"), &st); err != nil {
			return err
		}
		for _, f := range st.Frameworks {
			for _, task := range f.Tasks {
				if task.ID == id && task.State == "TASK_RUNNING" {
					return nil
				}
			}
		}
		return fmt.Errorf("no running task %s in /master/state", id)
	})
	var r2 string
	for _, a := range st.Slaves {
		if fmt.Sprint(a.Attributes["rack"]) == "r2" {
			r2 = a.ID
		}
	}
	found := false
	for _, f := range st.Frameworks {
		for _, task := range f.Tasks {
			if task.ID != id {
				continue
			}
			found = true
			if f.Principal != "dispatcher" || f.Name != "meso dispatcher" {
				t.Errorf("driver's framework %q principal %q, want the dispatcher's", f.Name, f.Principal)
			}
			if r2 == "" || task.SlaveID != r2 {
				t.Errorf("driver on agent %s, want the rack:r2 agent %s (agents %+v)", task.SlaveID, r2, st.Slaves)
			}
			if cpus, mem := task.Raw["cpus"], task.Raw["mem"]; cpus != 0.5 || mem != 512.0 {
				t.Errorf("driver resources cpus %v mem %v, want 0.5 and 128 + 384", cpus, mem)
			}
		}
	}
	if !found {
		t.Fatalf("task %s not in /master/state", id)
	}

	if code, body, _ := get("/", "alice", "a-secret"); code != http.StatusOK || !strings.Contains(body, id) || !strings.Contains(body, r2) {
		t.Errorf("dispatcher UI: %d, want the driver %s on agent %s listed:\n%s", code, id, r2, body)
	}
	if code, body, _ := get("/driver/"+id, "alice", "a-secret"); code != http.StatusOK || !strings.Contains(body, "rack:r2") || !strings.Contains(body, "TASK_RUNNING") {
		t.Errorf("driver page: %d\n%s", code, body)
	}
	if out, code := submit(creds, "--kill", id); code != 0 {
		t.Fatalf("kill: exit %d %s", code, out)
	}
	eventually(t, 60*time.Second, func() error {
		if out, _ := submit(creds, "--status", id); !strings.Contains(out, " KILLED") {
			return fmt.Errorf("status %q, want KILLED", out)
		}
		return nil
	})
}
