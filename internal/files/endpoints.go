package files

import (
	"context"
	"io"
	"mime"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// FileInfo is one entry of a /files/browse answer, as Mesos writes it.
// Fields are in Mesos' (alphabetical) order.
type FileInfo struct {
	GID   string `json:"gid"`
	Mode  string `json:"mode"`
	MTime int64  `json:"mtime"`
	NLink uint64 `json:"nlink"`
	Path  string `json:"path"`
	Size  int64  `json:"size"`
	UID   string `json:"uid"`
	// StMode is the entry's st_mode (type and permission bits), as the
	// operator API's FileInfo.mode carries it; MTimeNanos its mtime.
	StMode     uint32 `json:"-"`
	MTimeNanos int64  `json:"-"`
}

// ReadResult is a /files/read answer.
type ReadResult struct {
	Data   string `json:"data"`
	Offset int64  `json:"offset"`
}

// browseBatch is how many directory entries browse reads between checks
// that the request is still wanted and in time.
const browseBatch = 256

func (h *Handler) browse(w http.ResponseWriter, r *http.Request) {
	list, err := h.List(r.Context(), r.URL.Query().Get("path"))
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, r, list)
}

// List describes the entries of the directory p (a path as the package doc
// defines it), sorted by path; a file yields none. It gives up when ctx is
// done. Errors carry the HTTP status to answer (Status). The operator API's
// LIST_FILES and /files/browse both use it.
func (h *Handler) List(ctx context.Context, p string) ([]FileInfo, error) {
	f, st, res, err := h.openPath(ctx, p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if !st.IsDir() {
		return []FileInfo{}, nil
	}
	return h.list(ctx, f, p, res)
}

// list describes the entries of the open directory f, sorted by path. It
// gives up when ctx is done.
func (h *Handler) list(ctx context.Context, f *os.File, p string, res resolved) ([]FileInfo, error) {
	list := []FileInfo{}
	base := strings.TrimRight(p, "/")
	for {
		if ctx.Err() != nil {
			return nil, errTimeout(ctx, p)
		}
		entries, err := f.ReadDir(browseBatch)
		for _, e := range entries {
			info, err := h.entryInfo(filepath.Join(res.real, e.Name()))
			if err != nil {
				continue // vanished meanwhile
			}
			list = append(list, h.fileInfo(base+"/"+e.Name(), info))
		}
		if err == io.EOF || (err == nil && len(entries) == 0) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	slices.SortFunc(list, func(a, b FileInfo) int { return strings.Compare(a.Path, b.Path) })
	return list, nil
}

// entryInfo stats a directory entry, following a symlink only when its
// target is inside the root.
func (h *Handler) entryInfo(full string) (os.FileInfo, error) {
	info, err := os.Lstat(full)
	if err != nil || info.Mode()&os.ModeSymlink == 0 {
		return info, err
	}
	if target, err := filepath.EvalSymlinks(full); err == nil {
		if _, ok := h.within(target); ok {
			if st, err := os.Stat(target); err == nil {
				return st, nil
			}
		}
	}
	return info, nil
}

func (h *Handler) fileInfo(p string, info os.FileInfo) FileInfo {
	fi := FileInfo{
		Path:  p,
		Size:  info.Size(),
		MTime: info.ModTime().Unix(),
		Mode:  modeString(info.Mode()),
		UID:   "0",
		GID:   "0",
		NLink: 1,

		StMode:     uint32(info.Mode().Perm()),
		MTimeNanos: info.ModTime().UnixNano(),
	}
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		fi.NLink = uint64(st.Nlink)
		fi.StMode = st.Mode
		fi.UID = h.names.user(st.Uid)
		fi.GID = h.names.group(st.Gid)
	}
	return fi
}

// modeString formats m the way ls -l does, as Mesos reports it:
// "drwxr-xr-x", "-rw-r--r--".
func modeString(m os.FileMode) string {
	var b [10]byte
	switch {
	case m.IsDir():
		b[0] = 'd'
	case m&os.ModeSymlink != 0:
		b[0] = 'l'
	case m&os.ModeNamedPipe != 0:
		b[0] = 'p'
	case m&os.ModeSocket != 0:
		b[0] = 's'
	case m&os.ModeCharDevice != 0:
		b[0] = 'c'
	case m&os.ModeDevice != 0:
		b[0] = 'b'
	default:
		b[0] = '-'
	}
	const rwx = "rwxrwxrwx"
	for i := range 9 {
		if m&(1<<(8-i)) != 0 {
			b[i+1] = rwx[i]
		} else {
			b[i+1] = '-'
		}
	}
	return string(b[:])
}

// intParam reads an integer query parameter that may be -1 (its default)
// or non-negative.
func intParam(r *http.Request, name string) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return -1, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < -1 {
		return 0, statusErr(http.StatusBadRequest, "failed to parse %s %q: want -1 or a non-negative integer", name, s)
	}
	return v, nil
}

