package core

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
)

// With a registry that records every framework, an id nobody vouches for
// was made up: its SUBSCRIBE gets ERROR and a closed stream, while a known
// framework still fails over with its id and a new one still subscribes.
func TestDurableFrameworksRefuseMadeUpIDs(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.DurableFrameworks = true })
	id, _ := h.subscribe(fwInfo("known"))

	subscribeWith := func(fwID string) []*schedulerpb.Event {
		t.Helper()
		info := fwInfo("web")
		info.Id = &mesospb.FrameworkID{Value: proto.String(fwID)}
		stream := h.id("stream-")
		call := &schedulerpb.Call{Type: schedulerpb.Call_SUBSCRIBE.Enum(),
			Subscribe: &schedulerpb.Call_Subscribe{FrameworkInfo: info}}
		if err := h.c.Subscribe(h.now, stream, call); err != nil {
			t.Fatal(err)
		}
		h.flush()
		return h.streams[stream]
	}

	evs := subscribeWith("made-up")
	if len(evs) != 1 || evs[0].GetType() != schedulerpb.Event_ERROR ||
		evs[0].GetError().GetMessage() != "Framework made-up is unknown to this master's registry" {
		t.Fatalf("made-up id: %v", evs)
	}
	if len(h.c.frameworks) != 1 {
		t.Fatalf("a made-up id created a framework: %d frameworks", len(h.c.frameworks))
	}
	if evs := subscribeWith(id); len(evs) == 0 || evs[0].GetType() != schedulerpb.Event_SUBSCRIBED {
		t.Fatalf("failover of a known framework: %v", evs)
	}
	if newID, _ := h.subscribe(fwInfo("new")); newID == "" || newID == id {
		t.Fatalf("a new framework got id %q", newID)
	}
}
