package launcher

import (
	"os"
	"strconv"
	"syscall"
)

// DescribeExit says how a process ended, in the words of Mesos' command
// executor: "Command exited with status 3", "Command terminated with signal
// Killed". A nil state (never started, or not waited for) is described as
// "Command exited with unknown status".
func DescribeExit(state *os.ProcessState) string {
	if state == nil {
		return "Command exited with unknown status"
	}
	ws, ok := state.Sys().(syscall.WaitStatus)
	if !ok {
		return "Command exited with status " + strconv.Itoa(state.ExitCode())
	}
	return DescribeWaitStatus(ws)
}

// DescribeWaitStatus is DescribeExit for a raw waitpid status.
func DescribeWaitStatus(ws syscall.WaitStatus) string {
	switch {
	case ws.Exited():
		return "Command exited with status " + strconv.Itoa(ws.ExitStatus())
	case ws.Signaled():
		return "Command terminated with signal " + SignalName(ws.Signal())
	default:
		return "Command exited with unknown status"
	}
}

// SignalName is the C library's strsignal text for sig on Linux/glibc
// ("Killed", "Terminated", "Segmentation fault", "Real-time signal 2"),
// which is what Mesos puts into task status messages.
func SignalName(sig syscall.Signal) string {
	const rtMin, rtMax = 34, 64 // glibc's SIGRTMIN/SIGRTMAX as seen by programs
	switch {
	case sig >= 1 && sig < 32:
		s := sig.String()
		if s != "" && s[0] >= 'a' && s[0] <= 'z' {
			s = string(s[0]-'a'+'A') + s[1:]
		}
		return s
	case sig >= rtMin && sig <= rtMax:
		return "Real-time signal " + strconv.Itoa(int(sig-rtMin))
	default:
		return "Unknown signal " + strconv.Itoa(int(sig))
	}
}
