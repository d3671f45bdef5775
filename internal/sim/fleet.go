package sim

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Fleet is a pool of simulated agents kept registered (answering pings,
// registering again when a link breaks, trying the next master of the
// list) against external masters, for benchmarks that drive the masters
// from outside: registration at scale and master failover. It runs no
// frameworks.
type Fleet struct {
	r      *runner
	cancel context.CancelFunc
	wg     sync.WaitGroup
	tr     *http.Transport
}

// StartFleet starts cfg.Agents agents against cfg.Master, a
// comma-separated list of host:port (required). Of cfg, only Agents,
// AgentResources, Senders, Registering, UpdateRetry, Version and Logger
// matter. localIP, when set, is the address the agents' connections come
// from: thousands of them take as many ephemeral ports, and on 127.0.0.2
// none can be the port a master restarting on 127.0.0.1 wants to listen
// on. Stop ends it.
func StartFleet(ctx context.Context, cfg Config, localIP string) (*Fleet, error) {
	if strings.TrimSpace(cfg.Master) == "" {
		return nil, fmt.Errorf("%w: a fleet needs --master", ErrConfig)
	}
	cfg.Frameworks, cfg.Tasks = 1, 1 // not used; validate wants them
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	conns := cfg.agentConns() + 8
	if err := checkOpenFiles(uint64(conns+128), false); err != nil {
		return nil, err
	}
	f := &Fleet{r: &runner{cfg: cfg, log: cfg.Logger, epoch: time.Now(), lat: newLatencyBook()}}
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if localIP != "" {
		ip := net.ParseIP(localIP)
		if ip == nil {
			return nil, fmt.Errorf("%w: local address %q is not an IP", ErrConfig, localIP)
		}
		dialer.LocalAddr = &net.TCPAddr{IP: ip}
	}
	f.tr = cfg.transport(dialer, conns, cfg.Senders)
	if err := cfg.probeHTTP2(ctx, strings.TrimSpace(strings.Split(cfg.Master, ",")[0]), &http.Client{Transport: f.tr}); err != nil {
		return nil, err
	}
	ctx, f.cancel = context.WithCancel(ctx)
	f.r.pool = newAgentPool(f.r, cfg.Master, &http.Client{Transport: f.tr})
	f.r.pool.start(ctx, &f.wg)
	return f, nil
}

// Registered is how many agents have registered at least once.
func (f *Fleet) Registered() int { return int(f.r.c.registered.Load()) }

// LinkedSince is how many agents are registered on a link opened at or
// after t (for a failover: re-registered with the new leader).
func (f *Fleet) LinkedSince(t time.Time) int {
	at := int64(t.Sub(f.r.epoch)) + 1
	n := 0
	for _, a := range f.r.pool.agents {
		if a.linkedAt.Load() >= at {
			a.mu.Lock()
			up := a.link != ""
			a.mu.Unlock()
			if up {
				n++
			}
		}
	}
	return n
}

// LinkTimes describes the agents registered on a link opened at or after
// t: the latest time, after t, at which one of them sent the REGISTER the
// master answered (what the agents' back-off and retries cost), and the
// longest a master took to answer one of those REGISTERs.
func (f *Fleet) LinkTimes(t time.Time) (lastSent, slowestAnswer time.Duration) {
	at := int64(t.Sub(f.r.epoch)) + 1
	for _, a := range f.r.pool.agents {
		linked, sent := a.linkedAt.Load(), a.sentAt.Load()
		if linked < at {
			continue
		}
		lastSent = max(lastSent, time.Duration(sent-at))
		slowestAnswer = max(slowestAnswer, time.Duration(linked-sent))
	}
	return lastSent, slowestAnswer
}

// RegistrationTime is the time from the first REGISTER sent to the last
// agent's first REGISTERED (0 until every agent registered).
func (f *Fleet) RegistrationTime() time.Duration {
	if f.Registered() < f.r.cfg.Agents {
		return 0
	}
	return span(&f.r.c.firstRegister, &f.r.c.lastRegistered)
}

// LinkFailures counts the agents' broken or refused links so far.
func (f *Fleet) LinkFailures() int64 { return f.r.c.linkFailures.Load() }

// Stop ends every agent and waits for them.
func (f *Fleet) Stop() {
	f.cancel()
	f.wg.Wait()
	f.tr.CloseIdleConnections()
}
