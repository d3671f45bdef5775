package registry

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/mesoproject/meso/api/registrypb"
	"go.etcd.io/bbolt"
	bberrors "go.etcd.io/bbolt/errors"
	"google.golang.org/protobuf/proto"
)

// Errors of the replicated registry.
var (
	// ErrConfig: Open was given an unusable Config; the message names the
	// field.
	ErrConfig = errors.New("registry: invalid config")
	// ErrNotLeader: this server is not the leader, so the command was not
	// proposed (it did not and will not commit). Propose it to Leader().
	ErrNotLeader = errors.New("registry: not the leader")
	// ErrLeadershipLost: this server lost leadership after proposing the
	// command; it may or may not commit. The next leader's state says.
	ErrLeadershipLost = errors.New("registry: leadership lost, outcome unknown")
	// ErrClosed: the registry was closed.
	ErrClosed = errors.New("registry: closed")
	// ErrLocked: another process holds Dir's raft.db (another master on
	// the same work directory).
	ErrLocked = errors.New("registry: raft.db is locked by another process")
)

// lockTimeout bounds the wait for raft.db's file lock.
const lockTimeout = 2 * time.Second

// Peer is one voting member of the raft group.
type Peer struct {
	// ID names the server for good; it survives address changes. The
	// master may choose its HTTP address, so that the leader's ID says
	// where to redirect clients.
	ID string
	// Addr is the server's raft TCP address (host:port).
	Addr string
}

// Config configures Open. Zero durations and counts take hashicorp/raft's
// defaults (1 s heartbeat and election timeouts, 500 ms leader lease,
// a snapshot every 8192 entries checked every 2 min).
type Config struct {
	// Dir is the work directory: raft.db (the bbolt log and stable store)
	// and snapshots/ (the file snapshot store). Created if missing.
	Dir string
	// ID is this server's id (see Peer.ID); empty means the listening
	// address.
	ID string
	// Bind is the TCP address raft listens on, unless Listener is set.
	Bind string
	// Listener, if set, is used instead of listening on Bind (tests use
	// it to know their ports before starting servers). Close closes it.
	Listener net.Listener
	// Peers lists every voter of the group, this server included. Empty
	// means a single-voter group of this server alone. The group is
	// bootstrapped from it only when Dir holds no raft state yet.
	Peers []Peer
	// Logger receives raft's log lines; nil discards them.
	Logger *slog.Logger

	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	CommitTimeout      time.Duration
	// SnapshotThreshold is how many log entries past the last snapshot
	// trigger a new one (checked every SnapshotInterval); TrailingLogs is
	// how many entries a snapshot leaves in the log for slow followers.
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64
	// NoSync skips bbolt's fsync after each log write. Unsafe: a crashed
	// machine may lose committed entries. For benchmarks only.
	NoSync bool
	// ServerTLS and ClientTLS, when set, make every raft connection TLS:
	// ServerTLS for the ones this server accepts (it should require and
	// verify client certificates: mutual TLS between masters), ClientTLS
	// for the ones it dials (verifying the peer's address). Both or
	// neither.
	ServerTLS, ClientTLS *tls.Config
}

// Leader names the raft leader as one server sees it. A zero Leader (ID
// empty) means no leader is known: an election is under way.
type Leader struct {
	ID   string
	Addr string
	// Self: this server is the leader.
	Self bool
}

