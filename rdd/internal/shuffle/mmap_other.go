//go:build !unix

package shuffle

import (
	"errors"
	"io"
	"os"
	"sync/atomic"
)

// mapFile reads a whole file where memory mapping is not available.
func mapFile(f *os.File) ([]byte, func() error, error) {
	b, err := io.ReadAll(f)
	return b, func() error { return nil }, err
}

// mapCounter is not available: a peer store checks every fetch's file.
func mapCounter(*os.File) (*atomic.Uint64, func() error, error) {
	return nil, nil, errors.New("shared mappings are not available")
}
