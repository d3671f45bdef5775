package cmdhost

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/containerizer"
	"github.com/mesoproject/meso/internal/containerizer/posix"
	"github.com/mesoproject/meso/internal/cpuprofile"
	"github.com/mesoproject/meso/internal/launcher"
	"google.golang.org/protobuf/proto"
)

// KindHosted is the handle kind of a hosted container.
const KindHosted = "cmdhost"

// HostArg is the lean executor's argument that makes it a host.
const HostArg = "command-host"

// DefaultIdleTimeout is how long a host with no executor is kept.
const DefaultIdleTimeout = 30 * time.Second

// Config configures a Containerizer.
type Config struct {
	// Inner runs the hosts and every container that is not hosted.
	Inner containerizer.Containerizer
	// Executor is the lean executor's path: containers running it with no
	// argument are hosted.
	Executor string
	// Enabled routes hostable launches to hosts; when false only hosted
	// containers of an earlier run are adopted (and can be killed).
	Enabled bool
	// Dir holds the hosts' own sandboxes (their logs).
	Dir string
	// IdleTimeout: a host with no executor for this long is told to exit
	// (default DefaultIdleTimeout).
	IdleTimeout time.Duration
	Logger      *slog.Logger
}

// Containerizer runs hostable containers in command executor hosts and
// passes the rest to Config.Inner. Safe for concurrent use.
type Containerizer struct {
	cfg Config
	log *slog.Logger

	startMu sync.Mutex // one host start or adoption at a time (a burst of launches starts one host)
	key     []byte     // the hosts' tokens' key (keyFile in Dir); guarded by startMu

	mu      sync.Mutex
	hosts   map[string]*hostConn // the host new launches of a framework go to
	all     map[*hostConn]bool
	hostIDs map[string]bool // inner container ids of hosts
	execs   map[string]*hexec
	closed  bool

	beforeLaunch func(*hostConn, string) // tests: called before a launch request is sent
}

var (
	_ containerizer.Containerizer = (*Containerizer)(nil)
	_ containerizer.Adopter       = (*Containerizer)(nil)
	_ containerizer.UsageReporter = (*Containerizer)(nil)
	_ containerizer.Supporter     = (*Containerizer)(nil)
)

// hostConn is the agent's connection to one host.
type hostConn struct {
	framework   string
	containerID string // the host's inner container ("" when adopted)
	socket      string
	pid         int
	start       uint64
	w           *wire

	mu      sync.Mutex
	seq     uint64
	pending map[uint64]chan msg
	dead    bool
	early   map[string]int // exits of containers not yet registered
	n       int            // executors registered (guarded by Containerizer.mu)
	idle    *time.Timer    // guarded by Containerizer.mu
	retired bool           // its framework was shut down: exit once it runs nothing (guarded by Containerizer.mu)
	gone    chan struct{}  // closed when the connection ended
	reaped  chan struct{}  // closed once the host's process is gone and forgotten (nil when adopted)
}

type hexec struct {
	id       string
	sandbox  string
	host     *hostConn
	cpus     float64
	memBytes uint64
	done     chan struct{}
	term     containerizer.Termination // final once done is closed
	ended    bool                      // guarded by Containerizer.mu
	taskPid  int                       // the task's process group, once started; guarded by Containerizer.mu
}

// New returns a Containerizer over cfg.Inner.
func New(cfg Config) *Containerizer {
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Containerizer{cfg: cfg, log: cfg.Logger, hosts: map[string]*hostConn{}, all: map[*hostConn]bool{},
		hostIDs: map[string]bool{}, execs: map[string]*hexec{}}
}

