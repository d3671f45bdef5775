package fetcher

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ulikunitz/xz"

	"github.com/mesoproject/meso/api/mesospb"
)

type tarEntry struct {
	name string
	body string
	typ  byte // default tar.TypeReg
	link string
	mode int64 // default 0644 (0755 for directories)
}

func tarBytes(t testing.TB, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: e.mode, Format: tar.FormatPAX}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func xzBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	xw, err := xz.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	xw.Write(b)
	if err := xw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type zipEntry struct {
	name string
	body string
	mode fs.FileMode // default 0644; fs.ModeSymlink makes body the target
}

func zipBytes(t testing.TB, entries ...zipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		if e.mode == 0 {
			e.mode = 0o644
		}
		h.SetMode(e.mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(e.body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// appTar is a small application bundle: a directory, a script, a file, a
// relative symlink and a hard link.
func appTar(t testing.TB) []byte {
	return tarBytes(t,
		tarEntry{name: "app/", typ: tar.TypeDir},
		tarEntry{name: "app/bin/run.sh", body: "#!/bin/sh\necho run\n", mode: 0o755},
		tarEntry{name: "./app/README", body: "read me"},
		tarEntry{name: "app/current", typ: tar.TypeSymlink, link: "bin/run.sh"},
		tarEntry{name: "app/README.copy", typ: tar.TypeLink, link: "app/README"},
	)
}

func wantApp(t testing.TB, dir string) {
	t.Helper()
	wantFile(t, filepath.Join(dir, "app/bin/run.sh"), []byte("#!/bin/sh\necho run\n"))
	wantMode(t, filepath.Join(dir, "app/bin/run.sh"), 0o755)
	wantFile(t, filepath.Join(dir, "app/README"), []byte("read me"))
	wantFile(t, filepath.Join(dir, "app/README.copy"), []byte("read me"))
	if target, err := os.Readlink(filepath.Join(dir, "app/current")); err != nil || target != "bin/run.sh" {
		t.Fatalf("app/current -> %q (%v), want bin/run.sh", target, err)
	}
}

func TestExtractEachArchiveType(t *testing.T) {
	app := appTar(t)
	bz := readFixture(t, "hello.tar.bz2")
	xzFixture := readFixture(t, "hello.tar.xz")
	zipApp := zipBytes(t,
		zipEntry{name: "app/", mode: fs.ModeDir | 0o755},
		zipEntry{name: "app/bin/run.sh", body: "#!/bin/sh\necho run\n", mode: 0o755},
		zipEntry{name: "app/README", body: "read me"},
		zipEntry{name: "app/README.copy", body: "read me"},
		zipEntry{name: "app/current", body: "bin/run.sh", mode: fs.ModeSymlink | 0o777},
	)
	// The fixtures were written by GNU tar with bzip2 and xz-utils.
	wantHello := func(what, echo string) func(t testing.TB, dir string) {
		return func(t testing.TB, dir string) {
			wantFile(t, filepath.Join(dir, "hello/world.txt"), []byte("hello from "+what+"\n"))
			wantFile(t, filepath.Join(dir, "hello/run.sh"), []byte("#!/bin/sh\necho "+echo+"\n"))
			wantMode(t, filepath.Join(dir, "hello/run.sh"), 0o755)
		}
	}
	cases := []struct {
		name  string
		data  []byte
		check func(t testing.TB, dir string)
	}{
		{"bundle.tar", app, wantApp},
		{"bundle.tar.gz", gzipBytes(t, app), wantApp},
		{"bundle.tgz", gzipBytes(t, app), wantApp},
		{"hello.tar.bz2", bz, wantHello("bzip2", "bz")},
		{"hello.tbz2", bz, wantHello("bzip2", "bz")},
		{"bundle.tar.xz", xzBytes(t, app), wantApp},
		{"bundle.txz", xzBytes(t, app), wantApp},
		{"hello.tar.xz", xzFixture, wantHello("xz", "xz")},
		{"bundle.zip", zipApp, wantApp},
		{"notes.txt.gz", gzipBytes(t, []byte("plain notes")), func(t testing.TB, dir string) {
			wantFile(t, filepath.Join(dir, "notes.txt"), []byte("plain notes"))
		}},
	}
	srv := newFileServer(t, false)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := srv.put("/a/"+c.name, c.data)
			dir := sandbox(t)
			mustFetch(t, newFetcher(t, Config{}), dir, uri(u))
			c.check(t, dir)
			wantFile(t, filepath.Join(dir, c.name), c.data) // the archive stays, as in Mesos
			noTempFiles(t, dir)
		})
	}
}

