package execpolicy

import (
	"os"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/launcher"
)

// TerminalStatus decides the final state of a task from how its command
// ended and whether the executor was killing it.
func TerminalStatus(ps *os.ProcessState, killed bool) (mesospb.TaskState, string) {
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

// KillGrace picks the grace period of a kill: the KILL event's policy, else
// the task's, else def.
func KillGrace(event, task *mesospb.KillPolicy, def time.Duration) time.Duration {
	for _, p := range []*mesospb.KillPolicy{event, task} {
		if g := p.GetGracePeriod(); g != nil {
			return max(0, time.Duration(g.GetNanoseconds()))
		}
	}
	return def
}

// ShutdownGrace is the grace used when the executor itself must stop
// (SHUTDOWN, SIGTERM): shorter than the agent's, which escalates after the
// full period.
func ShutdownGrace(period time.Duration) time.Duration { return period * 3 / 4 }

// HasCapability reports whether the framework declared capability c.
func HasCapability(fw *mesospb.FrameworkInfo, c mesospb.FrameworkInfo_Capability_Type) bool {
	return mesospb.HasCapability(fw, c)
}