// Hostable reports whether spec runs in a host: the lean command executor
// (no arguments; the agent fetched its URIs already) in a plain MESOS
// container with no ContainerInfo, and no user to switch to when
// the agent could switch (root).
func (c *Containerizer) Hostable(spec containerizer.Spec) bool {
	ci := spec.Command
	if !c.cfg.Enabled || c.cfg.Executor == "" || ci == nil || ci.GetShell() || ci.GetValue() != c.cfg.Executor {
		return false
	}
	if a := ci.GetArguments(); len(a) > 1 || (len(a) == 1 && a[0] != c.cfg.Executor) {
		return false
	}
	if !containerizer.MesosOnly(spec) || spec.Container != nil {
		return false
	}
	if spec.User != "" && os.Geteuid() == 0 {
		u, err := user.Lookup(spec.User)
		return err == nil && u.Uid == "0" // the host's user already
	}
	return true
}

func envValue(env []string, k string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], k+"="); ok {
			return v
		}
	}
	return ""
}

// Supports implements containerizer.Supporter.
func (c *Containerizer) Supports(spec containerizer.Spec) bool {
	if c.Hostable(spec) {
		return true
	}
	if s, ok := c.cfg.Inner.(containerizer.Supporter); ok {
		return s.Supports(spec)
	}
	return containerizer.MesosOnly(spec)
}

