//go:build unix

package shuffle

import (
	"os"
	"syscall"
)

// mapFile maps a whole file read-only. Map outputs are never modified in
// place (writers rename new files over old names), so a mapping stays valid
// even after its file is removed or replaced.
func mapFile(f *os.File) ([]byte, func() error, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if st.Size() == 0 {
		return nil, func() error { return nil }, nil
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	return b, func() error { return syscall.Munmap(b) }, nil
}
