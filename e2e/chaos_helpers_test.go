package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

var (
	chaosFrameworkOnce sync.Once
	chaosFrameworkPath string
	chaosFrameworkErr  error
)

// chaosFramework builds e2e/chaosframework once, beside the meso binary.
func chaosFramework(t testing.TB) string {
	t.Helper()
	chaosFrameworkOnce.Do(func() {
		chaosFrameworkPath = filepath.Join(filepath.Dir(mesoBin), "chaosframework")
		out, err := exec.Command("go", "build", "-o", chaosFrameworkPath,
			"github.com/mesoproject/meso/e2e/chaosframework").CombinedOutput()
		if err != nil {
			chaosFrameworkErr = fmt.Errorf("building the chaos framework: %v\n%s", err, out)
		}
	})
	if chaosFrameworkErr != nil {
		t.Fatal(chaosFrameworkErr)
	}
	return chaosFrameworkPath
}

// chaosNode is a process the chaos test kills and starts again with the
// same arguments (port, work dir).
type chaosNode struct {
	t    testing.TB
	name string
	port int
	bin  string
	args []string
	proc *proc
	all  []*proc // every run, the current one last
	runs int
}

func (n *chaosNode) start() {
	n.t.Helper()
	n.runs++
	n.proc = startBin(n.t, n.bin, fmt.Sprintf("%s-run%d", n.name, n.runs), n.port, n.args...)
	n.all = append(n.all, n.proc)
}

// startBin is start for any binary.
func startBin(t testing.TB, bin, name string, port int, args ...string) *proc {
	t.Helper()
	if bin == mesoBin {
		return start(t, name, port, args...)
	}
	p := &proc{t: t, name: name, addr: fmt.Sprintf("127.0.0.1:%d", port), out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("--- output of %s:\n%s", name, p.out.String())
		}
	})
	return p
}

// alive reports whether the node's current process still runs.
func (n *chaosNode) alive() bool {
	select {
	case <-n.proc.done:
		return false
	default:
		return true
	}
}

// procsUnder lists the processes (other than this one) whose working
// directory, command line or environment names a path under dir: the
// test's daemons, the executors they started and the tasks' shells.
func procsUnder(dir string) map[int]string {
	found := map[int]string{}
	ents, _ := os.ReadDir("/proc")
	self := os.Getpid()
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		base := filepath.Join("/proc", e.Name())
		cwd, _ := os.Readlink(filepath.Join(base, "cwd"))
		cmdline, _ := os.ReadFile(filepath.Join(base, "cmdline"))
		environ, _ := os.ReadFile(filepath.Join(base, "environ"))
		if strings.HasPrefix(cwd, dir) || bytes.Contains(cmdline, []byte(dir)) || bytes.Contains(environ, []byte(dir)) {
			found[pid] = strings.ReplaceAll(string(bytes.TrimRight(cmdline, "\x00")), "\x00", " ")
		}
	}
	return found
}
