package fetcher

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// maxSymlinks bounds symlink hops while resolving a path (Linux' limit).
const maxSymlinks = 40

// openAs opens the local file p for reading with the permissions of o, as
// Mesos does by running its fetcher as the task's user: a framework must
// not copy into its sandbox a file its user could not read. With no owner
// (no user, or the agent is not root) the agent's own permissions apply.
//
// The path is walked one element at a time from file descriptors, each
// directory's search permission and the file's read permission checked on
// the object actually opened, so swapping path elements for symlinks while
// we walk gains nothing.
func (o *owner) openAs(p string) (*os.File, error) {
	if o == nil || o.uid == 0 {
		return openRegular(p)
	}
	w := &walk{o: o, path: p, dir: -1}
	file, err := w.run()
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: p, Err: err}
	}
	return file, nil
}

// errNotRegular refuses a local URI that names a FIFO, a device, a socket
// or a directory.
var errNotRegular = errors.New("not a regular file")

// openRegular opens the regular file p for reading with the agent's own
// permissions. It looks before it opens and opens without blocking, so a
// FIFO (whose open waits for a writer) or a device (whose open acts on
// it) is refused rather than opened, even if swapped in meanwhile.
func openRegular(p string) (*os.File, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, &os.PathError{Op: "open", Path: p, Err: errNotRegular}
	}
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: p, Err: err}
	}
	file, err := regularFile(fd, p, nil)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: p, Err: err}
	}
	return file, nil
}

// regularFile wraps fd, opened with O_NONBLOCK, once it is known to be a
// regular file that passes check (nil: no check); it closes fd otherwise.
func regularFile(fd int, name string, check func(*unix.Stat_t) error) (*os.File, error) {
	var st unix.Stat_t
	err := unix.Fstat(fd, &st)
	if err == nil && st.Mode&unix.S_IFMT != unix.S_IFREG {
		err = errNotRegular
	}
	if err == nil && check != nil {
		err = check(&st)
	}
	if err == nil {
		err = unix.SetNonblock(fd, false)
	}
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
}

// walk is one resolution of a path on behalf of a user.
type walk struct {
	o     *owner
	path  string
	dir   int // fd (O_PATH) of the directory being searched
	rest  []string
	hops  int
	final *os.File
}

func (w *walk) run() (*os.File, error) {
	if err := w.restart(w.path); err != nil {
		return nil, err
	}
	defer func() {
		if w.dir >= 0 {
			unix.Close(w.dir)
		}
	}()
	for len(w.rest) > 0 {
		name := w.rest[0]
		w.rest = w.rest[1:]
		if name == "" || name == "." {
			continue
		}
		if err := w.step(name); err != nil {
			return nil, err
		}
		if w.final != nil {
			return w.final, nil
		}
	}
	return nil, errors.New("is a directory")
}

// restart begins at "/" when target is absolute (or at the current
// directory otherwise) and queues target's elements before the rest.
func (w *walk) restart(target string) error {
	if strings.HasPrefix(target, "/") {
		fd, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		if w.dir >= 0 {
			unix.Close(w.dir)
		}
		w.dir = fd
	}
	w.rest = append(strings.Split(target, "/"), w.rest...)
	return nil
}

// step resolves name inside the current directory. Each element is first
// opened with O_PATH, which neither blocks nor acts on a device, and only
// a final regular file is then opened for reading.
func (w *walk) step(name string) error {
	if err := w.may(w.dir, 0o1); err != nil { // search permission
		return err
	}
	fd, err := unix.Openat(w.dir, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return err
	}
	typ := st.Mode & unix.S_IFMT
	switch {
	case typ == unix.S_IFLNK:
		defer unix.Close(fd)
		return w.follow(fd)
	case len(w.rest) == 0 && typ == unix.S_IFREG:
		unix.Close(fd)
		return w.finish(name, &st)
	case len(w.rest) == 0:
		unix.Close(fd)
		return errNotRegular
	case typ != unix.S_IFDIR:
		unix.Close(fd)
		return unix.ENOTDIR
	}
	unix.Close(w.dir)
	w.dir = fd
	return nil
}

func (w *walk) follow(link int) error {
	if w.hops++; w.hops > maxSymlinks {
		return unix.ELOOP
	}
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(link, "", buf)
	if err != nil {
		return err
	}
	return w.restart(string(buf[:n]))
}

// finish opens the regular file name, seen as st, for reading, checking
// the object opened is that file and is readable by the user.
func (w *walk) finish(name string, seen *unix.Stat_t) error {
	fd, err := unix.Openat(w.dir, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	file, err := regularFile(fd, w.path, func(st *unix.Stat_t) error {
		if st.Dev != seen.Dev || st.Ino != seen.Ino {
			return fmt.Errorf("%w: replaced while opened", unix.EAGAIN)
		}
		return w.o.allowed(st, 0o4)
	})
	if err != nil {
		return err
	}
	w.final = file
	return nil
}

// may checks the user has the permission bit on the object behind fd.
func (w *walk) may(fd int, bit uint32) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	return w.o.allowed(&st, bit)
}

// allowed says whether the user has the permission bit (1 search/execute,
// 4 read) on an object, from its owner, group and mode bits (ACLs are not
// consulted).
func (o *owner) allowed(st *unix.Stat_t, bit uint32) error {
	var shift uint
	switch {
	case int(st.Uid) == o.uid:
		shift = 6
	case o.inGroup(int(st.Gid)):
		shift = 3
	}
	if st.Mode&(bit<<shift) == 0 {
		return fmt.Errorf("%w for user %q", unix.EACCES, o.name)
	}
	return nil
}
