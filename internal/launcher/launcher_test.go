package launcher

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
	"google.golang.org/protobuf/proto"
)

func shell(v string) *mesospb.CommandInfo { return &mesospb.CommandInfo{Value: proto.String(v)} }

func program(v string, args ...string) *mesospb.CommandInfo {
	return &mesospb.CommandInfo{Shell: proto.Bool(false), Value: proto.String(v), Arguments: args}
}

func envVar(name, value string) *mesospb.Environment_Variable {
	return &mesospb.Environment_Variable{Name: proto.String(name), Value: proto.String(value)}
}

// run starts ci and returns its stdout and how it ended.
func run(t *testing.T, ci *mesospb.CommandInfo, dir string, env []string) (string, *os.ProcessState) {
	t.Helper()
	cmd, err := Command(ci, dir, env)
	if err != nil {
		t.Fatalf("Command: %v", err)
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	err = cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("run: %v", err)
	}
	return out.String(), cmd.ProcessState
}

func TestShellCommand(t *testing.T) {
	dir := t.TempDir()
	ci := shell(`echo "$GREETING from $(pwd)"; exit 3`)
	ci.Environment = &mesospb.Environment{Variables: []*mesospb.Environment_Variable{envVar("GREETING", "hello")}}
	out, state := run(t, ci, dir, []string{"GREETING=overridden", "OTHER=1"})
	real, _ := filepath.EvalSymlinks(dir)
	if want := "hello from " + real + "\n"; out != want {
		t.Errorf("stdout = %q, want %q", out, want)
	}
	if got := DescribeExit(state); got != "Command exited with status 3" {
		t.Errorf("DescribeExit = %q", got)
	}
}

func TestShellIgnoresArguments(t *testing.T) {
	ci := shell(`echo "$0 $#"`)
	ci.Arguments = []string{"x", "y"}
	out, _ := run(t, ci, t.TempDir(), nil)
	if out != "sh 0\n" {
		t.Errorf("stdout = %q", out)
	}
}

func TestProgramArgvIncludesArgv0(t *testing.T) {
	script := `printf '%s|' "$0" "$1"; tr '\0' '\n' < /proc/$$/cmdline | head -n 1`
	out, state := run(t, program("/bin/sh", "mysh", "-c", script, "zero", "one"), t.TempDir(), nil)
	if out != "zero|one|mysh\n" || !state.Success() {
		t.Errorf("stdout = %q, state %v", out, state)
	}
	// No arguments: argv is [value].
	out, _ = run(t, program("/bin/echo"), t.TempDir(), nil)
	if out != "\n" {
		t.Errorf("bare echo = %q", out)
	}
}

// A program without '/' is found through the PATH of the command's own
// environment, not ours; relative entries are relative to the sandbox.
func TestProgramLookupUsesCommandPath(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\necho from-sandbox-bin \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "greet"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	out, _ := run(t, program("greet", "greet", "a"), dir, []string{"PATH=bin:/usr/bin:/bin"})
	if out != "from-sandbox-bin a\n" {
		t.Errorf("stdout = %q", out)
	}
	ci := program("greet")
	ci.Environment = &mesospb.Environment{Variables: []*mesospb.Environment_Variable{envVar("PATH", bin)}}
	if out, _ = run(t, ci, t.TempDir(), nil); out != "from-sandbox-bin\n" {
		t.Errorf("stdout with CommandInfo PATH = %q", out)
	}
	// Relative path with '/': relative to the working directory.
	if out, _ = run(t, program("./bin/greet"), dir, nil); out != "from-sandbox-bin\n" {
		t.Errorf("stdout ./bin/greet = %q", out)
	}
}

func TestDefaultPath(t *testing.T) {
	out, _ := run(t, shell(`echo "$PATH"`), t.TempDir(), []string{"A=1"})
	if out != DefaultPath+"\n" {
		t.Errorf("PATH = %q", out)
	}
}

func TestCommandErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "plain"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	secret := envVar("TOKEN", "")
	secret.Type = mesospb.Environment_Variable_SECRET.Enum()
	noValue := &mesospb.Environment_Variable{Name: proto.String("X")}
	unknown := envVar("X", "1")
	unknown.Type = mesospb.Environment_Variable_UNKNOWN.Enum()
	withEnv := func(v ...*mesospb.Environment_Variable) *mesospb.CommandInfo {
		ci := shell("true")
		ci.Environment = &mesospb.Environment{Variables: v}
		return ci
	}
	tests := []struct {
		name string
		ci   *mesospb.CommandInfo
		want error
	}{
		{"nil", nil, ErrInvalidCommand},
		{"shell without value", &mesospb.CommandInfo{}, ErrInvalidCommand},
		{"program without value", &mesospb.CommandInfo{Shell: proto.Bool(false)}, ErrInvalidCommand},
		{"missing program", program("no-such-program-xyz"), ErrNotFound},
		{"missing absolute", program("/no/such/program"), ErrNotFound},
		{"not executable", program("./plain"), ErrNotFound},
		{"directory", program("/tmp"), ErrNotFound},
		{"secret", withEnv(secret), ErrUnsupported},
		{"value without value", withEnv(noValue), ErrInvalidCommand},
		{"unknown type", withEnv(unknown), ErrInvalidCommand},
		{"bad name", withEnv(envVar("A=B", "1")), ErrInvalidCommand},
	}
	for _, tt := range tests {
		_, err := Command(tt.ci, dir, nil)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestMergeEnv(t *testing.T) {
	got := MergeEnv([]string{"A=1", "B=2", "junk"}, []string{"B=3", "C=4"}, []string{"A=5"})
	want := []string{"A=5", "B=3", "C=4"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("MergeEnv = %v, want %v", got, want)
	}
}

func TestOwnProcessGroup(t *testing.T) {
	out, _ := run(t, shell(`echo "$$ $(ps -o pgid= -p $$)"`), t.TempDir(), nil)
	f := strings.Fields(out)
	if len(f) != 2 || f[0] != f[1] {
		t.Errorf("pid/pgid = %q, want equal", out)
	}
}

// started is a running Process with its stdout lines.
type started struct {
	p     *Process
	lines *bufio.Scanner
}

func start(t *testing.T, script string) *started {
	t.Helper()
	cmd, err := Command(shell(script), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	// A pipe of our own, not cmd.StdoutPipe: the Process reaps the command
	// as soon as it exits, and exec.Cmd.Wait closes a StdoutPipe's read end,
	// so a command that prints and exits at once could lose its output.
	stdout, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = w
	p, err := Start(cmd)
	w.Close()
	if err != nil {
		stdout.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.Signal(syscall.SIGKILL)
		<-p.Done()
		stdout.Close()
	})
	return &started{p: p, lines: bufio.NewScanner(stdout)}
}

func (s *started) readLine(t *testing.T) string {
	t.Helper()
	if !s.lines.Scan() {
		t.Fatalf("no line from the command: %v", s.lines.Err())
	}
	return s.lines.Text()
}

func (s *started) describe(t *testing.T) string {
	t.Helper()
	state, err := s.p.Wait(context.Background())
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	return DescribeExit(state)
}

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // poll interval
	}
}

// gone waits until pid no longer exists or is a zombie (its parent is gone
// and init has yet to reap it).
func gone(t *testing.T, pid int) {
	t.Helper()
	waitFor(t, "process "+strconv.Itoa(pid)+" to die", func() bool {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return true
		}
		i := bytes.LastIndexByte(b, ')')
		return i > 0 && i+2 < len(b) && b[i+2] == 'Z'
	})
}

func TestTerminateCooperative(t *testing.T) {
	s := start(t, `sleep 1000 & echo $!; wait`)
	child, _ := strconv.Atoi(s.readLine(t))
	// A grace of an hour: this returns only because SIGTERM worked.
	if err := s.p.Terminate(context.Background(), time.Hour); err != nil {
		t.Fatal(err)
	}
	if got := s.describe(t); got != "Command terminated with signal Terminated" {
		t.Errorf("DescribeExit = %q", got)
	}
	gone(t, child)
}

func TestTerminateEscalatesToSIGKILL(t *testing.T) {
	// The shell and its child ignore SIGTERM (ignored signals stay ignored
	// across exec).
	s := start(t, `trap '' TERM; sleep 1000 & echo $!; wait`)
	child, _ := strconv.Atoi(s.readLine(t))
	if err := s.p.Terminate(context.Background(), 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if got := s.describe(t); got != "Command terminated with signal Killed" {
		t.Errorf("DescribeExit = %q", got)
	}
	gone(t, child)
}

// When the leader dies on SIGTERM but a child ignores it, the child is
// killed once the leader is reaped.
func TestTerminateKillsStragglers(t *testing.T) {
	s := start(t, `(trap '' TERM; exec sleep 1000) & echo $!; wait`)
	child, _ := strconv.Atoi(s.readLine(t))
	waitIgnoresTERM(t, child)
	if err := s.p.Terminate(context.Background(), time.Hour); err != nil {
		t.Fatal(err)
	}
	gone(t, child)
}

// waitIgnoresTERM waits until pid is sleep with SIGTERM ignored.
func waitIgnoresTERM(t *testing.T, pid int) {
	t.Helper()
	waitFor(t, "sleep ignoring SIGTERM", func() bool {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
		if !strings.Contains(string(b), "Name:\tsleep") {
			return false
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "SigIgn:"); ok {
				mask, _ := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
				return mask&(1<<(syscall.SIGTERM-1)) != 0
			}
		}
		return false
	})
}

