package cgroups

import (
	"fmt"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Controller is a resource controller an isolator needs.
type Controller string

// Controllers meso drives.
const (
	CPU    Controller = "cpu"    // cpu shares and CFS quota; cpu time accounting (v1: cpu + cpuacct)
	Memory Controller = "memory" // hard (and soft) memory limit, OOM events, memory accounting
	Pids   Controller = "pids"   // process count limit and accounting
)

// Isolator names accepted in the agent's --isolation flag.
const (
	IsolatorCPU  = "cgroups/cpu"
	IsolatorMem  = "cgroups/mem"
	IsolatorPids = "cgroups/pids"
	IsolatorAll  = "cgroups/all"
)

// Mesos' constants for turning resources into cgroup limits.
const (
	CPUSharesPerCPU = 1024                    // cpu.shares for one cpu
	MinCPUShares    = 2                       // the kernel's minimum cpu.shares
	CFSPeriod       = 100 * time.Millisecond  // CFS bandwidth period
	MinCFSQuota     = time.Millisecond        // smallest CFS quota per period
	MinMemory       = 32 << 20                // smallest memory limit, bytes
	maxCPUShares    = 262144                  // the kernel's maximum cpu.shares
	v2MaxWeight     = 10000                   // cgroup v2 cpu.weight range is 1..10000
	v2DefaultPeriod = uint64(CFSPeriod / 1e3) // microseconds
)

// IsIsolator reports whether name is one of the cgroups isolators.
func IsIsolator(name string) bool {
	switch name {
	case IsolatorCPU, IsolatorMem, IsolatorPids, IsolatorAll:
		return true
	}
	return false
}

// Selection is which controllers the --isolation flag asked for, and by
// which isolator name (for error messages that name the flag).
type Selection struct {
	Controllers []Controller          // sorted, no duplicates
	By          map[Controller]string // controller -> the isolator that asked for it
}

// Select reads the cgroups entries of the --isolation list (others are
// ignored: they belong to other isolators). cgroups/all means cpu, memory
// and pids.
func Select(isolation []string) Selection {
	s := Selection{By: map[Controller]string{}}
	add := func(c Controller, by string) {
		if _, ok := s.By[c]; !ok {
			s.By[c] = by
			s.Controllers = append(s.Controllers, c)
		}
	}
	for _, iso := range isolation {
		switch iso {
		case IsolatorCPU:
			add(CPU, iso)
		case IsolatorMem:
			add(Memory, iso)
		case IsolatorPids:
			add(Pids, iso)
		case IsolatorAll:
			add(CPU, iso)
			add(Memory, iso)
			add(Pids, iso)
		}
	}
	slices.Sort(s.Controllers)
	return s
}

// Has reports whether c was selected.
func (s Selection) Has(c Controller) bool { _, ok := s.By[c]; return ok }

// Flag names the flag setting that selected c, for error messages:
// "--isolation=cgroups/mem".
func (s Selection) Flag(c Controller) string { return "--isolation=" + s.By[c] }

// Limits are the values written to a container's cgroup. Zero means
// "leave the kernel default" (no limit).
type Limits struct {
	CPUShares       uint64        // v1 cpu.shares; v2 cpu.weight is derived (V2Weight)
	CFSPeriod       time.Duration // with CFSQuota: v1 cpu.cfs_period_us / cfs_quota_us, v2 cpu.max
	CFSQuota        time.Duration
	MemoryBytes     uint64 // hard limit: v1 memory.limit_in_bytes, v2 memory.max
	MemorySoftBytes uint64 // soft limit: v1 memory.soft_limit_in_bytes, v2 memory.low
	Pids            uint64 // pids.max
}

// ComputeLimits turns a container's resources into limits the way Mesos
// does: cpu.shares = 1024 per cpu (at least 2); with cfs a quota of
// cpus x 100ms per 100ms period (at least 1ms); memory hard and soft
// limits = mem (at least 32MB); pids.max = pidsLimit. Only the selected
// controllers get limits; a resource that is absent (0) is not limited.
func ComputeLimits(sel Selection, cpus float64, memBytes uint64, cfs bool, pidsLimit uint64) Limits {
	var l Limits
	if sel.Has(CPU) && cpus > 0 && !math.IsInf(cpus, 0) && !math.IsNaN(cpus) {
		shares := min(max(uint64(cpus*CPUSharesPerCPU), MinCPUShares), maxCPUShares)
		l.CPUShares = shares
		if cfs {
			l.CFSPeriod = CFSPeriod
			quota := time.Duration(float64(CFSPeriod) * cpus).Truncate(time.Microsecond)
			l.CFSQuota = max(quota, MinCFSQuota)
		}
	}
	if sel.Has(Memory) && memBytes > 0 {
		l.MemoryBytes = max(memBytes, MinMemory)
		l.MemorySoftBytes = l.MemoryBytes
	}
	if sel.Has(Pids) {
		l.Pids = pidsLimit
	}
	return l
}

// V2Weight converts v1 cpu.shares (2..262144) to cgroup v2 cpu.weight
// (1..10000), linearly, as the OCI runtimes do; 0 stays 0 (unset).
func V2Weight(shares uint64) uint64 {
	if shares == 0 {
		return 0
	}
	shares = min(max(shares, MinCPUShares), maxCPUShares)
	return 1 + ((shares-MinCPUShares)*(v2MaxWeight-1))/(maxCPUShares-MinCPUShares)
}

// V2CPUMax is the cgroup v2 cpu.max value for l ("<quota> <period>" in
// microseconds, or "max <period>" without a quota).
func V2CPUMax(l Limits) string {
	if l.CFSQuota <= 0 {
		return "max " + strconv.FormatUint(v2DefaultPeriod, 10)
	}
	return fmt.Sprintf("%d %d", l.CFSQuota.Microseconds(), l.CFSPeriod.Microseconds())
}

// FormatBytes writes n the way Mesos (stout's Bytes) does: in the largest
// unit that loses nothing, e.g. "32MB", "1536KB", "1000B", "0B".
func FormatBytes(n uint64) string {
	units := []string{"B", "KB", "MB", "GB", "TB"}
	i := 0
	for n != 0 && n%1024 == 0 && i < len(units)-1 {
		n /= 1024
		i++
	}
	return strconv.FormatUint(n, 10) + units[i]
}

// MemoryLimitMessage is the termination message of a container killed for
// exceeding its memory limit, in Mesos' words: the limit, the peak usage
// and the cgroup's memory statistics (omitted when empty).
func MemoryLimitMessage(limit, maxUsed uint64, stat string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Memory limit exceeded: Requested: %s Maximum Used: %s\n", FormatBytes(limit), FormatBytes(maxUsed))
	if stat = strings.TrimSpace(stat); stat != "" {
		b.WriteString("\nMEMORY STATISTICS: \n")
		b.WriteString(stat)
		b.WriteString("\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

// CheckRoot validates a --cgroups_root value: a relative path without ".."
// or empty elements ("meso", "meso/agent1").
func CheckRoot(root string) error {
	if root == "" || strings.HasPrefix(root, "/") || path.Clean(root) != root || strings.ContainsRune(root, 0) {
		return fmt.Errorf("%w: --cgroups_root=%q must be a clean relative path", ErrInvalid, root)
	}
	for _, el := range strings.Split(root, "/") {
		if el == ".." || el == "." {
			return fmt.Errorf("%w: --cgroups_root=%q must not contain %q", ErrInvalid, root, el)
		}
	}
	return nil
}

// CheckID validates a container id used as a cgroup directory name.
func CheckID(id string) error {
	if id == "" || id == "." || id == ".." || strings.ContainsAny(id, "/\x00\n") {
		return fmt.Errorf("%w: container id %q cannot name a cgroup", ErrInvalid, id)
	}
	return nil
}

// GroupPath is the cgroup of container id: <own>/<root>/<id>, where own is
// the agent's own cgroup (as in /proc/self/cgroup, "/" for the root).
func GroupPath(own, root, id string) (string, error) {
	if err := CheckRoot(root); err != nil {
		return "", err
	}
	if err := CheckID(id); err != nil {
		return "", err
	}
	if !strings.HasPrefix(own, "/") {
		return "", fmt.Errorf("%w: own cgroup %q is not absolute", ErrInvalid, own)
	}
	return path.Join(own, root, id), nil
}
