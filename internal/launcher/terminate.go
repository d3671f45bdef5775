package launcher

import (
	"errors"
	"fmt"
	"syscall"
)

// ErrNoProcess is returned when signalling a process that has exited.
var ErrNoProcess = errors.New("launcher: no such process")

// signalGroup sends sig to every process in the group led by pid.
func signalGroup(pid int, sig syscall.Signal) error {
	if pid <= 0 {
		return fmt.Errorf("%w: pid %d", ErrNoProcess, pid)
	}
	err := syscall.Kill(-pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("%w: process group %d", ErrNoProcess, pid)
	}
	if err != nil {
		return fmt.Errorf("launcher: signal %v to process group %d: %w", sig, pid, err)
	}
	return nil
}
