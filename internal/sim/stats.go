package sim

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
)

// counters are the run's figures, updated by agents and frameworks.
type counters struct {
	registered atomic.Int64
	// Framework side.
	offers, launched, running, finishedSeen, failed, updatesReceived atomic.Int64
	active                                                           atomic.Int64 // reached RUNNING, not ended
	// Agent side.
	updatesSent, updatesRetried, retriesDropped, acks atomic.Int64
	unexpectedAcks                                    atomic.Int64
	finishedAcked, terminalAcked, linkFailures        atomic.Int64
	callErrors                                        atomic.Int64
	agentRequests                                     atomic.Int64 // link POSTs other than REGISTER
	// Optimistic offers: RESCINDs the frameworks got, and tasks the
	// master dropped because their offer had gone to another framework.
	rescinded, conflicts atomic.Int64

	firstRegister, lastRegistered stamp
	firstLaunch, lastRunning      stamp
	lastFinishedAck               stamp
	// The steady phase (Config.LaunchRate): from every held task
	// running to the last steady task's TASK_RUNNING.
	steadyStart, lastSteadyRunning stamp
	steadyRunning                  atomic.Int64
}

// stamp is a point in time as an offset from the run's epoch (runner.since),
// 0 while unset.
type stamp struct{ v atomic.Int64 }

// first records d unless a time is recorded already.
func (s *stamp) first(d time.Duration) { s.v.CompareAndSwap(0, int64(d)) }

// last records d when it is later than the recorded time.
func (s *stamp) last(d time.Duration) {
	for {
		old := s.v.Load()
		if int64(d) <= old || s.v.CompareAndSwap(old, int64(d)) {
			return
		}
	}
}

func (s *stamp) get() time.Duration { return time.Duration(s.v.Load()) }

// span is the time from a to b, 0 when either is unset.
func span(a, b *stamp) time.Duration {
	if a.get() == 0 || b.get() == 0 {
		return 0
	}
	return b.get() - a.get()
}

// latencyBook remembers when each status update was first sent, until a
// framework receives it. Both ends are in this process, so one monotonic
// clock (runner.since) measures the latency even with an external master.
type latencyBook struct {
	shards [64]latencyShard
}

type latencyShard struct {
	mu   sync.Mutex
	sent map[[16]byte]time.Duration // guarded by mu
}

func newLatencyBook() *latencyBook {
	b := &latencyBook{}
	for i := range b.shards {
		b.shards[i].sent = map[[16]byte]time.Duration{}
	}
	return b
}

func (b *latencyBook) shard(uuid []byte) (*latencyShard, [16]byte, bool) {
	var k [16]byte
	if len(uuid) != len(k) {
		return nil, k, false
	}
	copy(k[:], uuid)
	return &b.shards[k[0]%byte(len(b.shards))], k, true
}

// sent records that the update with uuid was sent at t.
func (b *latencyBook) sent(uuid []byte, t time.Duration) {
	s, k, ok := b.shard(uuid)
	if !ok {
		return
	}
	s.mu.Lock()
	if _, dup := s.sent[k]; !dup {
		s.sent[k] = t
	}
	s.mu.Unlock()
}

// received returns the time from the update's first send to t, and
// forgets it; false when the update was not recorded (a duplicate, or an
// update the master made).
func (b *latencyBook) received(uuid []byte, t time.Duration) (time.Duration, bool) {
	s, k, ok := b.shard(uuid)
	if !ok {
		return 0, false
	}
	s.mu.Lock()
	at, ok := s.sent[k]
	delete(s.sent, k)
	s.mu.Unlock()
	return t - at, ok
}

// audit records every status update the agents made and every
// acknowledgement they received, for tests (Config.Audit).
type audit struct {
	mu      sync.Mutex
	updates map[string]auditUpdate // guarded by mu; by uuid
	acks    map[string]int         // guarded by mu; ACKNOWLEDGEs by uuid
}

type auditUpdate struct {
	key   taskKey
	state mesospb.TaskState
}

func newAudit() *audit {
	return &audit{updates: map[string]auditUpdate{}, acks: map[string]int{}}
}

func (au *audit) created(uuid []byte, key taskKey, state mesospb.TaskState) {
	au.mu.Lock()
	au.updates[string(uuid)] = auditUpdate{key, state}
	au.mu.Unlock()
}

func (au *audit) acked(uuid []byte) {
	au.mu.Lock()
	au.acks[string(uuid)]++
	au.mu.Unlock()
}
