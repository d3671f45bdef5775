package posix

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
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

// BenchmarkLaunchWaitDestroyCgroups is BenchmarkLaunchWaitDestroy with
// cgroups/all isolation and CFS: create the cgroup, fork into it, wait,
// empty and remove it.
func BenchmarkLaunchWaitDestroyCgroups(b *testing.B) {
	root := "meso-bench-" + strconv.Itoa(os.Getpid())
	z, err := New(Config{Isolation: []string{"cgroups/all"}, CgroupsEnableCFS: true, CgroupsRoot: root})
	if err != nil {
		b.Skipf("cgroups not usable here: %v", err)
	}
	b.Cleanup(func() { removeRootB(root) })
	sandbox := b.TempDir()
	ctx := context.Background()
	cmd := &mesospb.CommandInfo{Shell: proto.Bool(false), Value: proto.String("/bin/true")}
	res := []*mesospb.Resource{scalar("cpus", 1), scalar("mem", 64)}
	i := 0
	for b.Loop() {
		id := "b" + strconv.Itoa(i)
		i++
		if err := z.Launch(ctx, containerizer.Spec{ContainerID: id, Sandbox: sandbox, Command: cmd, Resources: res}); err != nil {
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

func removeRootB(root string) {
	for _, dir := range []string{"/sys/fs/cgroup/*", "/sys/fs/cgroup/*/*", "/sys/fs/cgroup/*/*/*"} {
		matches, _ := filepath.Glob(filepath.Join(dir, root))
		for _, m := range matches {
			_ = syscall.Rmdir(m)
		}
	}
}
