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
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDispatcherDriverFailover: a supervised rdd driver that is a
// checkpointing framework (spark.mesos.checkpoint, a failover timeout of
// 60 s) is SIGKILLed; the dispatcher relaunches it, and the relaunch
// subscribes with the framework id of the first attempt (the master lists
// one driver framework, active again, with that id).
func TestDispatcherDriverFailover(t *testing.T) {
	bin := buildExample(t, "groupby")
	if err := os.Chmod(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	cl := newCluster(t, 1, agentRes, masterFlags...)
	dir := t.TempDir()
	port := freePort(t)
	dmaster := "mesos://127.0.0.1:" + strconv.Itoa(port)
	start(t, "dispatcher", port, "dispatcher", "--master="+cl.master.addr, "--port="+strconv.Itoa(port),
		"--work_dir="+filepath.Join(dir, "dispatcher"))
	ctx := context.Background()
	var id string
	eventually(t, 30*time.Second, func() error {
		out, code := runMeso(t, ctx, "submit", "--master", dmaster, "--supervise", "--driver-memory", "256m",
			"--conf", "spark.mesos.checkpoint=true", "--conf", "spark.mesos.driver.failoverTimeout=60",
			"--conf", "spark.cores.max=1", "--conf", "spark.executor.memory=256m",
			bin, "--", "--n", "500000000", "--parts", "50")
		if code != 0 {
			return fmt.Errorf("submit: exit %d: %s", code, out)
		}
		id = strings.TrimSpace(out)
		return nil
	})
	t.Cleanup(func() { runMeso(t, ctx, "submit", "--master", dmaster, "--kill", id) })
	// driverFramework is the one framework that is not the dispatcher.
	driverFramework := func() (string, bool, error) {
		var st struct {
			Frameworks []struct {
				ID     string `json:"id"`
				Name   string `json:"name"`
				Active bool   `json:"active"`
			} `json:"frameworks"`
		}
		if err := getJSON(cl.master.url("/master/state"), &st); err != nil {
			return "", false, err
		}
		var ids []string
		var active bool
		for _, f := range st.Frameworks {
			if f.Name != "meso dispatcher" {
				ids, active = append(ids, f.ID), f.Active
			}
		}
		if len(ids) != 1 {
			return "", false, fmt.Errorf("driver frameworks %v, want one", ids)
		}
		return ids[0], active, nil
	}
	var first string
	eventually(t, 60*time.Second, func() error {
		fw, active, err := driverFramework()
		if err != nil || !active {
			return fmt.Errorf("driver framework %q active %v: %v", fw, active, err)
		}
		first = fw
		return nil
	})
	// The dispatcher's page links the running driver to its own web UI:
	// its framework's webui_url in the master's state.
	eventually(t, 30*time.Second, func() error {
		var st struct {
			Frameworks []struct {
				ID    string `json:"id"`
				WebUI string `json:"webui_url"`
			} `json:"frameworks"`
		}
		if err := getJSON(cl.master.url("/master/state"), &st); err != nil {
			return err
		}
		var ui string
		for _, f := range st.Frameworks {
			if f.ID == first {
				ui = f.WebUI
			}
		}
		if !strings.HasPrefix(ui, "http://") {
			return fmt.Errorf("driver framework's webui_url %q", ui)
		}
		resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		page, _ := io.ReadAll(resp.Body)
		if !bytes.Contains(page, []byte(`<td class="driver-ui"><a href="`+ui+`">`)) {
			return fmt.Errorf("the dispatcher's page lacks a link to %s", ui)
		}
		return nil
	})
	pid := driverPID(t, id)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, func() error {
		out, _ := runMeso(t, ctx, "submit", "--master", dmaster, "--status", id)
		if !strings.Contains(out, " RUNNING") || !strings.Contains(out, "retries: 1") {
			return fmt.Errorf("status %q, want RUNNING after 1 retry", out)
		}
		if !strings.Contains(out, "sandbox: http://"+cl.master.addr+"/#/tasks/") || !strings.Contains(out, "-retry-1 on agent ") {
			return fmt.Errorf("status %q, want the relaunched task, its agent and its sandbox page", out)
		}
		return nil
	})
	eventually(t, 60*time.Second, func() error {
		if p := driverPIDNow(id); p == 0 || p == pid {
			return fmt.Errorf("the relaunched driver's process is not up yet")
		}
		fw, active, err := driverFramework()
		if err != nil || !active || fw != first {
			return fmt.Errorf("driver framework %q active %v (%v), want %s active again", fw, active, err, first)
		}
		return nil
	})
}

// driverPIDNow finds the process of the driver of submission id by its
// arguments (the label the dispatcher adds), 0 when there is none.
func driverPIDNow(id string) int {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if bytes.Contains(data, []byte("meso.dispatcher.submission:"+id+"\x00")) && bytes.HasPrefix(data, []byte("./groupby\x00")) {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			return pid
		}
	}
	return 0
}

func driverPID(t *testing.T, id string) int {
	t.Helper()
	var pid int
	eventually(t, 30*time.Second, func() error {
		if pid = driverPIDNow(id); pid == 0 {
			return fmt.Errorf("no driver process for %s", id)
		}
		return nil
	})
	return pid
}
