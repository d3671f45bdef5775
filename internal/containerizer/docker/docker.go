package docker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/containerizer"
)

// DefaultSocket is the Docker daemon's socket (Mesos' --docker_socket).
const DefaultSocket = "/var/run/docker.sock"

// Errors callers branch on (besides the containerizer package's).
var (
	// ErrNoDaemon: New could not reach the Docker daemon.
	ErrNoDaemon = errors.New("docker: daemon not reachable")
	// ErrClosed: the containerizer was closed.
	ErrClosed = errors.New("docker: containerizer closed")
)

// Timing of calls that have no context of their own.
const (
	pingTimeout = 5 * time.Second  // New's check of the daemon, when its ctx has no deadline
	callTimeout = 30 * time.Second // Kill, removals of failed launches
	// drainTimeout bounds how long the output of a container that has
	// exited may take to arrive after the exit.
	drainTimeout = 5 * time.Second
	// rewaitDelay spaces new waits when the daemon's wait stream breaks.
	rewaitDelay = time.Second
)

// Config configures a docker containerizer. Zero values mean Mesos'
// defaults.
type Config struct {
	// Socket is the daemon's unix socket path (--docker_socket, default
	// /var/run/docker.sock), or a unix:// or tcp:// URL.
	Socket string
	// Owner tells this agent's containers from others on the same daemon
	// (several agents of `meso dev` share one); it is stored in the
	// meso.owner label, and Recover only looks at containers with the same
	// owner. Use a value stable across agent restarts, e.g. the agent's
	// work_dir. Empty: Recover considers every meso.* container its own
	// (Mesos' --docker_kill_orphans).
	Owner string
	// CFSQuota sets a CFS quota from the cpus resource
	// (--cgroups_enable_cfs); otherwise only cpu shares are set.
	CFSQuota bool
	// SandboxDirectory is where the sandbox is mounted in the container and
	// the value of MESOS_SANDBOX (--sandbox_directory, default
	// /mnt/mesos/sandbox).
	SandboxDirectory string
	Logger           *slog.Logger
}

// Containerizer runs DOCKER containers through the Docker Engine API. Safe
// for concurrent use. Close it to stop its goroutines; containers keep
// running (Recover finds them again).
type Containerizer struct {
	cli  *client.Client
	opts planOptions
	log  *slog.Logger

	ctx    context.Context // lifetime of the goroutines below; ended by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // watchers and output copiers

	mu         sync.Mutex
	containers map[string]*dcontainer // guarded by mu; launched or adopted
	launching  map[string]bool        // guarded by mu; ids being launched
}

// dcontainer is one container we launched or adopted.
type dcontainer struct {
	id       string // Mesos container id
	dockerID string
	sandbox  string
	cpus     float64
	memBytes uint64
	out      *output       // nil when its output is not followed
	done     chan struct{} // closed once it has stopped and its output is in
	term     containerizer.Termination
	// term is written once, before done is closed, and read only after.
	signalled atomic.Bool // we sent it a signal: a SIGKILL death is ours, not the OOM killer's
}

func (c *dcontainer) ended() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

var (
	_ containerizer.Containerizer = (*Containerizer)(nil)
	_ containerizer.Supporter     = (*Containerizer)(nil)
	_ containerizer.UsageReporter = (*Containerizer)(nil)
)