// Launch implements containerizer.Containerizer.
func (c *Containerizer) Launch(ctx context.Context, spec containerizer.Spec) error {
	if !c.Hostable(spec) {
		return c.cfg.Inner.Launch(ctx, spec)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if st, err := os.Stat(spec.Sandbox); err != nil || !st.IsDir() {
		return fmt.Errorf("%w: sandbox %q is not a directory: %v", containerizer.ErrLaunchFailed, spec.Sandbox, err)
	}
	// The environment the executor process would have had (posix).
	cmd, err := launcher.Command(spec.Command, spec.Sandbox, launcher.MergeEnv(nil, spec.Env))
	if err != nil {
		return fmt.Errorf("%w: %w", containerizer.ErrLaunchFailed, err)
	}
	fw := envValue(spec.Env, "MESOS_FRAMEWORK_ID")
	cpus, mem := containerizer.Limits(spec.Resources)
	// A host that dies while the launch is under way (its other tasks'
	// trouble, not this one's) costs one more try in a new host.
	for attempt := 0; ; attempt++ {
		e := &hexec{id: spec.ContainerID, sandbox: spec.Sandbox, cpus: cpus, memBytes: mem, done: make(chan struct{})}
		h, err := c.register(ctx, fw, e)
		if err != nil {
			return err
		}
		if c.beforeLaunch != nil {
			c.beforeLaunch(h, e.id)
		}
		ans, err := h.call(ctx, msg{Op: opLaunch, ID: e.id, Sandbox: spec.Sandbox, Env: cmd.Env})
		if err == nil && ans.Err == "" {
			c.log.Debug("launched hosted container", "container", e.id, "host_pid", h.pid)
			return nil
		}
		if err == nil {
			err = errors.New(ans.Err)
		}
		if ctx.Err() != nil { // the host may run it: end it there
			go func() {
				kctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_, _ = h.call(kctx, msg{Op: opKill, ID: e.id, Signal: int(syscall.SIGKILL)})
			}()
		}
		c.mu.Lock()
		if c.execs[e.id] == e {
			delete(c.execs, e.id)
			if !e.ended { // else the host's end counted it already
				e.ended = true
				close(e.done)
				c.unrefLocked(h)
			}
		}
		c.mu.Unlock()
		if attempt == 0 && ctx.Err() == nil && h.isDead() {
			c.log.Info("command executor host exited during a launch; trying a new one", "container", e.id)
			continue
		}
		return fmt.Errorf("%w: command executor host: %w", containerizer.ErrLaunchFailed, err)
	}
}

// register adds e to the framework's host, starting one when needed.
func (c *Containerizer) register(ctx context.Context, fw string, e *hexec) (*hostConn, error) {
	for attempt := 0; ; attempt++ {
		c.mu.Lock()
		if _, ok := c.execs[e.id]; ok {
			c.mu.Unlock()
			return nil, fmt.Errorf("%w: %q", containerizer.ErrExists, e.id)
		}
		h := c.hosts[fw]
		if h != nil && !h.isDead() {
			e.host = h
			c.execs[e.id] = e
			c.refLocked(h)
			c.mu.Unlock()
			return h, nil
		}
		c.mu.Unlock()
		if attempt > 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err := c.startHost(ctx, fw); err != nil {
			return nil, fmt.Errorf("%w: command executor host: %w", containerizer.ErrLaunchFailed, err)
		}
	}
}

// startHost starts a host for fw unless one is running.
func (c *Containerizer) startHost(ctx context.Context, fw string) error {
	c.startMu.Lock()
	defer c.startMu.Unlock()
	c.mu.Lock()
	if h := c.hosts[fw]; h != nil && !h.isDead() {
		c.mu.Unlock()
		return nil
	}
	if c.closed {
		c.mu.Unlock()
		return errors.New("the agent is stopping")
	}
	c.mu.Unlock()
	key, err := c.loadKey()
	if err != nil {
		return err
	}
	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	id := "cmdhost-" + hex.EncodeToString(rnd[:])
	socket := "@meso-" + id
	sandbox := filepath.Join(c.cfg.Dir, id)
	if err := os.MkdirAll(sandbox, 0o755); err != nil {
		return err
	}
	spec := containerizer.Spec{ContainerID: id, Sandbox: sandbox,
		Command: &mesospb.CommandInfo{Shell: proto.Bool(false), Value: proto.String(c.cfg.Executor),
			Arguments: []string{c.cfg.Executor, HostArg}},
		Env: []string{SocketEnv + "=" + socket, VerifierEnv + "=" + verifier(token(key, socket))}}
	if dir := os.Getenv(cpuprofile.Env); dir != "" {
		spec.Env = append(spec.Env, cpuprofile.Env+"="+dir) // profiling the agent profiles its hosts too
	}
	if err := c.cfg.Inner.Launch(context.WithoutCancel(ctx), spec); err != nil {
		os.RemoveAll(sandbox)
		return err
	}
	h := &hostConn{framework: fw, containerID: id, socket: socket, pending: map[uint64]chan msg{},
		early: map[string]int{}, gone: make(chan struct{})}
	if a, ok := c.cfg.Inner.(containerizer.Adopter); ok {
		if hd, err := a.Handle(id); err == nil {
			h.pid, h.start = hd.Pid, hd.StartTime
		}
	}
	exited := make(chan struct{})
	h.reaped = make(chan struct{})
	go func() {
		defer close(h.reaped)
		_, _ = c.cfg.Inner.Wait(context.Background(), id)
		close(exited)
		_ = c.cfg.Inner.Destroy(context.Background(), id, 0)
		os.RemoveAll(sandbox)
		c.mu.Lock()
		delete(c.hostIDs, id)
		c.mu.Unlock()
	}()
	c.mu.Lock()
	c.hostIDs[id] = true
	c.mu.Unlock()
	conn, err := dialHost(ctx, socket, exited)
	if err == nil {
		h.w, err = hello(conn, key, socket)
	}
	if err != nil {
		_ = c.cfg.Inner.Kill(id, syscall.SIGKILL)
		return err
	}
	c.mu.Lock()
	c.hosts[fw] = h
	c.all[h] = true
	c.mu.Unlock()
	go c.readLoop(h)
	c.log.Info("started command executor host", "framework", fw, "container", id, "pid", h.pid)
	return nil
}

// loadKey returns the key of the hosts' tokens; startMu is held.
func (c *Containerizer) loadKey() ([]byte, error) {
	if c.key == nil {
		k, err := loadKey(c.cfg.Dir)
		if err != nil {
			return nil, fmt.Errorf("the hosts' key: %w", err)
		}
		c.key = k
	}
	return c.key, nil
}

// hello presents the agent's token on a new connection to a host and
// waits for its answer.
func hello(conn net.Conn, key []byte, socket string) (*wire, error) {
	w := newWire(conn)
	_ = conn.SetDeadline(time.Now().Add(handshakeTimeout))
	err := w.write(msg{Op: opHello, Token: token(key, socket)})
	var ans msg
	if err == nil {
		ans, err = w.read()
	}
	if err == nil && (ans.Op != opHello || ans.Err != "") {
		err = fmt.Errorf("unexpected answer to hello: %+v", ans)
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("the host refused the agent's token: %w", err)
	}
	_ = conn.SetDeadline(time.Time{})
	return w, nil
}

// dialHost connects to a host that is starting, polling until it listens,
// it exits, or 10 s pass.
func dialHost(ctx context.Context, socket string, exited <-chan struct{}) (net.Conn, error) {
	deadline := time.Now().Add(10 * time.Second)
	wait := 200 * time.Microsecond
	for {
		conn, err := net.Dial("unix", socket)
		if err == nil {
			return conn, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the host does not listen: %w", err)
		}
		t := time.NewTimer(wait)
		select {
		case <-exited:
			t.Stop()
			return nil, errors.New("the host exited at start")
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 20*time.Millisecond)
	}
}

func (h *hostConn) isDead() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.dead
}

