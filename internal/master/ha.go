package master

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/master/core"
	"github.com/mesoproject/meso/internal/present"
	"github.com/mesoproject/meso/internal/registry"
	"github.com/mesoproject/meso/internal/registry/coreregistry"
	"google.golang.org/protobuf/proto"
)

// singleID is the raft id of a master that is its group's only voter: a
// fixed name, so that a restart on another port still finds itself in the
// group's configuration.
const singleID = "meso-master"

// defaultWriteTimeout bounds a registry write of the core.
const defaultWriteTimeout = 10 * time.Second

// raftLeadership is the Leadership of a master in a raft group, set by
// the master's election watcher (Master.watchElection).
type raftLeadership struct {
	mu       sync.Mutex
	hostport string // guarded by mu: the leading master's HTTP host:port; "" when none is known
	self     bool   // guarded by mu: this master leads and its core has recovered
	// changed is closed (and replaced) at every set; guarded by mu.
	changed chan struct{}
}

func newRaftLeadership() *raftLeadership { return &raftLeadership{changed: make(chan struct{})} }

// Leader implements Leadership.
func (l *raftLeadership) Leader() (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.hostport, l.self
}

func (l *raftLeadership) set(hostport string, self bool) {
	l.mu.Lock()
	l.hostport, l.self = hostport, self
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

// WaitLeading returns once this master leads and serves (at once for a
// master without a replicated registry), or with ctx's error.
func (m *Master) WaitLeading(ctx context.Context) error {
	if m.leadership == nil {
		return nil
	}
	for {
		m.leadership.mu.Lock()
		self, changed := m.leadership.self, m.leadership.changed
		m.leadership.mu.Unlock()
		if self {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// openRegistry opens this master's member of the raft group.
func (m *Master) openRegistry() error {
	rc := m.cfg.Replicated
	id := singleID
	if len(rc.Peers) > 0 {
		id = m.advertised()
	}
	reg, err := registry.Open(registry.Config{
		Dir: rc.Dir, ID: id, Bind: rc.Bind, Listener: rc.Listener, Peers: rc.Peers,
		Logger:           m.log,
		HeartbeatTimeout: rc.HeartbeatTimeout, ElectionTimeout: rc.ElectionTimeout,
		LeaderLeaseTimeout: rc.LeaderLeaseTimeout,
		ServerTLS:          rc.ServerTLS, ClientTLS: rc.ClientTLS,
	})
	if err != nil {
		return fmt.Errorf("master: registry: %w", err)
	}
	m.reg = reg
	return nil
}

// termInfo is this master's MasterInfo for one term of leadership (or
// standby): a fresh id each time, so that the ids a core assigns
// (frameworks, agents, offers) never repeat those of an earlier term.
func (m *Master) termInfo() *mesospb.MasterInfo {
	info := proto.CloneOf(m.info)
	info.Id = proto.String(newUUID())
	return info
}

// watchElection follows the raft group's leader until ctx ends: when this
// master is elected it recovers the registry into a new core and serves;
// when it loses leadership it drops the core (every stream and link
// closes; clients reconnect and follow the 307 to the new leader).
func (m *Master) watchElection(ctx context.Context) {
	leading := false
	for {
		var l registry.Leader
		var ok bool
		select {
		case <-ctx.Done():
			return
		case l, ok = <-m.reg.LeaderChanges():
			if !ok {
				return
			}
		case <-m.retake:
			// A write failed and the loop stopped serving.
			leading = false
			if m.reg.IsLeader() {
				leading = m.takeOver(ctx)
			}
			continue
		}
		switch {
		case l.Self && !leading:
			m.leadership.set("", false) // until recovered: 503
			leading = m.takeOver(ctx)
		case !l.Self:
			if leading {
				m.stepDown(ctx)
				leading = false
			}
			hostport := l.ID
			if hostport == singleID {
				hostport = ""
			}
			m.leadership.set(hostport, false)
			m.log.Info("following", "leader", hostport)
		}
	}
}

// takeOver makes this newly elected master serve: Barrier (to apply every
// write of the previous leader), recover the registry into a new core,
// and swap it into the loop. False if leadership went first.
func (m *Master) takeOver(ctx context.Context) bool {
	for {
		bctx, cancel := context.WithTimeout(ctx, defaultWriteTimeout)
		err := m.reg.Barrier(bctx)
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil || !m.reg.IsLeader() {
			m.log.Warn("elected, but lost leadership before recovering", "err", err)
			return false
		}
	}
	st := m.reg.State()
	rec, err := coreregistry.Recovery(st)
	if err != nil {
		m.log.Error("cannot recover the registry; not serving", "err", err)
		return false
	}
	now := time.Now()
	timeout := m.cfg.Replicated.WriteTimeout
	if timeout <= 0 {
		timeout = defaultWriteTimeout
	}
	info := m.termInfo()
	batch := coreregistry.NewBatch(m.reg, st, timeout, nil)
	c, err := m.newCore(batch, info, now)
	if err == nil {
		err = c.Recover(now, rec)
	}
	if err != nil {
		m.log.Error("cannot build the core from the registry; not serving", "err", err)
		return false
	}
	if err := m.loop.do(ctx, func(l *loop, _ time.Time) {
		l.closeAll()
		l.core, l.leading = c, true
		l.flush = func() error { return batch.Flush(context.Background()) }
		l.flushFailed = m.writeFailed
		// On the loop, so that a write failure (writeFailed, also on the
		// loop) always comes after.
		m.leadership.set(m.advertised(), true)
	}); err != nil {
		return false
	}
	m.log.Info("elected leading master", "id", info.GetId(),
		"agents_to_reregister", len(rec.Agents), "frameworks", len(rec.Frameworks))
	return true
}

// stepDown stops serving: the loop gets an empty standby core that is
// never fed (the handlers redirect), and every stream and link closes.
func (m *Master) stepDown(ctx context.Context) {
	m.leadership.set("", false)
	standby, err := m.newCore(core.NewMemRegistry(), m.termInfo(), time.Now())
	if err != nil {
		m.log.Error("cannot build a standby core", "err", err)
		return
	}
	_ = m.loop.do(ctx, func(l *loop, _ time.Time) {
		l.closeAll()
		l.core, l.leading, l.flush = standby, false, nil
	})
	m.log.Warn("lost leadership; stopped serving")
}

// writeFailed runs on the loop when the registry writes of a step did not
// commit: the step's outputs were dropped, so the core's books are ahead
// of the registry. The master stops serving (every stream and link
// closes) and asks the election watcher to recover again from the
// registry if it still leads.
func (m *Master) writeFailed(l *loop, err error) {
	m.log.Error("registry write failed; stopped serving, recovering again", "err", err)
	m.leadership.set("", false)
	l.closeAll()
	l.leading, l.flush = false, nil
	if standby, serr := m.newCore(core.NewMemRegistry(), m.termInfo(), time.Now()); serr == nil {
		l.core = standby
	}
	select {
	case m.retake <- struct{}{}:
	default:
	}
}

// leaderView corrects a /state document of a master that does not lead:
// the leader is the one raft elected, known by its host:port alone.
func (m *Master) leaderView(st *present.MasterState) {
	hostport, self := m.leader()
	if self {
		return
	}
	st.ElectedTime = 0
	st.Leader = ""
	st.LeaderInfo = present.MasterInfo{}
	if hostport == "" {
		return
	}
	host, portText, err := net.SplitHostPort(hostport)
	if err != nil {
		return
	}
	port, _ := strconv.Atoi(portText)
	st.Leader = "master@" + hostport
	st.LeaderInfo = present.MasterInfo{PID: st.Leader, Port: uint32(port), Hostname: host,
		Address: present.Address{Hostname: host, IP: host, Port: int32(port)}}
}