// Registry is the replicated registry: a State replicated by
// hashicorp/raft over TCP, with its log in bbolt. Every method is safe for
// concurrent use.
//
// Writes (Propose, ProposeBatch and the typed methods) are accepted only by the leader and return
// once the command has committed and has been applied to the leader's
// State; the error is then the command's own (ErrAgentGone, ...), which is
// the same on every replica.
//
// Reads (Read, State) see the local State, which may lag: on a follower,
// behind the leader by the entries it has yet to receive; on a leader cut
// off from the others, behind the new leader until it notices; on a new
// leader, behind the previous leader's commits until its
// first Barrier. A read on the leader after a Barrier that returned nil
// reflects every write committed before the Barrier (linearizable as of
// the Barrier's commit). After Open, call Barrier once leadership arrives
// before trusting the State for recovery.
type Registry struct {
	id      string
	raft    *raft.Raft
	fsm     *fsm
	store   *raftboltdb.BoltStore
	trans   *raft.NetworkTransport
	obs     *raft.Observer
	obsCh   chan raft.Observation
	leaders chan Leader

	closeOnce sync.Once
	closeErr  error         // set once by closeOnce
	done      chan struct{} // closed by Close: stops watchLeader
	wg        sync.WaitGroup
}

// Open starts (or restarts, from Dir) this server's member of the raft
// group. It returns at once; a leader is elected in the background.
func Open(cfg Config) (*Registry, error) {
	if cfg.Dir == "" {
		return nil, fmt.Errorf("%w: Dir is empty", ErrConfig)
	}
	if cfg.Listener == nil && cfg.Bind == "" {
		return nil, fmt.Errorf("%w: neither Bind nor Listener is set", ErrConfig)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	hlog := newRaftLogger(logger)
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("registry: work dir: %w", err)
	}
	ln := cfg.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", cfg.Bind); err != nil {
			return nil, fmt.Errorf("registry: listen on %s: %w", cfg.Bind, err)
		}
	}
	if (cfg.ServerTLS == nil) != (cfg.ClientTLS == nil) {
		ln.Close()
		return nil, fmt.Errorf("%w: raft TLS needs both a server and a client configuration", ErrConfig)
	}
	addr := ln.Addr().String()
	if cfg.ServerTLS != nil {
		ln = tls.NewListener(ln, cfg.ServerTLS)
	}
	id := cfg.ID
	if id == "" {
		id = addr
	}
	voters, err := bootstrapServers(id, addr, cfg.Peers)
	if err != nil {
		ln.Close()
		return nil, err
	}
	rc := raftConfig(cfg, id, hlog)
	if err := raft.ValidateConfig(rc); err != nil {
		ln.Close()
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}

	r := &Registry{
		id:      id,
		fsm:     &fsm{state: NewState()},
		obsCh:   make(chan raft.Observation, 16),
		leaders: make(chan Leader, 1),
		done:    make(chan struct{}),
	}
	r.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: &streamLayer{Listener: ln, tls: cfg.ClientTLS}, MaxPool: 3, Timeout: 10 * time.Second, Logger: hlog,
	})
	fail := func(err error) (*Registry, error) {
		r.trans.Close()
		if r.store != nil {
			r.store.Close()
		}
		return nil, err
	}
	dbPath := filepath.Join(cfg.Dir, "raft.db")
	r.store, err = raftboltdb.New(raftboltdb.Options{Path: dbPath, NoSync: cfg.NoSync,
		BoltOptions: &bbolt.Options{Timeout: lockTimeout}})
	if errors.Is(err, bberrors.ErrTimeout) {
		return fail(fmt.Errorf("%w: %s (is another master using this directory?)", ErrLocked, dbPath))
	}
	if err != nil {
		return fail(fmt.Errorf("registry: open raft.db: %w", err))
	}
	logs, err := raft.NewLogCache(512, r.store)
	if err != nil {
		return fail(fmt.Errorf("registry: log cache: %w", err))
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.Dir, 2, hlog)
	if err != nil {
		return fail(fmt.Errorf("registry: snapshot store: %w", err))
	}
	existing, err := raft.HasExistingState(logs, r.store, snaps)
	if err != nil {
		return fail(fmt.Errorf("registry: read raft state: %w", err))
	}
	if !existing {
		if err := raft.BootstrapCluster(rc, logs, r.store, snaps, r.trans, raft.Configuration{Servers: voters}); err != nil {
			return fail(fmt.Errorf("registry: bootstrap: %w", err))
		}
	}
	r.raft, err = raft.NewRaft(rc, r.fsm, logs, r.store, snaps, r.trans)
	if err != nil {
		return fail(fmt.Errorf("registry: start raft: %w", err))
	}
	r.obs = raft.NewObserver(r.obsCh, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	r.raft.RegisterObserver(r.obs)
	r.wg.Add(1)
	go r.watchLeader()
	return r, nil
}

