package posix

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/containerizer"
	"google.golang.org/protobuf/proto"
)

// BenchmarkLaunchWaitDestroy measures one container's whole life: fork and
// exec of `true` (shell=false), wait, destroy.
func BenchmarkLaunchWaitDestroy(b *testing.B) {
	z, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	sandbox := b.TempDir()
	ctx := context.Background()
	cmd := &mesospb.CommandInfo{Shell: proto.Bool(false), Value: proto.String("/bin/true")}
	i := 0
	for b.Loop() {
		id := "b" + strconv.Itoa(i)
		i++
		if err := z.Launch(ctx, containerizer.Spec{ContainerID: id, Sandbox: sandbox, Command: cmd}); err != nil {
			b.Fatal(err)
		}
		if _, err := z.Wait(ctx, id); err != nil {
			b.Fatal(err)
		}
		if err := z.Destroy(ctx, id, time.Second); err != nil {
			b.Fatal(err)
		}
	}
}
