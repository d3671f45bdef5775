package files

import (
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
				return resolved{}, statusErr(http.StatusForbidden, "%q is outside the served directory", p)
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
// still cannot lead outside the root.
func (h *Handler) open(r resolved, p string) (*os.File, os.FileInfo, error) {
	root, err := os.OpenRoot(h.rootReal)
	if err != nil {
		return nil, nil, err
	}
	defer root.Close()
	// Non-blocking, so that opening a FIFO does not wait for a writer;
	// callers read regular files only.
	f, err := root.OpenFile(r.rel, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, errStatus(p, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, errStatus(p, err)
	}
	return f, st, nil
}

// openPath resolves and opens the request path p.
func (h *Handler) openPath(p string) (*os.File, os.FileInfo, resolved, error) {
	r, err := h.resolve(p)
	if err != nil {
		return nil, nil, r, err
	}
	f, st, err := h.open(r, p)
	return f, st, r, err
}
