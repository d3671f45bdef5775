package cpuprofile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestStartWritesAProfileOnlyWhenAsked(t *testing.T) {
	t.Setenv(Env, "")
	Start("none")()

	dir := t.TempDir()
	t.Setenv(Env, dir)
	stop := Start("agent")
	stop()
	files, err := filepath.Glob(filepath.Join(dir, "agent-*.pprof"))
	if err != nil || len(files) != 1 {
		t.Fatalf("profiles: %v %v", files, err)
	}
	if fi, err := os.Stat(files[0]); err != nil || fi.Size() == 0 {
		t.Fatalf("profile %s: %v, %v", files[0], fi, err)
	}
}
