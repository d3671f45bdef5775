package posix

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/mesoproject/meso/internal/cgroups"
	"github.com/mesoproject/meso/internal/containerizer"
)

// userHZ is the unit of the times in /proc/<pid>/stat; the Linux ABI fixes
// it at 100 whatever the kernel's internal HZ.
const userHZ = 100

// procStat is what Usage needs from one /proc/<pid>/stat line.
type procStat struct {
	pgrp       int
	utime      uint64 // ticks, including waited-for children (cutime)
	stime      uint64 // ticks, including waited-for children (cstime)
	numThreads int
	rssPages   uint64
}

var errStat = errors.New("posix: malformed /proc stat")

// parseStat reads a /proc/<pid>/stat line. The command name is in
// parentheses and may itself contain spaces and parentheses, so fields are
// counted from the last ')'.
func parseStat(b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, errStat
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state); field n is f[n-3].
	if len(f) < 22 {
		return procStat{}, errStat
	}
	num := func(n int) (uint64, error) { return strconv.ParseUint(string(f[n-3]), 10, 64) }
	var st procStat
	pgrp, err := strconv.Atoi(string(f[5-3]))
	if err != nil {
		return procStat{}, fmt.Errorf("%w: pgrp: %v", errStat, err)
	}
	st.pgrp = pgrp
	var v [6]uint64
	for k, n := range []int{14, 15, 16, 17, 20, 24} { // utime stime cutime cstime num_threads rss
		// cutime and cstime are signed in the kernel's format; never negative in practice.
		x, err := num(n)
		if err != nil {
			if y, err2 := strconv.ParseInt(string(f[n-3]), 10, 64); err2 == nil && y < 0 {
				x = 0
			} else {
				return procStat{}, fmt.Errorf("%w: field %d: %v", errStat, n, err)
			}
		}
		v[k] = x
	}
	st.utime = v[0] + v[2]
	st.stime = v[1] + v[3]
	st.numThreads = int(v[4])
	st.rssPages = v[5]
	return st, nil
}

// Usage implements containerizer.UsageReporter: CPU time, RSS, process and
// thread counts of the processes in the container's process group, read
// from /proc, with the cpus/mem limits of its resources.
func (z *Containerizer) Usage(ctx context.Context, id string) (containerizer.Usage, error) {
	c, err := z.lookup(id)
	if err != nil {
		return containerizer.Usage{}, err
	}
	u := containerizer.Usage{Timestamp: time.Now(), CPUsLimit: c.cpus, MemLimitBytes: c.memBytes}
	select {
	case <-c.done:
		return u, nil // nothing left to measure
	default:
	}
	if err := addGroupUsage(ctx, &u, c.proc.Pid()); err != nil {
		return containerizer.Usage{}, fmt.Errorf("posix: usage of %q: %w", id, err)
	}
	if c.cg != nil {
		if err := overlayCgroup(&u, c.cg); err != nil {
			return containerizer.Usage{}, err
		}
	}
	return u, nil
}

// GroupUsage is Usage's /proc part for one process group: CPU time, RSS,
// process and thread counts of its processes, stamped now.
func GroupUsage(ctx context.Context, pgid int) (containerizer.Usage, error) {
	u := containerizer.Usage{Timestamp: time.Now()}
	err := addGroupUsage(ctx, &u, pgid)
	return u, err
}

func addGroupUsage(ctx context.Context, u *containerizer.Usage, pgid int) error {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return err
	}
	page := uint64(os.Getpagesize())
	var utime, stime uint64
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue // exited meanwhile
		}
		st, err := parseStat(b)
		if err != nil || st.pgrp != pgid {
			continue
		}
		u.Processes++
		u.Threads += st.numThreads
		utime += st.utime
		stime += st.stime
		u.RSSBytes += st.rssPages * page
	}
	u.CPUUser = ticks(utime)
	u.CPUSystem = ticks(stime)
	return nil
}

// overlayCgroup replaces the /proc figures with the cgroup's, which count
// every process of the container (including those that left its process
// group) and add what the controllers account.
func overlayCgroup(u *containerizer.Usage, cg *cgroups.Cgroup) error {
	st, err := cg.Stats()
	if err != nil {
		return fmt.Errorf("posix: usage: %w", err)
	}
	u.Processes, u.Threads = st.Processes, st.Threads
	sel := cg.Selection()
	if sel.Has(cgroups.CPU) {
		u.CPUUser, u.CPUSystem = st.CPUUser, st.CPUSystem
	}
	if th := st.Throttling; th != nil {
		u.Throttling = &containerizer.CPUThrottling{Periods: uint32(th.Periods), Throttled: uint32(th.Throttled), ThrottledTime: th.ThrottledTime}
	}
	if m := st.Memory; m != nil {
		u.RSSBytes = m.RSS
		u.Memory = &containerizer.MemoryUsage{
			TotalBytes: m.Usage, MaxBytes: m.MaxUsage, SoftLimitBytes: m.SoftLimit,
			CacheBytes: m.Cache, MappedFileBytes: m.MappedFile, SwapBytes: m.Swap, UnevictableBytes: m.Unevictable,
		}
	}
	return nil
}

func ticks(n uint64) time.Duration { return time.Duration(n) * (time.Second / userHZ) }
