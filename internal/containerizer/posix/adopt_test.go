package posix

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/mesoproject/meso/internal/containerizer"
)

// A container launched by one containerizer is adopted by another (as by
// the next run of an agent) from its Handle: the second one watches it,
// and destroying it there ends it. A handle whose start time does not
// match (a reused pid) is refused.
func TestAdoptFromHandle(t *testing.T) {
	first := newPosix(t)
	spec := shellSpec(t, "c1", "sleep 60")
	if err := first.Launch(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	h, err := first.Handle("c1")
	if err != nil {
		t.Fatal(err)
	}
	if h.Kind != containerizer.NameMesos || h.Pid <= 0 || h.StartTime == 0 || h.Sandbox != spec.Sandbox {
		t.Fatalf("handle %+v", h)
	}
	second := newPosix(t)
	stale := h
	stale.StartTime++
	if err := second.Adopt(context.Background(), stale); !errors.Is(err, containerizer.ErrUnknownContainer) {
		t.Fatalf("Adopt with a wrong start time: %v, want ErrUnknownContainer", err)
	}
	if err := second.Adopt(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	if got := second.Containers(); len(got) != 1 || got[0] != "c1" {
		t.Fatalf("containers after adoption: %v", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := second.Destroy(ctx, "c1", time.Second); err != nil {
		t.Fatal(err)
	}
	if term := wait(t, first, "c1"); term.Status == 0 {
		t.Fatalf("the launching containerizer saw %+v", term)
	}
	if err := second.Adopt(context.Background(), h); !errors.Is(err, containerizer.ErrUnknownContainer) {
		t.Fatalf("Adopt of an ended container: %v, want ErrUnknownContainer", err)
	}
}

// An adopted container that ends by itself is reported, with an unknown
// status (it is not our child).
func TestAdoptedContainerEnds(t *testing.T) {
	first := newPosix(t)
	dir := t.TempDir()
	spec := shellSpec(t, "c2", "while [ ! -e "+dir+"/stop ]; do sleep 0.05; done")
	if err := first.Launch(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	h, err := first.Handle("c2")
	if err != nil {
		t.Fatal(err)
	}
	second := newPosix(t)
	if err := second.Adopt(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/stop", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	term := wait(t, second, "c2")
	if term.Status != -1 || term.Message == "" {
		t.Fatalf("termination %+v, want status -1 with a message", term)
	}
}
