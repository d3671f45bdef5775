package rdd_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/mesoproject/meso/rdd"
)

// MESO_RDD_DRIVER_CPUPROFILE makes a driver write its CPU profile from
// Start to Close.
func TestDriverCPUProfile(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("MESO_RDD_DRIVER_CPUPROFILE", dir)
	s, err := rdd.Start(rdd.Config{Master: "local[2]"})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := rdd.Count(context.Background(), s, rdd.Range(0, 1000, 4)); err != nil || n != 1000 {
		t.Fatalf("count %d, %v", n, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "driver-*.pprof"))
	if err != nil || len(files) != 1 {
		t.Fatalf("profiles %v, %v", files, err)
	}
	if fi, err := os.Stat(files[0]); err != nil || fi.Size() == 0 {
		t.Fatalf("profile %s: %v, %v", files[0], fi, err)
	}
}
