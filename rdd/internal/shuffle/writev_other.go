//go:build !(darwin || linux || openbsd)

package shuffle

import "os"

// writeFile writes bufs to f in order, one write each.
func writeFile(f *os.File, bufs [][]byte) error {
	for _, b := range bufs {
		if _, err := f.Write(b); err != nil {
			return err
		}
	}
	return nil
}