func TestExtractOutputFileDecidesKind(t *testing.T) {
	srv := newFileServer(t, false)
	u := srv.put("/download", gzipBytes(t, appTar(t)))
	dir := sandbox(t)
	mustFetch(t, newFetcher(t, Config{}), dir, uri(u, output("pkg/app.tgz")))
	wantApp(t, dir) // extracted into the sandbox, as Mesos does
}

func TestNoExtract(t *testing.T) {
	srv := newFileServer(t, false)
	data := gzipBytes(t, appTar(t))
	u := srv.put("/bundle.tgz", data)
	dir := sandbox(t)
	mustFetch(t, newFetcher(t, Config{}), dir, uri(u, noExtract))
	wantFile(t, filepath.Join(dir, "bundle.tgz"), data)
	if _, err := os.Stat(filepath.Join(dir, "app")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("extract=false but app/ exists (%v)", err)
	}
}

func TestExtractCorruptArchive(t *testing.T) {
	srv := newFileServer(t, false)
	u := srv.put("/broken.tar.gz", []byte("this is not gzip"))
	err := fetch(t, newFetcher(t, Config{}), sandbox(t), uri(u))
	wantFetchError(t, err, u, "extract broken.tar.gz", "gzip")
}

func TestExtractSizeBound(t *testing.T) {
	srv := newFileServer(t, false)
	big := strings.Repeat("0", 1<<20)
	u := srv.put("/bomb.tar.gz", gzipBytes(t, tarBytes(t, tarEntry{name: "zeros", body: big})))
	f := newFetcher(t, Config{MaxExtractSize: 64 << 10})
	wantFetchError(t, fetch(t, f, sandbox(t), uri(u)), u, "expands to more than 65536 bytes")

	z := srv.put("/bomb.gz", gzipBytes(t, []byte(big)))
	wantFetchError(t, fetch(t, f, sandbox(t), uri(z)), z, "expands to more than")

	unbounded := newFetcher(t, Config{MaxExtractSize: -1})
	mustFetch(t, unbounded, sandbox(t), uri(u))
}

// evilCase is an archive that tries to write outside the sandbox. Names
// may use OUT, replaced by the absolute path of a directory beside the
// sandbox that must stay empty.
type evilCase struct {
	name string
	tar  []tarEntry
	zip  []zipEntry
	why  string
}

