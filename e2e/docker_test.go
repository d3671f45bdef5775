package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/containerizer/docker"
	"github.com/mesoproject/meso/internal/containerizer/docker/dockertest"
	"github.com/mesoproject/meso/internal/resources"
)

// Tests of Docker command tasks (mesos-docker-executor's way: the command
// executor on the host runs the task in a container) through real master,
// agent and `meso execute` processes and the machine's Docker daemon.

// dockerEnv is a Docker daemon with a busybox image built for one test.
type dockerEnv struct {
	cli   *client.Client
	image string
}

// needDocker skips t without a daemon or a static busybox; otherwise it
// builds the image, removed when t ends.
func needDocker(t *testing.T) *dockerEnv {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cli, reason := dockertest.Connect(ctx)
	if cli == nil {
		t.Skip("docker tests skipped: " + reason)
	}
	image := fmt.Sprintf("meso-e2e:%d-%d", os.Getpid(), time.Now().UnixNano())
	if err := dockertest.BuildBusybox(ctx, cli, image); err != nil {
		cli.Close()
		t.Fatalf("building the test image: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := dockertest.RemoveImage(ctx, cli, image); err != nil {
			t.Logf("removing %s: %v", image, err)
		}
		cli.Close()
	})
	return &dockerEnv{cli: cli, image: image}
}

// containersOf lists the meso containers (running or not) whose owner
// label is under dir: the agents' work dirs of a test cluster.
func (d *dockerEnv) containersOf(t *testing.T, dir string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list, err := d.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", docker.LabelOwner)})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range list.Items {
		if strings.HasPrefix(c.Labels[docker.LabelOwner], dir) {
			out = append(out, fmt.Sprintf("%v (%s)", c.Names, c.State))
		}
	}
	return out
}

// noContainersLeft fails t if containers of the cluster are left, once the
// agents are stopped.
func (d *dockerEnv) noContainersLeft(t *testing.T, c *cluster) {
	t.Helper()
	for _, a := range c.agents {
		a.stop()
	}
	if left := d.containersOf(t, c.dir); len(left) > 0 {
		t.Errorf("containers left behind: %v", left)
	}
}

func dockerCluster(t *testing.T) (*dockerEnv, *cluster) {
	d := needDocker(t)
	c := newCluster(t, 0, "", masterFlags...)
	c.addAgent("cpus:2;mem:1024", "--containerizers=docker,mesos")
	c.waitAgents(1)
	return d, c
}

