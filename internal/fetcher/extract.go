package fetcher

import (
	"archive/tar"
	"archive/zip"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/ulikunitz/xz"
)

// archiveKind is what Mesos recognises by a file name's ending.
type archiveKind int

const (
	notArchive archiveKind = iota
	archiveTar
	archiveTarGzip
	archiveTarBzip2
	archiveTarXz
	archiveZip
	archiveGzip // a single gzip'ed file, decompressed beside the archive's name
)

// archiveSuffixes in matching order: longer endings before ".gz".
var archiveSuffixes = []struct {
	suffix string
	kind   archiveKind
}{
	{".tar", archiveTar},
	{".tar.gz", archiveTarGzip}, {".tgz", archiveTarGzip},
	{".tar.bz2", archiveTarBzip2}, {".tbz2", archiveTarBzip2},
	{".tar.xz", archiveTarXz}, {".txz", archiveTarXz},
	{".zip", archiveZip},
	{".gz", archiveGzip},
}

// kindOf recognises an archive by its name's ending (case-sensitive, as in
// Mesos).
func kindOf(name string) archiveKind {
	for _, s := range archiveSuffixes {
		if strings.HasSuffix(name, s.suffix) {
			return s.kind
		}
	}
	return notArchive
}

// ErrUnsafeArchive is wrapped by extraction failures caused by an entry
// that would land outside the sandbox (also wrapped in ErrFetch).
var ErrUnsafeArchive = errors.New("unsafe archive entry")

// extractor writes an archive's entries under root, the sandbox. It refuses
// absolute names, ".." elements, symlinks whose target leaves the sandbox,
// and entries below a symlink; root makes any other escape impossible.
type extractor struct {
	ctx     context.Context
	root    *os.Root
	budget  int64           // bytes still allowed; negative: unlimited
	limit   int64           // the configured bound, for messages
	checked map[string]bool // directories known to hold no symlink on their path
}

func newExtractor(ctx context.Context, root *os.Root, limit int64) *extractor {
	return &extractor{ctx: ctx, root: root, budget: limit, limit: limit, checked: map[string]bool{}}
}

// extract unpacks the archive file (named name, in the sandbox or in the
// cache) of the given kind into the sandbox.
func (x *extractor) extract(file *os.File, name string, kind archiveKind) error {
	var err error
	switch kind {
	case archiveTar:
		err = x.tar(file)
	case archiveTarGzip:
		err = x.gzipped(file, x.tar)
	case archiveTarBzip2:
		err = x.tar(bzip2.NewReader(file))
	case archiveTarXz:
		var r *xz.Reader
		if r, err = xz.NewReader(file); err == nil {
			err = x.tar(r)
		}
	case archiveZip:
		err = x.zip(file)
	case archiveGzip:
		out := strings.TrimSuffix(path.Base(name), ".gz")
		if out == "" || out == "." || out == ".." {
			return fmt.Errorf("cannot name the decompressed file of %q", name)
		}
		err = x.gzipped(file, func(r io.Reader) error { return x.file(out, r, 0o644) })
	default:
		return nil
	}
	if err != nil {
		return fmt.Errorf("extract %s: %w", path.Base(name), err)
	}
	return nil
}

func (x *extractor) gzipped(r io.Reader, then func(io.Reader) error) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return err
	}
	defer zr.Close()
	return then(zr)
}

func (x *extractor) tar(r io.Reader) error {
	tr := tar.NewReader(r)
	for {
		if err := x.ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := x.tarEntry(tr, h); err != nil {
			return err
		}
	}
}

func (x *extractor) tarEntry(tr *tar.Reader, h *tar.Header) error {
	name, err := entryName(h.Name)
	if err != nil || name == "" {
		return err
	}
	switch h.Typeflag {
	case tar.TypeDir:
		return x.dir(name, fs.FileMode(h.Mode))
	case tar.TypeReg: // the reader turns the old TypeRegA into TypeReg or TypeDir
		return x.file(name, tr, fs.FileMode(h.Mode))
	case tar.TypeSymlink:
		return x.symlink(name, h.Linkname)
	case tar.TypeLink:
		return x.hardlink(name, h.Linkname)
	default:
		return nil // devices, fifos, extended headers: nothing to write
	}
}

func (x *extractor) zip(file *os.File) error {
	st, err := file.Stat()
	if err != nil {
		return err
	}
	zr, err := zip.NewReader(file, st.Size())
	if err != nil {
		return err
	}
	for _, zf := range zr.File {
		if err := x.ctx.Err(); err != nil {
			return err
		}
		if err := x.zipEntry(zf); err != nil {
			return err
		}
	}
	return nil
}

func (x *extractor) zipEntry(zf *zip.File) error {
	name, err := entryName(zf.Name)
	if err != nil || name == "" {
		return err
	}
	mode := zf.Mode()
	switch {
	case mode.IsDir():
		return x.dir(name, mode)
	case mode&fs.ModeSymlink != 0:
		target, err := readZipLink(zf)
		if err != nil {
			return err
		}
		return x.symlink(name, target)
	case mode.IsRegular():
		rc, err := zf.Open()
		if err != nil {
			return err
		}
		defer rc.Close()
		return x.file(name, rc, mode)
	default:
		return nil
	}
}

