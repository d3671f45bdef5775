package fetcher

import (
	"archive/tar"
	"context"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mesoproject/meso/api/mesospb"
)

// FIFOs and devices, in an archive, in the sandbox or named by a URI, must
// never make a fetch block (opening a FIFO for reading waits for a writer)
// or open a device.

func mkfifo(t *testing.T, p string) {
	t.Helper()
	if err := syscall.Mkfifo(p, 0o666); err != nil {
		t.Skipf("cannot make a FIFO: %v", err)
	}
}

// fetchOrHang runs a fetch and fails the test if it does not return while
// it should; the FIFOs given are then opened for writing, which releases
// a reader blocked on them so that the test ends.
func fetchOrHang(t *testing.T, f *Fetcher, dir, user string, fifos []string, uris ...*mesospb.CommandInfo_URI) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f.Fetch(context.Background(), uris, dir, user) }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		for _, p := range fifos {
			if fd, err := unix.Open(p, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0); err == nil {
				unix.Close(fd)
			}
		}
		<-done
		t.Fatalf("fetch blocked on a FIFO")
		return nil
	}
}

func TestFetchLocalFIFOAndDeviceRefused(t *testing.T) {
	base := t.TempDir()
	// t.TempDir makes <tmp>/<TestName><n>/<nnn>, both 0700: open them up.
	os.Chmod(base, 0o755)
	os.Chmod(filepath.Dir(base), 0o755)
	fifo := filepath.Join(base, "fifo")
	mkfifo(t, fifo)
	users := []string{""} // the agent's own permissions
	if os.Geteuid() == 0 {
		if _, err := user.Lookup("nobody"); err == nil {
			users = append(users, "nobody") // resolved as the task's user
		}
	}
	f := newFetcher(t, Config{})
	for _, u := range users {
		for _, p := range []string{fifo, "/dev/null"} {
			err := fetchOrHang(t, f, sandbox(t), u, []string{fifo}, uri(p))
			wantFetchError(t, err, p, "not a regular file")
		}
	}
}

func TestExtractSkipsFIFOsAndDevices(t *testing.T) {
	tarData := tarBytes(t,
		tarEntry{name: "app/", typ: tar.TypeDir},
		tarEntry{name: "app/pipe", typ: tar.TypeFifo},
		tarEntry{name: "app/null", typ: tar.TypeChar},
		tarEntry{name: "app/disk", typ: tar.TypeBlock},
		tarEntry{name: "app/README", body: "read me"},
	)
	zipData := zipBytes(t,
		zipEntry{name: "app/pipe", mode: fs.ModeNamedPipe | 0o644},
		zipEntry{name: "app/null", mode: fs.ModeDevice | fs.ModeCharDevice | 0o666},
		zipEntry{name: "app/sock", mode: fs.ModeSocket | 0o666},
		zipEntry{name: "app/README", body: "read me"},
	)
	srv := newFileServer(t, false)
	f := newFetcher(t, Config{})
	for name, data := range map[string][]byte{"a.tar": tarData, "a.tgz": gzipBytes(t, tarData), "a.zip": zipData} {
		dir := sandbox(t)
		if err := fetchOrHang(t, f, dir, "", nil, uri(srv.put("/"+name, data))); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		wantFile(t, filepath.Join(dir, "app/README"), []byte("read me"))
		for _, skipped := range []string{"pipe", "null", "disk", "sock"} {
			if _, err := os.Lstat(filepath.Join(dir, "app", skipped)); err == nil {
				t.Errorf("%s: app/%s was created", name, skipped)
			}
		}
	}
}

// A sandbox holding FIFOs where the fetch's output lands: each is
// replaced, never opened.
func TestFetchOverFIFOsInTheSandbox(t *testing.T) {
	srv := newFileServer(t, false)
	dir := sandbox(t)
	if err := os.Mkdir(filepath.Join(dir, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	var fifos []string
	for _, n := range []string{"bundle.tgz", "app/README", "app/README.copy", "notes.txt", "plain", "cached.tar"} {
		fifos = append(fifos, filepath.Join(dir, n))
		mkfifo(t, fifos[len(fifos)-1])
	}
	f := newFetcher(t, Config{CacheDir: filepath.Join(t.TempDir(), "cache")})
	err := fetchOrHang(t, f, dir, "", fifos,
		uri(srv.put("/bundle.tgz", gzipBytes(t, appTar(t)))),
		uri(srv.put("/notes.txt.gz", gzipBytes(t, []byte("notes")))),
		uri(srv.put("/plain", []byte("plain"))),
		uri(srv.put("/cached.tar", appTar(t)), cached, noExtract),
	)
	if err != nil {
		t.Fatal(err)
	}
	wantApp(t, dir)
	wantFile(t, filepath.Join(dir, "notes.txt"), []byte("notes"))
	wantFile(t, filepath.Join(dir, "plain"), []byte("plain"))
	for _, p := range fifos {
		if st, err := os.Lstat(p); err != nil {
			t.Error(err)
		} else if !st.Mode().IsRegular() {
			t.Errorf("%s: %v, want a regular file", p, st.Mode())
		}
	}
}
