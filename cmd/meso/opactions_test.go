package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/masterpb"
)

// meso drain sends DRAIN_AGENT with the agent, --max_grace_period and
// --mark_gone; meso reactivate sends REACTIVATE_AGENT; a negative grace
// period is refused before anything is sent.
func TestDrainAndReactivate(t *testing.T) {
	calls := make(chan *masterpb.Call, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		call := &masterpb.Call{}
		if err := codec.JSON.Unmarshal(body, call); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		calls <- call
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	out, err := runCLI(t, ctx, "drain", "S1", "--max_grace_period", "5s", "--mark_gone", "--master", srv.URL)
	if err != nil || !strings.Contains(out, "agent S1 draining") {
		t.Fatalf("meso drain: %v %q", err, out)
	}
	c := <-calls
	d := c.GetDrainAgent()
	if c.GetType() != masterpb.Call_DRAIN_AGENT || d.GetAgentId().GetValue() != "S1" ||
		d.GetMaxGracePeriod().AsDuration() != 5*time.Second || !d.GetMarkGone() {
		t.Fatalf("meso drain sent %v", c)
	}
	if _, err := runCLI(t, ctx, "drain", "S2", "--master", srv.URL); err != nil {
		t.Fatal(err)
	}
	if c := <-calls; c.GetDrainAgent().GetAgentId().GetValue() != "S2" || c.GetDrainAgent().GetMaxGracePeriod() != nil || c.GetDrainAgent().GetMarkGone() {
		t.Fatalf("meso drain without flags sent %v", c)
	}
	if _, err := runCLI(t, ctx, "drain", "S1", "--max_grace_period", "-1s", "--master", srv.URL); err == nil || !strings.Contains(err.Error(), "negative") {
		t.Fatalf("negative grace: %v", err)
	}
	out, err = runCLI(t, ctx, "reactivate", "S1", "--master", srv.URL)
	if err != nil || !strings.Contains(out, "agent S1 reactivated") {
		t.Fatalf("meso reactivate: %v %q", err, out)
	}
	if c := <-calls; c.GetType() != masterpb.Call_REACTIVATE_AGENT || c.GetReactivateAgent().GetAgentId().GetValue() != "S1" {
		t.Fatalf("meso reactivate sent %v", c)
	}
	select {
	case c := <-calls:
		t.Fatalf("unexpected call %v", c)
	default:
	}
}
