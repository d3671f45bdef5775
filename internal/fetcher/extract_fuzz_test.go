package fetcher

import (
	"archive/tar"
	"bytes"
	"context"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzSeeds are archives worth mutating: a normal bundle and the escapes.
func fuzzSeeds(t testing.TB, asZip bool) [][]byte {
	seeds := [][]byte{nil, []byte("garbage")}
	if asZip {
		seeds = append(seeds, zipBytes(t, zipEntry{name: "a/b", body: "x"}, zipEntry{name: "l", body: "a", mode: fs.ModeSymlink | 0o777}))
	} else {
		seeds = append(seeds, appTar(t))
	}
	for _, c := range evilCases() {
		fix := func(s string) string { return strings.ReplaceAll(s, "OUT", "/tmp/meso-fuzz-outside") }
		switch {
		case asZip && c.zip != nil:
			var es []zipEntry
			for _, e := range c.zip {
				e.name, e.body = fix(e.name), fix(e.body)
				es = append(es, e)
			}
			seeds = append(seeds, zipBytes(t, es...))
		case !asZip && c.tar != nil:
			var es []tarEntry
			for _, e := range c.tar {
				e.name, e.link = fix(e.name), fix(e.link)
				es = append(es, e)
			}
			seeds = append(seeds, tarBytes(t, es...))
		}
	}
	return seeds
}

// fuzzExtract extracts data into a fresh sandbox and checks that nothing
// appeared beside it and that no symlink inside points out of it.
func fuzzExtract(t *testing.T, data []byte, run func(x *extractor, archive *os.File) error) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "sandbox")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(tmp, "archive")
	if err := os.WriteFile(archive, data, 0o600); err != nil {
		t.Fatal(err)
	}
	file, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	run(newExtractor(context.Background(), root, 1<<20), file) // errors are fine; escapes are not

	des, _ := os.ReadDir(tmp)
	if len(des) != 2 {
		t.Fatalf("extraction wrote beside the sandbox: %d entries in its parent", len(des))
	}
	if _, err := os.Lstat("/tmp/meso-fuzz-outside"); err == nil {
		t.Fatal("extraction wrote to /tmp/meso-fuzz-outside")
	}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		target, _ := os.Readlink(p)
		rel, _ := filepath.Rel(dir, p)
		if path.IsAbs(target) || !filepath.IsLocal(path.Join(path.Dir(rel), target)) {
			t.Fatalf("symlink %s -> %s points outside the sandbox", rel, target)
		}
		return nil
	})
}

func FuzzExtractTar(f *testing.F) {
	for _, s := range fuzzSeeds(f, false) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzExtract(t, data, func(x *extractor, _ *os.File) error { return x.tar(bytes.NewReader(data)) })
	})
}

func FuzzExtractZip(f *testing.F) {
	for _, s := range fuzzSeeds(f, true) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzExtract(t, data, func(x *extractor, file *os.File) error { return x.zip(file) })
	})
}

// TestTarTypesIgnored checks entries that carry no file content (fifos,
// devices) are skipped rather than created.
func TestTarTypesIgnored(t *testing.T) {
	srv := newFileServer(t, false)
	u := srv.put("/odd.tar", tarBytes(t,
		tarEntry{name: "fifo", typ: tar.TypeFifo},
		tarEntry{name: "dev", typ: tar.TypeChar},
		tarEntry{name: "real", body: "ok"},
	))
	dir := sandbox(t)
	mustFetch(t, newFetcher(t, Config{}), dir, uri(u))
	wantFile(t, filepath.Join(dir, "real"), []byte("ok"))
	for _, n := range []string{"fifo", "dev"} {
		if _, err := os.Lstat(filepath.Join(dir, n)); err == nil {
			t.Errorf("%s was created", n)
		}
	}
}