// `meso execute --docker_image` runs the command in the image; its output
// is read back from the sandbox; its exit status is the task's.
func TestDockerExecute(t *testing.T) {
	d, c := dockerCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, code := runMeso(t, ctx, "execute", "--master", c.master.addr, "--name", "in-docker",
		"--docker_image", d.image, "--resources", "cpus:0.2;mem:64",
		"--command", `echo "hello from $(cat /proc/1/cmdline | tr '\0' ' ')"; echo sandbox=$MESOS_SANDBOX; ls /bin/busybox; echo oops >&2; exit 3`)
	if code != 3 {
		t.Fatalf("meso execute exited %d, want the task's 3:\n%s", code, out)
	}
	for _, want := range []string{"TASK_STARTING", "TASK_RUNNING", "TASK_FAILED", "Command exited with status 3",
		"sandbox=/mnt/mesos/sandbox", "/bin/busybox", "oops"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	out, code = runMeso(t, ctx, "execute", "--master", c.master.addr, "--name", "image-cmd",
		"--docker_image", d.image, "--resources", "cpus:0.2;mem:64", "--shell=false")
	if code != 0 || !strings.Contains(out, "TASK_FINISHED") || !strings.Contains(out, "image default cmd") {
		t.Errorf("the image's own command: exit %d:\n%s", code, out)
	}
	d.noContainersLeft(t, c)
}

// A running Docker task is killed (TASK_KILLED, after SIGTERM then SIGKILL
// for a shell that ignores SIGTERM as PID 1), and /monitor/statistics
// measures its container meanwhile.
func TestDockerKillAndStatistics(t *testing.T) {
	d, c := dockerCluster(t)
	f := newFramework(t, c.master.addr, fwOptions{})
	task := &mesospb.TaskInfo{
		Name:    proto.String("sleeper"),
		TaskId:  &mesospb.TaskID{Value: proto.String("sleeper")},
		Command: &mesospb.CommandInfo{Value: proto.String("echo started; sleep 1000")},
		Container: &mesospb.ContainerInfo{
			Type:   mesospb.ContainerInfo_DOCKER.Enum(),
			Docker: &mesospb.ContainerInfo_DockerInfo{Image: proto.String(d.image)},
		},
		KillPolicy: &mesospb.KillPolicy{GracePeriod: &mesospb.DurationInfo{Nanoseconds: proto.Int64(int64(time.Second))}},
	}
	offer := f.launchTask(task, "cpus:0.5;mem:96")
	f.waitState("sleeper", mesospb.TaskState_TASK_RUNNING, time.Minute)

	st := executorStatistics(t, c.agents[0], "sleeper")
	if got := st.Statistics["mem_limit_bytes"]; got != 96<<20 {
		t.Errorf("mem_limit_bytes = %v, want the task's %d (from its Docker container)", got, 96<<20)
	}
	if got := st.Statistics["cpus_limit"]; got != 0.5 {
		t.Errorf("cpus_limit = %v, want 0.5", got)
	}
	if st.Statistics["mem_rss_bytes"] <= 0 || st.Statistics["timestamp"] <= 0 {
		t.Errorf("statistics = %v", st.Statistics)
	}
	if running := d.containersOf(t, c.dir); len(running) != 1 {
		t.Errorf("containers while the task runs: %v, want one", running)
	}

	if err := f.client.Kill(context.Background(), task.GetTaskId(), offer.GetAgentId()); err != nil {
		t.Fatal(err)
	}
	killed := f.waitState("sleeper", mesospb.TaskState_TASK_KILLED, time.Minute)
	if !strings.Contains(killed.GetMessage(), "signal") {
		t.Errorf("TASK_KILLED message = %q", killed.GetMessage())
	}
	// Its container is removed by the executor once it stopped.
	eventually(t, 30*time.Second, func() error {
		if left := d.containersOf(t, c.dir); len(left) > 0 {
			return fmt.Errorf("containers left: %v", left)
		}
		return nil
	})
	d.noContainersLeft(t, c)
}

// A missing image fails the task with REASON_CONTAINER_LAUNCH_FAILED and
// Docker's message naming the image (there is no registry to pull from).
func TestDockerMissingImage(t *testing.T) {
	d, c := dockerCluster(t)
	missing := fmt.Sprintf("meso-e2e-missing-%d:nope", os.Getpid())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, code := runMeso(t, ctx, "execute", "--master", c.master.addr, "--name", "no-image",
		"--docker_image", missing, "--resources", "cpus:0.1;mem:32", "--command", "echo never")
	if code == 0 {
		t.Fatalf("meso execute exited 0:\n%s", out)
	}
	for _, want := range []string{"TASK_FAILED", "REASON_CONTAINER_LAUNCH_FAILED", missing} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	d.noContainersLeft(t, c)
}

// An agent without docker in --containerizers fails a Docker task at once,
// saying what to change.
func TestDockerTaskWithoutDockerContainerizer(t *testing.T) {
	c := newCluster(t, 1, "cpus:2;mem:1024", masterFlags...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, code := runMeso(t, ctx, "execute", "--master", c.master.addr, "--name", "no-docker",
		"--docker_image", "busybox", "--resources", "cpus:0.1;mem:32", "--command", "echo never")
	if code == 0 {
		t.Fatalf("meso execute exited 0:\n%s", out)
	}
	for _, want := range []string{"TASK_FAILED", "REASON_CONTAINER_LAUNCH_FAILED", "--containerizers=docker,mesos"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// An agent that crashes leaves its Docker task running; started again on
// the same work_dir it removes that container (no checkpointing yet: every
// container of an earlier run is an orphan).
func TestDockerOrphansRemovedAtAgentStart(t *testing.T) {
	d, c := dockerCluster(t)
	f := newFramework(t, c.master.addr, fwOptions{})
	task := &mesospb.TaskInfo{
		Name:    proto.String("orphan"),
		TaskId:  &mesospb.TaskID{Value: proto.String("orphan")},
		Command: &mesospb.CommandInfo{Value: proto.String("sleep 1000")},
		Container: &mesospb.ContainerInfo{
			Type:   mesospb.ContainerInfo_DOCKER.Enum(),
			Docker: &mesospb.ContainerInfo_DockerInfo{Image: proto.String(d.image)},
		},
	}
	f.launchTask(task, "cpus:0.1;mem:64")
	f.waitState("orphan", mesospb.TaskState_TASK_RUNNING, time.Minute)
	if running := d.containersOf(t, c.dir); len(running) != 1 {
		t.Fatalf("containers while the task runs: %v, want one", running)
	}
	old := c.agents[0]
	old.kill() // the agent alone: its executor and the container live on
	if running := d.containersOf(t, c.dir); len(running) != 1 {
		t.Fatalf("containers after the agent crashed: %v, want the task's", running)
	}
	// The same agent again: same work_dir, same port.
	workDir := filepath.Join(c.dir, "agent1")
	port := strings.TrimPrefix(old.addr, "127.0.0.1:")
	again := start(t, "agent1-again", mustAtoi(t, port), "agent", "--master="+c.master.addr, "--ip=127.0.0.1",
		"--port="+port, "--work_dir="+workDir, "--resources=cpus:2;mem:1024", "--containerizers=docker,mesos",
		"--registration_backoff_factor=100ms")
	again.waitHealthy()
	if left := d.containersOf(t, c.dir); len(left) > 0 {
		t.Errorf("containers after the agent's restart: %v, want none", left)
	}
	again.stop()
	old.stop() // its executors' process group
	if left := d.containersOf(t, c.dir); len(left) > 0 {
		t.Errorf("containers left behind: %v", left)
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err != nil {
		t.Fatalf("port %q: %v", s, err)
	}
	return n
}

// launchTask waits for an offer holding res and launches task in it (its
// agent_id and resources filled in).
func (f *framework) launchTask(task *mesospb.TaskInfo, res string) *mesospb.Offer {
	f.t.Helper()
	need := resources.MustParse(res)
	var offer *mesospb.Offer
	f.waitFor(30*time.Second, "an offer for "+task.GetTaskId().GetValue(), func() bool {
		for id, o := range f.offers {
			if have, err := resources.FromProto(o.GetResources()); err == nil && have.Contains(need) {
				offer = o
				delete(f.offers, id)
				return true
			}
		}
		return false
	})
	task.AgentId = offer.GetAgentId()
	task.Resources = need.ToProto("*", false)
	if err := f.client.Launch(context.Background(), offer, task); err != nil {
		f.t.Fatalf("launch %s: %v", task.GetTaskId().GetValue(), err)
	}
	return offer
}

// A Docker task that allocates more than its mem is OOM-killed by the
// kernel: TASK_FAILED with the memory reason and the limit.
func TestDockerMemoryLimit(t *testing.T) {
	d, c := dockerCluster(t)
	f := newFramework(t, c.master.addr, fwOptions{})
	task := &mesospb.TaskInfo{
		Name:    proto.String("hog"),
		TaskId:  &mesospb.TaskID{Value: proto.String("hog")},
		Command: &mesospb.CommandInfo{Value: proto.String("head -c 200m /dev/zero | tail")},
		Container: &mesospb.ContainerInfo{
			Type:   mesospb.ContainerInfo_DOCKER.Enum(),
			Docker: &mesospb.ContainerInfo_DockerInfo{Image: proto.String(d.image)},
		},
	}
	f.launchTask(task, "cpus:0.2;mem:64")
	st := f.waitState("hog", mesospb.TaskState_TASK_FAILED, time.Minute)
	if st.GetReason() != mesospb.TaskStatus_REASON_CONTAINER_LIMITATION_MEMORY || !strings.Contains(st.GetMessage(), "64MB") {
		t.Errorf("update = %v %q, want REASON_CONTAINER_LIMITATION_MEMORY with the 64MB limit", st.GetReason(), st.GetMessage())
	}
	d.noContainersLeft(t, c)
}
