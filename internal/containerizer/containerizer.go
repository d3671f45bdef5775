package containerizer

import (
	"context"
	"errors"
	"syscall"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
)

// Errors callers branch on.
var (
	// ErrLaunchFailed wraps every launch failure caused by the container's
	// definition or the host (missing program, unknown user, unsupported
	// container type, sandbox missing). The agent turns it into TASK_FAILED
	// with REASON_CONTAINER_LAUNCH_FAILED.
	ErrLaunchFailed = errors.New("containerizer: launch failed")
	// ErrUnknownContainer: no container with that id (never launched, or
	// destroyed).
	ErrUnknownContainer = errors.New("containerizer: unknown container")
	// ErrExists: Launch with the id of a container still known.
	ErrExists = errors.New("containerizer: container already exists")
	// ErrUnsupported: the containerizer does not handle this container type
	// or this operation.
	ErrUnsupported = errors.New("containerizer: unsupported")
	// ErrNotRunning: Kill on a container whose processes have ended.
	ErrNotRunning = errors.New("containerizer: container is not running")
)

// Spec is one container to launch.
type Spec struct {
	ContainerID string
	// Sandbox exists already (the agent creates it); it is the working
	// directory of the process, and its stdout and stderr files are here.
	Sandbox string
	// Command is what to run; for a command task the agent builds
	// `<launcher> executor`.
	Command *mesospb.CommandInfo
	// Env holds KEY=VALUE pairs (the MESOS_* variables) laid under the
	// CommandInfo's own environment variables.
	Env []string
	// User to run as, if set and we are root; otherwise ignored with a log
	// line. It must exist on the host.
	User string
	// Resources are the container's resources, for isolators (limits) and
	// usage reports.
	Resources []*mesospb.Resource
	// Container is nil or a MESOS ContainerInfo; DOCKER needs a docker
	// containerizer.
	Container *mesospb.ContainerInfo
}

// Termination says how a container ended.
type Termination struct {
	// Status is the waitpid status of the container's main process, -1
	// when unknown. syscall.WaitStatus(Status) decodes it.
	Status int
	// Message is human-readable ("Command exited with status 1").
	Message string
	// Reason is set when the containerizer itself ended the container
	// (e.g. a limitation); 0 otherwise.
	Reason mesospb.TaskStatus_Reason
	// Limited is true when the container was ended for exceeding a
	// resource limit (an isolator's limitation, e.g. memory): Reason then
	// says which (REASON_CONTAINER_LIMITATION_MEMORY) and Message has the
	// limit and the usage. The agent fails the container's tasks with
	// them. (Reason's zero value is a real reason, hence this flag.)
	Limited bool
}

// Containerizer runs containers. Implementations are safe for concurrent
// use.
type Containerizer interface {
	// Launch starts the container, or returns an error saying why not.
	Launch(ctx context.Context, spec Spec) error
	// Wait blocks until the container has terminated (or ctx ends).
	Wait(ctx context.Context, containerID string) (Termination, error)
	// Kill sends sig to every process of the container.
	Kill(containerID string, sig syscall.Signal) error
	// Destroy sends SIGTERM, waits up to grace, sends SIGKILL, waits until
	// the container is gone and forgets it.
	Destroy(ctx context.Context, containerID string, grace time.Duration) error
	// Containers lists the ids of the known containers, sorted.
	Containers() []string
}

// Handle is what an agent checkpoints to find a container again after it
// restarted: which containerizer runs it and how to reach it.
type Handle struct {
	ContainerID string `json:"container_id"`
	// Kind is the containerizer's name (NameMesos, NameDocker).
	Kind string `json:"kind"`
	// Pid and StartTime name the main process of a posix container: its
	// pid and its start time (field 22 of /proc/<pid>/stat), so that a
	// reused pid is never taken for it.
	Pid       int    `json:"pid,omitempty"`
	StartTime uint64 `json:"start_time,omitempty"`
	// Name is the Docker container's name.
	Name     string  `json:"name,omitempty"`
	Sandbox  string  `json:"sandbox,omitempty"`
	CPUs     float64 `json:"cpus,omitempty"`
	MemBytes uint64  `json:"mem_bytes,omitempty"`
}

// Adopter is implemented by containerizers whose containers can outlive
// the agent and be taken over by its next run.
type Adopter interface {
	// Handle returns what to checkpoint about a running container.
	Handle(containerID string) (Handle, error)
	// Adopt takes over a container an earlier agent run started: Wait,
	// Kill, Destroy work on it as on a launched one. A container that is
	// gone gives an error wrapping ErrUnknownContainer.
	Adopt(ctx context.Context, h Handle) error
}

// Supporter is implemented by containerizers that handle only some
// containers; Composing asks it before launching. A containerizer without
// it is taken to support containers with no ContainerInfo or a MESOS one.
type Supporter interface {
	Supports(spec Spec) bool
}

