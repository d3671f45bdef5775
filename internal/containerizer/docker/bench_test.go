package docker

import (
	"context"
	"testing"

	"github.com/mesoproject/meso/internal/containerizer"
	"github.com/mesoproject/meso/internal/containerizer/posix"
)

// BenchmarkLaunchWaitDestroy measures one short container's whole life
// (launch, exit, output collected, removal) through the docker
// containerizer, with the posix containerizer running the same command on
// the host as the baseline.
func BenchmarkLaunchWaitDestroy(b *testing.B) {
	if skipReason != "" {
		b.Skip("docker benchmarks skipped: " + skipReason)
	}
	ctx := context.Background()
	z, err := New(ctx, Config{Owner: testOwner})
	if err != nil {
		b.Fatal(err)
	}
	defer z.Close()
	p, err := posix.New(posix.Config{})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name   string
		c      containerizer.Containerizer
		docker bool
	}{{"posix", p, false}, {"docker", z, true}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				s := dspec(b, "echo bench")
				if !bc.docker {
					s.Container = nil
				}
				if err := bc.c.Launch(ctx, s); err != nil {
					b.Fatal(err)
				}
				if term, err := bc.c.Wait(ctx, s.ContainerID); err != nil || term.Status != 0 {
					b.Fatalf("Wait: %+v %v", term, err)
				}
				if err := bc.c.Destroy(ctx, s.ContainerID, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