func raftConfig(cfg Config, id string, hlog hclog.Logger) *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(id)
	rc.Logger = hlog
	setIf(&rc.HeartbeatTimeout, cfg.HeartbeatTimeout)
	setIf(&rc.ElectionTimeout, cfg.ElectionTimeout)
	setIf(&rc.LeaderLeaseTimeout, cfg.LeaderLeaseTimeout)
	setIf(&rc.CommitTimeout, cfg.CommitTimeout)
	setIf(&rc.SnapshotThreshold, cfg.SnapshotThreshold)
	setIf(&rc.SnapshotInterval, cfg.SnapshotInterval)
	setIf(&rc.TrailingLogs, cfg.TrailingLogs)
	return rc
}

func setIf[T comparable](dst *T, v T) {
	var zero T
	if v != zero {
		*dst = v
	}
}

// bootstrapServers is the group's first configuration: the peers, which
// must include this server, or this server alone.
func bootstrapServers(id, addr string, peers []Peer) ([]raft.Server, error) {
	if len(peers) == 0 {
		return []raft.Server{{Suffrage: raft.Voter, ID: raft.ServerID(id), Address: raft.ServerAddress(addr)}}, nil
	}
	var servers []raft.Server
	self := false
	seen := map[string]bool{}
	for i, p := range peers {
		if p.ID == "" || p.Addr == "" {
			return nil, fmt.Errorf("%w: Peers[%d] needs both ID and Addr", ErrConfig, i)
		}
		if seen[p.ID] {
			return nil, fmt.Errorf("%w: Peers[%d]: ID %q is listed twice", ErrConfig, i, p.ID)
		}
		seen[p.ID] = true
		self = self || p.ID == id
		servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.Addr)})
	}
	if !self {
		return nil, fmt.Errorf("%w: Peers does not list this server's ID %q", ErrConfig, id)
	}
	return servers, nil
}

// ID is this server's id.
func (r *Registry) ID() string { return r.id }

// Addr is the address raft listens on.
func (r *Registry) Addr() string { return string(r.trans.LocalAddr()) }

// Leader reports the leader as this server knows it (zero if none).
func (r *Registry) Leader() Leader {
	addr, id := r.raft.LeaderWithID()
	return r.leader(addr, id)
}

func (r *Registry) leader(addr raft.ServerAddress, id raft.ServerID) Leader {
	if id == "" {
		return Leader{}
	}
	return Leader{ID: string(id), Addr: string(addr), Self: string(id) == r.id && r.raft.State() == raft.Leader}
}

// IsLeader reports whether this server is the leader now.
func (r *Registry) IsLeader() bool { return r.raft.State() == raft.Leader }

// LeaderChanges delivers the leader each time it changes, the newest
// only: a slow reader skips intermediate leaders. It is closed by Close.
// Self may arrive before this server has applied its predecessor's last
// commits; call Barrier before acting as leader.
func (r *Registry) LeaderChanges() <-chan Leader { return r.leaders }

func (r *Registry) watchLeader() {
	defer r.wg.Done()
	defer close(r.leaders)
	for {
		select {
		case <-r.done:
			return
		case o := <-r.obsCh:
			lo := o.Data.(raft.LeaderObservation)
			l := r.leader(lo.LeaderAddr, lo.LeaderID)
			// The observation fires as raft records the leader, before
			// State() says Leader on this server; the id says it is us.
			l.Self = lo.LeaderID != "" && string(lo.LeaderID) == r.id
			select { // newest wins
			case <-r.leaders:
			default:
			}
			r.leaders <- l
		}
	}
}