func readZipLink(zf *zip.File) (string, error) {
	rc, err := zf.Open()
	if err != nil {
		return "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 4096))
	return string(b), err
}

// entryName cleans an archive entry's name. It refuses absolute names and
// names with a ".." element; "" means the archive's root (skipped).
func entryName(raw string) (string, error) {
	if strings.ContainsRune(raw, 0) {
		return "", fmt.Errorf("%w: %q contains a NUL byte", ErrUnsafeArchive, raw)
	}
	if strings.HasPrefix(raw, "/") {
		return "", fmt.Errorf("%w: %q is an absolute path", ErrUnsafeArchive, raw)
	}
	for _, el := range strings.Split(raw, "/") {
		if el == ".." {
			return "", fmt.Errorf("%w: %q leaves the sandbox", ErrUnsafeArchive, raw)
		}
	}
	clean := path.Clean(raw)
	if clean == "." {
		return "", nil
	}
	return clean, nil
}

// parent makes sure name's directory exists and that no element of it is
// a symlink, so that name's location is what its text says.
func (x *extractor) parent(name string) error {
	dir := path.Dir(name)
	if dir == "." || x.checked[dir] {
		return nil
	}
	sofar := ""
	for _, el := range strings.Split(dir, "/") {
		sofar = path.Join(sofar, el)
		if x.checked[sofar] {
			continue
		}
		st, err := x.root.Lstat(sofar)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := x.root.Mkdir(sofar, 0o755); err != nil {
				return err
			}
		case err != nil:
			return err
		case st.Mode()&fs.ModeSymlink != 0:
			return fmt.Errorf("%w: %q is below the symlink %q", ErrUnsafeArchive, name, sofar)
		case !st.IsDir():
			return fmt.Errorf("%q: %q is not a directory", name, sofar)
		}
		x.checked[sofar] = true
	}
	return nil
}

// clear removes whatever non-directory sits at name, so that a new entry
// replaces it instead of writing through it.
func (x *extractor) clear(name string) error {
	st, err := x.root.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if st.IsDir() {
		return fmt.Errorf("%q: a directory is in the way", name)
	}
	return x.root.Remove(name)
}

func (x *extractor) dir(name string, mode fs.FileMode) error {
	if err := x.parent(name); err != nil {
		return err
	}
	perm := mode.Perm() | 0o700
	st, err := x.root.Lstat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		err = x.root.Mkdir(name, perm)
	case err != nil:
	case st.IsDir():
		err = x.root.Chmod(name, perm)
	default:
		if err = x.root.Remove(name); err == nil {
			err = x.root.Mkdir(name, perm)
		}
	}
	if err == nil {
		x.checked[name] = true
	}
	return err
}

// file writes a regular file, counting its bytes against the budget.
// Set-id and sticky bits are dropped.
func (x *extractor) file(name string, r io.Reader, mode fs.FileMode) error {
	if err := x.parent(name); err != nil {
		return err
	}
	if err := x.clear(name); err != nil {
		return err
	}
	out, err := x.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode.Perm()|0o600)
	if err != nil {
		return err
	}
	_, err = copyCtx(x.ctx, &budgetWriter{x: x, w: out}, r)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = x.root.Chmod(name, mode.Perm()|0o600)
	}
	return err
}

// symlink creates name -> target when the target stays in the sandbox.
func (x *extractor) symlink(name, target string) error {
	if target == "" || strings.ContainsRune(target, 0) {
		return fmt.Errorf("%w: symlink %q has an invalid target", ErrUnsafeArchive, name)
	}
	if path.IsAbs(target) {
		return fmt.Errorf("%w: symlink %q points to the absolute path %q", ErrUnsafeArchive, name, target)
	}
	if t := path.Join(path.Dir(name), target); t == ".." || strings.HasPrefix(t, "../") {
		return fmt.Errorf("%w: symlink %q -> %q leaves the sandbox", ErrUnsafeArchive, name, target)
	}
	if err := x.parent(name); err != nil {
		return err
	}
	if err := x.clear(name); err != nil {
		return err
	}
	clear(x.checked) // a directory's path may now go through this link
	return x.root.Symlink(target, name)
}

// hardlink links name to an earlier entry, which must be in the sandbox.
func (x *extractor) hardlink(name, target string) error {
	t, err := entryName(target)
	if err != nil {
		return err
	}
	if t == "" {
		return fmt.Errorf("%w: hard link %q has an invalid target", ErrUnsafeArchive, name)
	}
	if err := x.parent(t); err != nil {
		return err
	}
	st, err := x.root.Lstat(t)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%w: hard link %q to %q, which is not a regular file", ErrUnsafeArchive, name, target)
	}
	if err := x.parent(name); err != nil {
		return err
	}
	if err := x.clear(name); err != nil {
		return err
	}
	return x.root.Link(t, name)
}

// budgetWriter fails once the archive has expanded past the bound.
type budgetWriter struct {
	x *extractor
	w io.Writer
}

func (b *budgetWriter) Write(p []byte) (int, error) {
	if b.x.budget >= 0 {
		if int64(len(p)) > b.x.budget {
			return 0, fmt.Errorf("archive expands to more than %d bytes (Config.MaxExtractSize)", b.x.limit)
		}
		b.x.budget -= int64(len(p))
	}
	return b.w.Write(p)
}
