package benchrun

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Result is one mode's measurement.
type Result struct {
	Mode    string
	Wall    time.Duration
	MaxRSS  int64 // bytes
	Output  string
	CPUTime time.Duration
}

// Compare re-runs this binary once per mode with "-mode=<mode>" appended to
// args, and prints a table. The first mode is the subject, the last the
// baseline.
func Compare(args []string, modes ...string) error {
	var results []Result
	for _, m := range modes {
		r, err := run(args, m)
		if err != nil {
			return err
		}
		results = append(results, r)
	}
	base := results[len(results)-1]
	fmt.Printf("%-10s %10s %10s %10s %7s  %s\n", "mode", "wall", "cpu", "max RSS", "ratio", "output")
	for _, r := range results {
		fmt.Printf("%-10s %10v %10v %8.0fMB %6.2fx  %s\n", r.Mode, r.Wall.Round(time.Millisecond),
			r.CPUTime.Round(time.Millisecond), float64(r.MaxRSS)/(1<<20),
			float64(r.Wall)/float64(base.Wall), strings.TrimSpace(r.Output))
	}
	return nil
}

func run(args []string, mode string) (Result, error) {
	cmd := exec.Command(os.Args[0], append(append([]string{}, args...), "-mode="+mode)...)
	cmd.Stderr = os.Stderr
	start := time.Now()
	out, err := cmd.Output()
	wall := time.Since(start)
	if err != nil {
		return Result{}, fmt.Errorf("mode %s: %w", mode, err)
	}
	r := Result{Mode: mode, Wall: wall, Output: string(out)}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.MaxRSS = ru.Maxrss * 1024
		r.CPUTime = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return r, nil
}
