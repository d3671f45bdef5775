package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDispatcherSupervise runs `meso dispatcher` against a real cluster
// and drives it with `meso submit`: a supervised driver runs as a task
// with --master pointing at the Mesos master and its own arguments; its
// process SIGKILLed, the dispatcher relaunches it (RETRYING, then RUNNING
// as retry 1); the dispatcher SIGKILLed and restarted on its work dir still
// knows the driver and keeps following it; --kill ends it (KILLED) and its
// process is gone. An unsupervised driver that exits 3 ends FAILED; an
// unknown id is NOT_FOUND with exit status 1; a malformed submission gets
// 400.
func TestDispatcherSupervise(t *testing.T) {
	cl := newCluster(t, 1, agentRes, masterFlags...)
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	driver := filepath.Join(dir, "driver.sh")
	script := "#!/bin/sh\necho \"$@\" > " + dir + "/args\necho $$ > " + dir + "/pid.tmp && mv " + dir + "/pid.tmp " + dir + "/pid\nexec sleep 1000\n"
	if err := os.WriteFile(driver, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	failing := filepath.Join(dir, "failing.sh")
	if err := os.WriteFile(failing, []byte("#!/bin/sh\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	dmaster := "mesos://127.0.0.1:" + strconv.Itoa(port)
	dargs := []string{"dispatcher", "--master=" + cl.master.addr, "--port=" + strconv.Itoa(port),
		"--work_dir=" + filepath.Join(dir, "dispatcher")}
	disp := start(t, "dispatcher", port, dargs...)
	ctx := context.Background()
	status := func(id string) (string, int) {
		out, code := runMeso(t, ctx, "submit", "--master", dmaster, "--status", id)
		return strings.TrimSpace(out), code
	}
	eventually(t, 30*time.Second, func() error {
		if out, _ := status("driver-none"); !strings.Contains(out, "NOT_FOUND") {
			return fmt.Errorf("dispatcher not serving yet: %s", out)
		}
		return nil
	})
	if out, code := status("driver-none"); code != 1 || !strings.Contains(out, "NOT_FOUND") {
		t.Fatalf("status of an unknown id: %q exit %d, want NOT_FOUND and exit 1", out, code)
	}

	out, code := runMeso(t, ctx, "submit", "--master", dmaster, "--deploy-mode", "cluster", "--supervise",
		"--driver-memory", "128m", "--conf", "spark.cores.max=2", driver, "--", "hello", "world")
	if code != 0 {
		t.Fatalf("submit: exit %d: %s", code, out)
	}
	id := strings.TrimSpace(out)
	if !strings.HasPrefix(id, "driver-") {
		t.Fatalf("submit printed %q, want a submission id", id)
	}
	waitState := func(want, contains string) {
		t.Helper()
		eventually(t, 60*time.Second, func() error {
			if out, _ := status(id); !strings.Contains(out, " "+want) || !strings.Contains(out, contains) {
				return fmt.Errorf("status %q, want %s with %q", out, want, contains)
			}
			return nil
		})
	}
	readPID := func(not int) int {
		t.Helper()
		var pid int
		eventually(t, 60*time.Second, func() error {
			data, err := os.ReadFile(filepath.Join(dir, "pid"))
			if err != nil {
				return err
			}
			pid, _ = strconv.Atoi(strings.TrimSpace(string(data)))
			if pid == 0 || pid == not {
				return fmt.Errorf("pid file holds %q", data)
			}
			return nil
		})
		return pid
	}
	waitState("RUNNING", "")
	pid := readPID(0)
	args, err := os.ReadFile(filepath.Join(dir, "args"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "--master mesos://" + cl.master.addr + " --conf spark.mesos.driver.labels=meso.dispatcher.submission:" + id +
		" --conf spark.cores.max=2 hello world"; strings.TrimSpace(string(args)) != want {
		t.Fatalf("driver arguments %q, want %q", args, want)
	}

	// The driver's process dies: the dispatcher relaunches it.
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitState("RUNNING", "retries: 1")
	pid2 := readPID(pid)

	// The dispatcher dies and comes back: nothing is lost.
	disp.kill()
	disp = start(t, "dispatcher", port, dargs...)
	waitState("RUNNING", "retries: 1")

	out, code = runMeso(t, ctx, "submit", "--master", dmaster, "--kill", id)
	if code != 0 {
		t.Fatalf("kill: exit %d: %s", code, out)
	}
	waitState("KILLED", "")
	eventually(t, 30*time.Second, func() error {
		if err := syscall.Kill(pid2, 0); err == nil {
			return fmt.Errorf("driver process %d still runs after the kill", pid2)
		}
		return nil
	})

	// Unsupervised, failing: FAILED, not retried.
	out, code = runMeso(t, ctx, "submit", "--master", dmaster, "--driver-memory", "64m", failing)
	if code != 0 {
		t.Fatalf("submit: exit %d: %s", code, out)
	}
	id = strings.TrimSpace(out)
	waitState("FAILED", "TASK_FAILED")

	resp, err := http.Post("http://127.0.0.1:"+strconv.Itoa(port)+"/v1/submissions/create", "application/json", strings.NewReader("{not json"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("malformed submission: %s, want 400", resp.Status)
	}
	if out, code := runMeso(t, ctx, "submit", "--master", dmaster, "--deploy-mode", "client", driver); code == 0 || !strings.Contains(out, "cluster") {
		t.Fatalf("client deploy mode: exit %d %q, want a clear refusal", code, out)
	}
}
