package cpuprofile

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
)

// Env names the directory profiles are written to.
const Env = "MESO_CPUPROFILE_DIR"

// Start begins a CPU profile of this process named after role if Env is
// set, and returns the function that stops it and closes the file (a no-op
// otherwise). A profile that cannot be started is reported on stderr and
// skipped: profiling never stops the process from running.
func Start(role string) (stop func()) {
	dir := os.Getenv(Env)
	if dir == "" {
		return func() {}
	}
	path := filepath.Join(dir, fmt.Sprintf("%s-%d.pprof", role, os.Getpid()))
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
		if err != nil {
			f.Close()
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: cpu profile %s: %v\n", role, path, err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