// call sends m and waits for its answer.
func (h *hostConn) call(ctx context.Context, m msg) (msg, error) {
	ch := make(chan msg, 1)
	h.mu.Lock()
	if h.dead {
		h.mu.Unlock()
		return msg{}, errors.New("the host exited")
	}
	h.seq++
	m.Seq = h.seq
	h.pending[m.Seq] = ch
	h.mu.Unlock()
	if err := h.w.write(m); err != nil {
		h.w.c.Close() // readLoop fails the pending calls
	}
	select {
	case a, ok := <-ch:
		if !ok {
			return msg{}, errors.New("the host exited")
		}
		return a, nil
	case <-ctx.Done():
		h.mu.Lock()
		delete(h.pending, m.Seq)
		h.mu.Unlock()
		return msg{}, ctx.Err()
	}
}

// readLoop dispatches a host's answers and exits; when the connection
// ends, every container of the host ends.
func (c *Containerizer) readLoop(h *hostConn) {
	for {
		m, err := h.w.read()
		if err != nil {
			break
		}
		if m.Op == opStarted {
			c.mu.Lock()
			if e := c.execs[m.ID]; e != nil && e.host == h {
				e.taskPid = m.Pid
			}
			c.mu.Unlock()
			continue
		}
		if m.Op == opExited {
			c.exited(h, m.ID, containerizer.Termination{Status: m.Status,
				Message: launcher.DescribeWaitStatus(syscall.WaitStatus(m.Status))})
			continue
		}
		h.mu.Lock()
		ch := h.pending[m.Seq]
		delete(h.pending, m.Seq)
		h.mu.Unlock()
		if ch != nil {
			ch <- m
		}
	}
	h.w.c.Close()
	h.mu.Lock()
	h.dead = true
	for seq, ch := range h.pending {
		close(ch)
		delete(h.pending, seq)
	}
	h.mu.Unlock()
	close(h.gone)
	c.mu.Lock()
	if c.hosts[h.framework] == h {
		delete(c.hosts, h.framework)
	}
	delete(c.all, h)
	var ended []*hexec
	for _, e := range c.execs {
		if e.host == h && !e.ended {
			ended = append(ended, e)
		}
	}
	closed := c.closed
	c.mu.Unlock()
	if len(ended) > 0 && !closed {
		c.log.Warn("command executor host exited; its executors are gone", "pid", h.pid, "executors", len(ended))
	}
	for _, e := range ended {
		c.end(e, containerizer.Termination{Status: -1,
			Message: fmt.Sprintf("Executor's host process (pid %d) exited", h.pid)})
	}
}

