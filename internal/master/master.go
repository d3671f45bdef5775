package master

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mesoproject/meso/api/masterpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/allocator"
	"github.com/mesoproject/meso/internal/h1pipe"
	"github.com/mesoproject/meso/internal/httpbound"
	"github.com/mesoproject/meso/internal/master/core"
	"github.com/mesoproject/meso/internal/operator"
	"github.com/mesoproject/meso/internal/present"
	"github.com/mesoproject/meso/internal/promexport"
	"github.com/mesoproject/meso/internal/registry"
	"github.com/mesoproject/meso/internal/resources"
	"github.com/mesoproject/meso/internal/webui"
	"google.golang.org/protobuf/proto"
)

// Master is a meso master: the HTTP shell around the core. Create it with
// New and run it with Serve.
type Master struct {
	cfg      Config
	log      *slog.Logger
	minAlloc []resources.Quantities
	bounds   *httpbound.Bounds
	fast     atomic.Pointer[h1pipe.Server] // the scheduler calls' path, once serving
	logLevel *operator.LogLevel

	mu      sync.Mutex
	serving bool // guarded by mu: Serve was called

	// Set by Serve before the HTTP server starts; read-only afterwards.
	loop     *loop
	info     *mesospb.MasterInfo
	hostport string // info's address as host:port (advertised)
	started  time.Time
	stopping chan struct{} // closed when Serve's ctx is done

	framedMu sync.Mutex
	framed   map[*frameConn]struct{} // guarded by framedMu: the framed link connections

	// With Config.Replicated: reg is set by Serve before the HTTP server
	// starts; leadership by New.
	reg        *registry.Registry
	leadership *raftLeadership
	retake     chan struct{} // cap 1: the loop asks the election watcher to recover again

	// stateEnc writes the state documents, keeping each task's JSON
	// (safe for concurrent use).
	stateEnc present.StateEncoder
	// opEnc encodes the operator API's GET_STATE, GET_TASKS and
	// GET_AGENTS, keeping each task's and agent entry's encodings (safe
	// for concurrent use).
	opEnc operator.StateEncoder
}

// New checks cfg and returns a Master.
func New(cfg Config) (*Master, error) {
	q, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	bounds, err := httpbound.New(cfg.HTTP)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if cfg.WorkDir != "" {
		if err := os.MkdirAll(cfg.WorkDir, 0o755); err != nil {
			return nil, fmt.Errorf("%w: --work_dir: %w", ErrConfig, err)
		}
	}
	m := &Master{cfg: cfg, log: cfg.Logger, minAlloc: q, bounds: bounds, logLevel: operator.NewLogLevel(cfg.LogLevel)}
	if cfg.Replicated != nil {
		m.leadership = newRaftLeadership()
		m.retake = make(chan struct{}, 1)
	}
	return m, nil
}

