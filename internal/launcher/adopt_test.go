package launcher

import (
	"context"
	"errors"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

func TestParseStartTime(t *testing.T) {
	line := []byte("42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10 18446744073709551615")
	got, err := parseStartTime(line)
	if err != nil || got != 987654 {
		t.Fatalf("parseStartTime = %d, %v; want 987654", got, err)
	}
	for _, bad := range []string{"", "1 (x", "1 (x) S 1 2", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 abc 0"} {
		if _, err := parseStartTime([]byte(bad)); err == nil {
			t.Errorf("parseStartTime(%q) succeeded", bad)
		}
	}
}

// An adopted process (here our own child, started in its own group, as an
// earlier agent would have) is watched until it ends; a wrong start time
// is refused.
func TestAdopt(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
	pid := cmd.Process.Pid
	start, err := StartTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Adopt(pid, start+1); !errors.Is(err, ErrNotSameProcess) {
		t.Fatalf("Adopt with a wrong start time: %v, want ErrNotSameProcess", err)
	}
	p, err := Adopt(pid, start)
	if err != nil {
		t.Fatal(err)
	}
	if p.Pid() != pid {
		t.Fatalf("pid %d, want %d", p.Pid(), pid)
	}
	select {
	case <-p.Done():
		t.Fatal("done before the process ended")
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.Terminate(ctx, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	state, err := p.Wait(ctx)
	if state != nil || err != nil {
		t.Fatalf("Wait = %v, %v; want nil, nil", state, err)
	}
	if err := p.Signal(syscall.SIGTERM); !errors.Is(err, ErrNoProcess) {
		t.Fatalf("Signal after the end: %v, want ErrNoProcess", err)
	}
	<-exited
	if _, err := Adopt(pid, start); !errors.Is(err, ErrNotSameProcess) {
		t.Fatalf("Adopt of an ended process: %v, want ErrNotSameProcess", err)
	}
}
