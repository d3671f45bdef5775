package docker

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/containerizer"
)

// A container launched by one containerizer (as a command executor does)
// is measured and reaped by another of the same owner (the agent's), and
// invisible to a third of another owner.
func TestUsageOfAndReapForeignContainer(t *testing.T) {
	executor := newContainerizer(t, Config{CFSQuota: true})
	agent := newContainerizer(t, Config{})
	other := newContainerizer(t, Config{Owner: testOwner + "-other"})
	s := dspec(t, "sleep 1000")
	s.Resources = []*mesospb.Resource{
		{Name: proto.String("cpus"), Type: mesospb.Value_SCALAR.Enum(), Scalar: &mesospb.Value_Scalar{Value: proto.Float64(0.25)}},
		{Name: proto.String("mem"), Type: mesospb.Value_SCALAR.Enum(), Scalar: &mesospb.Value_Scalar{Value: proto.Float64(48)}},
	}
	launch(t, executor, s)

	u, err := agent.UsageOf(ctxT(t), s.ContainerID)
	if err != nil {
		t.Fatal(err)
	}
	if u.CPUsLimit != 0.25 || u.MemLimitBytes != 48<<20 || u.Processes < 1 {
		t.Errorf("usage = %+v, want limits 0.25 cpus and 48MB from the container's settings", u)
	}
	if _, err := other.UsageOf(ctxT(t), s.ContainerID); !errors.Is(err, containerizer.ErrUnknownContainer) {
		t.Errorf("another owner's UsageOf: %v, want ErrUnknownContainer", err)
	}
	if found, err := other.Reap(ctxT(t), s.ContainerID); found || err != nil {
		t.Errorf("another owner's Reap = %v, %v; want nothing done", found, err)
	}
	// The launching containerizer does not reap its own.
	if found, err := executor.Reap(ctxT(t), s.ContainerID); found || err != nil {
		t.Errorf("Reap by the launching containerizer = %v, %v; want nothing done", found, err)
	}
	if found, err := agent.Reap(ctxT(t), s.ContainerID); !found || err != nil {
		t.Fatalf("Reap = %v, %v; want the container removed", found, err)
	}
	gone(t, s.ContainerID)
	if _, err := agent.UsageOf(ctxT(t), s.ContainerID); !errors.Is(err, containerizer.ErrUnknownContainer) {
		t.Errorf("UsageOf after Reap: %v, want ErrUnknownContainer", err)
	}
	if found, err := agent.Reap(ctxT(t), s.ContainerID); found || err != nil {
		t.Errorf("second Reap = %v, %v", found, err)
	}
	wait(t, executor, s.ContainerID) // the launcher sees its container end
	if err := executor.Destroy(ctxT(t), s.ContainerID, 0); err != nil {
		t.Errorf("Destroy after removal: %v", err)
	}
}