// exited records a hosted executor's end reported by its host.
func (c *Containerizer) exited(h *hostConn, id string, term containerizer.Termination) {
	c.mu.Lock()
	e := c.execs[id]
	if e == nil || e.host != h {
		if h.framework == "" { // an adopted host: Adopt may be about to ask for it
			h.mu.Lock()
			h.early[id] = term.Status
			h.mu.Unlock()
		}
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	c.end(e, term)
}

func (c *Containerizer) end(e *hexec, term containerizer.Termination) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.ended {
		return
	}
	e.ended = true
	e.term = term
	close(e.done)
	c.unrefLocked(e.host)
}

func (c *Containerizer) refLocked(h *hostConn) {
	h.n++
	if h.idle != nil {
		h.idle.Stop()
		h.idle = nil
	}
}

// unrefLocked drops one executor of h; the last one arms its idle timer.
func (c *Containerizer) unrefLocked(h *hostConn) {
	h.n--
	if h.n > 0 || h.idle != nil || c.closed {
		return
	}
	wait := c.cfg.IdleTimeout
	if h.retired {
		wait = 0
	}
	h.idle = time.AfterFunc(wait, func() { c.retire(h) })
}

// RetireFramework is called when framework fw was shut down: its host
// takes no new executor and is told to exit as soon as it runs none,
// without waiting for IdleTimeout.
func (c *Containerizer) RetireFramework(fw string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.hosts[fw]
	if h == nil {
		return
	}
	delete(c.hosts, fw) // a later launch of fw starts a new host
	h.retired = true
	if h.n == 0 && !c.closed {
		if h.idle != nil {
			h.idle.Stop()
		}
		h.idle = time.AfterFunc(0, func() { c.retire(h) })
	}
}

// retire tells an idle host to exit.
func (c *Containerizer) retire(h *hostConn) {
	c.mu.Lock()
	if h.n > 0 || h.idle == nil {
		c.mu.Unlock()
		return
	}
	h.idle = nil
	if c.hosts[h.framework] == h {
		delete(c.hosts, h.framework) // new launches start a new host
	}
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ans, err := h.call(ctx, msg{Op: opExit})
	if err == nil && ans.Err == "" {
		c.log.Info("command executor host idle; told it to exit", "pid", h.pid)
		return
	}
	c.log.Warn("idle command executor host did not agree to exit; closing its connection", "pid", h.pid, "err", err, "answer", ans.Err)
	h.w.c.Close()
}

func (c *Containerizer) lookup(id string) *hexec {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.execs[id]
}

// Wait implements containerizer.Containerizer.
func (c *Containerizer) Wait(ctx context.Context, id string) (containerizer.Termination, error) {
	e := c.lookup(id)
	if e == nil {
		return c.cfg.Inner.Wait(ctx, id)
	}
	select {
	case <-e.done:
		return e.term, nil
	case <-ctx.Done():
		return containerizer.Termination{}, ctx.Err()
	}
}

