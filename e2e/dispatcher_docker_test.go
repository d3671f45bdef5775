package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/mesoproject/meso/internal/containerizer/docker"
)

// TestDispatcherDockerDriver: a supervised driver submitted with
// spark.mesos.executor.docker.image runs in that image, an image FROM
// scratch holding a static build of examples/groupby at /groupby (so no
// shell: the dispatcher gives it a command without one), with its
// executors in the same image. Its container removed mid-run, the
// dispatcher relaunches it (retry 1) and the relaunch runs the job to
// the end: FINISHED, with the job's checksum in its sandbox's stdout.
func TestDispatcherDockerDriver(t *testing.T) {
	cli, _, tag := groupbyImage(t, "meso-e2e-driver")
	cl := newCluster(t, 0, "", masterFlags...)
	cl.addAgent("cpus:4;mem:4096;disk:4096;ports:[31000-32000]", "--containerizers=docker,mesos")
	cl.waitAgents(1)
	port := freePort(t)
	dmaster := "mesos://127.0.0.1:" + strconv.Itoa(port)
	start(t, "dispatcher", port, "dispatcher", "--master="+cl.master.addr, "--port="+strconv.Itoa(port),
		"--work_dir="+filepath.Join(t.TempDir(), "dispatcher"))
	bg := context.Background()
	var id string
	eventually(t, 30*time.Second, func() error {
		out, code := runMeso(t, bg, "submit", "--master", dmaster, "--supervise", "--driver-memory", "256m",
			"--conf", "spark.mesos.executor.docker.image="+tag, "--conf", "spark.mesos.executor.home=/",
			"--conf", "spark.cores.max=2", "--conf", "spark.executor.cores=1", "--conf", "spark.executor.memory=256m",
			"local:///groupby", "--", "--n", "3000000", "--parts", "8")
		if code != 0 {
			return fmt.Errorf("submit: exit %d: %s", code, out)
		}
		id = strings.TrimSpace(out)
		return nil
	})
	t.Cleanup(func() { runMeso(t, bg, "submit", "--master", dmaster, "--kill", id) })
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		logs, _ := filepath.Glob(filepath.Join(cl.dir, "*", "slaves", "*", "frameworks", "*", "executors", id+"*", "runs", "latest", "std*"))
		for _, p := range logs {
			data, _ := os.ReadFile(p)
			t.Logf("--- %s:\n%s", p, data[max(0, len(data)-3000):])
		}
	})
	status := func() string {
		out, _ := runMeso(t, bg, "submit", "--master", dmaster, "--status", id)
		return strings.TrimSpace(out)
	}
	// The driver's container: the one whose sandbox is the task's.
	driverContainer := func(task string) (string, error) {
		ctx, cancel := context.WithTimeout(bg, 30*time.Second)
		defer cancel()
		list, err := cli.ContainerList(ctx, client.ContainerListOptions{Filters: make(client.Filters).Add("label", docker.LabelOwner)})
		if err != nil {
			return "", err
		}
		for _, c := range list.Items {
			if strings.HasPrefix(c.Labels[docker.LabelOwner], cl.dir) && strings.Contains(c.Labels[docker.LabelSandbox], "/executors/"+task+"/") &&
				c.State == "running" {
				return c.ID, nil
			}
		}
		return "", fmt.Errorf("no running container for task %s (status %s)", task, status())
	}
	var first string
	eventually(t, 2*time.Minute, func() error {
		if !strings.Contains(status(), " RUNNING") {
			return fmt.Errorf("status %q", status())
		}
		var err error
		first, err = driverContainer(id)
		return err
	})
	// Mid-run: the driver has its executors (their containers are up).
	eventually(t, time.Minute, func() error {
		if left := (&dockerEnv{cli: cli}).containersOf(t, cl.dir); len(left) < 2 {
			return fmt.Errorf("containers %v: the executors are not up yet", left)
		}
		return nil
	})
	rmCtx, rmCancel := context.WithTimeout(bg, time.Minute)
	_, err := cli.ContainerRemove(rmCtx, first, client.ContainerRemoveOptions{Force: true})
	rmCancel()
	if err != nil {
		t.Fatalf("removing the driver's container: %v", err)
	}
	eventually(t, 2*time.Minute, func() error {
		if _, err := driverContainer(id + "-retry-1"); err != nil {
			return err
		}
		return nil
	})
	eventually(t, 4*time.Minute, func() error {
		if out := status(); !strings.Contains(out, " FINISHED") || !strings.Contains(out, "retries: 1") {
			return fmt.Errorf("status %q, want FINISHED after 1 retry", out)
		}
		return nil
	})
	outs, _ := filepath.Glob(filepath.Join(cl.dir, "*", "slaves", "*", "frameworks", "*", "executors", id+"-retry-1", "runs", "latest", "stdout"))
	var stdout []byte
	for _, p := range outs {
		stdout, _ = os.ReadFile(p)
	}
	if checksumLine.Find(stdout) == nil {
		t.Fatalf("the relaunched driver's stdout (%v) has no checksum:\n%s", outs, stdout)
	}
	d := &dockerEnv{cli: cli, image: tag}
	d.noContainersLeft(t, cl)
}
