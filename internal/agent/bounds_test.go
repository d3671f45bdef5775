package agent

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/executorpb"
	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/httpbound/httpboundtest"
)

// The executor API under hostile clients: a declared 10 GiB body is
// refused at once (it used to be read up to the limit, and waited forever
// for a body that never came); 100 clients trickling bodies are cut at
// --http_body_timeout while an executor is served, and its event stream
// lives on past that deadline.
func TestExecutorAPIBodyBounds(t *testing.T) {
	const timeout = 200 * time.Millisecond
	m := newFakeMaster(t)
	a := startAgent(t, m, func(c *Config) { c.HTTP.BodyTimeout = timeout })
	s := m.session()
	ex, _ := runningTask(t, m, a, s, "t1")
	addr := strings.TrimPrefix(a.url, "http://")
	header := http.Header{"Content-Type": {codec.MediaTypeJSON}}

	conn := httpboundtest.Post(t, addr, ExecutorAPIPath, 10<<30, header)
	if status, err := httpboundtest.Status(conn, 5*time.Second); err != nil || status != http.StatusRequestEntityTooLarge {
		t.Fatalf("declaring 10 GiB, sending nothing: %d, %v; want 413 at once", status, err)
	}

	slow := httpboundtest.Trickle(t, addr, ExecutorAPIPath, header, 100, 4096, 20*time.Millisecond)
	if resp := ex.post(ex.newCall(executorpb.Call_HEARTBEAT), ""); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("HEARTBEAT among slow clients: %s", resp.Status)
	}
	for _, c := range slow.Wait(10 * time.Second) {
		if c.Err != nil || c.Status != http.StatusRequestTimeout || c.After < timeout || c.After > 5*time.Second {
			t.Fatalf("a trickling client ended after %s with %d (%v); want 408 soon after %s", c.After, c.Status, c.Err, timeout)
		}
	}
	// The clients were cut at the deadline: the executor's SUBSCRIBE, older
	// than them, is past it, and still delivers.
	s.send(&linkpb.MasterEvent{Type: linkpb.MasterEvent_FRAMEWORK_MESSAGE.Enum(), FrameworkMessage: &linkpb.MasterEvent_FrameworkMessage{
		FrameworkId: &mesospb.FrameworkID{Value: proto.String("f1")}, ExecutorId: &mesospb.ExecutorID{Value: proto.String("t1")},
		Data: []byte("still there")}})
	if ev := ex.event(); ev.GetType() != executorpb.Event_MESSAGE || string(ev.GetMessage().GetData()) != "still there" {
		t.Fatalf("event after the body deadline: %v", ev)
	}
}

// Large executor calls at once wait for the body memory budget.
func TestExecutorAPILargeBodiesBoundedMemory(t *testing.T) {
	const size, clients = 16 << 20, 8
	a := startAgent(t, newFakeMaster(t), func(c *Config) {
		c.HTTP.BodyMemory = 16 << 20
		c.HTTP.BodyTimeout = time.Minute
	})
	heap := httpboundtest.StartHeapPeak()
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			status, err := httpboundtest.PostLarge(a.url+ExecutorAPIPath, codec.MediaTypeJSON, size)
			if err != nil || status != http.StatusBadRequest {
				t.Errorf("16 MiB of garbage: %d, %v; want 400 once read", status, err)
			}
		})
	}
	wg.Wait()
	grew := heap.Stop()
	t.Logf("heap grew by %d MiB", grew>>20)
	// Without the budget: 128 MiB of bodies at once, and their garbage.
	if grew > 100<<20 {
		t.Fatalf("heap grew by %d MiB for %d concurrent %d MiB bodies under a 16 MiB budget", grew>>20, clients, size>>20)
	}
}