// Kill implements containerizer.Containerizer: SIGTERM (and SIGINT,
// SIGQUIT, SIGHUP) asks the executor to shut down, SIGKILL ends it and
// its task at once; 0 checks that it runs.
func (c *Containerizer) Kill(id string, sig syscall.Signal) error {
	e := c.lookup(id)
	if e == nil {
		return c.cfg.Inner.Kill(id, sig)
	}
	select {
	case <-e.done:
		return fmt.Errorf("%w: %q", containerizer.ErrNotRunning, id)
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ans, err := e.host.call(ctx, msg{Op: opKill, ID: id, Signal: int(sig)})
	if err != nil {
		return fmt.Errorf("%w: %q: %w", containerizer.ErrNotRunning, id, err)
	}
	if ans.Err != "" {
		return fmt.Errorf("%w: %q: %s", containerizer.ErrNotRunning, id, ans.Err)
	}
	return nil
}

// Destroy implements containerizer.Containerizer.
func (c *Containerizer) Destroy(ctx context.Context, id string, grace time.Duration) error {
	e := c.lookup(id)
	if e == nil {
		return c.cfg.Inner.Destroy(ctx, id, grace)
	}
	select {
	case <-e.done:
	default:
		if grace > 0 {
			_ = c.Kill(id, syscall.SIGTERM)
			t := time.NewTimer(grace)
			select {
			case <-e.done:
			case <-t.C:
			case <-ctx.Done():
			}
			t.Stop()
		}
		_ = c.Kill(id, syscall.SIGKILL)
		select {
		case <-e.done:
		case <-e.host.gone:
		case <-ctx.Done():
			return fmt.Errorf("containerizer: destroy %q: %w", id, ctx.Err())
		}
		select {
		case <-e.done:
		default:
			c.end(e, containerizer.Termination{Status: -1, Message: "Executor's host process exited"})
		}
	}
	c.mu.Lock()
	if c.execs[id] == e {
		delete(c.execs, id)
	}
	c.mu.Unlock()
	return nil
}

// Containers implements containerizer.Containerizer: the hosted ones and
// the inner ones but the hosts.
func (c *Containerizer) Containers() []string {
	inner := c.cfg.Inner.Containers()
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(inner)+len(c.execs))
	for _, id := range inner {
		if !c.hostIDs[id] {
			out = append(out, id)
		}
	}
	for id := range c.execs {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// Handle implements containerizer.Adopter.
func (c *Containerizer) Handle(id string) (containerizer.Handle, error) {
	e := c.lookup(id)
	if e == nil {
		a, ok := c.cfg.Inner.(containerizer.Adopter)
		if !ok {
			return containerizer.Handle{}, fmt.Errorf("%w: container %q cannot be recovered", containerizer.ErrUnsupported, id)
		}
		return a.Handle(id)
	}
	return containerizer.Handle{ContainerID: id, Kind: KindHosted, Pid: e.host.pid, StartTime: e.host.start,
		Name: e.host.socket, Sandbox: e.sandbox, CPUs: e.cpus, MemBytes: e.memBytes}, nil
}

// Adopt implements containerizer.Adopter: a hosted container of an
// earlier agent run is adopted when its host still runs it.
func (c *Containerizer) Adopt(ctx context.Context, hd containerizer.Handle) error {
	if hd.Kind != KindHosted {
		a, ok := c.cfg.Inner.(containerizer.Adopter)
		if !ok {
			return fmt.Errorf("%w: adopt %q", containerizer.ErrUnsupported, hd.ContainerID)
		}
		return a.Adopt(ctx, hd)
	}
	if hd.Pid > 0 && hd.StartTime > 0 {
		if st, err := launcher.StartTime(hd.Pid); err != nil || st != hd.StartTime {
			return fmt.Errorf("%w: %q: its host (pid %d) is gone", containerizer.ErrUnknownContainer, hd.ContainerID, hd.Pid)
		}
	}
	h, err := c.adoptHost(hd)
	if err != nil {
		return fmt.Errorf("%w: %q: %w", containerizer.ErrUnknownContainer, hd.ContainerID, err)
	}
	ans, err := h.call(ctx, msg{Op: opList})
	if err != nil {
		return fmt.Errorf("%w: %q: %w", containerizer.ErrUnknownContainer, hd.ContainerID, err)
	}
	e := &hexec{id: hd.ContainerID, sandbox: hd.Sandbox, host: h, cpus: hd.CPUs, memBytes: hd.MemBytes, done: make(chan struct{})}
	c.mu.Lock()
	if _, ok := c.execs[e.id]; ok {
		c.mu.Unlock()
		return fmt.Errorf("%w: %q", containerizer.ErrExists, e.id)
	}
	h.mu.Lock()
	status, early := h.early[e.id]
	delete(h.early, e.id)
	h.mu.Unlock()
	if !slices.Contains(ans.IDs, e.id) || early || h.isDead() {
		_ = status
		c.mu.Unlock()
		return fmt.Errorf("%w: %q: its host no longer runs it", containerizer.ErrUnknownContainer, e.id)
	}
	if i := slices.Index(ans.IDs, e.id); i < len(ans.Pids) {
		e.taskPid = ans.Pids[i]
	}
	c.execs[e.id] = e
	c.refLocked(h)
	c.mu.Unlock()
	c.log.Info("recovered hosted container", "container", e.id, "host_pid", h.pid)
	return nil
}

// adoptHost connects to the host of an earlier run (once per host).
func (c *Containerizer) adoptHost(hd containerizer.Handle) (*hostConn, error) {
	c.startMu.Lock()
	defer c.startMu.Unlock()
	c.mu.Lock()
	for h := range c.all {
		if h.socket == hd.Name && !h.isDead() {
			c.mu.Unlock()
			return h, nil
		}
	}
	c.mu.Unlock()
	if !strings.HasPrefix(hd.Name, "@meso-cmdhost-") {
		return nil, fmt.Errorf("not a host socket: %q", hd.Name)
	}
	key, err := c.loadKey()
	if err != nil {
		return nil, err
	}
	conn, err := net.Dial("unix", hd.Name)
	if err != nil {
		return nil, err
	}
	w, err := hello(conn, key, hd.Name)
	if err != nil {
		return nil, err
	}
	h := &hostConn{framework: "", socket: hd.Name, pid: hd.Pid, start: hd.StartTime, w: w,
		pending: map[uint64]chan msg{}, early: map[string]int{}, gone: make(chan struct{})}
	c.mu.Lock()
	c.all[h] = true
	c.mu.Unlock()
	go c.readLoop(h)
	// Told to exit once idle: after IdleTimeout if none of its executors
	// is adopted, at once when the last adopted one ends (an adopted host
	// takes no new launches).
	c.mu.Lock()
	if h.n == 0 && h.idle == nil {
		h.n = 1
		c.unrefLocked(h)
	}
	h.retired = true
	c.mu.Unlock()
	c.log.Info("reconnected to a command executor host of an earlier run", "pid", hd.Pid)
	return h, nil
}

// Usage implements containerizer.UsageReporter. A hosted container's
// usage is its task's process group's (/proc, as posix measures a
// container's), with the limits of its resources; the executor's own
// share of the host is not counted.
func (c *Containerizer) Usage(ctx context.Context, id string) (containerizer.Usage, error) {
	if e := c.lookup(id); e != nil {
		c.mu.Lock()
		pid, ended := e.taskPid, e.ended
		c.mu.Unlock()
		u := containerizer.Usage{Timestamp: time.Now()}
		if pid > 0 && !ended {
			var err error
			if u, err = posix.GroupUsage(ctx, pid); err != nil {
				return containerizer.Usage{}, fmt.Errorf("cmdhost: usage of %q: %w", id, err)
			}
		}
		u.CPUsLimit, u.MemLimitBytes = e.cpus, e.memBytes
		return u, nil
	}
	u, ok := c.cfg.Inner.(containerizer.UsageReporter)
	if !ok {
		return containerizer.Usage{}, fmt.Errorf("%w: usage of container %q", containerizer.ErrUnsupported, id)
	}
	return u.Usage(ctx, id)
}

// Close ends the connections to the hosts (the agent stops): a host that
// runs nothing exits then, and Close waits (up to CloseWait) until it is
// gone; one that runs executors of checkpointing frameworks left for the
// next agent run keeps them.
func (c *Containerizer) Close() {
	c.mu.Lock()
	c.closed = true
	var hs, idle []*hostConn
	for h := range c.all {
		hs = append(hs, h)
		if h.idle != nil {
			h.idle.Stop()
			h.idle = nil
		}
		if h.n == 0 && h.reaped != nil {
			idle = append(idle, h)
		}
	}
	c.mu.Unlock()
	for _, h := range hs {
		h.w.c.Close()
	}
	deadline := time.NewTimer(CloseWait)
	defer deadline.Stop()
	for _, h := range idle {
		select {
		case <-h.reaped:
		case <-deadline.C:
			c.log.Warn("a command executor host did not exit", "pid", h.pid)
			return
		}
	}
}

// CloseWait bounds Close's wait for idle hosts to exit.
const CloseWait = 10 * time.Second