// Barrier returns once every command committed before it has been applied
// to this server's State. Only the leader can issue it.
func (r *Registry) Barrier(ctx context.Context) error {
	return wait(ctx, r.raft.Barrier(enqueueTimeout(ctx)))
}

// Snapshot asks raft to take a snapshot now (tests and operators).
func (r *Registry) Snapshot(ctx context.Context) error {
	return wait(ctx, r.raft.Snapshot())
}

// Propose proposes a command and waits until it has committed and been
// applied here, returning the command's own error. A ctx already done
// proposes nothing; if ctx ends while waiting the command may still
// commit.
func (r *Registry) Propose(ctx context.Context, c *registrypb.Command) error {
	if c.GetType() == registrypb.Command_BATCH {
		return fmt.Errorf("%w: propose a BATCH with ProposeBatch", ErrInvalidCommand)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("registry: not proposed: %w", err)
	}
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(c)
	if err != nil {
		return fmt.Errorf("registry: encode command: %w", err)
	}
	f := r.raft.Apply(data, enqueueTimeout(ctx))
	if err := wait(ctx, f); err != nil {
		return err
	}
	if err, ok := f.Response().(error); ok {
		return err
	}
	return nil
}

// ProposeBatch proposes commands as one log entry (one fsync, one round
// trip to the followers) and waits until it has committed and been
// applied here. The commands apply in order, each on its own: errs[i] is
// command i's own error. err is the proposal's (ErrNotLeader, ...), and
// then errs is nil. This is how a single-threaded caller (the master
// core's loop) can persist all the writes of one step at once: the
// commands of successive calls commit in call order.
func (r *Registry) ProposeBatch(ctx context.Context, cmds []*registrypb.Command) (errs []error, err error) {
	if len(cmds) == 0 {
		return nil, nil
	}
	for i, c := range cmds {
		if c.GetType() == registrypb.Command_BATCH {
			return nil, fmt.Errorf("%w: cmds[%d] is a BATCH", ErrInvalidCommand, i)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("registry: not proposed: %w", err)
	}
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(&registrypb.Command{Type: registrypb.Command_BATCH.Enum(), Batch: cmds})
	if err != nil {
		return nil, fmt.Errorf("registry: encode batch: %w", err)
	}
	f := r.raft.Apply(data, enqueueTimeout(ctx))
	if err := wait(ctx, f); err != nil {
		return nil, err
	}
	switch res := f.Response().(type) {
	case batchResult:
		return res, nil
	case error:
		return nil, res
	}
	return nil, fmt.Errorf("registry: batch applied without a result")
}

// enqueueTimeout bounds how long raft may wait to accept a command: what
// is left of ctx (0, no bound, when ctx has no deadline).
func enqueueTimeout(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return max(time.Until(d), time.Nanosecond)
	}
	return 0
}

// wait waits for a raft future or ctx. The goroutine ends when raft
// resolves the future, which it does for every future by Shutdown.
func wait(ctx context.Context, f raft.Future) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return raftError(err)
	case <-ctx.Done():
		return fmt.Errorf("registry: %w (the command may still commit)", ctx.Err())
	}
}

func raftError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrNotLeader):
		return fmt.Errorf("%w: %w", ErrNotLeader, err)
	case errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return fmt.Errorf("%w: %w", ErrLeadershipLost, err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return fmt.Errorf("%w: %w", ErrClosed, err)
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("registry: %w: %w", context.DeadlineExceeded, err)
	}
	return fmt.Errorf("registry: raft: %w", err)
}

// Read calls fn with the local State under a read lock. fn must not keep
// the State or modify anything it returns, and must not call the
// Registry's write methods.
func (r *Registry) Read(fn func(*State)) {
	r.fsm.mu.RLock()
	defer r.fsm.mu.RUnlock()
	fn(r.fsm.state)
}