// New connects to the daemon and checks that it answers (negotiating the
// API version), or returns an error wrapping ErrNoDaemon that names the
// socket.
func New(ctx context.Context, cfg Config) (*Containerizer, error) {
	socket := cfg.Socket
	if socket == "" {
		socket = DefaultSocket
	}
	host := socket
	if !strings.Contains(host, "://") {
		host = "unix://" + host
	}
	cli, err := client.New(client.WithHost(host))
	if err != nil {
		return nil, fmt.Errorf("%w at %s (--docker_socket): %v", ErrNoDaemon, socket, err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, pingTimeout)
		defer cancel()
	}
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		cli.Close()
		return nil, fmt.Errorf("%w at %s (--docker_socket): %v", ErrNoDaemon, socket, err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mapped := cfg.SandboxDirectory
	if mapped == "" {
		mapped = DefaultSandboxDirectory
	}
	if !path.IsAbs(mapped) {
		cli.Close()
		return nil, fmt.Errorf("docker: --sandbox_directory %q is not an absolute path", mapped)
	}
	z := &Containerizer{
		cli:        cli,
		opts:       planOptions{owner: cfg.Owner, mapped: mapped, cfsQuota: cfg.CFSQuota},
		log:        log,
		containers: map[string]*dcontainer{},
		launching:  map[string]bool{},
	}
	z.ctx, z.cancel = context.WithCancel(context.Background())
	log.Info("connected to docker", "socket", socket, "api_version", cli.ClientVersion())
	return z, nil
}

// APIVersion is the Engine API version negotiated with the daemon.
func (z *Containerizer) APIVersion() string { return z.cli.ClientVersion() }

// Close stops following containers (they keep running) and closes the
// connection to the daemon. Waits in progress return ErrClosed.
func (z *Containerizer) Close() error {
	z.mu.Lock()
	z.cancel()
	for _, c := range z.containers {
		if c.out != nil {
			c.out.abort()
		}
	}
	z.mu.Unlock()
	z.wg.Wait()
	return z.cli.Close()
}

// spawn runs f on a goroutine that Close waits for. Once the containerizer
// is closed it does not run f and returns false.
func (z *Containerizer) spawn(f func()) bool {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.ctx.Err() != nil {
		return false
	}
	z.wg.Add(1)
	go func() {
		defer z.wg.Done()
		f()
	}()
	return true
}

// Supports reports whether spec is a DOCKER container.
func (z *Containerizer) Supports(spec containerizer.Spec) bool {
	return spec.Container != nil && spec.Container.GetType() == mesospb.ContainerInfo_DOCKER
}

func launchErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", containerizer.ErrLaunchFailed, fmt.Sprintf(format, args...))
}

// Launch implements containerizer.Containerizer: it makes sure the image is
// there (pulling it when missing, or always with force_pull_image), creates
// the container meso.<id>, attaches to its output and starts it.
func (z *Containerizer) Launch(ctx context.Context, spec containerizer.Spec) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !z.Supports(spec) {
		return fmt.Errorf("%w: %w: container type %s (the docker containerizer runs DOCKER containers)",
			containerizer.ErrLaunchFailed, containerizer.ErrUnsupported, containerizer.TypeName(spec))
	}
	p, err := plan(spec, z.opts)
	if err != nil {
		return fmt.Errorf("%w: %w", containerizer.ErrLaunchFailed, err)
	}
	if st, err := os.Stat(spec.Sandbox); err != nil || !st.IsDir() {
		return launchErr("sandbox %q is not a directory: %v", spec.Sandbox, err)
	}
	if spec.User != "" {
		z.log.Info("docker containerizer does not switch users; the image's user (or the user parameter) applies",
			"container", spec.ContainerID, "user", spec.User)
	}
	if err := z.reserve(spec.ContainerID); err != nil {
		return err
	}
	defer z.unreserve(spec.ContainerID)

	if err := z.ensureImage(ctx, p.image, p.forcePull); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("docker: launch %s: %w", spec.ContainerID, ctx.Err())
		}
		return fmt.Errorf("%w: %w", containerizer.ErrLaunchFailed, err)
	}
	c, err := z.start(ctx, spec, p)
	if err != nil {
		return err
	}
	z.mu.Lock()
	z.containers[c.id] = c
	z.mu.Unlock()
	z.log.Info("launched docker container", "container", c.id, "docker_id", shortID(c.dockerID), "image", p.image)
	return nil
}

func (z *Containerizer) reserve(id string) error {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.ctx.Err() != nil {
		return ErrClosed
	}
	if _, ok := z.containers[id]; ok || z.launching[id] {
		return fmt.Errorf("%w: %q", containerizer.ErrExists, id)
	}
	z.launching[id] = true
	return nil
}