func (h *Handler) read(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Query().Get("path")
	if p == "" {
		fail(w, statusErr(http.StatusBadRequest, "expecting 'path=value' in query"))
		return
	}
	offset, err := intParam(r, "offset")
	if err != nil {
		fail(w, err)
		return
	}
	length, err := intParam(r, "length")
	if err != nil {
		fail(w, err)
		return
	}
	data, size, err := h.Read(r.Context(), p, offset, length)
	if err != nil {
		fail(w, err)
		return
	}
	if data == nil {
		writeJSON(w, r, ReadResult{Offset: size})
		return
	}
	writeJSON(w, r, ReadResult{Data: string(data), Offset: offset})
}

// Read reads at most length bytes (-1: to the end; never more than
// MaxRead) of the file p from offset, and returns them with the file's
// size. An offset of -1, or at or past the end, returns no data (nil).
// Only regular files are read (openPath refuses FIFOs, devices, sockets and
// hard-linked files without blocking); a directory is refused with 400. It
// gives up when ctx is done. Errors carry the HTTP status to answer
// (Status). The operator API's READ_FILE and /files/read both use it.
func (h *Handler) Read(ctx context.Context, p string, offset, length int64) ([]byte, int64, error) {
	if offset < -1 || length < -1 {
		return nil, 0, statusErr(http.StatusBadRequest, "offset and length must be -1 or non-negative")
	}
	f, st, _, err := h.openPath(ctx, p)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	if st.IsDir() {
		return nil, 0, statusErr(http.StatusBadRequest, "cannot read a directory")
	}
	size := st.Size()
	if offset == -1 || offset >= size {
		return nil, size, nil
	}
	if length == -1 || length > size-offset {
		length = size - offset
	}
	length = min(length, int64(h.maxRead))
	if ctx.Err() != nil {
		return nil, 0, errTimeout(ctx, p)
	}
	buf := make([]byte, length)
	n, err := f.ReadAt(buf, offset)
	if err != nil && err != io.EOF {
		return nil, 0, err
	}
	return buf[:n], size, nil
}

func (h *Handler) download(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Query().Get("path")
	f, st, res, err := h.openPath(r.Context(), p)
	if err != nil {
		fail(w, err)
		return
	}
	defer f.Close()
	if st.IsDir() {
		fail(w, statusErr(http.StatusBadRequest, "cannot download a directory"))
		return
	}
	base := filepath.Base(res.real)
	ctype := mime.TypeByExtension(filepath.Ext(base))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": base}))
	pr := &progressReader{f: f, ctx: r.Context(), rc: http.NewResponseController(w), timeout: h.timeout}
	pr.extend()
	http.ServeContent(w, r, base, st.ModTime(), pr)
}

// progressReader is the file behind a download. Each read first checks
// that the client is still there and gives the write that follows the
// handler's timeout, so a client that stops taking bytes is dropped after
// the timeout while a slow but steady one can take a large file.
type progressReader struct {
	f       *os.File
	ctx     context.Context // the request's: done when the client hangs up
	rc      *http.ResponseController
	timeout time.Duration
}

func (p *progressReader) extend() {
	// Not every ResponseWriter supports deadlines (ErrNotSupported); the
	// server's own timeouts then apply.
	_ = p.rc.SetWriteDeadline(time.Now().Add(p.timeout))
}

func (p *progressReader) Read(b []byte) (int, error) {
	if err := p.ctx.Err(); err != nil {
		return 0, err
	}
	p.extend()
	return p.f.Read(b)
}

func (p *progressReader) Seek(offset int64, whence int) (int64, error) {
	return p.f.Seek(offset, whence)
}

// nameCache maps uids and gids to names, as ls does.
type nameCache struct {
	mu     sync.Mutex
	users  map[uint32]string // guarded by mu
	groups map[uint32]string // guarded by mu
}

func newNameCache() *nameCache {
	return &nameCache{users: map[uint32]string{}, groups: map[uint32]string{}}
}

func (c *nameCache) user(id uint32) string {
	return c.lookup(c.users, id, func(s string) (string, error) {
		u, err := user.LookupId(s)
		if err != nil {
			return "", err
		}
		return u.Username, nil
	})
}

func (c *nameCache) group(id uint32) string {
	return c.lookup(c.groups, id, func(s string) (string, error) {
		g, err := user.LookupGroupId(s)
		if err != nil {
			return "", err
		}
		return g.Name, nil
	})
}

func (c *nameCache) lookup(m map[uint32]string, id uint32, find func(string) (string, error)) string {
	c.mu.Lock()
	name, ok := m[id]
	c.mu.Unlock()
	if ok {
		return name
	}
	s := strconv.FormatUint(uint64(id), 10)
	if n, err := find(s); err == nil && n != "" {
		s = n
	}
	c.mu.Lock()
	m[id] = s
	c.mu.Unlock()
	return s
}
