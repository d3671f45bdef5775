package defaultexec

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the kernel SIGKILL the task when the thread that
// started it exits, so no task outlives a killed executor. The caller
// starts the command from a goroutine locked to its thread, which lives as
// long as the task.
func dieWithParent(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
