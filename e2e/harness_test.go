package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// mesoBin is the meso binary built once for the whole test binary.
var mesoBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "meso-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	mesoBin = filepath.Join(dir, "meso")
	// meso-executor beside meso, as `make build` installs them: agents run
	// command tasks and task groups in it (TestLeanExecutor checks both
	// ways).
	// meso-executor is static (CGO_ENABLED=0), as `make build` makes it:
	// without the dynamic loader and libc each executor starts in about
	// 6 ms less CPU (docs/BENCHMARKS.md, "Command tasks: profiled").
	for _, b := range []struct {
		out, pkg string
		env      []string
	}{
		{mesoBin, "github.com/mesoproject/meso/cmd/meso", nil},
		{filepath.Join(dir, "meso-executor"), "github.com/mesoproject/meso/cmd/meso-executor", []string{"CGO_ENABLED=0"}},
	} {
		build := exec.Command("go", "build", "-o", b.out, b.pkg)
		build.Env = append(os.Environ(), b.env...)
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: building", b.pkg+":", err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a meso process started by a test.
type proc struct {
	t    testing.TB
	name string
	cmd  *exec.Cmd
	addr string // host:port it serves on
	out  *syncBuffer
	done chan struct{}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// freePort asks the kernel for a free loopback port. Another process could
// take it before ours binds; on loopback in a test that is rare enough.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// start runs `meso <args...>` and stops it (SIGTERM, then SIGKILL) when the
// test ends; its output is shown if the test failed.
func start(t testing.TB, name string, port int, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, addr: fmt.Sprintf("127.0.0.1:%d", port), out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(mesoBin, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop()
		for _, a := range args {
			if dir, ok := strings.CutPrefix(a, "--work_dir="); ok {
				killUnder(t, dir)
			}
		}
		if t.Failed() {
			t.Logf("--- output of %s:\n%s", name, p.out.String())
		}
	})
	return p
}

// killUnder SIGKILLs, by PID, every process whose working directory is in
// dir: the executors of checkpointing frameworks leave the agent's process
// group and outlive an agent stopped by SIGTERM (as Mesos' do), waiting
// for it up to --recovery_timeout (15 minutes).
func killUnder(t testing.TB, dir string) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return
	}
	cwds, _ := filepath.Glob("/proc/[0-9]*/cwd")
	for _, link := range cwds {
		cwd, err := os.Readlink(link)
		if err != nil || cwd != dir && !strings.HasPrefix(cwd, dir+"/") {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(link))); err == nil && pid != os.Getpid() {
			t.Logf("killing pid %d left running in %s", pid, cwd)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// stop ends the process gently, then by force; executors it started are in
// its process group and go with it.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// kill sends SIGKILL to the process alone (not its executors), as a crash.
func (p *proc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func (p *proc) url(path string) string { return "http://" + p.addr + path }

// waitHealthy polls /health until it answers 200 or the deadline passes.
func (p *proc) waitHealthy() {
	p.t.Helper()
	eventually(p.t, 30*time.Second, func() error {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited: %s", p.name, p.out.String())
		default:
		}
		resp, err := http.Get(p.url("/health"))
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("health: %s", resp.Status)
		}
		return nil
	})
}

// eventually polls cond every 20 ms until it returns nil or the timeout
// passes.
func eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	poll(t, timeout, 20*time.Millisecond, cond)
}

// poll is eventually with a chosen period (benchmarks time with it).
func poll(t testing.TB, timeout, every time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %s: %v", timeout, err)
		}
		<-tick.C
	}
}

// getJSON fetches url and decodes its JSON body into v.
func getJSON(url string, v any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
	}
	return json.Unmarshal(body, v)
}

// fetchText GETs url and returns its body; anything but 200 fails the test.
func fetchText(t testing.TB, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %v %s", url, err, resp.Status)
	}
	return string(body)
}

// cluster is a master and its agents, each its own process.
type cluster struct {
	t      testing.TB
	master *proc
	agents []*proc
	dir    string
}

// masterFlags keep allocation quick; pings keep Mesos' defaults, so a
// loaded machine never loses an agent by accident.
var masterFlags = []string{"--allocation_interval=100ms"}

// fastLossFlags make agent loss quick to detect (2 s), for the tests about
// it.
var fastLossFlags = []string{
	"--allocation_interval=100ms", "--agent_ping_timeout=500ms", "--max_agent_ping_timeouts=4",
}

func newCluster(t testing.TB, agents int, agentResources string, masterFlags ...string) *cluster {
	t.Helper()
	c := &cluster{t: t, dir: t.TempDir()}
	port := freePort(t)
	args := append([]string{"master", "--ip=127.0.0.1", "--port=" + strconv.Itoa(port),
		"--work_dir=" + filepath.Join(c.dir, "master")}, masterFlags...)
	c.master = start(t, "master", port, args...)
	c.master.waitHealthy()
	waitLeader(t, 30*time.Second, c.master) // elected in its group of one: serving
	for range agents {
		c.addAgent(agentResources)
	}
	c.waitAgents(agents)
	return c
}

func (c *cluster) addAgent(res string, extra ...string) *proc {
	c.t.Helper()
	i := len(c.agents) + 1
	port := freePort(c.t)
	args := append([]string{"agent", "--master=" + c.master.addr, "--ip=127.0.0.1",
		"--port=" + strconv.Itoa(port), "--work_dir=" + filepath.Join(c.dir, fmt.Sprintf("agent%d", i)),
		"--resources=" + res, "--status_update_retry_interval_min=200ms",
		"--registration_backoff_factor=100ms"}, extra...)
	a := start(c.t, fmt.Sprintf("agent%d", i), port, args...)
	a.waitHealthy()
	c.agents = append(c.agents, a)
	return a
}

// masterState is the part of /master/state the tests read.
type masterState struct {
	Slaves []struct {
		ID       string         `json:"id"`
		Hostname string         `json:"hostname"`
		Active   bool           `json:"active"`
		Res      map[string]any `json:"resources"`
	} `json:"slaves"`
	Frameworks []struct {
		ID    string `json:"id"`
		Name  string `json:"name"`
		Tasks []struct {
			ID    string `json:"id"`
			State string `json:"state"`
		} `json:"tasks"`
	} `json:"frameworks"`
}

func (c *cluster) state() masterState {
	c.t.Helper()
	var s masterState
	if err := getJSON(c.master.url("/master/state"), &s); err != nil {
		c.t.Fatal(err)
	}
	return s
}

// waitAgents waits until the master lists n active agents.
func (c *cluster) waitAgents(n int) {
	c.t.Helper()
	eventually(c.t, 30*time.Second, func() error {
		var s masterState
		if err := getJSON(c.master.url("/master/state"), &s); err != nil {
			return err
		}
		active := 0
		for _, a := range s.Slaves {
			if a.Active {
				active++
			}
		}
		if active != n {
			return fmt.Errorf("%d active agents, want %d", active, n)
		}
		return nil
	})
}

// runMeso runs a meso command to completion and returns its output and
// exit code.
func runMeso(t testing.TB, ctx context.Context, args ...string) (string, int) {
	t.Helper()
	cmd := exec.CommandContext(ctx, mesoBin, args...)
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("meso %s: %v", strings.Join(args, " "), err)
		}
		code = ee.ExitCode()
	}
	return string(out), code
}

// lines splits output into trimmed lines.
func lines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		out = append(out, strings.TrimSpace(sc.Text()))
	}
	return out
}
