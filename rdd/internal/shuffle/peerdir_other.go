//go:build !unix

package shuffle

import (
	"os"
	"path/filepath"
)

// fileID identifies an unchanged file (see peerdir_unix.go).
type fileID struct{ fi os.FileInfo }

func (a fileID) same(b fileID) bool {
	return a.fi != nil && b.fi != nil && os.SameFile(a.fi, b.fi) && a.fi.Size() == b.fi.Size() &&
		a.fi.ModTime().Equal(b.fi.ModTime())
}

// peerDir is a peer store's directory (see peerdir_unix.go); here each
// check stats the whole path.
type peerDir struct{ dir string }

func openPeerDir(dir string) (*peerDir, error) { return &peerDir{dir: dir}, nil }

func (d *peerDir) stat(name string) (fileID, error) {
	fi, err := os.Stat(filepath.Join(d.dir, name))
	return fileID{fi}, err
}

func (d *peerDir) close() error { return nil }

func openedID(f *os.File) (fileID, error) {
	fi, err := f.Stat()
	return fileID{fi}, err
}
