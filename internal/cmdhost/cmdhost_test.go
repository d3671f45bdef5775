package cmdhost

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/commandexec"
	"github.com/mesoproject/meso/internal/containerizer"
	"google.golang.org/protobuf/proto"
)

// fakeExecs stands for the executors: Run blocks until the test finishes
// it, the host shuts it down (ctx) or aborts it.
type fakeExecs struct {
	mu      sync.Mutex
	started map[string]chan struct{}
	finish  map[string]chan error
}

func newFakeExecs() *fakeExecs {
	return &fakeExecs{started: map[string]chan struct{}{}, finish: map[string]chan error{}}
}

func (f *fakeExecs) chans(id string) (chan struct{}, chan error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.started[id] == nil {
		f.started[id] = make(chan struct{})
		f.finish[id] = make(chan error, 1)
	}
	return f.started[id], f.finish[id]
}

func (f *fakeExecs) run(ctx context.Context, cfg commandexec.Config) error {
	started, finish := f.chans(cfg.Env.ExecutorID)
	fmt.Fprintln(cfg.Stdout, "hosted", cfg.Env.ExecutorID)
	if cfg.OnStart != nil {
		cfg.OnStart(syscall.Getpgrp()) // "the task" is the test's process group
	}
	close(started)
	select {
	case err := <-finish:
		return err
	case <-ctx.Done():
		return nil
	case <-cfg.Abort:
		return nil
	}
}

// fakeInner launches hosts as in-process Serve loops on the socket the
// Containerizer names; other containers are not expected.
type fakeInner struct {
	execs *fakeExecs
	mu    sync.Mutex
	hosts map[string]chan struct{} // closed when the host's Serve returned
	stop  map[string]context.CancelFunc
}

func newFakeInner(t *testing.T, e *fakeExecs) *fakeInner {
	z := &fakeInner{execs: e, hosts: map[string]chan struct{}{}, stop: map[string]context.CancelFunc{}}
	t.Cleanup(func() { // stop the hosts and wait for them
		z.mu.Lock()
		defer z.mu.Unlock()
		for id, stop := range z.stop {
			stop()
			<-z.hosts[id]
		}
	})
	return z
}

func (z *fakeInner) Launch(ctx context.Context, spec containerizer.Spec) error {
	if a := spec.Command.GetArguments(); len(a) != 2 || a[1] != HostArg {
		return fmt.Errorf("unexpected container %v", spec.Command)
	}
	ln, err := net.Listen("unix", envValue(spec.Env, SocketEnv))
	if err != nil {
		return err
	}
	sctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	z.mu.Lock()
	z.hosts[spec.ContainerID] = done
	z.stop[spec.ContainerID] = cancel
	z.mu.Unlock()
	go func() {
		defer close(done)
		_ = Serve(sctx, ln, HostConfig{Run: z.execs.run, Verifier: envValue(spec.Env, VerifierEnv)})
	}()
	return nil
}

func (z *fakeInner) host(id string) chan struct{} {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.hosts[id]
}

func (z *fakeInner) Wait(ctx context.Context, id string) (containerizer.Termination, error) {
	d := z.host(id)
	if d == nil {
		return containerizer.Termination{}, containerizer.ErrUnknownContainer
	}
	select {
	case <-d:
		return containerizer.Termination{}, nil
	case <-ctx.Done():
		return containerizer.Termination{}, ctx.Err()
	}
}

func (z *fakeInner) Kill(id string, sig syscall.Signal) error {
	z.mu.Lock()
	defer z.mu.Unlock()
	if c := z.stop[id]; c != nil {
		c()
	}
	return nil
}

func (z *fakeInner) Destroy(ctx context.Context, id string, grace time.Duration) error { return nil }
func (z *fakeInner) Containers() []string {
	z.mu.Lock()
	defer z.mu.Unlock()
	var out []string
	for id := range z.hosts {
		out = append(out, id)
	}
	return out
}

func (z *fakeInner) hostCount() int {
	z.mu.Lock()
	defer z.mu.Unlock()
	return len(z.hosts)
}

func spec(t *testing.T, fw, id string) containerizer.Spec {
	return containerizer.Spec{ContainerID: id, Sandbox: t.TempDir(),
		Command: &mesospb.CommandInfo{Shell: proto.Bool(false), Value: proto.String("/bin/true"), Arguments: []string{"/bin/true"}},
		Env: []string{"MESOS_FRAMEWORK_ID=" + fw, "MESOS_EXECUTOR_ID=" + id, "MESOS_AGENT_ENDPOINT=127.0.0.1:1",
			"MESOS_SANDBOX=/nonexistent"}}
}

