package posix

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/containerizer"
	"github.com/mesoproject/meso/internal/launcher"
	"google.golang.org/protobuf/proto"
)

func newPosix(t *testing.T, env ...string) *Containerizer {
	t.Helper()
	z, err := New(Config{Environment: env})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, id := range z.Containers() {
			_ = z.Destroy(context.Background(), id, 0)
		}
	})
	return z
}

func shellSpec(t *testing.T, id, script string) containerizer.Spec {
	return containerizer.Spec{
		ContainerID: id,
		Sandbox:     t.TempDir(),
		Command:     &mesospb.CommandInfo{Value: proto.String(script)},
	}
}

func wait(t *testing.T, z *Containerizer, id string) containerizer.Termination {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	term, err := z.Wait(ctx, id)
	if err != nil {
		t.Fatalf("Wait(%s): %v", id, err)
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

// waitForFile polls until path has content containing want.
func waitForFile(t *testing.T, path, want string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), want) {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never contained %q (has %q)", path, want, b)
		}
		time.Sleep(5 * time.Millisecond) // poll interval
	}
}

func TestLaunchOutputsAndExit(t *testing.T) {
	z := newPosix(t)
	spec := shellSpec(t, "c1", `echo out; echo err >&2; exit 7`)
	if err := z.Launch(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	term := wait(t, z, "c1")
	if ws := syscall.WaitStatus(term.Status); !ws.Exited() || ws.ExitStatus() != 7 {
		t.Errorf("status %#x", term.Status)
	}
	if term.Message != "Command exited with status 7" || term.Reason != 0 {
		t.Errorf("termination %+v", term)
	}
	if got := readFile(t, filepath.Join(spec.Sandbox, "stdout")); got != "out\n" {
		t.Errorf("stdout = %q", got)
	}
	if got := readFile(t, filepath.Join(spec.Sandbox, "stderr")); got != "err\n" {
		t.Errorf("stderr = %q", got)
	}
	// Wait answers again; the container is known until destroyed.
	if again := wait(t, z, "c1"); again != term {
		t.Errorf("second Wait = %+v", again)
	}
	if got := z.Containers(); len(got) != 1 || got[0] != "c1" {
		t.Errorf("Containers = %v", got)
	}
	if err := z.Kill("c1", syscall.SIGTERM); !errors.Is(err, containerizer.ErrNotRunning) {
		t.Errorf("Kill after exit: %v", err)
	}
	if err := z.Destroy(context.Background(), "c1", time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := z.Wait(context.Background(), "c1"); !errors.Is(err, containerizer.ErrUnknownContainer) {
		t.Errorf("Wait after Destroy: %v", err)
	}
	// The id is free again; a second run appends to the same files.
	spec.Command.Value = proto.String("echo again")
	if err := z.Launch(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	wait(t, z, "c1")
	if got := readFile(t, filepath.Join(spec.Sandbox, "stdout")); got != "out\nagain\n" {
		t.Errorf("stdout after relaunch = %q", got)
	}
}

func TestEnvironment(t *testing.T) {
	t.Setenv("MESO_TEST_AGENT_ONLY", "leak")
	z := newPosix(t, "BASE=base", "SHARED=base", "LAYER=base")
	spec := shellSpec(t, "env", `echo "$BASE $SHARED $LAYER ${MESO_TEST_AGENT_ONLY:-unset} $PATH $(pwd)"`)
	spec.Env = []string{"SHARED=spec", "LAYER=spec", "MESOS_SANDBOX=" + spec.Sandbox}
	spec.Command.Environment = &mesospb.Environment{Variables: []*mesospb.Environment_Variable{
		{Name: proto.String("LAYER"), Value: proto.String("command")},
	}}
	if err := z.Launch(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	wait(t, z, "env")
	real, _ := filepath.EvalSymlinks(spec.Sandbox)
	want := fmt.Sprintf("base spec command unset %s %s\n", launcher.DefaultPath, real)
	if got := readFile(t, filepath.Join(spec.Sandbox, "stdout")); got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
}

func TestLaunchFailures(t *testing.T) {
	z := newPosix(t)
	missing := shellSpec(t, "missing", "")
	missing.Command = &mesospb.CommandInfo{Shell: proto.Bool(false), Value: proto.String("/no/such/executor")}
	badUser := shellSpec(t, "user", "true")
	badUser.User = "no-such-user-xyz"
	docker := shellSpec(t, "docker", "true")
	docker.Container = &mesospb.ContainerInfo{Type: mesospb.ContainerInfo_DOCKER.Enum()}
	image := shellSpec(t, "image", "true")
	image.Container = &mesospb.ContainerInfo{Type: mesospb.ContainerInfo_MESOS.Enum(),
		Mesos: &mesospb.ContainerInfo_MesosInfo{Image: &mesospb.Image{}}}
	noSandbox := shellSpec(t, "nosandbox", "true")
	noSandbox.Sandbox = filepath.Join(noSandbox.Sandbox, "absent")
	secret := shellSpec(t, "secret", "true")
	secret.Command.Environment = &mesospb.Environment{Variables: []*mesospb.Environment_Variable{
		{Name: proto.String("S"), Type: mesospb.Environment_Variable_SECRET.Enum()},
	}}
	noCommand := shellSpec(t, "nocommand", "")
	noCommand.Command = nil
	tests := []struct {
		spec containerizer.Spec
		also error
	}{
		{missing, launcher.ErrNotFound},
		{badUser, launcher.ErrUnknownUser},
		{docker, containerizer.ErrUnsupported},
		{image, containerizer.ErrUnsupported},
		{noSandbox, nil},
		{secret, launcher.ErrUnsupported},
		{noCommand, launcher.ErrInvalidCommand},
		{containerizer.Spec{Sandbox: t.TempDir(), Command: missing.Command}, nil},
	}
	for _, tt := range tests {
		err := z.Launch(context.Background(), tt.spec)
		if !errors.Is(err, containerizer.ErrLaunchFailed) || (tt.also != nil && !errors.Is(err, tt.also)) {
			t.Errorf("%s: err = %v", tt.spec.ContainerID, err)
		}
	}
	if got := z.Containers(); len(got) != 0 {
		t.Errorf("failed launches left containers %v", got)
	}
}

func TestDuplicateID(t *testing.T) {
	z := newPosix(t)
	if err := z.Launch(context.Background(), shellSpec(t, "dup", "exec sleep 1000")); err != nil {
		t.Fatal(err)
	}
	if err := z.Launch(context.Background(), shellSpec(t, "dup", "true")); !errors.Is(err, containerizer.ErrExists) {
		t.Errorf("err = %v", err)
	}
}

func TestKillSignalsGroup(t *testing.T) {
	z := newPosix(t)
	spec := shellSpec(t, "k", `sleep 1000 & echo $! > child; wait`)
	if err := z.Launch(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	child, _ := strconv.Atoi(strings.TrimSpace(waitForFile(t, filepath.Join(spec.Sandbox, "child"), "\n")))
	if err := z.Kill("k", syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	term := wait(t, z, "k")
	if term.Message != "Command terminated with signal Killed" {
		t.Errorf("termination %+v", term)
	}
	gone(t, child)
	if err := z.Kill("nope", syscall.SIGKILL); !errors.Is(err, containerizer.ErrUnknownContainer) {
		t.Errorf("Kill unknown: %v", err)
	}
}

func TestDestroyEscalates(t *testing.T) {
	z := newPosix(t)
	spec := shellSpec(t, "d", `trap '' TERM; sleep 1000 & echo $! > child; wait`)
	if err := z.Launch(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	child, _ := strconv.Atoi(strings.TrimSpace(waitForFile(t, filepath.Join(spec.Sandbox, "child"), "\n")))
	waiter := make(chan containerizer.Termination)
	go func() {
		term, _ := z.Wait(context.Background(), "d")
		waiter <- term
	}()
	if err := z.Destroy(context.Background(), "d", 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if term := <-waiter; term.Message != "Command terminated with signal Killed" {
		t.Errorf("termination %+v", term)
	}
	gone(t, child)
	if got := z.Containers(); len(got) != 0 {
		t.Errorf("Containers after Destroy = %v", got)
	}
	if err := z.Destroy(context.Background(), "d", 0); !errors.Is(err, containerizer.ErrUnknownContainer) {
		t.Errorf("second Destroy: %v", err)
	}
}

func TestDestroyContextEnds(t *testing.T) {
	z := newPosix(t)
	if err := z.Launch(context.Background(), shellSpec(t, "ctx", `trap '' TERM; while :; do sleep 1; done`)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// The SIGKILL goes out at once; whether Destroy saw the exit before
	// noticing ctx is a race, so both outcomes are fine.
	if err := z.Destroy(ctx, "ctx", time.Hour); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Destroy: %v", err)
	}
	// Either way the container ends (killed), and a later Destroy forgets it.
	if err := z.Destroy(context.Background(), "ctx", time.Hour); err != nil && !errors.Is(err, containerizer.ErrUnknownContainer) {
		t.Fatal(err)
	}
}

func TestConcurrentContainers(t *testing.T) {
	z := newPosix(t)
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			id := "c" + strconv.Itoa(i)
			spec := shellSpec(t, id, "echo "+id)
			if err := z.Launch(context.Background(), spec); err != nil {
				errs <- err
				return
			}
			_ = z.Containers()
			term, err := z.Wait(context.Background(), id)
			if err != nil || term.Status != 0 {
				errs <- fmt.Errorf("%s: %+v %v", id, term, err)
				return
			}
			if err := z.Destroy(context.Background(), id, time.Second); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := z.Containers(); len(got) != 0 {
		t.Errorf("left %v", got)
	}
}

func TestUsage(t *testing.T) {
	z := newPosix(t)
	spec := shellSpec(t, "u", `sleep 1000 & i=0; while :; do i=$((i+1)); done`)
	spec.Resources = []*mesospb.Resource{
		{Name: proto.String("cpus"), Type: mesospb.Value_SCALAR.Enum(), Scalar: &mesospb.Value_Scalar{Value: proto.Float64(0.5)}},
		{Name: proto.String("mem"), Type: mesospb.Value_SCALAR.Enum(), Scalar: &mesospb.Value_Scalar{Value: proto.Float64(64)}},
	}
	if err := z.Launch(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	var u containerizer.Usage
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		if u, err = z.Usage(context.Background(), "u"); err != nil {
			t.Fatal(err)
		}
		if u.Processes == 2 && u.CPUUser+u.CPUSystem > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("usage never showed 2 processes and CPU time: %+v", u)
		}
		time.Sleep(5 * time.Millisecond) // poll interval
	}
	if u.RSSBytes == 0 || u.Threads < 2 || u.CPUsLimit != 0.5 || u.MemLimitBytes != 64<<20 {
		t.Errorf("usage %+v", u)
	}
	st := u.Statistics()
	if st.GetCpusLimit() != 0.5 || st.GetMemRssBytes() != u.RSSBytes || st.GetProcesses() != 2 || st.GetTimestamp() <= 0 {
		t.Errorf("statistics %v", st)
	}
	if _, err := z.Usage(context.Background(), "nope"); !errors.Is(err, containerizer.ErrUnknownContainer) {
		t.Errorf("usage of unknown: %v", err)
	}
}

func TestRunAsUser(t *testing.T) {
	if os.Geteuid() != 0 {
		// Not root: the user must exist, but the command runs as us.
		me, err := user.Current()
		if err != nil {
			t.Skip(err)
		}
		z := newPosix(t)
		spec := shellSpec(t, "u", "id -u")
		spec.User = "root"
		if err := z.Launch(context.Background(), spec); err != nil {
			t.Fatal(err)
		}
		wait(t, z, "u")
		if got := strings.TrimSpace(readFile(t, filepath.Join(spec.Sandbox, "stdout"))); got != me.Uid {
			t.Errorf("ran as %s, want ourselves (%s)", got, me.Uid)
		}
		return
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody")
	}
	z := newPosix(t)
	spec := shellSpec(t, "u", "id -u; touch mine")
	// The sandbox and its parent (t.TempDir makes both 0700) must be
	// traversable by nobody.
	for _, d := range []string{spec.Sandbox, filepath.Dir(spec.Sandbox)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	spec.User = "nobody"
	if err := z.Launch(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	if term := wait(t, z, "u"); term.Status != 0 {
		t.Fatalf("termination %+v (stderr %q)", term, readFile(t, filepath.Join(spec.Sandbox, "stderr")))
	}
	if got := strings.TrimSpace(readFile(t, filepath.Join(spec.Sandbox, "stdout"))); got != nobody.Uid {
		t.Errorf("ran as %s, want %s", got, nobody.Uid)
	}
	for _, name := range []string{"stdout", "stderr", "mine"} {
		st, err := os.Stat(filepath.Join(spec.Sandbox, name))
		if err != nil {
			t.Fatal(err)
		}
		if uid := st.Sys().(*syscall.Stat_t).Uid; strconv.Itoa(int(uid)) != nobody.Uid {
			t.Errorf("%s owned by %d", name, uid)
		}
	}
}

func TestNewRejectsIsolators(t *testing.T) {
	if _, err := New(Config{Isolation: ParseIsolation("posix/cpu, posix/mem,filesystem/posix")}); err != nil {
		t.Errorf("posix isolators: %v", err)
	}
	if _, err := New(Config{Isolation: ParseIsolation("posix/cpu,gpu/nvidia")}); !errors.Is(err, containerizer.ErrUnsupported) {
		t.Errorf("gpu/nvidia: %v", err)
	}
}

// gone waits until pid is dead or a zombie.
func gone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return
		}
		if st := string(b); strings.Contains(st[strings.LastIndexByte(st, ')'):], ") Z ") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d still alive", pid)
		}
		time.Sleep(5 * time.Millisecond) // poll interval
	}
}
