package cmdhost

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mesoproject/meso/executor"
	"github.com/mesoproject/meso/internal/commandexec"
	"github.com/mesoproject/meso/internal/launcher"
)

// SocketEnv names the host's socket (an abstract unix socket, "@name") in
// the host's environment.
const SocketEnv = "MESO_CMDHOST_SOCKET"

// FirstConnectTimeout is how long a new host waits for its agent.
const FirstConnectTimeout = time.Minute

// HostConfig configures Serve.
type HostConfig struct {
	Logger *slog.Logger
	// Run runs one executor; default commandexec.Run (tests replace it).
	Run func(context.Context, commandexec.Config) error
	// Verifier checks the token a connection's first message must carry;
	// a connection without it is closed and never replaces the agent's.
	// Default: VerifierEnv, as the agent starts a host; there must be one.
	Verifier string
}

// host is the host process's state.
type host struct {
	cfg HostConfig
	log *slog.Logger

	mu      sync.Mutex
	execs   map[string]*hosted // running executors, by container id
	cur     *wire              // the agent's connection, nil when none
	changed chan struct{}      // poked when execs or cur change
	exit    bool               // the agent told us to exit
	wg      sync.WaitGroup
}

type hosted struct {
	pid    int                // the task's process, once started; guarded by host.mu
	cancel context.CancelFunc // "shut down" (SIGTERM)
	abort  chan struct{}      // hard kill (SIGKILL)
	once   sync.Once
}

func (h *hosted) kill() { h.once.Do(func() { close(h.abort) }) }

// Serve runs a host on ln until the agent tells it to exit, or it has no
// agent connection and runs nothing (or no agent connects within
// FirstConnectTimeout). It returns once every executor has returned.
func Serve(ctx context.Context, ln net.Listener, cfg HostConfig) error {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Run == nil {
		cfg.Run = commandexec.Run
	}
	if cfg.Verifier == "" {
		cfg.Verifier = os.Getenv(VerifierEnv)
	}
	if cfg.Verifier == "" {
		ln.Close()
		return fmt.Errorf("cmdhost: no verifier (%s) to check the agent's connections with", VerifierEnv)
	}
	h := &host{cfg: cfg, log: cfg.Logger, execs: map[string]*hosted{}, changed: make(chan struct{}, 1)}
	go h.accept(ln)
	defer h.wg.Wait()
	defer ln.Close()
	first := time.NewTimer(FirstConnectTimeout)
	defer first.Stop()
	connected := false
	for {
		h.mu.Lock()
		cur, n, exit := h.cur, len(h.execs), h.exit
		h.mu.Unlock()
		if cur != nil {
			connected = true
		}
		switch {
		case exit && n == 0:
			h.log.Info("exiting: told to by the agent")
			return nil
		case connected && cur == nil && n == 0:
			h.log.Info("exiting: no agent connection and no executor")
			return nil
		}
		select {
		case <-h.changed:
		case <-first.C:
			if !connected {
				h.log.Info("exiting: no agent connected")
				return nil
			}
		case <-ctx.Done():
			h.mu.Lock()
			for _, e := range h.execs {
				e.cancel()
			}
			h.mu.Unlock()
			return nil
		}
	}
}

func (h *host) poke() {
	select {
	case h.changed <- struct{}{}:
	default:
	}
}

func (h *host) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		if err := checkPeer(c); err != nil {
			h.log.Warn("refusing connection", "err", err)
			c.Close()
			continue
		}
		go h.handshake(c)
	}
}

// handshake serves c once its first message carries the agent's token;
// the newest such connection is the agent's. Any other is closed.
func (h *host) handshake(c net.Conn) {
	w := newWire(c)
	_ = c.SetReadDeadline(time.Now().Add(handshakeTimeout))
	m, err := w.read()
	if err != nil || m.Op != opHello || !verify(h.cfg.Verifier, m.Token) {
		if err == nil {
			err = errors.New("no valid token")
		}
		h.log.Warn("refusing connection", "err", err)
		c.Close()
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	if err := w.write(msg{Op: opHello, Seq: m.Seq}); err != nil {
		c.Close()
		return
	}
	h.mu.Lock()
	old := h.cur
	h.cur = w
	h.mu.Unlock()
	if old != nil {
		old.c.Close() // the newest agent connection wins
	}
	h.poke()
	h.serve(w)
}

// checkPeer serves only processes of our own user (or root).
func checkPeer(c net.Conn) error {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return errors.New("not a unix connection")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return err
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return err
	}
	if cerr != nil {
		return cerr
	}
	if cred.Uid != 0 && int(cred.Uid) != os.Getuid() {
		return fmt.Errorf("peer uid %d is not ours (%d)", cred.Uid, os.Getuid())
	}
	return nil
}

