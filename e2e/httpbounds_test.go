package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mesoproject/meso/internal/httpbound/httpboundtest"
)

// TestHTTPBodyBounds: the real daemons, with --http_body_timeout set low,
// refuse a declared 10 GiB body at once and cut clients trickling a body
// at the deadline; the agent's link stream to the master outlives it.
func TestHTTPBodyBounds(t *testing.T) {
	const timeout = 300 * time.Millisecond
	flag := "--http_body_timeout=300ms"
	c := newCluster(t, 0, "", append(masterFlags, flag)...)
	c.addAgent("cpus:1;mem:128", flag)
	c.waitAgents(1)
	header := http.Header{"Content-Type": {"application/json"}}
	for _, d := range []struct {
		daemon *proc
		path   string
	}{
		{c.master, "/api/v1/scheduler"}, {c.master, "/internal/v1/link"}, {c.agents[0], "/api/v1/executor"},
	} {
		conn := httpboundtest.Post(t, d.daemon.addr, d.path, 10<<30, header)
		if status, err := httpboundtest.Status(conn, 5*time.Second); err != nil || status != http.StatusRequestEntityTooLarge {
			t.Errorf("%s %s declaring 10 GiB, sending nothing: %d, %v; want 413 at once", d.daemon.name, d.path, status, err)
		}
		slow := httpboundtest.Trickle(t, d.daemon.addr, d.path, header, 20, 4096, 20*time.Millisecond)
		for _, cut := range slow.Wait(10 * time.Second) {
			if cut.Err != nil || cut.Status != http.StatusRequestTimeout || cut.After < timeout || cut.After > 5*time.Second {
				t.Fatalf("%s %s: a trickling client ended after %s with %d (%v); want 408 soon after %s",
					d.daemon.name, d.path, cut.After, cut.Status, cut.Err, timeout)
			}
		}
	}
	// Well past the deadline now: the agent's link (a stream answering its
	// REGISTER) still holds; the agent registered once.
	if s := c.state(); len(s.Slaves) != 1 || !s.Slaves[0].Active {
		t.Fatalf("agents after the body deadline: %+v", s.Slaves)
	}
	if n := strings.Count(c.agents[0].out.String(), "registered with master"); n != 1 {
		t.Fatalf("the agent registered %d times; its link stream broke", n)
	}
}
