package docker

import (
	"fmt"
	"syscall"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/cgroups"
	"github.com/mesoproject/meso/internal/containerizer"
	"github.com/mesoproject/meso/internal/launcher"
)

// exitState is what Docker says about a container that has stopped.
type exitState struct {
	code      int64  // State.ExitCode; 128+N after signal N
	oomKilled bool   // State.OOMKilled
	err       string // State.Error: Docker's own failure, if any
	memLimit  int64  // HostConfig.Memory, for the OOM message
}

// waitStatus turns Docker's exit code into a waitpid status. Docker reports
// a container killed by signal N (its first process, really) as 128+N, the
// shell convention; codes 129 to 159 are read that way, so a container
// stopped by SIGKILL is "terminated with signal Killed", as a posix task
// would be. Anything else is an exit status (low 8 bits).
func waitStatus(code int64) syscall.WaitStatus {
	if code > 128 && code < 128+32 {
		return syscall.WaitStatus(code - 128)
	}
	return syscall.WaitStatus((code & 0xff) << 8)
}

// termination describes how a container ended.
func termination(s exitState) containerizer.Termination {
	ws := waitStatus(s.code)
	t := containerizer.Termination{Status: int(ws), Message: launcher.DescribeWaitStatus(ws)}
	switch {
	case s.oomKilled:
		t.Reason = mesospb.TaskStatus_REASON_CONTAINER_LIMITATION_MEMORY
		t.Limited = true
		if s.memLimit > 0 {
			t.Message = fmt.Sprintf("Memory limit exceeded: Requested: %s (the kernel's OOM killer ended the container; %s)",
				cgroups.FormatBytes(uint64(s.memLimit)), t.Message)
		} else {
			t.Message = "Memory limit exceeded (the kernel's OOM killer ended the container; " + t.Message + ")"
		}
	case s.err != "":
		t.Message += ": " + s.err
	}
	return t
}
