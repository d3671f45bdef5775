package allocator

import (
	"testing"
	"time"

	"github.com/mesoproject/meso/internal/resources"
)

// AgentHoldings returns the caller's earlier list while the holdings are
// what it says, across offers made and declined (the books number moves),
// and a new one, equal to Agent's, once they differ.
func TestAgentHoldings(t *testing.T) {
	a := New(Config{})
	if err := a.AddFramework("f1", Framework{Roles: []string{"web"}}); err != nil {
		t.Fatal(err)
	}
	used := []Holding{{Framework: "f1", Role: "web", Resources: resources.MustParse("cpus:1;mem:32")}}
	if err := a.AddAgent("a1", resources.MustParse("cpus:4;mem:1024"), used); err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	books, prev, known := a.AgentHoldings("a1", 0, nil)
	if !known || len(prev) != 1 {
		t.Fatalf("AgentHoldings = %d %v %v", books, prev, known)
	}
	same := func(got []HoldingState) bool { return len(got) == len(prev) && &got[0] == &prev[0] }
	check := func(step string, wantSame bool) {
		t.Helper()
		b, got, _ := a.AgentHoldings("a1", books, prev)
		if same(got) != wantSame {
			t.Fatalf("%s: kept the earlier list: %v, want %v (%v, earlier %v)", step, same(got), wantSame, got, prev)
		}
		if s, _ := a.Agent("a1"); len(s.Holdings) != len(got) {
			t.Fatalf("%s: %v, Agent says %v", step, got, s.Holdings)
		}
		books, prev = b, got
	}
	check("unchanged", true)
	offers := a.Allocate(now)
	if len(offers) != 1 {
		t.Fatalf("offers %v", offers)
	}
	check("offered", false)
	if err := a.Recover("f1", "web", "a1", offers[0].Resources, 0, now); err != nil {
		t.Fatal(err)
	}
	check("declined", false) // the offered part went back: the list differs from the offered one
	offers = a.Allocate(now.Add(time.Second))
	if err := a.Recover("f1", "web", "a1", offers[0].Resources, 0, now); err != nil {
		t.Fatal(err)
	}
	b, _ := a.AgentBooks("a1")
	if b == books {
		t.Fatal("an offer made and declined did not change the books")
	}
	check("offered and declined again", true)
}
