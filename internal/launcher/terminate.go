package launcher

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"
)

// ErrNoProcess is returned by Signal when the group has no process left.
var ErrNoProcess = errors.New("launcher: no such process")

// Signal sends sig to every process in the group led by pid.
func Signal(pid int, sig syscall.Signal) error {
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

// Terminate stops the process group led by pid the way Mesos kills a task:
// SIGTERM to the group; if the leader has not exited after grace, SIGKILL to
// the group. exited must be closed by whoever reaps the leader (after
// cmd.Wait returns). Once the leader is gone, what is left of its group is
// killed with SIGKILL, so no child outlives it.
//
// Terminate returns nil when exited is closed, or ctx.Err() when ctx ends
// first; in that case SIGKILL has been sent to the group. A grace of zero
// or less sends SIGKILL at once.
func Terminate(ctx context.Context, pid int, grace time.Duration, exited <-chan struct{}) error {
	if grace > 0 {
		_ = Signal(pid, syscall.SIGTERM) // an empty group is fine: the reaper will tell
		timer := time.NewTimer(grace)
		defer timer.Stop()
		select {
		case <-exited:
			killStragglers(pid)
			return nil
		case <-timer.C:
		case <-ctx.Done():
		}
	}
	_ = Signal(pid, syscall.SIGKILL)
	select {
	case <-exited:
		killStragglers(pid)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// killStragglers kills what remains of a group whose leader has been
// reaped. The group id stays reserved by the kernel while any member lives,
// so this cannot hit an unrelated group that reused the number unless the
// group emptied and the id was recycled within this instant.
func killStragglers(pid int) { _ = Signal(pid, syscall.SIGKILL) }