func (h *host) serve(w *wire) {
	defer func() {
		w.c.Close()
		h.mu.Lock()
		if h.cur == w {
			h.cur = nil
		}
		h.mu.Unlock()
		h.poke()
	}()
	for {
		m, err := w.read()
		if err != nil {
			return
		}
		ans := msg{Op: m.Op, Seq: m.Seq, ID: m.ID}
		switch m.Op {
		case opLaunch:
			ans.Op = opLaunched
			if err := h.launch(m); err != nil {
				ans.Err = err.Error()
			}
		case opKill:
			ans.Op = opKilled
			if err := h.kill(m.ID, syscall.Signal(m.Signal)); err != nil {
				ans.Err = err.Error()
			}
		case opList:
			h.mu.Lock()
			for id, e := range h.execs {
				ans.IDs = append(ans.IDs, id)
				ans.Pids = append(ans.Pids, e.pid)
			}
			h.mu.Unlock()
		case opExit:
			h.mu.Lock()
			if len(h.execs) > 0 {
				ans.Err = fmt.Sprintf("busy: %d executors", len(h.execs))
			} else {
				h.exit = true
			}
			h.mu.Unlock()
			h.poke()
		default:
			ans.Err = fmt.Sprintf("unknown operation %q", m.Op)
		}
		if err := w.write(ans); err != nil {
			return
		}
	}
}

// launch starts one executor.
func (h *host) launch(m msg) error {
	lookup := func(k string) (string, bool) {
		for i := len(m.Env) - 1; i >= 0; i-- {
			if v, ok := strings.CutPrefix(m.Env[i], k+"="); ok {
				return v, true
			}
		}
		return "", false
	}
	env, err := executor.ParseEnv(lookup)
	if err != nil {
		return err
	}
	stdout, err := os.OpenFile(filepath.Join(m.Sandbox, "stdout"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	stderr, err := os.OpenFile(filepath.Join(m.Sandbox, "stderr"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		stdout.Close()
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &hosted{cancel: cancel, abort: make(chan struct{})}
	h.mu.Lock()
	if h.exit {
		h.mu.Unlock()
		cancel()
		stdout.Close()
		stderr.Close()
		return errors.New("exiting")
	}
	if _, ok := h.execs[m.ID]; ok {
		h.mu.Unlock()
		cancel()
		stdout.Close()
		stderr.Close()
		return fmt.Errorf("executor %q runs already", m.ID)
	}
	h.execs[m.ID] = e
	h.wg.Add(1)
	h.mu.Unlock()
	noSwitch, _ := lookup(launcher.NoSwitchUserEnv)
	cfg := commandexec.Config{
		Env:          env,
		TaskEnv:      m.Env,
		Stdout:       stdout,
		Stderr:       stderr,
		Logger:       slog.New(slog.NewTextHandler(stderr, nil)).With("component", "command-executor"),
		NoSwitchUser: noSwitch == "1",
		Abort:        e.abort,
		OnStart: func(pid int) {
			h.mu.Lock()
			e.pid = pid
			cur := h.cur
			h.mu.Unlock()
			if cur != nil {
				_ = cur.write(msg{Op: opStarted, ID: m.ID, Pid: pid})
			}
		},
	}
	go func() {
		defer h.wg.Done()
		err := h.cfg.Run(ctx, cfg)
		status := 0 // as the executor process's exit status
		select {
		case <-e.abort:
			status = int(syscall.SIGKILL) // a wait status: killed by SIGKILL
		default:
			if err != nil {
				fmt.Fprintln(stderr, "meso-executor:", err)
				status = 1 << 8 // exited with status 1
			}
		}
		cancel()
		stdout.Close()
		stderr.Close()
		h.mu.Lock()
		delete(h.execs, m.ID)
		cur := h.cur
		h.mu.Unlock()
		if cur != nil {
			_ = cur.write(msg{Op: opExited, ID: m.ID, Status: status})
		}
		h.poke()
	}()
	return nil
}

func (h *host) kill(id string, sig syscall.Signal) error {
	h.mu.Lock()
	e := h.execs[id]
	h.mu.Unlock()
	if e == nil {
		return fmt.Errorf("executor %q is not running", id)
	}
	switch sig {
	case syscall.SIGKILL:
		e.kill()
	case syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP:
		e.cancel()
	case 0: // only checks that it runs
	default:
		return fmt.Errorf("signal %d is not supported for a hosted executor", sig)
	}
	return nil
}
