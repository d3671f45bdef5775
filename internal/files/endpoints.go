package files

import (
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

func (h *Handler) browse(w http.ResponseWriter, r *http.Request) {
	list, err := h.List(r.URL.Query().Get("path"))
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, r, list)
}

// List describes the entries of the directory p (a path as the package doc
// defines it), sorted by path; a file yields none. Errors carry the HTTP
// status to answer (Status).
func (h *Handler) List(p string) ([]FileInfo, error) {
	f, st, res, err := h.openPath(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	list := []FileInfo{}
	if st.IsDir() {
		entries, err := f.ReadDir(-1)
		if err != nil {
			return nil, err
		}
		base := strings.TrimRight(p, "/")
		for _, e := range entries {
			info, err := h.entryInfo(filepath.Join(res.real, e.Name()))
			if err != nil {
				continue // vanished meanwhile
			}
			list = append(list, h.fileInfo(base+"/"+e.Name(), info))
		}
		slices.SortFunc(list, func(a, b FileInfo) int { return strings.Compare(a.Path, b.Path) })
	}
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
	data, size, err := h.Read(p, offset, length)
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
// MaxRead) of the regular file p from offset, and returns them with the
// file's size. An offset of -1, or at or past the end, returns no data
// (nil). Directories, FIFOs, devices and sockets are refused (400): a FIFO
// is opened without blocking and never read. Errors carry the HTTP status
// to answer (Status).
func (h *Handler) Read(p string, offset, length int64) ([]byte, int64, error) {
	if offset < -1 || length < -1 {
		return nil, 0, statusErr(http.StatusBadRequest, "offset and length must be -1 or non-negative")
	}
	f, st, _, err := h.openPath(p)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	if !st.Mode().IsRegular() {
		return nil, 0, statusErr(http.StatusBadRequest, "%q is not a regular file", p)
	}
	size := st.Size()
	if offset == -1 || offset >= size {
		return nil, size, nil
	}
	if length == -1 || length > size-offset {
		length = size - offset
	}
	length = min(length, int64(h.maxRead))
	buf := make([]byte, length)
	n, err := f.ReadAt(buf, offset)
	if err != nil && err != io.EOF {
		return nil, 0, err
	}
	return buf[:n], size, nil
}

func (h *Handler) download(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Query().Get("path")
	f, st, res, err := h.openPath(p)
	if err != nil {
		fail(w, err)
		return
	}
	defer f.Close()
	if !st.Mode().IsRegular() {
		fail(w, statusErr(http.StatusBadRequest, "%q is not a regular file", p))
		return
	}
	base := filepath.Base(res.real)
	ctype := mime.TypeByExtension(filepath.Ext(base))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": base}))
	http.ServeContent(w, r, base, st.ModTime(), f)
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
