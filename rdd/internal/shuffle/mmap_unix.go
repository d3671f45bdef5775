//go:build unix

package shuffle

import (
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"
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

// mapCounter maps the first 8 bytes of f, a file of at least that size,
// read-write and shared with every process mapping it: the change counter
// of a store's directory (see Store.mapChanges).
func mapCounter(f *os.File) (*atomic.Uint64, func() error, error) {
	b, err := syscall.Mmap(int(f.Fd()), 0, counterSize, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	return (*atomic.Uint64)(unsafe.Pointer(&b[0])), func() error { return syscall.Munmap(b) }, nil
}