func newTestContainerizer(t *testing.T, inner *fakeInner, idle time.Duration) *Containerizer {
	c := New(Config{Inner: inner, Executor: "/bin/true", Enabled: true, Dir: t.TempDir(), IdleTimeout: idle})
	t.Cleanup(c.Close)
	return c
}

func waitTerm(t *testing.T, c *Containerizer, id string) containerizer.Termination {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	term, err := c.Wait(ctx, id)
	if err != nil {
		t.Fatalf("wait %s: %v", id, err)
	}
	return term
}

func started(t *testing.T, e *fakeExecs, id string) {
	t.Helper()
	s, _ := e.chans(id)
	select {
	case <-s:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s never started", id)
	}
}

// One host per framework; each hosted container ends as its executor
// does: returned (status 0), failed (status 1), shut down by SIGTERM,
// aborted by SIGKILL or Destroy.
func TestHostedContainers(t *testing.T) {
	execs := newFakeExecs()
	inner := newFakeInner(t, execs)
	c := newTestContainerizer(t, inner, time.Hour)
	ctx := context.Background()
	specs := map[string]containerizer.Spec{}
	for _, s := range []struct{ fw, id string }{{"A", "a1"}, {"A", "a2"}, {"A", "a3"}, {"A", "a4"}, {"B", "b1"}} {
		sp := spec(t, s.fw, s.id)
		specs[s.id] = sp
		if err := c.Launch(ctx, sp); err != nil {
			t.Fatalf("launch %s: %v", s.id, err)
		}
		started(t, execs, s.id)
	}
	if n := inner.hostCount(); n != 2 {
		t.Fatalf("%d hosts, want one per framework", n)
	}
	if got := strings.Join(c.Containers(), ","); got != "a1,a2,a3,a4,b1" {
		t.Errorf("Containers() = %s", got)
	}
	if err := c.Launch(ctx, specs["a1"]); !errors.Is(err, containerizer.ErrExists) {
		t.Errorf("second launch of a1: %v", err)
	}
	h, err := c.Handle("a1")
	if err != nil || h.Kind != KindHosted || !strings.HasPrefix(h.Name, "@meso-cmdhost-") {
		t.Errorf("Handle: %+v %v", h, err)
	}
	out, _ := os.ReadFile(specs["a1"].Sandbox + "/stdout")
	if string(out) != "hosted a1\n" {
		t.Errorf("a1's stdout: %q", out)
	}

	_, fin := execs.chans("a1")
	fin <- nil
	if term := waitTerm(t, c, "a1"); term.Status != 0 {
		t.Errorf("a1: %+v", term)
	}
	_, fin = execs.chans("a2")
	fin <- errors.New("boom")
	if term := waitTerm(t, c, "a2"); syscall.WaitStatus(term.Status).ExitStatus() != 1 {
		t.Errorf("a2: %+v", term)
	}
	errOut, _ := os.ReadFile(specs["a2"].Sandbox + "/stderr")
	if !strings.Contains(string(errOut), "boom") {
		t.Errorf("a2's stderr: %q", errOut)
	}
	if err := c.Kill("a3", syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if term := waitTerm(t, c, "a3"); term.Status != 0 {
		t.Errorf("a3: %+v", term)
	}
	if err := c.Kill("a3", syscall.SIGTERM); !errors.Is(err, containerizer.ErrNotRunning) {
		t.Errorf("kill of an ended container: %v", err)
	}
	if err := c.Destroy(ctx, "a4", 0); err != nil {
		t.Fatal(err)
	}
	if err := c.Destroy(ctx, "b1", time.Second); err != nil { // SIGTERM first: shut down in the grace
		t.Fatal(err)
	}
	for _, id := range []string{"a1", "a2", "a3"} {
		if err := c.Destroy(ctx, id, 0); err != nil {
			t.Fatal(err)
		}
	}
	if got := c.Containers(); len(got) != 0 {
		t.Errorf("Containers() after Destroy = %v", got)
	}
}

// A host with no executor for IdleTimeout is told to exit; the next
// launch starts another.
func TestIdleHostExits(t *testing.T) {
	execs := newFakeExecs()
	inner := newFakeInner(t, execs)
	c := newTestContainerizer(t, inner, 20*time.Millisecond)
	ctx := context.Background()
	if err := c.Launch(ctx, spec(t, "A", "x")); err != nil {
		t.Fatal(err)
	}
	started(t, execs, "x")
	first := inner.Containers()[0]
	_, fin := execs.chans("x")
	fin <- nil
	waitTerm(t, c, "x")
	select {
	case <-inner.host(first):
	case <-time.After(10 * time.Second):
		t.Fatal("the idle host did not exit")
	}
	if err := c.Launch(ctx, spec(t, "A", "y")); err != nil {
		t.Fatal(err)
	}
	started(t, execs, "y")
	if inner.hostCount() != 2 {
		t.Errorf("%d hosts started, want a second one", inner.hostCount())
	}
}

// An agent that stops leaves a host running its executors; the next run
// adopts them through their handles, and their ends reach it.
func TestAdoptAfterRestart(t *testing.T) {
	execs := newFakeExecs()
	inner := newFakeInner(t, execs)
	dir := t.TempDir() // the agent's work dir: its next run finds the hosts' key there
	c1 := New(Config{Inner: inner, Executor: "/bin/true", Enabled: true, Dir: dir})
	ctx := context.Background()
	var handles []containerizer.Handle
	for _, id := range []string{"keep", "ends"} {
		if err := c1.Launch(ctx, spec(t, "A", id)); err != nil {
			t.Fatal(err)
		}
		started(t, execs, id)
		h, err := c1.Handle(id)
		if err != nil {
			t.Fatal(err)
		}
		handles = append(handles, h)
	}
	c1.Close()
	_, fin := execs.chans("ends")
	fin <- nil // while no agent is connected
	hostDone := inner.host(inner.Containers()[0])

	c2 := New(Config{Inner: inner, Executor: "/bin/true", Enabled: true, Dir: dir, IdleTimeout: time.Hour})
	t.Cleanup(c2.Close)
	// The host may not have seen "ends" return yet: poll until it is gone.
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := c2.Adopt(ctx, handles[1])
		if errors.Is(err, containerizer.ErrUnknownContainer) {
			break
		}
		if err == nil {
			_ = c2.Destroy(ctx, "ends", 0)
		}
		if time.Now().After(deadline) {
			t.Fatalf("adopting an ended container: %v", err)
		}
	}
	if err := c2.Adopt(ctx, handles[0]); err != nil {
		t.Fatalf("adopt: %v", err)
	}
	// The adopted container's usage is its task's, whose pid the host
	// still knows.
	if u, err := c2.Usage(ctx, "keep"); err != nil || u.Processes < 1 {
		t.Errorf("usage of the adopted container: %+v %v", u, err)
	}
	select {
	case <-hostDone:
		t.Fatal("the host exited although it runs an executor")
	default:
	}
	_, fin = execs.chans("keep")
	fin <- nil
	if term := waitTerm(t, c2, "keep"); term.Status != 0 {
		t.Errorf("keep: %+v", term)
	}
	// Its last adopted executor gone, the host is told to exit at once
	// (IdleTimeout is an hour): it takes no new launches.
	select {
	case <-hostDone:
	case <-time.After(10 * time.Second):
		t.Fatal("the adopted host did not exit once idle")
	}
}