func (z *Containerizer) unreserve(id string) {
	z.mu.Lock()
	defer z.mu.Unlock()
	delete(z.launching, id)
}

// ensureImage pulls image when it is not present, or always when force is
// set. Errors name the image and carry Docker's message.
func (z *Containerizer) ensureImage(ctx context.Context, image string, force bool) error {
	if !force {
		_, err := z.cli.ImageInspect(ctx, image)
		if err == nil {
			return nil
		}
		if !cerrdefs.IsNotFound(err) {
			return fmt.Errorf("inspect image %q: %v", image, err)
		}
	}
	z.log.Info("pulling docker image", "image", image, "forced", force)
	resp, err := z.cli.ImagePull(ctx, image, client.ImagePullOptions{})
	if err != nil {
		return fmt.Errorf("failed to pull image %q: %v", image, err)
	}
	defer resp.Close()
	if err := resp.Wait(ctx); err != nil {
		return fmt.Errorf("failed to pull image %q: %v", image, err)
	}
	return nil
}

// start creates the container, follows its output and exit, and starts it.
// On failure nothing is left behind.
func (z *Containerizer) start(ctx context.Context, spec containerizer.Spec, p runPlan) (*dcontainer, error) {
	stdout, stderr, err := openOutputs(spec.Sandbox)
	if err != nil {
		return nil, launchErr("%v", err)
	}
	// The create is not cut short by ctx: a create whose request was
	// abandoned still completes in the daemon, after any look for it,
	// leaving a container in state "created" that nothing starts or
	// removes. Waited for, it is removed here when ctx ended meanwhile.
	cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	created, err := z.cli.ContainerCreate(cctx, client.ContainerCreateOptions{Name: p.name, Config: p.config, HostConfig: p.host})
	ccancel()
	if err == nil && ctx.Err() != nil {
		z.remove(created.ID)
		err = ctx.Err()
	}
	if err != nil {
		stdout.Close()
		stderr.Close()
		return nil, launchErr("create container %s from image %q: %v", p.name, p.image, err)
	}
	for _, w := range created.Warnings {
		z.log.Warn("docker warning", "container", spec.ContainerID, "warning", w)
	}
	cpus, mem := containerizer.Limits(spec.Resources)
	c := &dcontainer{id: spec.ContainerID, dockerID: created.ID, sandbox: spec.Sandbox, cpus: cpus, memBytes: mem, done: make(chan struct{})}
	fail := func(err error) (*dcontainer, error) {
		if c.out != nil {
			c.out.abort()
		}
		z.remove(c.dockerID)
		return nil, err
	}
	// The attach and the wait outlive this call: they use the
	// containerizer's context.
	att, err := z.cli.ContainerAttach(z.ctx, c.dockerID, client.ContainerAttachOptions{Stream: true, Stdout: true, Stderr: true})
	if err != nil {
		stdout.Close()
		stderr.Close()
		return fail(launchErr("attach to container %s: %v", p.name, err))
	}
	c.out = z.copyOutput(att.Conn, att.Reader, stdout, stderr)
	waitCtx, cancelWait := context.WithCancel(z.ctx)
	wait := z.cli.ContainerWait(waitCtx, c.dockerID, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	if _, err := z.cli.ContainerStart(ctx, c.dockerID, client.ContainerStartOptions{}); err != nil {
		cancelWait()
		discard(wait)
		return fail(launchErr("start container %s: %v", p.name, err))
	}
	if !z.spawn(func() { defer cancelWait(); z.watch(c, wait) }) {
		cancelWait()
		discard(wait)
		c.out.abort() // closed meanwhile: the container runs on, for Recover
		return nil, ErrClosed
	}
	return c, nil
}

// discard lets go of a wait whose answer is no longer wanted: the client's
// goroutine blocks until its answer is taken (ending the wait's context
// makes that answer come quickly).
func discard(w client.ContainerWaitResult) {
	go func() {
		select {
		case <-w.Result:
		case <-w.Error:
		}
	}()
}

// remove deletes a container and its anonymous volumes, killing it if
// needed; for cleanups that have no context of their own.
func (z *Containerizer) remove(dockerID string) {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	_, err := z.cli.ContainerRemove(ctx, dockerID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		z.log.Warn("cannot remove docker container", "docker_id", shortID(dockerID), "err", err)
	}
}

// watch waits for c to stop, lets its output drain, and records how it
// ended.
func (z *Containerizer) watch(c *dcontainer, wait client.ContainerWaitResult) {
	code, err := z.awaitStop(c, wait)
	if err != nil {
		return // closed: c stays running as far as we know
	}
	if c.out != nil {
		c.out.drain(drainTimeout)
	}
	st := z.exitState(c, code)
	c.term = termination(st)
	if code < 0 {
		c.term = containerizer.Termination{Status: -1, Message: "Container disappeared from Docker"}
	}
	close(c.done)
	z.log.Info("docker container stopped", "container", c.id, "message", c.term.Message)
}

// oomGrace bounds how long exitState looks for an OOM event Docker did not
// fold into the container's state.
const oomGrace = time.Second

// exitState asks Docker how c, which exited with code, ended. Docker learns
// of an OOM kill from an event of its own; when that event comes after the
// exit event (a loaded daemon), Docker 20.10 never sets State.OOMKilled, yet
// it still logs an "oom" event for the container. So a container that died
// of SIGKILL under a memory limit, with no signal sent by us, is looked up in
// the daemon's event log (for up to oomGrace): without this an OOM-killed
// task is reported as merely killed, and the framework loses
// REASON_CONTAINER_LIMITATION_MEMORY.
func (z *Containerizer) exitState(c *dcontainer, code int64) exitState {
	st := exitState{code: code}
	ctx, cancel := context.WithTimeout(z.ctx, callTimeout)
	defer cancel()
	res, err := z.cli.ContainerInspect(ctx, c.dockerID, client.ContainerInspectOptions{})
	if err != nil || res.Container.State == nil {
		return st
	}
	s := res.Container.State
	st = exitState{code: int64(s.ExitCode), oomKilled: s.OOMKilled, err: s.Error}
	if res.Container.HostConfig != nil {
		st.memLimit = res.Container.HostConfig.Memory
	}
	if !st.oomKilled && st.memLimit > 0 && st.code == 128+int64(syscall.SIGKILL) && !c.signalled.Load() {
		st.oomKilled = z.oomEvent(c.dockerID, s.StartedAt)
	}
	return st
}

// oomEvent reports whether the daemon logged an OOM event for the container
// since it started.
func (z *Containerizer) oomEvent(dockerID, since string) bool {
	ctx, cancel := context.WithTimeout(z.ctx, oomGrace)
	defer cancel()
	ev := z.cli.Events(ctx, client.EventsListOptions{
		Since:   since,
		Filters: make(client.Filters).Add("type", "container").Add("container", dockerID).Add("event", "oom"),
	})
	select {
	case <-ev.Messages:
		return true
	case <-ev.Err:
		return false
	}
}

// awaitStop returns c's exit code once it is not running (-1 if it was
// removed behind our back), re-asking the daemon when the wait breaks. It
// fails only when the containerizer is closed.
func (z *Containerizer) awaitStop(c *dcontainer, wait client.ContainerWaitResult) (int64, error) {
	for {
		select {
		case r := <-wait.Result:
			return r.StatusCode, nil
		case err := <-wait.Error:
			if z.ctx.Err() != nil {
				return 0, ErrClosed
			}
			if cerrdefs.IsNotFound(err) {
				return -1, nil
			}
			z.log.Warn("docker wait failed; waiting again", "container", c.id, "err", err)
			select {
			case <-time.After(rewaitDelay):
			case <-z.ctx.Done():
				return 0, ErrClosed
			}
			wait = z.cli.ContainerWait(z.ctx, c.dockerID, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
		case <-z.ctx.Done():
			discard(wait)
			return 0, ErrClosed
		}
	}
}

func (z *Containerizer) get(id string) (*dcontainer, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if c, ok := z.containers[id]; ok {
		return c, nil
	}
	return nil, fmt.Errorf("%w: %q", containerizer.ErrUnknownContainer, id)
}

// Wait implements containerizer.Containerizer.
func (z *Containerizer) Wait(ctx context.Context, id string) (containerizer.Termination, error) {
	c, err := z.get(id)
	if err != nil {
		return containerizer.Termination{}, err
	}
	select {
	case <-c.done:
		return c.term, nil
	case <-ctx.Done():
		return containerizer.Termination{}, ctx.Err()
	case <-z.ctx.Done():
		return containerizer.Termination{}, ErrClosed
	}
}

// Kill implements containerizer.Containerizer: Docker delivers sig to the
// container's first process.
func (z *Containerizer) Kill(id string, sig syscall.Signal) error {
	c, err := z.get(id)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(z.ctx, callTimeout)
	defer cancel()
	return z.signal(ctx, c, strconv.Itoa(int(sig)))
}

func (z *Containerizer) signal(ctx context.Context, c *dcontainer, sig string) error {
	if c.ended() {
		return fmt.Errorf("%w: %q", containerizer.ErrNotRunning, c.id)
	}
	c.signalled.Store(true)
	_, err := z.cli.ContainerKill(ctx, c.dockerID, client.ContainerKillOptions{Signal: sig})
	switch {
	case err == nil:
		return nil
	case cerrdefs.IsConflict(err) || cerrdefs.IsNotFound(err):
		return fmt.Errorf("%w: %q: %v", containerizer.ErrNotRunning, c.id, err)
	default:
		return fmt.Errorf("docker: signal %s to %q: %w", sig, c.id, err)
	}
}

// Destroy implements containerizer.Containerizer: the container's stop
// signal (SIGTERM unless the image or the stop-signal parameter says
// otherwise), up to grace for it to stop, SIGKILL; then the container and
// its anonymous volumes are removed and the id forgotten.
func (z *Containerizer) Destroy(ctx context.Context, id string, grace time.Duration) error {
	c, err := z.get(id)
	if err != nil {
		return err
	}
	if !c.ended() {
		if err := z.stop(ctx, c, grace); err != nil {
			return err
		}
	}
	if _, err := z.cli.ContainerRemove(ctx, c.dockerID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("docker: remove container of %q: %w", id, err)
	}
	z.mu.Lock()
	if z.containers[id] == c {
		delete(z.containers, id)
	}
	z.mu.Unlock()
	z.log.Info("destroyed docker container", "container", id)
	return nil
}

func (z *Containerizer) stop(ctx context.Context, c *dcontainer, grace time.Duration) error {
	stopSignal := "SIGTERM"
	if res, err := z.cli.ContainerInspect(ctx, c.dockerID, client.ContainerInspectOptions{}); err == nil &&
		res.Container.Config != nil && res.Container.Config.StopSignal != "" {
		stopSignal = res.Container.Config.StopSignal
	}
	if err := z.signal(ctx, c, stopSignal); err != nil && !errors.Is(err, containerizer.ErrNotRunning) {
		return err
	}
	timer := time.NewTimer(max(grace, 0))
	defer timer.Stop()
	select {
	case <-c.done:
		return nil
	case <-timer.C:
	case <-ctx.Done():
		return ctx.Err()
	case <-z.ctx.Done():
		return ErrClosed
	}
	if err := z.signal(ctx, c, "SIGKILL"); err != nil && !errors.Is(err, containerizer.ErrNotRunning) {
		return err
	}
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-z.ctx.Done():
		return ErrClosed
	}
}

// Containers implements containerizer.Containerizer.
func (z *Containerizer) Containers() []string {
	z.mu.Lock()
	defer z.mu.Unlock()
	out := make([]string, 0, len(z.containers))
	for id := range z.containers {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
