package defaultexec

import (
	"os"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/launcher"
)

// terminalStatus decides the final state of a task from how its process
// ended and whether the executor was killing it.
func terminalStatus(ps *os.ProcessState, killed bool) (mesospb.TaskState, string) {
	msg := launcher.DescribeExit(ps)
	switch {
	case killed:
		return mesospb.TaskState_TASK_KILLED, msg
	case ps != nil && ps.Exited() && ps.ExitCode() == 0:
		return mesospb.TaskState_TASK_FINISHED, msg
	default:
		return mesospb.TaskState_TASK_FAILED, msg
	}
}

// killGrace picks the grace period of a kill: the KILL event's policy, else
// the task's, else def.
func killGrace(event, task *mesospb.KillPolicy, def time.Duration) time.Duration {
	for _, p := range []*mesospb.KillPolicy{event, task} {
		if g := p.GetGracePeriod(); g != nil {
			return max(0, time.Duration(g.GetNanoseconds()))
		}
	}
	return def
}

// shutdownGrace caps the kills of a shutdown: shorter than the agent's
// grace, which destroys the container after the full period.
func shutdownGrace(period time.Duration) time.Duration { return period * 3 / 4 }

// hasCapability reports whether the framework declared capability c.
func hasCapability(fw *mesospb.FrameworkInfo, c mesospb.FrameworkInfo_Capability_Type) bool {
	for _, cp := range fw.GetCapabilities() {
		if cp.GetType() == c {
			return true
		}
	}
	return false
}