func TestTerminateContextEnds(t *testing.T) {
	s := start(t, `trap '' TERM; echo ready; while :; do :; done`)
	s.readLine(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.p.Terminate(ctx, time.Hour)
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	// SIGKILL was sent at once.
	if got := s.describe(t); got != "Command terminated with signal Killed" {
		t.Errorf("DescribeExit = %q", got)
	}
}

// A child left running by a leader that exits on its own is killed when
// the leader is reaped.
func TestExitKillsGroup(t *testing.T) {
	s := start(t, `sleep 1000 & echo $!; read line`) // read fails at EOF of /dev/null: status 1
	child, _ := strconv.Atoi(s.readLine(t))
	if got := s.describe(t); got != "Command exited with status 1" {
		t.Errorf("DescribeExit = %q", got)
	}
	gone(t, child)
}

func TestSignalAfterExit(t *testing.T) {
	cmd, err := Command(shell("exit 0"), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	if err := p.Signal(syscall.SIGTERM); !errors.Is(err, ErrNoProcess) {
		t.Errorf("err = %v, want ErrNoProcess", err)
	}
	if err := p.Terminate(context.Background(), time.Hour); err != nil {
		t.Errorf("Terminate after exit: %v", err)
	}
}

func TestStartRequiresOwnGroup(t *testing.T) {
	if _, err := Start(exec.Command("/bin/true")); !errors.Is(err, ErrInvalidCommand) {
		t.Errorf("err = %v", err)
	}
}

func TestStartFailure(t *testing.T) {
	cmd, err := Command(shell("true"), filepath.Join(t.TempDir(), "missing-dir"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Start(cmd); err == nil {
		t.Error("Start in a missing directory succeeded")
	}
}

func TestDescribeWaitStatus(t *testing.T) {
	tests := []struct {
		ws   syscall.WaitStatus
		want string
	}{
		{0, "Command exited with status 0"},
		{1 << 8, "Command exited with status 1"},
		{127 << 8, "Command exited with status 127"},
		{syscall.WaitStatus(syscall.SIGKILL), "Command terminated with signal Killed"},
		{syscall.WaitStatus(syscall.SIGTERM), "Command terminated with signal Terminated"},
		{syscall.WaitStatus(syscall.SIGSEGV) | 0x80, "Command terminated with signal Segmentation fault"},
		{syscall.WaitStatus(syscall.SIGABRT), "Command terminated with signal Aborted"},
		{syscall.WaitStatus(syscall.SIGINT), "Command terminated with signal Interrupt"},
		{syscall.WaitStatus(syscall.SIGHUP), "Command terminated with signal Hangup"},
		{syscall.WaitStatus(syscall.SIGUSR1), "Command terminated with signal User defined signal 1"},
		{syscall.WaitStatus(36), "Command terminated with signal Real-time signal 2"},
		{syscall.WaitStatus(32), "Command terminated with signal Unknown signal 32"},
	}
	for _, tt := range tests {
		if got := DescribeWaitStatus(tt.ws); got != tt.want {
			t.Errorf("DescribeWaitStatus(%#x) = %q, want %q", uint32(tt.ws), got, tt.want)
		}
	}
	if got := DescribeExit(nil); got != "Command exited with unknown status" {
		t.Errorf("DescribeExit(nil) = %q", got)
	}
}

func TestSetUser(t *testing.T) {
	cmd := &exec.Cmd{}
	if err := SetUser(cmd, "no-such-user-xyz"); !errors.Is(err, ErrUnknownUser) {
		t.Errorf("unknown user: err = %v", err)
	}
	me, err := user.Current()
	if err != nil {
		t.Skip("no current user:", err)
	}
	if err := SetUser(cmd, me.Username); err != nil {
		t.Errorf("own user: %v", err)
	}
	if os.Geteuid() != 0 {
		if err := SetUser(cmd, "root"); !errors.Is(err, ErrNotRoot) {
			t.Errorf("root from non-root: err = %v", err)
		}
		return
	}
	// As root: really switch to nobody.
	c, err := Command(shell("id -u"), "/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := SetUser(c, "nobody"); err != nil {
		t.Skip("no nobody user:", err)
	}
	out, err := c.Output()
	nobody, _ := user.Lookup("nobody")
	if err != nil || strings.TrimSpace(string(out)) != nobody.Uid {
		t.Errorf("id -u = %q, %v; want %s", out, err, nobody.Uid)
	}
}
