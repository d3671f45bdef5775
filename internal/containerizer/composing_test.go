package containerizer_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/containerizer"
	"github.com/mesoproject/meso/internal/containerizer/posix"
	"google.golang.org/protobuf/proto"
)

// dockerStub stands in for the docker containerizer (not written yet): it
// supports only DOCKER containers and records what it is asked.
type dockerStub struct {
	mu       sync.Mutex
	launched map[string]bool
	calls    []string
}

func (d *dockerStub) Supports(s containerizer.Spec) bool {
	// Beware: GetType on a nil ContainerInfo is DOCKER (proto2 default).
	return s.Container != nil && s.Container.GetType() == mesospb.ContainerInfo_DOCKER
}

func (d *dockerStub) record(call string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, call)
}

func (d *dockerStub) Launch(_ context.Context, s containerizer.Spec) error {
	d.record("launch " + s.ContainerID)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.launched == nil {
		d.launched = map[string]bool{}
	}
	d.launched[s.ContainerID] = true
	return nil
}

func (d *dockerStub) Wait(_ context.Context, id string) (containerizer.Termination, error) {
	d.record("wait " + id)
	return containerizer.Termination{Message: "docker"}, nil
}

func (d *dockerStub) Kill(id string, _ syscall.Signal) error {
	d.record("kill " + id)
	return nil
}

func (d *dockerStub) Destroy(_ context.Context, id string, _ time.Duration) error {
	d.record("destroy " + id)
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.launched, id)
	return nil
}

func (d *dockerStub) Containers() []string { return nil }

func spec(t *testing.T, id string, typ *mesospb.ContainerInfo_Type) containerizer.Spec {
	s := containerizer.Spec{
		ContainerID: id,
		Sandbox:     t.TempDir(),
		Command:     &mesospb.CommandInfo{Value: proto.String("echo " + id)},
	}
	if typ != nil {
		s.Container = &mesospb.ContainerInfo{Type: typ}
	}
	return s
}

func TestComposingRoutes(t *testing.T) {
	p, err := posix.New(posix.Config{})
	if err != nil {
		t.Fatal(err)
	}
	d := &dockerStub{}
	c := containerizer.NewComposing(d, p) // --containerizers=docker,mesos
	ctx := context.Background()

	plain := spec(t, "plain", nil)
	mesos := spec(t, "mesos", mesospb.ContainerInfo_MESOS.Enum())
	docker := spec(t, "docker", mesospb.ContainerInfo_DOCKER.Enum())
	for _, s := range []containerizer.Spec{plain, mesos, docker} {
		if err := c.Launch(ctx, s); err != nil {
			t.Fatalf("Launch %s: %v", s.ContainerID, err)
		}
	}
	if got := c.Containers(); !slices.Equal(got, []string{"docker", "mesos", "plain"}) {
		t.Errorf("Containers = %v", got)
	}
	for _, s := range []containerizer.Spec{plain, mesos} {
		term, err := c.Wait(ctx, s.ContainerID)
		if err != nil || term.Message != "Command exited with status 0" {
			t.Errorf("Wait %s = %+v, %v", s.ContainerID, term, err)
		}
		b, _ := os.ReadFile(filepath.Join(s.Sandbox, "stdout"))
		if string(b) != s.ContainerID+"\n" {
			t.Errorf("%s ran elsewhere: stdout %q", s.ContainerID, b)
		}
	}
	if term, err := c.Wait(ctx, "docker"); err != nil || term.Message != "docker" {
		t.Errorf("Wait docker = %+v, %v", term, err)
	}
	if err := c.Kill("docker", syscall.SIGTERM); err != nil {
		t.Error(err)
	}
	if _, err := c.Usage(ctx, "docker"); !errors.Is(err, containerizer.ErrUnsupported) {
		t.Errorf("docker usage: %v", err)
	}
	if _, err := c.Usage(ctx, "plain"); err != nil {
		t.Errorf("posix usage: %v", err)
	}
	if err := c.Launch(ctx, spec(t, "plain", nil)); !errors.Is(err, containerizer.ErrExists) {
		t.Errorf("duplicate: %v", err)
	}
	for _, id := range []string{"plain", "mesos", "docker"} {
		if err := c.Destroy(ctx, id, time.Second); err != nil {
			t.Errorf("Destroy %s: %v", id, err)
		}
	}
	if got := c.Containers(); len(got) != 0 {
		t.Errorf("Containers after destroy = %v", got)
	}
	if got := p.Containers(); len(got) != 0 {
		t.Errorf("posix still has %v", got)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if want := []string{"launch docker", "wait docker", "kill docker", "destroy docker"}; !slices.Equal(d.calls, want) {
		t.Errorf("docker calls %v, want %v", d.calls, want)
	}
	for _, id := range []string{"plain", "nope"} {
		if _, err := c.Wait(ctx, id); !errors.Is(err, containerizer.ErrUnknownContainer) {
			t.Errorf("Wait %s: %v", id, err)
		}
	}
}

func TestComposingUnsupported(t *testing.T) {
	p, err := posix.New(posix.Config{})
	if err != nil {
		t.Fatal(err)
	}
	c := containerizer.NewComposing(p) // --containerizers=mesos
	err = c.Launch(context.Background(), spec(t, "d", mesospb.ContainerInfo_DOCKER.Enum()))
	if !errors.Is(err, containerizer.ErrLaunchFailed) || !errors.Is(err, containerizer.ErrUnsupported) {
		t.Errorf("err = %v", err)
	}
	if got := c.Containers(); len(got) != 0 {
		t.Errorf("Containers = %v", got)
	}
	// A failed launch frees the id.
	bad := spec(t, "bad", nil)
	bad.Command = nil
	if err := c.Launch(context.Background(), bad); !errors.Is(err, containerizer.ErrLaunchFailed) {
		t.Errorf("bad launch: %v", err)
	}
	if got := c.Containers(); len(got) != 0 {
		t.Errorf("Containers after failed launch = %v", got)
	}
}

func TestParseNames(t *testing.T) {
	got, err := containerizer.ParseNames("docker, mesos")
	if err != nil || !slices.Equal(got, []string{"docker", "mesos"}) {
		t.Errorf("ParseNames = %v, %v", got, err)
	}
	for _, bad := range []string{"", "mesos,", "lxc", "mesos,mesos"} {
		if _, err := containerizer.ParseNames(bad); err == nil {
			t.Errorf("ParseNames(%q) succeeded", bad)
		}
	}
}

func TestLimits(t *testing.T) {
	scalar := func(name string, v float64) *mesospb.Resource {
		return &mesospb.Resource{Name: proto.String(name), Type: mesospb.Value_SCALAR.Enum(), Scalar: &mesospb.Value_Scalar{Value: proto.Float64(v)}}
	}
	cpus, mem := containerizer.Limits([]*mesospb.Resource{scalar("cpus", 1.5), scalar("mem", 128), scalar("cpus", 0.5), scalar("disk", 10)})
	if cpus != 2 || mem != 128<<20 {
		t.Errorf("Limits = %v, %v", cpus, mem)
	}
}
