package master

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/internal/httpbound/httpboundtest"
)

// The endpoints that read a call body.
var bodyPaths = []string{"/api/v1/scheduler", "/master/api/v1/scheduler", "/internal/v1/link"}

func jsonHeader() http.Header {
	return http.Header{"Content-Type": {codec.MediaTypeJSON}}
}

// A declared body over the limit is answered 413 before any of it is sent
// (it used to wait for the body, forever when none came).
func TestDeclaredTooLargeBodyRefusedAtOnce(t *testing.T) {
	_, base := startMaster(t)
	addr := strings.TrimPrefix(base, "http://")
	for _, path := range bodyPaths {
		conn := httpboundtest.Post(t, addr, path, 10<<30, jsonHeader())
		if status, err := httpboundtest.Status(conn, 5*time.Second); err != nil || status != http.StatusRequestEntityTooLarge {
			t.Errorf("%s declaring 10 GiB, sending nothing: %d, %v; want 413 at once", path, status, err)
		}
	}
}

// Clients trickling call bodies are cut at --http_body_timeout, and a
// framework subscribes and calls meanwhile.
func TestSlowBodiesCutWhileServing(t *testing.T) {
	const timeout = 200 * time.Millisecond
	_, base := startMaster(t, func(cfg *Config) { cfg.HTTP.BodyTimeout = timeout })
	addr := strings.TrimPrefix(base, "http://")
	var slow []*httpboundtest.Tricklers
	for _, path := range bodyPaths {
		slow = append(slow, httpboundtest.Trickle(t, addr, path, jsonHeader(), 50, 4096, 20*time.Millisecond))
	}
	f := subscribe(t, base, codec.JSON, fwInfo("web"))
	f.mustCall(&schedulerpb.Call{Type: schedulerpb.Call_REVIVE.Enum()})
	for i, tr := range slow {
		for _, c := range tr.Wait(10 * time.Second) {
			if c.Err != nil || c.Status != http.StatusRequestTimeout || c.After < timeout || c.After > 5*time.Second {
				t.Fatalf("%s: a trickling client ended after %s with %d (%v); want 408 soon after %s",
					bodyPaths[i], c.After, c.Status, c.Err, timeout)
			}
		}
	}
}

// The event streams (SUBSCRIBE, the agent link) answer a POST whose body
// has a deadline; they live on past it.
func TestStreamsOutliveBodyDeadline(t *testing.T) {
	_, base := startMaster(t, func(cfg *Config) {
		cfg.HTTP.BodyTimeout = 50 * time.Millisecond
		cfg.HeartbeatInterval = 40 * time.Millisecond
		cfg.AgentPingTimeout = 40 * time.Millisecond
		cfg.MaxAgentPingTimeouts = 1000
	})
	f := subscribe(t, base, codec.Protobuf, fwInfo("web"))
	a := registerAgent(t, base, codec.Protobuf, "h1", "cpus:1;mem:64")
	a.pong.Store(false) // deliver the pings
	start := time.Now()
	for heartbeats := 0; heartbeats < 8; {
		if f.events.next().GetType() == schedulerpb.Event_HEARTBEAT {
			heartbeats++
		}
	}
	for range 8 {
		a.nextOf(linkpb.MasterEvent_PING)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Fatalf("8 heartbeats and pings in %s: the streams were not tested past the body deadline", d)
	}
}

// Many large agent link bodies at once wait for the body memory budget:
// the heap stays within about twice the budget (Go's GC pacing), and a
// framework is served meanwhile. Without the budget 8 bodies of 60 MiB
// took the master from 150 MB to 982 MB; here the heap grows by about 480
// MiB without it, and by under 200 MiB with a budget of 64 MiB.
func TestLargeLinkBodiesBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 480 MiB over loopback")
	}
	const size, clients = 60 << 20, 8
	_, base := startMaster(t, func(cfg *Config) {
		cfg.HTTP.BodyMemory = 64 << 20
		cfg.HTTP.BodyTimeout = time.Minute
	})
	heap := httpboundtest.StartHeapPeak()
	var wg sync.WaitGroup
	statuses := make(chan int, clients)
	for range clients {
		wg.Go(func() {
			status, err := httpboundtest.PostLarge(base+"/internal/v1/link", codec.MediaTypeJSON, size)
			if err != nil {
				t.Error(err)
			}
			statuses <- status
		})
	}
	f := subscribe(t, base, codec.JSON, fwInfo("web"))
	f.mustCall(&schedulerpb.Call{Type: schedulerpb.Call_REVIVE.Enum()})
	wg.Wait()
	grew := heap.Stop()
	close(statuses)
	for s := range statuses {
		// Read whole, then refused as JSON; or refused for memory.
		if s != http.StatusBadRequest && s != http.StatusServiceUnavailable {
			t.Errorf("60 MiB link body: %d, want 400 or 503", s)
		}
	}
	t.Logf("heap grew by %d MiB", grew>>20)
	if grew > 400<<20 {
		t.Fatalf("heap grew by %d MiB for %d concurrent %d MiB bodies under a 64 MiB budget", grew>>20, clients, size>>20)
	}
}