// A host whose connection ends (it died) ends every container it ran.
func TestHostGoneEndsItsContainers(t *testing.T) {
	execs := newFakeExecs()
	inner := newFakeInner(t, execs)
	c := newTestContainerizer(t, inner, time.Hour)
	ctx := context.Background()
	for _, id := range []string{"p", "q"} {
		if err := c.Launch(ctx, spec(t, "A", id)); err != nil {
			t.Fatal(err)
		}
		started(t, execs, id)
	}
	c.mu.Lock()
	h := c.hosts["A"]
	c.mu.Unlock()
	h.w.c.Close() // as when the host process dies
	for _, id := range []string{"p", "q"} {
		if term := waitTerm(t, c, id); term.Status != -1 || !strings.Contains(term.Message, "host") {
			t.Errorf("%s: %+v", id, term)
		}
	}
	if err := c.Launch(ctx, spec(t, "A", "r")); err != nil {
		t.Fatal(err)
	}
	started(t, execs, "r")
}

// A launch whose host dies before answering is tried once more in a new
// host.
func TestLaunchRetriedWhenTheHostDies(t *testing.T) {
	execs := newFakeExecs()
	inner := newFakeInner(t, execs)
	c := newTestContainerizer(t, inner, time.Hour)
	ctx := context.Background()
	if err := c.Launch(ctx, spec(t, "A", "first")); err != nil {
		t.Fatal(err)
	}
	started(t, execs, "first")
	c.mu.Lock()
	h := c.hosts["A"]
	c.mu.Unlock()
	// The host dies as the next launch is sent to it.
	c.beforeLaunch = func(hc *hostConn, id string) {
		if hc == h && id == "second" {
			h.w.c.Close()
		}
	}
	if err := c.Launch(ctx, spec(t, "A", "second")); err != nil {
		t.Fatalf("launch while the host died: %v", err)
	}
	started(t, execs, "second")
	if n := inner.hostCount(); n != 2 {
		t.Errorf("%d hosts, want a second for the retried launch", n)
	}
	if term := waitTerm(t, c, "first"); term.Status != -1 {
		t.Errorf("first: %+v, want ended with its host", term)
	}
}