func evilCases() []evilCase {
	return []evilCase{
		{name: "dotdot", tar: []tarEntry{{name: "../outside/evil", body: "x"}}, why: "leaves the sandbox"},
		{name: "dotdot-inner", tar: []tarEntry{{name: "a/../../outside/evil", body: "x"}}, why: "leaves the sandbox"},
		{name: "absolute", tar: []tarEntry{{name: "OUT/evil", body: "x"}}, why: "absolute path"},
		{name: "symlink-out", tar: []tarEntry{{name: "link", typ: tar.TypeSymlink, link: "../outside"}, {name: "link/evil", body: "x"}}, why: "leaves the sandbox"},
		{name: "symlink-abs", tar: []tarEntry{{name: "link", typ: tar.TypeSymlink, link: "OUT"}, {name: "link/evil", body: "x"}}, why: "absolute path"},
		{name: "symlink-chain", tar: []tarEntry{
			{name: "d", typ: tar.TypeSymlink, link: "."},
			{name: "d/up", typ: tar.TypeSymlink, link: ".."},
			{name: "up/outside/evil", body: "x"},
		}, why: "below the symlink"},
		{name: "symlink-then-dir", tar: []tarEntry{
			{name: "sub/", typ: tar.TypeDir},
			{name: "sub/in", typ: tar.TypeSymlink, link: "../.."},
		}, why: "leaves the sandbox"},
		{name: "hardlink-out", tar: []tarEntry{{name: "h", typ: tar.TypeLink, link: "../outside/victim"}}, why: "leaves the sandbox"},
		{name: "hardlink-abs", tar: []tarEntry{{name: "h", typ: tar.TypeLink, link: "OUT/victim"}}, why: "absolute path"},
		{name: "zip-dotdot", zip: []zipEntry{{name: "../outside/evil", body: "x"}}, why: "leaves the sandbox"},
		{name: "zip-absolute", zip: []zipEntry{{name: "OUT/evil", body: "x"}}, why: "absolute path"},
		{name: "zip-symlink", zip: []zipEntry{
			{name: "link", body: "../outside", mode: fs.ModeSymlink | 0o777},
			{name: "link/evil", body: "x"},
		}, why: "leaves the sandbox"},
		{name: "zip-symlink-abs", zip: []zipEntry{
			{name: "link", body: "OUT", mode: fs.ModeSymlink | 0o777},
			{name: "link/evil", body: "x"},
		}, why: "absolute path"},
	}
}

func TestExtractRefusesEscapes(t *testing.T) {
	srv := newFileServer(t, false)
	for _, c := range evilCases() {
		for _, viaCache := range []bool{false, true} {
			name := c.name
			if viaCache {
				name += "/cached"
			}
			t.Run(name, func(t *testing.T) {
				tmp := t.TempDir()
				dir := filepath.Join(tmp, "sandbox")
				outside := filepath.Join(tmp, "outside")
				for _, d := range []string{dir, outside} {
					if err := os.Mkdir(d, 0o755); err != nil {
						t.Fatal(err)
					}
				}
				// A victim beside the sandbox, for hard links; it is moved
				// away before checking that outside/ stayed empty.
				victim := filepath.Join(tmp, "victim")
				os.WriteFile(victim, []byte("victim"), 0o644)
				os.Link(victim, filepath.Join(outside, "victim"))
				fix := func(s string) string { return strings.ReplaceAll(s, "OUT", outside) }

				var data []byte
				ext := ".tar"
				if c.zip != nil {
					ext = ".zip"
					var es []zipEntry
					for _, e := range c.zip {
						e.name, e.body = fix(e.name), fix(e.body)
						es = append(es, e)
					}
					data = zipBytes(t, es...)
				} else {
					var es []tarEntry
					for _, e := range c.tar {
						e.name, e.link = fix(e.name), fix(e.link)
						es = append(es, e)
					}
					data = tarBytes(t, es...)
				}
				u := srv.put("/evil/"+name+ext, data)
				cfg := Config{}
				opts := []func(*mesospb.CommandInfo_URI){}
				if viaCache {
					cfg.CacheDir = filepath.Join(t.TempDir(), "cache")
					opts = append(opts, cached)
				}
				err := fetch(t, newFetcher(t, cfg), dir, uri(u, opts...))
				wantFetchError(t, err, u, c.why)
				if !errors.Is(err, ErrUnsafeArchive) {
					t.Fatalf("error %v does not wrap ErrUnsafeArchive", err)
				}
				os.Remove(filepath.Join(outside, "victim"))
				wantEmptyDir(t, outside)
				wantFile(t, victim, []byte("victim"))
				des, _ := os.ReadDir(tmp)
				if len(des) != 3 {
					t.Fatalf("the sandbox's parent holds %d entries, want sandbox, outside, victim", len(des))
				}
			})
		}
	}
}
