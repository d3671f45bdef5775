package launcher

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// ErrNotSameProcess: the pid names another process than the one expected
// (the process ended and its pid was reused), or none.
var ErrNotSameProcess = errors.New("launcher: not the same process")

// StartTime returns the start time of process pid: field 22 of
// /proc/<pid>/stat, in clock ticks since boot. Together with the pid it
// names one process for the life of the machine.
func StartTime(pid int) (uint64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("%w: pid %d: %w", ErrNoProcess, pid, err)
	}
	return parseStartTime(data)
}

// parseStartTime reads field 22 of a /proc/<pid>/stat line. The command
// name (field 2) is in parentheses and may hold spaces and parentheses, so
// fields are counted from the last ')'.
func parseStartTime(stat []byte) (uint64, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("launcher: malformed /proc stat: no ')'")
	}
	f := bytes.Fields(stat[i+1:]) // f[0] is field 3
	if len(f) < 20 {
		return 0, fmt.Errorf("launcher: malformed /proc stat: %d fields after the command name", len(f))
	}
	v, err := strconv.ParseUint(string(f[22-3]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("launcher: malformed /proc stat: starttime: %w", err)
	}
	return v, nil
}

// Adopt watches a process that an earlier run of this program started (it
// is not our child any more: it was re-parented when its parent died), as
// Start watches a child: one goroutine waits for the leader to exit
// (through a pidfd, which names this process and no other), kills what is
// left of its process group, and closes Done. startTime is what StartTime
// returned when the process was started; a process with that pid but
// another start time is a stranger that reused the pid, and Adopt returns
// ErrNotSameProcess. The exit status of an adopted process cannot be
// known: Wait returns a nil state.
//
// Signalling the group is safe while the leader lives (its group id stays
// reserved); after the leader's exit only the straggler kill is sent,
// right away, while the group's other members keep the id reserved.
func Adopt(pid int, startTime uint64) (*Process, error) {
	if pid <= 0 {
		return nil, fmt.Errorf("%w: pid %d", ErrNotSameProcess, pid)
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return nil, fmt.Errorf("%w: pid %d has exited", ErrNotSameProcess, pid)
		}
		return nil, fmt.Errorf("launcher: pidfd_open %d: %w", pid, err)
	}
	// The pidfd is taken first: if the start time matches now, the pidfd
	// names that process (a pid is not reused while it lives).
	got, err := StartTime(pid)
	if err != nil || got != startTime {
		unix.Close(fd)
		if err != nil {
			return nil, fmt.Errorf("%w: pid %d: %w", ErrNotSameProcess, pid, err)
		}
		return nil, fmt.Errorf("%w: pid %d started at tick %d, expecting %d", ErrNotSameProcess, pid, got, startTime)
	}
	if pgid, err := syscall.Getpgid(pid); err != nil || pgid != pid {
		unix.Close(fd)
		return nil, fmt.Errorf("%w: pid %d does not lead its process group", ErrNotSameProcess, pid)
	}
	p := &Process{pid: pid, done: make(chan struct{}), running: true}
	go p.watchAdopted(fd)
	return p, nil
}

func (p *Process) watchAdopted(fd int) {
	defer unix.Close(fd)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(fds, -1)
		if err == nil && fds[0].Revents != 0 {
			break
		}
		if err != nil && !errors.Is(err, syscall.EINTR) {
			p.waitErr = fmt.Errorf("launcher: poll pidfd of %d: %w", p.pid, err)
			break
		}
	}
	p.mu.Lock()
	p.running = false
	p.mu.Unlock()
	_ = signalGroup(p.pid, syscall.SIGKILL) // stragglers, as for a child
	close(p.done)
}