// Serve runs the master on ln until ctx is done, then stops and returns
// nil. It may be called once.
func (m *Master) Serve(ctx context.Context, ln net.Listener) error {
	m.mu.Lock()
	if m.serving {
		m.mu.Unlock()
		return errors.New("master: Serve called twice")
	}
	m.serving = true
	m.mu.Unlock()

	if err := m.setup(ln.Addr()); err != nil {
		return err
	}
	loopCtx, stopLoop := context.WithCancel(context.Background())
	go m.loop.run(loopCtx)
	electionDone := make(chan struct{})
	stopElection := func() {}
	if m.reg != nil {
		var electionCtx context.Context
		electionCtx, stopElection = context.WithCancel(context.Background())
		go func() {
			defer close(electionDone)
			m.watchElection(electionCtx)
		}()
	} else {
		close(electionDone)
	}

	srv := m.bounds.Server(m.routes())
	srv.ErrorLog = slog.NewLogLogger(m.log.Handler(), slog.LevelWarn)
	// Scheduler calls on plain connections: pipelined requests answered
	// together (h1pipe); everything else, and TLS, on net/http.
	fast := h1pipe.New(srv, h1pipe.Config{
		Paths:       []string{"/api/v1/scheduler", "/master/api/v1/scheduler"},
		Match:       notSubscribe,
		BodyTimeout: m.bounds.Config().BodyTimeout,
	})
	m.fast.Store(fast)
	served := make(chan error, 1)
	go func() { served <- fast.Serve(ln) }()
	m.log.Info("master serving", "id", m.info.GetId(), "address", ln.Addr().String())

	var err error
	select {
	case <-ctx.Done():
	case err = <-served:
	}
	m.framedMu.Lock()
	close(m.stopping) // streaming handlers return
	m.framedMu.Unlock()
	m.closeFramed()
	m.logLevel.Stop()
	stopElection()
	<-electionDone
	stopLoop()
	<-m.loop.done
	if m.reg != nil {
		if cerr := m.reg.Close(); cerr != nil {
			m.log.Warn("closing the registry", "err", cerr)
		}
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if serr := fast.Shutdown(shutCtx); serr != nil {
		fast.Close()
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// setup builds the core and the loop for a master listening on addr.
// With a replicated registry the first core is a standby one: the master
// serves once raft elects it (watchElection).
func (m *Master) setup(addr net.Addr) error {
	m.started = time.Now()
	m.info = m.masterInfo(addr)
	m.hostport = net.JoinHostPort(m.info.GetAddress().GetIp(), strconv.Itoa(int(m.info.GetPort())))
	if m.cfg.Replicated != nil {
		if err := m.openRegistry(); err != nil {
			return err
		}
		m.cfg.Leadership = m.leadership
	}
	reg := m.cfg.Registry
	if m.reg != nil {
		reg = core.NewMemRegistry()
	}
	c, err := m.newCore(reg, m.info, m.started)
	if err != nil {
		if m.reg != nil {
			m.reg.Close()
		}
		return err
	}
	m.loop = newLoop(c, m.log)
	if m.cfg.NoFramedLink {
		m.loop.linkVersion = 2
	}
	m.loop.leading = m.reg == nil
	m.stopping = make(chan struct{})
	return nil
}

// newCore builds a core with this master's configuration.
func (m *Master) newCore(reg core.Registry, info *mesospb.MasterInfo, now time.Time) (*core.Core, error) {
	return core.New(core.Config{
		MasterInfo:                info,
		HeartbeatInterval:         m.cfg.HeartbeatInterval,
		AllocationInterval:        m.cfg.AllocationInterval,
		AgentPingTimeout:          m.cfg.AgentPingTimeout,
		MaxAgentPingTimeouts:      m.cfg.MaxAgentPingTimeouts,
		OfferTimeout:              m.cfg.OfferTimeout,
		MaxCompletedFrameworks:    m.cfg.MaxCompletedFrameworks,
		MaxCompletedTasks:         m.cfg.MaxCompletedTasksPerFramework,
		AgentReregisterTimeout:    m.cfg.AgentReregisterTimeout,
		RecoveryAgentRemovalLimit: m.cfg.RecoveryAgentRemovalLimit,
		Allocator:                 allocator.Config{MinAllocatable: m.minAlloc, OfferFanout: m.cfg.offerFanout()},
		Registry:                  reg,
		DurableFrameworks:         m.cfg.Replicated != nil,
		AuthorizeTask:             m.authorizeTask,
		AuthorizeOperation:        m.authorizeOperation,
		Logger:                    m.log,
	}, now)
}

// advertised is this master's advertised host:port.
func (m *Master) advertised() string { return m.hostport }

// masterInfo builds this master's MasterInfo from the config and the
// listener's address.
func (m *Master) masterInfo(addr net.Addr) *mesospb.MasterInfo {
	ip, port := net.IPv4(127, 0, 0, 1), m.cfg.Port
	if tcp, ok := addr.(*net.TCPAddr); ok {
		if !tcp.IP.IsUnspecified() {
			ip = tcp.IP
		}
		if port == 0 {
			port = tcp.Port
		}
	}
	if m.cfg.IP != "" {
		if parsed := net.ParseIP(m.cfg.IP); parsed != nil && !parsed.IsUnspecified() {
			ip = parsed
		}
	}
	hostname := m.cfg.Hostname
	if hostname == "" {
		hostname = ip.String()
	}
	var packed uint32
	if v4 := ip.To4(); v4 != nil {
		packed = binary.LittleEndian.Uint32(v4) // network order, read as Mesos does
	}
	hostport := net.JoinHostPort(ip.String(), strconv.Itoa(port))
	return &mesospb.MasterInfo{
		Id:       proto.String(newUUID()),
		Ip:       proto.Uint32(packed),
		Port:     proto.Uint32(uint32(port)),
		Pid:      proto.String("master@" + hostport),
		Hostname: proto.String(hostname),
		Version:  proto.String(m.cfg.Version),
		Address: &mesospb.Address{
			Hostname: proto.String(hostname),
			Ip:       proto.String(ip.String()),
			Port:     proto.Int32(int32(port)),
		},
	}
}

// newUUID returns a random RFC 4122 version 4 UUID in text form.
func newUUID() string { return mesospb.UUIDString(mesospb.NewUUID()) }

// routes builds the HTTP handler.
func (m *Master) routes() http.Handler {
	mux := http.NewServeMux()
	ro := func(h http.Handler) http.Handler { return m.authenticate(m.cfg.AuthenticateHTTPReadOnly, h) }
	for _, prefix := range []string{"", "/master"} {
		mux.Handle(prefix+"/api/v1/scheduler", m.authenticate(m.cfg.AuthenticateFrameworks, m.leaderOnly(http.HandlerFunc(m.handleScheduler))))
		mux.Handle(prefix+operator.Path, m.authenticate(m.cfg.AuthenticateHTTPReadWrite, m.leaderOnly(http.HandlerFunc(m.handleOperator))))
		mux.HandleFunc(prefix+"/health", m.handleHealth)
		mux.Handle(prefix+"/state", ro(http.HandlerFunc(m.handleState)))
		mux.Handle(prefix+"/state.json", ro(http.HandlerFunc(m.handleState))) // legacy name
		mux.Handle(prefix+"/roles", ro(m.leaderOnly(http.HandlerFunc(m.handleRoles))))
	}
	// The cuts of the state are the leader's (307 elsewhere); /state
	// itself is served by every master, showing who leads.
	leaderPart := func(write func(io.Writer, *masterpb.Response_GetState) error) http.Handler {
		return ro(m.leaderOnly(m.handleStatePart(func(w io.Writer, _ *present.MasterState, gs *masterpb.Response_GetState) error {
			return write(w, gs)
		})))
	}
	mux.Handle("/master/slaves", leaderPart(m.stateEnc.WriteSlaves))
	mux.Handle("/master/frameworks", leaderPart(m.stateEnc.WriteFrameworks))
	mux.Handle("/master/tasks", leaderPart(m.stateEnc.WriteTasks))
	m.maintenanceRoutes(mux)
	m.logRoutes(mux)
	mux.Handle("/internal/v1/link", m.authenticate(m.cfg.AuthenticateAgents, m.leaderOnly(http.HandlerFunc(m.handleLink))))
	mux.HandleFunc("/version", m.handleVersion)
	mux.Handle("/metrics/snapshot", ro(http.HandlerFunc(m.handleMetricsSnapshot)))
	mux.Handle("/metrics", ro(promexport.Handler(m.metrics)))
	mux.HandleFunc("/master/redirect", m.handleRedirect)
	mux.HandleFunc("/master/redirect/", m.handleRedirect)
	// The web UI's page and files; its API calls carry their own
	// credentials, so the page itself is public. A master that does not
	// lead sends the page's visitors to the leader's (as Mesos' UI does):
	// the page talks to its own origin, and a follower's 307s to another
	// origin fail the browser's CORS checks.
	mux.Handle("/", m.uiOnLeader(webui.Handler()))
	return mux
}
