// Package cgroups provides Mesos' cgroups isolators (cgroups/cpu,
// cgroups/mem, cgroups/pids, cgroups/all) on cgroup v1 and v2 hosts,
// through github.com/containerd/cgroups/v3.
//
// An Isolator is made once at agent start (New): it detects the version
// (v2 when /sys/fs/cgroup is the unified hierarchy; v1 otherwise, hybrid
// hosts included), checks that the selected controllers exist and that
// <own>/<root> can be created in each of their hierarchies, <own> being
// the agent's own cgroup there. Failures name the flag, e.g.
// "--isolation=cgroups/mem: cannot create cgroup at ...: permission
// denied" (ErrNotWritable), never a silent fallback. Recover then kills and
// removes orphans left under <own>/<root> by an earlier agent (except the
// cgroups the caller keeps, of executors it recovers; Open takes those
// back).
//
// Each container gets one cgroup, <own>/<root>/<container-id> (Create),
// holding its executor and everything the executor forks. The process is
// born in it (Cgroup.Start):
//
//   - v2: clone3 with CLONE_INTO_CGROUP (SysProcAttr.UseCgroupFD);
//   - v1: the fork is made from an OS thread (never the main thread) that
//     is moved into the container's cgroups for the fork and back right
//     after; the limits are written only once the thread is back, so an
//     OOM kill in the container can never select the agent.
//
// Limits (ComputeLimits, Mesos' rules): cpu.shares = 1024 x cpus (min 2),
// with --cgroups_enable_cfs a CFS quota of cpus x 100ms per 100ms; memory
// hard and soft limit = mem (min 32MB); pids.max = --cgroups_pids_limit.
// On v2 they become cpu.weight, cpu.max, memory.max, memory.low,
// memory.oom.group and pids.max.
//
// The kernel's OOM killer enforces the memory limit inside the cgroup;
// Cgroup.OOM is closed when it acts (v1: memory.oom_control eventfd; v2:
// memory.events), and Limitation gives Mesos' message ("Memory limit
// exceeded: Requested: 64MB Maximum Used: 64MB ..."). Cgroup.Kill
// freezes, SIGKILLs every process in the cgroup (v2: cgroup.kill) and waits
// until it is empty; Destroy then removes the directories.
//
// Concurrency: Isolator and Cgroup are safe for concurrent use. Each
// cgroup with memory isolation has one goroutine waiting for OOM events,
// stopped by Destroy.
package cgroups
