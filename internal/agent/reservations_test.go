package agent

import (
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/mesoproject/meso/internal/agent/checkpoint"
	"github.com/mesoproject/meso/internal/resources"
)

func testVolume(t *testing.T, disk, id, path string) resources.Resources {
	t.Helper()
	r, err := resources.MustParse(disk).Map(func(x resources.Resource) resources.Resource {
		x = x.PushReservation("db", "ops")
		x.Volume = resources.Volume{ID: id, Principal: "ops", ContainerPath: path}
		return x
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// CHECKPOINT_RESOURCES makes volume directories and checkpoints the list;
// a new agent on the same work dir reads it back; a task's sandbox links
// the volume at its container path; a list without the volume (DESTROY)
// removes its directory; a list that does not fit --resources is ignored,
// and one the agent cannot hold refuses a restart.
func TestCheckpointResources(t *testing.T) {
	dir := t.TempDir()
	newAgent := func(res string) (*Agent, error) {
		store, err := checkpoint.New(dir)
		if err != nil {
			t.Fatal(err)
		}
		a := &Agent{cfg: Config{WorkDir: dir}, store: store, log: slog.New(slog.DiscardHandler), resources: resources.MustParse(res)}
		return a, a.loadCheckpointedResources()
	}
	a, err := newAgent("cpus:4;disk:1000")
	if err != nil {
		t.Fatal(err)
	}
	vol := testVolume(t, "disk:100", "v1", "data")
	a.checkpointResources(vol.ToProto("", false))
	vdir := filepath.Join(dir, "volumes", "roles", "db", "v1")
	if fi, err := os.Stat(vdir); err != nil || !fi.IsDir() {
		t.Fatalf("volume directory: %v", err)
	}
	if err := os.WriteFile(filepath.Join(vdir, "f"), []byte("kept"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := newAgent("cpus:4;disk:1000")
	if err != nil || !b.ckpt.Equal(vol) {
		t.Fatalf("restarted agent's list = %v, %v; want %v", b.ckpt, err, vol)
	}
	sandbox := t.TempDir()
	if err := b.linkVolumes(sandbox, vol.ToProto("db", true), ""); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(sandbox, "data", "f")); err != nil || string(got) != "kept" {
		t.Fatalf("volume in the sandbox: %q, %v", got, err)
	}
	if err := b.linkVolumes(t.TempDir(), testVolume(t, "disk:1", "v1", "../escape").ToProto("", false), ""); err == nil {
		t.Error("a container path outside the sandbox was linked")
	}
	// Used by a task running as another user (root agents only), the
	// volume becomes that user's.
	if u, err := user.Lookup("nobody"); err == nil && os.Geteuid() == 0 {
		if err := b.linkVolumes(t.TempDir(), vol.ToProto("", false), "nobody"); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(vdir)
		if err != nil || strconv.Itoa(int(fi.Sys().(*syscall.Stat_t).Uid)) != u.Uid {
			t.Errorf("volume owner after a task as nobody: %v %v", fi.Sys(), err)
		}
	}
	b.checkpointResources(testVolume(t, "disk:5000", "v2", "x").ToProto("", false))
	if !b.ckpt.Equal(vol) {
		t.Errorf("a list larger than the agent was applied: %v", b.ckpt)
	}
	b.checkpointResources(nil)
	if _, err := os.Stat(vdir); !os.IsNotExist(err) {
		t.Errorf("destroyed volume's directory: %v", err)
	}
	b.checkpointResources(vol.ToProto("", false))
	if _, err := newAgent("cpus:4;disk:50"); err == nil {
		t.Error("an agent whose disk shrank below its volume started")
	}
}
