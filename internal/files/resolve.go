package files

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// resolved is a request path checked to lie inside the root.
type resolved struct {
	real string // absolute, symlinks resolved
	rel  string // real relative to the root ("." for the root itself)
}

// resolve maps the request path p (see the package doc) to a file inside
// the root. Errors carry the HTTP status to answer.
func (h *Handler) resolve(p string) (resolved, error) {
	switch {
	case p == "":
		return resolved{}, statusErr(http.StatusBadRequest, "expecting 'path=value' in query")
	case strings.ContainsRune(p, 0):
		return resolved{}, statusErr(http.StatusBadRequest, "path contains a NUL byte")
	case hasDotDot(p):
		return resolved{}, statusErr(http.StatusBadRequest, "path %q contains '..'", p)
	}
	real, ok := h.attachedPath(p)
	if !ok {
		if filepath.IsAbs(p) {
			real = filepath.Clean(p)
			if !lexicallyWithin(h.root, real) && !lexicallyWithin(h.rootReal, real) {
				// Refused before touching the file system, so the answer
				// says nothing about what exists out there.
				return resolved{}, statusErr(http.StatusForbidden, "%q is outside the served directory and under no attached path (such as the sandbox of an executor the daemon knows)", p)
			}
		} else {
			real = filepath.Join(h.rootReal, p)
		}
	}
	final, err := filepath.EvalSymlinks(real)
	if err != nil {
		return resolved{}, errStatus(p, err)
	}
	rel, ok := h.within(final)
	if !ok {
		return resolved{}, statusErr(http.StatusForbidden, "%q leads outside the served directory", p)
	}
	return resolved{real: final, rel: rel}, nil
}

// attachedPath maps p through the longest attached name that is a prefix of
// it (on element boundaries).
func (h *Handler) attachedPath(p string) (string, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if len(h.attached) == 0 {
		return "", false
	}
	name := cleanName(p)
	for prefix, rest := name, ""; ; {
		if real, ok := h.attached[prefix]; ok {
			return filepath.Join(real, rest), true
		}
		i := strings.LastIndexByte(prefix, '/')
		if i <= 0 {
			return "", false
		}
		rest = filepath.Join(prefix[i+1:], rest)
		prefix = prefix[:i]
	}
}

// within reports whether the resolved path p is the root or below it, and
// p relative to the root.
func (h *Handler) within(p string) (string, bool) {
	if !lexicallyWithin(h.rootReal, p) {
		return "", false
	}
	rel, err := filepath.Rel(h.rootReal, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", false
	}
	return rel, true
}

// lexicallyWithin reports whether the clean absolute path p is dir or
// below it.
func lexicallyWithin(dir, p string) bool {
	if dir == "/" {
		return strings.HasPrefix(p, "/")
	}
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// open opens r through os.Root, so that a symlink swapped in after resolve
// still cannot lead outside the root. It serves regular files and
// directories only: anything else is refused (400) before it is opened,
// since opening a FIFO blocks until a writer comes and opening a device
// can act on it. The open itself is non-blocking and the opened file is
// checked again, so a FIFO swapped in meanwhile is refused too. A regular
// file with more than one hard link is refused (403): its other names may
// be outside the root (see the package doc).
func (h *Handler) open(r resolved, p string) (*os.File, os.FileInfo, error) {
	root, err := os.OpenRoot(h.rootReal)
	if err != nil {
		return nil, nil, err
	}
	defer root.Close()
	lst, err := root.Lstat(r.rel)
	if err != nil {
		return nil, nil, errStatus(p, err)
	}
	if err := servable(p, lst); err != nil {
		return nil, nil, err
	}
	f, err := root.OpenFile(r.rel, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, errStatus(p, err)
	}
	st, err := f.Stat()
	if err == nil {
		err = servable(p, st)
	}
	if err != nil {
		f.Close()
		return nil, nil, errStatus(p, err)
	}
	return f, st, nil
}

// servable refuses what open does not serve: anything but a regular file
// or a directory (400), and a regular file with more than one hard link
// (403).
func servable(p string, st os.FileInfo) error {
	m := st.Mode()
	switch {
	case m.IsDir():
		return nil
	case !m.IsRegular():
		return statusErr(http.StatusBadRequest, "%q is %s: only regular files and directories are served", p, kindOf(m))
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && sys.Nlink > 1 {
		return statusErr(http.StatusForbidden, "%q has %d hard links: files with more than one are not served, as another may be outside the sandbox", p, sys.Nlink)
	}
	return nil
}

// kindOf names the type of a file that is neither regular nor a directory.
func kindOf(m os.FileMode) string {
	switch {
	case m&os.ModeSymlink != 0:
		return "a symlink"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a block device"
	default:
		return "not a regular file"
	}
}

// openPath resolves the request path p, asks Config.Authorize about it,
// and opens it.
func (h *Handler) openPath(ctx context.Context, p string) (*os.File, os.FileInfo, resolved, error) {
	r, err := h.resolve(p)
	if err != nil {
		return nil, nil, r, err
	}
	if h.authorize != nil {
		if err := h.authorize(ctx, r.rel); err != nil {
			return nil, nil, r, statusErr(http.StatusForbidden, "%s", err.Error())
		}
	}
	f, st, err := h.open(r, p)
	return f, st, r, err
}
