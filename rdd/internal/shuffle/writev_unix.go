//go:build darwin || linux || openbsd

package shuffle

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// maxIovecs bounds the buffers of one writev (IOV_MAX is 1024 here).
const maxIovecs = 1024

// writeFile writes bufs to f in order with gathered writes, as many as
// short writes take.
func writeFile(f *os.File, bufs [][]byte) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	for len(bufs) > 0 {
		var n int
		var werr error
		if err := rc.Write(func(fd uintptr) bool {
			for { // a regular file: no EAGAIN to wait out
				n, werr = unix.Writev(int(fd), bufs[:min(len(bufs), maxIovecs)])
				if werr != unix.EINTR {
					return true
				}
			}
		}); err != nil {
			return err
		}
		if werr != nil {
			return &os.PathError{Op: "writev", Path: f.Name(), Err: werr}
		}
		if n == 0 {
			return io.ErrShortWrite
		}
		bufs = advance(bufs, n)
	}
	return nil
}
