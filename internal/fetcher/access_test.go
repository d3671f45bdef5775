package fetcher

import (
	"context"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/mesoproject/meso/api/mesospb"
)

// TestLocalFilesReadAsTheTaskUser checks that, as root, a file:// URI only
// fetches what the task's user could read itself (Mesos runs its fetcher as
// that user).
func TestLocalFilesReadAsTheTaskUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("reading as another user needs root")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody:", err)
	}
	gid, _ := strconv.Atoi(nobody.Gid)

	base := t.TempDir()
	// t.TempDir makes <tmp>/<TestName><n>/<nnn>, both 0700: open them up.
	os.Chmod(base, 0o755)
	os.Chmod(filepath.Dir(base), 0o755)
	write := func(name string, mode os.FileMode) string {
		p := filepath.Join(base, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(name), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		return p
	}
	public := write("public.txt", 0o644)
	secret := write("secret.txt", 0o600)
	grouped := write("grouped.txt", 0o640)
	os.Chown(grouped, 0, gid)
	hidden := write("private/open.txt", 0o644)
	os.Chmod(filepath.Join(base, "private"), 0o700)
	os.Symlink("public.txt", filepath.Join(base, "to-public"))
	os.Symlink(secret, filepath.Join(base, "to-secret"))
	os.Symlink("../"+filepath.Base(base)+"/to-public", filepath.Join(base, "via-parent"))
	os.Symlink("loop", filepath.Join(base, "loop"))

	ok := []string{public, grouped, filepath.Join(base, "to-public"), filepath.Join(base, "via-parent")}
	denied := map[string]string{
		secret:                           "permission denied for user \"nobody\"",
		hidden:                           "permission denied for user \"nobody\"",
		filepath.Join(base, "to-secret"): "permission denied for user \"nobody\"",
		filepath.Join(base, "loop"):      "too many levels of symbolic links",
		filepath.Join(base, "private"):   "not a regular file",
	}
	f := newFetcher(t, Config{})
	ctx := context.Background()
	for _, p := range ok {
		dir := sandbox(t)
		if err := f.Fetch(ctx, []*mesospb.CommandInfo_URI{uri("file://" + p)}, dir, "nobody"); err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		want, _ := os.ReadFile(p)
		wantFile(t, filepath.Join(dir, filepath.Base(p)), want)
	}
	for p, why := range denied {
		err := f.Fetch(ctx, []*mesospb.CommandInfo_URI{uri(p)}, sandbox(t), "nobody")
		wantFetchError(t, err, p, why)
	}
	// The agent's own launches (no user) read as root.
	mustFetch(t, f, sandbox(t), uri(secret))
}
