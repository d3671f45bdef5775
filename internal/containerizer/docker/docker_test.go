package docker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/containerizer"
	"github.com/mesoproject/meso/internal/containerizer/posix"
)

var idSeq atomic.Int64

// newID is a container id unique to this test binary run.
func newID(t testing.TB) string {
	id := fmt.Sprintf("%s-%d", strings.TrimPrefix(testOwner, "meso-docker-test-"), idSeq.Add(1))
	t.Cleanup(func() { forceRemove(id) })
	return id
}

// forceRemove removes meso.<id> whatever our containerizers think, so that
// a failing test leaks nothing.
func forceRemove(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	testCli.ContainerRemove(ctx, NamePrefix+id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
}

func newContainerizer(t *testing.T, cfg Config) *Containerizer {
	t.Helper()
	needDocker(t)
	if cfg.Owner == "" {
		cfg.Owner = testOwner
	}
	z, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { z.Close() })
	return z
}

// dspec is a DOCKER spec running the shell command cmd in the test image.
func dspec(t testing.TB, cmd string) containerizer.Spec {
	return containerizer.Spec{
		ContainerID: newID(t),
		Sandbox:     t.TempDir(),
		Command:     &mesospb.CommandInfo{Value: proto.String(cmd)},
		Container: &mesospb.ContainerInfo{
			Type:   mesospb.ContainerInfo_DOCKER.Enum(),
			Docker: &mesospb.ContainerInfo_DockerInfo{Image: proto.String(testImage)},
		},
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func launch(t *testing.T, z *Containerizer, s containerizer.Spec) {
	t.Helper()
	if err := z.Launch(ctxT(t), s); err != nil {
		t.Fatalf("Launch %s: %v", s.ContainerID, err)
	}
}

func wait(t *testing.T, z *Containerizer, id string) containerizer.Termination {
	t.Helper()
	term, err := z.Wait(ctxT(t), id)
	if err != nil {
		t.Fatalf("Wait %s: %v", id, err)
	}
	return term
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// gone checks that Docker has no container meso.<id>.
func gone(t *testing.T, id string) {
	t.Helper()
	_, err := testCli.ContainerInspect(ctxT(t), NamePrefix+id, client.ContainerInspectOptions{})
	if !cerrdefs.IsNotFound(err) {
		t.Errorf("container %s%s still exists (inspect: %v)", NamePrefix, id, err)
	}
}

// pollFile waits until the file at path contains want.
func pollFile(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never contained %q; it has %q", path, want, b)
		}
		time.Sleep(20 * time.Millisecond) // polling a file the container writes; no event to wait on
	}
}

func TestLaunchWritesSandboxOutput(t *testing.T) {
	t.Parallel()
	z := newContainerizer(t, Config{})
	s := dspec(t, `echo hello; echo oops >&2; echo "sandbox=$MESOS_SANDBOX pwd=$(pwd)"; `+
		`echo "foo=$FOO bar=$BAR name=$MESOS_CONTAINER_NAME"; cat input.txt`)
	s.Env = []string{"FOO=spec", "BAR=spec", "MESOS_SANDBOX=" + s.Sandbox, "MESOS_AGENT_ID=agent-7"}
	s.Command.Environment = &mesospb.Environment{Variables: []*mesospb.Environment_Variable{{Name: proto.String("BAR"), Value: proto.String("command")}}}
	if err := os.WriteFile(filepath.Join(s.Sandbox, "input.txt"), []byte("from the sandbox\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	launch(t, z, s)
	if got := z.Containers(); !slices.Equal(got, []string{s.ContainerID}) {
		t.Errorf("Containers = %v", got)
	}
	term := wait(t, z, s.ContainerID)
	if term.Status != 0 || term.Message != "Command exited with status 0" || term.Reason != 0 {
		t.Errorf("termination %+v", term)
	}
	want := "hello\nsandbox=/mnt/mesos/sandbox pwd=/mnt/mesos/sandbox\n" +
		"foo=spec bar=command name=meso." + s.ContainerID + "\nfrom the sandbox\n"
	if got := readFile(t, filepath.Join(s.Sandbox, "stdout")); got != want {
		t.Errorf("stdout\n got %q\nwant %q", got, want)
	}
	if got := readFile(t, filepath.Join(s.Sandbox, "stderr")); got != "oops\n" {
		t.Errorf("stderr %q", got)
	}
	// A stopped container stays (in Docker too) until Destroy.
	res, err := testCli.ContainerInspect(ctxT(t), NamePrefix+s.ContainerID, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if l := res.Container.Config.Labels; l[LabelContainer] != s.ContainerID || l[LabelOwner] != testOwner || l[LabelAgent] != "agent-7" || l[LabelSandbox] != s.Sandbox {
		t.Errorf("labels %v", l)
	}
	if err := z.Kill(s.ContainerID, syscall.SIGTERM); !errors.Is(err, containerizer.ErrNotRunning) {
		t.Errorf("Kill after exit: %v", err)
	}
	if _, err := z.Usage(ctxT(t), s.ContainerID); !errors.Is(err, containerizer.ErrNotRunning) {
		t.Errorf("Usage after exit: %v", err)
	}
	if err := z.Destroy(ctxT(t), s.ContainerID, time.Second); err != nil {
		t.Fatal(err)
	}
	gone(t, s.ContainerID)
	if got := z.Containers(); len(got) != 0 {
		t.Errorf("Containers after Destroy = %v", got)
	}
	if _, err := z.Wait(ctxT(t), s.ContainerID); !errors.Is(err, containerizer.ErrUnknownContainer) {
		t.Errorf("Wait after Destroy: %v", err)
	}
	if err := z.Destroy(ctxT(t), s.ContainerID, 0); !errors.Is(err, containerizer.ErrUnknownContainer) {
		t.Errorf("second Destroy: %v", err)
	}
}

func TestExitStatusAndCommandForms(t *testing.T) {
	t.Parallel()
	z := newContainerizer(t, Config{})
	cases := []struct {
		name   string
		ci     *mesospb.CommandInfo
		status int
		out    string
	}{
		{"exit 3", &mesospb.CommandInfo{Value: proto.String("echo failing; exit 3")}, 3 << 8, "failing\n"},
		// shell=false keeps the image's entrypoint (/bin/busybox): value
		// then arguments are its cmd.
		{"value and arguments", &mesospb.CommandInfo{Shell: proto.Bool(false), Value: proto.String("echo"), Arguments: []string{"a", "b c"}}, 0, "a b c\n"},
		{"image default cmd", &mesospb.CommandInfo{Shell: proto.Bool(false)}, 0, "image default cmd\n"},
		{"missing program", &mesospb.CommandInfo{Value: proto.String("no-such-program")}, 127 << 8, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := dspec(t, "")
			s.Command = tc.ci
			launch(t, z, s)
			term := wait(t, z, s.ContainerID)
			if term.Status != tc.status || term.Message != fmt.Sprintf("Command exited with status %d", tc.status>>8) {
				t.Errorf("termination %+v, want status %d", term, tc.status)
			}
			if got := readFile(t, filepath.Join(s.Sandbox, "stdout")); got != tc.out {
				t.Errorf("stdout %q, want %q", got, tc.out)
			}
			if err := z.Destroy(ctxT(t), s.ContainerID, 0); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestKillDeliversSignal(t *testing.T) {
	t.Parallel()
	z := newContainerizer(t, Config{})
	s := dspec(t, `trap 'echo got TERM; exit 7' TERM; echo ready; while true; do sleep 0.05; done`)
	launch(t, z, s)
	pollFile(t, filepath.Join(s.Sandbox, "stdout"), "ready\n")
	if err := z.Kill(s.ContainerID, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if term := wait(t, z, s.ContainerID); term.Status != 7<<8 {
		t.Errorf("termination %+v, want exit 7", term)
	}
	if got := readFile(t, filepath.Join(s.Sandbox, "stdout")); got != "ready\ngot TERM\n" {
		t.Errorf("stdout %q", got)
	}
	if err := z.Destroy(ctxT(t), s.ContainerID, 0); err != nil {
		t.Fatal(err)
	}
	gone(t, s.ContainerID)
	if err := z.Kill("nope", syscall.SIGTERM); !errors.Is(err, containerizer.ErrUnknownContainer) {
		t.Errorf("Kill unknown: %v", err)
	}
}

func TestDestroyEscalatesAfterGrace(t *testing.T) {
	t.Parallel()
	z := newContainerizer(t, Config{})
	s := dspec(t, `trap 'echo ignoring TERM' TERM; echo ready; while true; do sleep 0.05; done`)
	launch(t, z, s)
	pollFile(t, filepath.Join(s.Sandbox, "stdout"), "ready\n")
	terms := make(chan containerizer.Termination, 1)
	go func() {
		term, _ := z.Wait(context.Background(), s.ContainerID)
		terms <- term
	}()
	const grace = time.Second
	start := time.Now()
	if err := z.Destroy(ctxT(t), s.ContainerID, grace); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < grace {
		t.Errorf("Destroy took %v, less than the grace period %v: SIGKILL came early", took, grace)
	}
	term := <-terms
	if term.Status != int(syscall.SIGKILL) || term.Message != "Command terminated with signal Killed" {
		t.Errorf("termination %+v, want SIGKILL", term)
	}
	if got := readFile(t, filepath.Join(s.Sandbox, "stdout")); got != "ready\nignoring TERM\n" {
		t.Errorf("stdout %q: SIGTERM not seen first", got)
	}
	gone(t, s.ContainerID)
}

func TestMissingImageFailsLaunch(t *testing.T) {
	t.Parallel()
	z := newContainerizer(t, Config{})
	s := dspec(t, "true")
	image := "meso-docker-test-missing:" + strings.TrimPrefix(testOwner, "meso-docker-test-")
	s.Container.Docker.Image = proto.String(image)
	err := z.Launch(ctxT(t), s)
	if !errors.Is(err, containerizer.ErrLaunchFailed) || !strings.Contains(err.Error(), image) {
		t.Fatalf("Launch = %v, want ErrLaunchFailed naming %s", err, image)
	}
	t.Logf("missing image: %v", err)
	if got := z.Containers(); len(got) != 0 {
		t.Errorf("Containers = %v", got)
	}
	gone(t, s.ContainerID)

	// force_pull_image pulls even a present image: with no registry, that fails too.
	s = dspec(t, "true")
	s.Container.Docker.ForcePullImage = proto.Bool(true)
	if err := z.Launch(ctxT(t), s); !errors.Is(err, containerizer.ErrLaunchFailed) || !strings.Contains(err.Error(), "pull") {
		t.Errorf("forced pull: %v", err)
	}
}

func TestStartFailureLeavesNothing(t *testing.T) {
	t.Parallel()
	z := newContainerizer(t, Config{})
	s := dspec(t, "echo second try")
	s.Container.Docker.Parameters = []*mesospb.Parameter{{Key: proto.String("user"), Value: proto.String("no-such-user")}}
	err := z.Launch(ctxT(t), s)
	if !errors.Is(err, containerizer.ErrLaunchFailed) || !strings.Contains(err.Error(), "no-such-user") {
		t.Fatalf("Launch = %v, want ErrLaunchFailed with Docker's message", err)
	}
	gone(t, s.ContainerID)
	// The id and the name are free again.
	s.Container.Docker.Parameters = nil
	launch(t, z, s)
	if term := wait(t, z, s.ContainerID); term.Status != 0 {
		t.Errorf("relaunch: %+v", term)
	}
	if err := z.Launch(ctxT(t), s); !errors.Is(err, containerizer.ErrExists) {
		t.Errorf("duplicate launch: %v", err)
	}
	if err := z.Destroy(ctxT(t), s.ContainerID, 0); err != nil {
		t.Fatal(err)
	}
	// Refused before Docker sees it.
	bad := dspec(t, "true")
	bad.Container.Docker.Parameters = []*mesospb.Parameter{{Key: proto.String("volume"), Value: proto.String("/:/host")}}
	if err := z.Launch(ctxT(t), bad); !errors.Is(err, containerizer.ErrLaunchFailed) {
		t.Errorf("unsupported parameter: %v", err)
	}
	mesos := dspec(t, "true")
	mesos.Container.Type = mesospb.ContainerInfo_MESOS.Enum()
	if err := z.Launch(ctxT(t), mesos); !errors.Is(err, containerizer.ErrUnsupported) {
		t.Errorf("MESOS container: %v", err)
	}
}

func TestResourceLimitsAndUsage(t *testing.T) {
	t.Parallel()
	z := newContainerizer(t, Config{CFSQuota: true})
	s := dspec(t, "echo ready; exec sleep 60")
	s.Resources = []*mesospb.Resource{scalar("cpus", 0.5), scalar("mem", 64)}
	launch(t, z, s)
	pollFile(t, filepath.Join(s.Sandbox, "stdout"), "ready\n")
	res, err := testCli.ContainerInspect(ctxT(t), NamePrefix+s.ContainerID, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h := res.Container.HostConfig
	if h.Memory != 64<<20 || h.CPUShares != 512 || h.CPUQuota != 50000 || h.CPUPeriod != 100000 {
		t.Errorf("HostConfig memory %d shares %d quota %d period %d", h.Memory, h.CPUShares, h.CPUQuota, h.CPUPeriod)
	}
	if h.NetworkMode != "host" || !slices.Contains(h.Binds, s.Sandbox+":/mnt/mesos/sandbox:rw") {
		t.Errorf("HostConfig network %q binds %v", h.NetworkMode, h.Binds)
	}
	u, err := z.Usage(ctxT(t), s.ContainerID)
	if err != nil {
		t.Fatal(err)
	}
	if u.MemLimitBytes != 64<<20 || u.CPUsLimit != 0.5 || u.Processes < 1 || u.RSSBytes == 0 || u.Timestamp.IsZero() {
		t.Errorf("usage %+v", u)
	}
	if err := z.Destroy(ctxT(t), s.ContainerID, 0); err != nil {
		t.Fatal(err)
	}
	gone(t, s.ContainerID)
}

// A task SIGKILLed by someone else under a memory limit is not reported as
// an OOM kill (the daemon's event log has no OOM for it).
func TestForeignKillUnderMemoryLimitIsNoOOM(t *testing.T) {
	t.Parallel()
	z := newContainerizer(t, Config{})
	s := dspec(t, "echo ready; exec sleep 60")
	s.Resources = []*mesospb.Resource{scalar("mem", 32)}
	launch(t, z, s)
	pollFile(t, filepath.Join(s.Sandbox, "stdout"), "ready\n")
	if _, err := testCli.ContainerKill(ctxT(t), NamePrefix+s.ContainerID, client.ContainerKillOptions{Signal: "KILL"}); err != nil {
		t.Fatal(err)
	}
	term := wait(t, z, s.ContainerID)
	if term.Limited || term.Reason == mesospb.TaskStatus_REASON_CONTAINER_LIMITATION_MEMORY || term.Message != "Command terminated with signal Killed" {
		t.Errorf("termination %+v, want a plain SIGKILL", term)
	}
	if err := z.Destroy(ctxT(t), s.ContainerID, 0); err != nil {
		t.Fatal(err)
	}
}

func TestMemoryLimitOOMKill(t *testing.T) {
	t.Parallel()
	z := newContainerizer(t, Config{})
	// dd's 64 MB block does not fit in 32 MB (no swap either).
	// The shell outlives dd (the OOM killer takes the largest process) and
	// exits with its status: the container's cgroup lives on for a moment,
	// so Docker reads the kernel's OOM notice before the exit. When the
	// container's first process itself is killed, Docker may miss the
	// notice under load (CI saw both State.OOMKilled false and no "oom"
	// event): that case is reported as a plain SIGKILL.
	s := dspec(t, "dd if=/dev/zero of=/dev/null bs=64M count=1; s=$?; sleep 2; exit $s")
	s.Resources = []*mesospb.Resource{scalar("mem", 32)}
	s.Container.Docker.Parameters = []*mesospb.Parameter{{Key: proto.String("memory-swap"), Value: proto.String("32m")}}
	launch(t, z, s)
	term := wait(t, z, s.ContainerID)
	if !term.Limited || term.Reason != mesospb.TaskStatus_REASON_CONTAINER_LIMITATION_MEMORY || !strings.HasPrefix(term.Message, "Memory limit exceeded: Requested: 32MB") {
		t.Errorf("termination %+v, want a memory limitation", term)
	}
	// The fallback for a daemon that saw the exit before the OOM: the OOM
	// is in its event log.
	res, err := testCli.ContainerInspect(ctxT(t), NamePrefix+s.ContainerID, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !z.oomEvent(res.Container.ID, res.Container.State.StartedAt) {
		t.Error("no oom event in the daemon's log for an OOM-killed container")
	}
	if err := z.Destroy(ctxT(t), s.ContainerID, 0); err != nil {
		t.Fatal(err)
	}
}

func TestVolumes(t *testing.T) {
	t.Parallel()
	z := newContainerizer(t, Config{})
	hostDir, outDir := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(hostDir, "data.txt"), []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := dspec(t, `cat /data/data.txt /rel/r.txt; echo written > /out/w.txt; (echo x > /data/nope) 2>/dev/null || echo read-only`)
	if err := os.MkdirAll(filepath.Join(s.Sandbox, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.Sandbox, "sub", "r.txt"), []byte("from the sandbox\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.Container.Volumes = []*mesospb.Volume{
		vol("/data", hostDir, mesospb.Volume_RO),
		vol("/rel", "sub", mesospb.Volume_RO),
		vol("/out", outDir, mesospb.Volume_RW),
	}
	launch(t, z, s)
	if term := wait(t, z, s.ContainerID); term.Status != 0 {
		t.Errorf("termination %+v; stderr %q", term, readFile(t, filepath.Join(s.Sandbox, "stderr")))
	}
	if got := readFile(t, filepath.Join(s.Sandbox, "stdout")); got != "from the host\nfrom the sandbox\nread-only\n" {
		t.Errorf("stdout %q", got)
	}
	if got := readFile(t, filepath.Join(outDir, "w.txt")); got != "written\n" {
		t.Errorf("written file %q", got)
	}
	if err := z.Destroy(ctxT(t), s.ContainerID, 0); err != nil {
		t.Fatal(err)
	}
}

func TestRecoverAdoptsKnownAndRemovesOrphans(t *testing.T) {
	t.Parallel()
	// Its own owner: Recover removes every unknown container of its owner,
	// including those of tests running in parallel.
	owner := testOwner + "-recover"
	z1 := newContainerizer(t, Config{Owner: owner})
	running := dspec(t, `while true; do echo tick; sleep 0.1; done`)
	exited := dspec(t, "exit 4")
	orphan := dspec(t, "exec sleep 60")
	for _, s := range []containerizer.Spec{running, exited, orphan} {
		launch(t, z1, s)
	}
	wait(t, z1, exited.ContainerID)
	pollFile(t, filepath.Join(running.Sandbox, "stdout"), "tick\n")
	// Another agent's container on the same daemon.
	other := newContainerizer(t, Config{Owner: testOwner + "-other"})
	foreign := dspec(t, "exec sleep 60")
	launch(t, other, foreign)

	// The agent restarts: a new containerizer, same owner. Waits on the old
	// one end.
	waitErr := make(chan error, 1)
	go func() {
		_, err := z1.Wait(context.Background(), running.ContainerID)
		waitErr <- err
	}()
	if err := z1.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-waitErr; !errors.Is(err, ErrClosed) {
		t.Errorf("Wait across Close: %v", err)
	}
	if err := z1.Launch(ctxT(t), dspec(t, "true")); !errors.Is(err, ErrClosed) {
		t.Errorf("Launch after Close: %v", err)
	}
	z2 := newContainerizer(t, Config{Owner: owner})
	adopted, err := z2.Recover(ctxT(t), []string{running.ContainerID, exited.ContainerID, "never-launched"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{running.ContainerID, exited.ContainerID}
	slices.Sort(want)
	if !slices.Equal(adopted, want) || !slices.Equal(z2.Containers(), want) {
		t.Errorf("adopted %v, Containers %v, want %v", adopted, z2.Containers(), want)
	}
	gone(t, orphan.ContainerID)
	if _, err := testCli.ContainerInspect(ctxT(t), NamePrefix+foreign.ContainerID, client.ContainerInspectOptions{}); err != nil {
		t.Errorf("another owner's container was touched: %v", err)
	}

	if term := wait(t, z2, exited.ContainerID); term.Status != 4<<8 {
		t.Errorf("recovered exited container: %+v", term)
	}
	// The running one's output goes on into its sandbox.
	stdout := filepath.Join(running.Sandbox, "stdout")
	if err := os.WriteFile(stdout, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	pollFile(t, stdout, "tick\n")
	if _, err := z2.Usage(ctxT(t), running.ContainerID); err != nil {
		t.Errorf("Usage of recovered container: %v", err)
	}
	// Recovering again adopts nothing new.
	if again, err := z2.Recover(ctxT(t), want); err != nil || len(again) != 0 {
		t.Errorf("second Recover = %v, %v", again, err)
	}
	for _, id := range want {
		if err := z2.Destroy(ctxT(t), id, 0); err != nil {
			t.Error(err)
		}
		gone(t, id)
	}
	if err := other.Destroy(ctxT(t), foreign.ContainerID, 0); err != nil {
		t.Error(err)
	}
}

func TestComposingRoutesDockerContainers(t *testing.T) {
	t.Parallel()
	z := newContainerizer(t, Config{})
	p, err := posix.New(posix.Config{})
	if err != nil {
		t.Fatal(err)
	}
	c := containerizer.NewComposing(z, p) // --containerizers=docker,mesos
	d := dspec(t, "echo in docker")
	plain := dspec(t, "echo on the host")
	plain.Container = nil
	for _, s := range []containerizer.Spec{d, plain} {
		if err := c.Launch(ctxT(t), s); err != nil {
			t.Fatal(err)
		}
	}
	if got := z.Containers(); !slices.Equal(got, []string{d.ContainerID}) {
		t.Errorf("docker containerizer has %v", got)
	}
	for _, s := range []containerizer.Spec{d, plain} {
		if term, err := c.Wait(ctxT(t), s.ContainerID); err != nil || term.Status != 0 {
			t.Errorf("Wait %s: %+v %v", s.ContainerID, term, err)
		}
		if err := c.Destroy(ctxT(t), s.ContainerID, 0); err != nil {
			t.Error(err)
		}
	}
	if got := readFile(t, filepath.Join(d.Sandbox, "stdout")); got != "in docker\n" {
		t.Errorf("docker stdout %q", got)
	}
	if got := readFile(t, filepath.Join(plain.Sandbox, "stdout")); got != "on the host\n" {
		t.Errorf("posix stdout %q", got)
	}
}

func TestNewWithoutDaemon(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "docker.sock")
	_, err := New(context.Background(), Config{Socket: sock})
	if !errors.Is(err, ErrNoDaemon) || !strings.Contains(err.Error(), sock) || !strings.Contains(err.Error(), "--docker_socket") {
		t.Errorf("New = %v, want ErrNoDaemon naming %s", err, sock)
	}
}

// A launch whose context ends at any moment leaves no container behind:
// the daemon completes a create whose request was abandoned, so the
// create is waited for and its container removed. Cancelled after 0 to
// 60 ms, some launches end before the create, some during it, some after
// the start.
func TestCancelledLaunchLeavesNothing(t *testing.T) {
	t.Parallel()
	z := newContainerizer(t, Config{})
	for i := range 16 {
		s := dspec(t, "sleep 30")
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i*4)*time.Millisecond)
		err := z.Launch(ctx, s)
		cancel()
		if err == nil {
			if err := z.Destroy(ctxT(t), s.ContainerID, 0); err != nil {
				t.Fatalf("destroy %s: %v", s.ContainerID, err)
			}
		}
		gone(t, s.ContainerID)
	}
}