// State returns a copy of the local State (for recovery, or tests).
func (r *Registry) State() *State {
	r.fsm.mu.RLock()
	defer r.fsm.mu.RUnlock()
	return r.fsm.state.clone()
}

// AppliedIndex is the raft index of the last command applied here.
func (r *Registry) AppliedIndex() uint64 { return r.raft.AppliedIndex() }

// Close stops this server's member of the group (without handing over
// leadership: to the others it looks like a crash, which is what tests of
// failover want) and closes its files and listener.
func (r *Registry) Close() error {
	r.closeOnce.Do(func() {
		r.raft.DeregisterObserver(r.obs)
		err := r.raft.Shutdown().Error()
		close(r.done)
		r.wg.Wait()
		r.closeErr = errors.Join(err, r.trans.Close(), r.store.Close())
	})
	return r.closeErr
}

// fsm is the raft.FSM around State.
type fsm struct {
	mu    sync.RWMutex
	state *State // guarded by mu
}

// Apply implements raft.FSM. Its result is the command's error (nil on
// success), handed to the proposer by ApplyFuture.Response.
func (f *fsm) Apply(l *raft.Log) any {
	var c registrypb.Command
	if err := proto.Unmarshal(l.Data, &c); err != nil {
		return fmt.Errorf("%w: entry %d does not decode: %w", ErrInvalidCommand, l.Index, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if c.GetType() == registrypb.Command_BATCH {
		return batchResult(f.state.ApplyBatch(c.GetBatch()))
	}
	return f.state.Apply(&c)
}

// batchResult is the FSM's result for a BATCH entry: one error per
// command.
type batchResult []error

// Snapshot implements raft.FSM: a shallow copy of the maps (the byte
// slices they hold are never modified), encoded later by Persist while
// commands keep applying.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return &fsmSnapshot{state: f.state.clone()}, nil
}

// Restore implements raft.FSM.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return fmt.Errorf("registry: read snapshot: %w", err)
	}
	s, err := UnmarshalState(b)
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.state = s
	f.mu.Unlock()
	return nil
}

type fsmSnapshot struct{ state *State }

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	b, err := s.state.MarshalSnapshot()
	if err == nil {
		_, err = sink.Write(b)
	}
	if err != nil {
		sink.Cancel()
		return fmt.Errorf("registry: persist snapshot: %w", err)
	}
	return sink.Close()
}

func (s *fsmSnapshot) Release() {}

// streamLayer is raft's TCP stream layer over a listener we own (a TLS
// listener when the group speaks TLS); tls, when set, is the dialing
// side's configuration.
type streamLayer struct {
	net.Listener
	tls *tls.Config
}

func (s *streamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	d := &net.Dialer{Timeout: timeout}
	if s.tls == nil {
		return d.Dial("tcp", string(addr))
	}
	// The handshake is part of the dial, bounded by the same timeout, so
	// a peer that is not a master of this group fails here.
	return tls.DialWithDialer(d, "tcp", string(addr), s.tls)
}

// newRaftLogger forwards raft's hclog lines to slog, keeping levels and
// key/value pairs.
func newRaftLogger(l *slog.Logger) hclog.Logger {
	level := hclog.Info
	if l.Enabled(context.Background(), slog.LevelDebug) {
		level = hclog.Debug
	}
	il := hclog.NewInterceptLogger(&hclog.LoggerOptions{Name: "raft", Level: level, Output: io.Discard})
	il.RegisterSink(slogSink{l})
	return il
}

type slogSink struct{ log *slog.Logger }

func (s slogSink) Accept(name string, level hclog.Level, msg string, args ...any) {
	var l slog.Level
	switch {
	case level >= hclog.Error:
		l = slog.LevelError
	case level == hclog.Warn:
		l = slog.LevelWarn
	case level == hclog.Info:
		l = slog.LevelInfo
	default:
		l = slog.LevelDebug
	}
	if s.log.Enabled(context.Background(), l) {
		s.log.Log(context.Background(), l, msg, append([]any{"component", name}, args...)...)
	}
}