// Usage is the resource usage of a container's processes, the part of
// Mesos' ResourceStatistics that posix isolation can measure.
type Usage struct {
	Timestamp     time.Time
	Processes     int
	Threads       int
	CPUUser       time.Duration
	CPUSystem     time.Duration
	RSSBytes      uint64
	CPUsLimit     float64 // from the container's resources; 0 when none
	MemLimitBytes uint64  // from the container's resources; 0 when none

	// Filled by cgroups isolation; nil otherwise.
	Memory     *MemoryUsage   // with cgroups/mem
	Throttling *CPUThrottling // with cgroups/cpu and --cgroups_enable_cfs
}

// MemoryUsage is the memory cgroup's accounting, in bytes. RSSBytes of
// Usage is the cgroup's anonymous memory then.
type MemoryUsage struct {
	TotalBytes       uint64 // usage including page cache (mem_total_bytes)
	MaxBytes         uint64 // peak usage (not in ResourceStatistics)
	SoftLimitBytes   uint64
	CacheBytes       uint64
	MappedFileBytes  uint64
	SwapBytes        uint64
	UnevictableBytes uint64
}

// CPUThrottling is CFS bandwidth accounting.
type CPUThrottling struct {
	Periods       uint32
	Throttled     uint32
	ThrottledTime time.Duration
}

// UsageReporter is implemented by containerizers that can measure usage.
type UsageReporter interface {
	Usage(ctx context.Context, containerID string) (Usage, error)
}

// Statistics renders u as Mesos' ResourceStatistics (for
// /monitor/statistics and the operator API).
func (u Usage) Statistics() *mesospb.ResourceStatistics {
	ts := float64(u.Timestamp.UnixNano()) / 1e9
	st := &mesospb.ResourceStatistics{
		Timestamp:          &ts,
		Processes:          ptr(uint32(u.Processes)),
		Threads:            ptr(uint32(u.Threads)),
		CpusUserTimeSecs:   ptr(u.CPUUser.Seconds()),
		CpusSystemTimeSecs: ptr(u.CPUSystem.Seconds()),
		MemRssBytes:        ptr(u.RSSBytes),
	}
	if u.CPUsLimit > 0 {
		st.CpusLimit = ptr(u.CPUsLimit)
	}
	if u.MemLimitBytes > 0 {
		st.MemLimitBytes = ptr(u.MemLimitBytes)
	}
	if m := u.Memory; m != nil {
		st.MemTotalBytes = ptr(m.TotalBytes)
		st.MemSoftLimitBytes = ptr(m.SoftLimitBytes)
		st.MemCacheBytes = ptr(m.CacheBytes)
		st.MemFileBytes = ptr(m.CacheBytes) // Mesos' deprecated name for the cache
		st.MemAnonBytes = ptr(u.RSSBytes)   // likewise for rss
		st.MemMappedFileBytes = ptr(m.MappedFileBytes)
		st.MemSwapBytes = ptr(m.SwapBytes)
		st.MemUnevictableBytes = ptr(m.UnevictableBytes)
	}
	if th := u.Throttling; th != nil {
		st.CpusNrPeriods = ptr(th.Periods)
		st.CpusNrThrottled = ptr(th.Throttled)
		st.CpusThrottledTimeSecs = ptr(th.ThrottledTime.Seconds())
	}
	return st
}

func ptr[T any](v T) *T { return &v }

// Limits sums the unreserved-or-not scalar "cpus" and "mem" (MB) of
// resources: the limits Mesos reports for a container.
func Limits(resources []*mesospb.Resource) (cpus float64, memBytes uint64) {
	var mem float64
	for _, r := range resources {
		if r.GetType() != mesospb.Value_SCALAR {
			continue
		}
		switch r.GetName() {
		case "cpus":
			cpus += r.GetScalar().GetValue()
		case "mem":
			mem += r.GetScalar().GetValue()
		}
	}
	if mem > 0 {
		memBytes = uint64(mem * 1024 * 1024)
	}
	return cpus, memBytes
}

// MesosOnly reports whether spec needs nothing beyond a plain (MESOS)
// container: no ContainerInfo, or a MESOS one without an image.
func MesosOnly(spec Spec) bool {
	ci := spec.Container
	if ci == nil {
		return true
	}
	return ci.GetType() == mesospb.ContainerInfo_MESOS && ci.GetMesos().GetImage() == nil
}

// TypeName names spec's container type for messages: "MESOS", "DOCKER", or
// "none" when there is no ContainerInfo. (GetType on a nil ContainerInfo
// would say DOCKER, proto2's default for the required enum.)
func TypeName(spec Spec) string {
	if spec.Container == nil {
		return "none"
	}
	return spec.Container.GetType().String()
}
