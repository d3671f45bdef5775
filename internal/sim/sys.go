package sim

import (
	"bufio"
	"fmt"
	"os"
	"runtime/metrics"
	"strconv"
	"strings"
	"syscall"
)

// loadAverage reads the 1, 5 and 15 minute load averages from
// /proc/loadavg (zeros where it cannot be read).
func loadAverage() [3]float64 {
	var out [3]float64
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return out
	}
	return parseLoadAverage(string(b))
}

func parseLoadAverage(s string) [3]float64 {
	var out [3]float64
	for i, f := range strings.Fields(s) {
		if i == len(out) {
			break
		}
		out[i], _ = strconv.ParseFloat(f, 64)
	}
	return out
}

// procMemory reads VmRSS and VmHWM (peak RSS) of a process, in bytes, from
// /proc/PID/status; pid 0 means this process.
func procMemory(pid int) (rss, peak int64, err error) {
	path := "/proc/self/status"
	if pid > 0 {
		path = fmt.Sprintf("/proc/%d/status", pid)
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	return parseProcStatus(bufio.NewScanner(f))
}

func parseProcStatus(sc *bufio.Scanner) (rss, peak int64, err error) {
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		fields := strings.Fields(val) // "123456 kB"
		if len(fields) == 0 {
			continue
		}
		kb, perr := strconv.ParseInt(fields[0], 10, 64)
		if perr != nil {
			return 0, 0, fmt.Errorf("sim: /proc status %s: %w", key, perr)
		}
		if key == "VmRSS" {
			rss = kb << 10
		} else {
			peak = kb << 10
		}
	}
	return rss, peak, sc.Err()
}

// heapBytes is the Go heap in use by objects in this process.
func heapBytes() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(s[0].Value.Uint64())
}

// checkOpenFiles fails when this process may not open need files: every
// agent link is a connection, and in-process the master holds the other
// end of each.
func checkOpenFiles(need uint64, inProcess bool) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return nil // unknown: let the run find out
	}
	if lim.Cur >= need {
		return nil
	}
	if lim.Max >= need {
		lim.Cur = need
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
			return nil
		}
	}
	hint := "raise `ulimit -n`"
	if inProcess {
		hint += ", or run the master as its own process (meso master) and pass --master (and --master_pid)"
	}
	hint += ", or put the links on a few connections with --http2 (an external master needs --http2_cleartext)"
	return fmt.Errorf("%w: this run needs about %d open files and the limit is %d: %s", ErrConfig, need, lim.Cur, hint)
}