// Only the agent's connection is served: a connection with a wrong
// token, none, or only the verifier is closed, and the agent's stays.
func TestForeignConnectionRefused(t *testing.T) {
	execs := newFakeExecs()
	inner := newFakeInner(t, execs)
	c := newTestContainerizer(t, inner, time.Hour)
	ctx := context.Background()
	if err := c.Launch(ctx, spec(t, "A", "a1")); err != nil {
		t.Fatal(err)
	}
	started(t, execs, "a1")
	hd, err := c.Handle("a1")
	if err != nil {
		t.Fatal(err)
	}
	other, err := loadKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c.startMu.Lock()
	key := c.key
	c.startMu.Unlock()
	for name, first := range map[string]*msg{
		"no hello":         {Op: opList},
		"wrong token":      {Op: opHello, Token: token(other, hd.Name)},
		"the verifier":     {Op: opHello, Token: verifier(token(key, hd.Name))},
		"empty token":      {Op: opHello},
		"closed at once":   nil,
		"another's socket": {Op: opHello, Token: token(key, hd.Name+"x")},
	} {
		conn, err := net.Dial("unix", hd.Name)
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			conn.Close()
			continue
		}
		w := newWire(conn)
		if err := w.write(*first); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		if ans, err := w.read(); err == nil {
			t.Errorf("%s: answered %+v; want the connection closed", name, ans)
		} else if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("%s: the host neither answered nor closed the connection", name)
		}
		conn.Close()
	}
	// A connection that says nothing does not replace the agent's either.
	idle, err := net.Dial("unix", hd.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	// The agent's connection still works: it launches, kills and hears
	// the ends of its executors.
	if err := c.Launch(ctx, spec(t, "A", "a2")); err != nil {
		t.Fatal(err)
	}
	started(t, execs, "a2")
	if err := c.Kill("a1", syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if term := waitTerm(t, c, "a1"); term.Status != int(syscall.SIGKILL) {
		t.Errorf("a1: %+v", term)
	}
	if inner.hostCount() != 1 {
		t.Errorf("%d hosts; the agent's connection to the first was lost", inner.hostCount())
	}
	// The agent's token is accepted (a restarted agent presents it).
	conn, err := net.Dial("unix", hd.Name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hello(conn, key, hd.Name); err != nil {
		t.Errorf("the agent's token: %v", err)
	}
	conn.Close()
}

// A host without a verifier serves no one.
func TestServeNeedsVerifier(t *testing.T) {
	ln, err := net.Listen("unix", "@meso-cmdhost-test-"+t.Name())
	if err != nil {
		t.Fatal(err)
	}
	if err := Serve(context.Background(), ln, HostConfig{}); err == nil {
		t.Fatal("Serve with no verifier returned nil")
	}
}

// A framework shut down retires its host as soon as it runs nothing (no
// wait for IdleTimeout); its next launch starts a new host.
func TestRetireFramework(t *testing.T) {
	execs := newFakeExecs()
	inner := newFakeInner(t, execs)
	c := newTestContainerizer(t, inner, time.Hour)
	ctx := context.Background()
	for _, id := range []string{"a1", "b1"} {
		if err := c.Launch(ctx, spec(t, strings.ToUpper(id[:1]), id)); err != nil {
			t.Fatal(err)
		}
		started(t, execs, id)
	}
	hostOf := func(id string) chan struct{} {
		hd, err := c.Handle(id)
		if err != nil {
			t.Fatal(err)
		}
		for _, hid := range inner.Containers() {
			if "@meso-"+hid == hd.Name {
				return inner.host(hid)
			}
		}
		t.Fatalf("no host for %s", id)
		return nil
	}
	hostA, hostB := hostOf("a1"), hostOf("b1")
	c.RetireFramework("A") // a1 still runs: the host stays until it ends
	c.RetireFramework("nobody")
	select {
	case <-hostA:
		t.Fatal("the retired host exited while it ran an executor")
	default:
	}
	_, fin := execs.chans("a1")
	fin <- nil
	waitTerm(t, c, "a1")
	select {
	case <-hostA:
	case <-time.After(10 * time.Second):
		t.Fatal("the retired host did not exit once idle")
	}
	// An idle host is retired at once.
	_, fin = execs.chans("b1")
	fin <- nil
	waitTerm(t, c, "b1")
	c.RetireFramework("B")
	select {
	case <-hostB:
	case <-time.After(10 * time.Second):
		t.Fatal("the idle retired host did not exit")
	}
	if err := c.Launch(ctx, spec(t, "A", "a2")); err != nil {
		t.Fatal(err)
	}
	started(t, execs, "a2")
	if inner.hostCount() != 3 {
		t.Errorf("%d hosts started, want a new one for A", inner.hostCount())
	}
}
