package launcher

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Process is a started command leading its own process group, watched by
// one goroutine that
//
//  1. waits until the leader has exited, without reaping it (waitid with
//     WNOWAIT), so its pid and group id cannot be reused yet;
//  2. marks it exited, after which Signal refuses to signal the group;
//  3. kills what is left of the group with SIGKILL, so no child outlives
//     the leader (children that left the group escape);
//  4. reaps it with cmd.Wait and closes Done.
//
// Signalling the group is therefore always safe: it either reaches our
// processes or returns ErrNoProcess, never a stranger that reused the pid.
// All methods are safe for concurrent use.
type Process struct {
	cmd  *exec.Cmd
	pid  int
	done chan struct{}

	mu      sync.Mutex
	running bool             // guarded by mu; false once the leader has exited
	state   *os.ProcessState // guarded by mu; set before done is closed
	waitErr error            // guarded by mu
}

// Start starts cmd, which must put itself in its own process group (as
// Command's result does), and watches it. The caller must not call
// cmd.Wait.
func Start(cmd *exec.Cmd) (*Process, error) {
	if cmd.SysProcAttr == nil || !cmd.SysProcAttr.Setpgid || cmd.SysProcAttr.Pgid != 0 {
		return nil, fmt.Errorf("%w: command must lead its own process group (Setpgid)", ErrInvalidCommand)
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Process{cmd: cmd, pid: cmd.Process.Pid, done: make(chan struct{}), running: true}
	go p.watch()
	return p, nil
}

func (p *Process) watch() {
	if err := WaitExited(p.pid); err != nil {
		// Not expected for our own child; reaping below still ends it.
		p.waitErr = err
	}
	p.mu.Lock()
	p.running = false
	p.mu.Unlock()
	_ = signalGroup(p.pid, syscall.SIGKILL) // stragglers; the zombie leader holds the group id
	err := p.cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		err = nil // a non-zero status is an outcome, not an error
	}
	p.mu.Lock()
	p.state = p.cmd.ProcessState
	if p.waitErr == nil {
		p.waitErr = err
	}
	p.mu.Unlock()
	close(p.done)
}

// WaitExited blocks until the child pid has exited, leaving it unreaped.
func WaitExited(pid int) error {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// Pid is the leader's process id, which is also the process group id.
func (p *Process) Pid() int { return p.pid }

// Done is closed once the process has been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// Signal sends sig to the whole process group while the leader lives;
// afterwards it returns ErrNoProcess.
func (p *Process) Signal(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.running {
		return fmt.Errorf("%w: process %d has exited", ErrNoProcess, p.pid)
	}
	return signalGroup(p.pid, sig)
}

// Wait blocks until the process has been reaped or ctx ends. The state
// describes the leader's end (see DescribeExit); the error is about
// waiting, not about the exit status.
func (p *Process) Wait(ctx context.Context) (*os.ProcessState, error) {
	select {
	case <-p.done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.state, p.waitErr
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Terminate is Mesos' kill escalation for the group: SIGTERM, then SIGKILL
// once grace has passed with the leader still alive (or at once when grace
// <= 0, or when ctx ends during the grace). It returns nil once the
// process has been reaped, or ctx.Err() if ctx ends first. Terminating a
// process that already exited is a no-op.
func (p *Process) Terminate(ctx context.Context, grace time.Duration) error {
	if grace > 0 {
		_ = p.Signal(syscall.SIGTERM)
		timer := time.NewTimer(grace)
		defer timer.Stop()
		select {
		case <-p.done:
			return nil
		case <-timer.C:
		case <-ctx.Done():
		}
	}
	_ = p.Signal(syscall.SIGKILL)
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
