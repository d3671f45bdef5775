package core

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/masterpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/operator"
	"github.com/mesoproject/meso/internal/present"
)

// TestStateQueryAgentsIncremental follows agents through offers made and
// declined, a launch, a deactivation and a drain between state queries:
// each query's agents equal a rebuild from the core's records (an agent
// that changed shows its new state), an agent whose holdings came back to
// what they were keeps its entry (the same message, so the encoders' caches
// serve it), and the encoders that keep renderings across queries write
// the reference bytes (MasterStateJSON through encoding/json; the codec).
func TestStateQueryAgentsIncremental(t *testing.T) {
	h := newHarness(t)
	var agents []string
	for _, host := range []string{"a", "b", "c"} {
		id, _ := h.register(host, "cpus:4;mem:1024")
		agents = append(agents, id)
	}
	meta := present.MasterMeta{Info: h.c.cfg.MasterInfo, Version: "test", Started: h.now}
	var enc present.StateEncoder
	var op operator.StateEncoder

	entries := map[string]*masterpb.Response_GetAgents_Agent{}
	query := func(step string) map[string]*masterpb.Response_GetAgents_Agent {
		t.Helper()
		want := &masterpb.Response_GetAgents{Agents: []*masterpb.Response_GetAgents_Agent{}}
		for _, id := range sortedKeys(h.c.agents) {
			ag := h.c.agents[id]
			want.Agents = append(want.Agents, agentEntryWith(ag, recountAgent(ag), h.c.maint.drains[id]))
		}
		gs := h.c.StateQuery()()
		if !proto.Equal(gs.GetGetAgents(), want) {
			t.Fatalf("%s: agents\n%v\nrebuild:\n%v", step, gs.GetGetAgents(), want)
		}
		var got, ref bytes.Buffer
		if err := enc.WriteMasterState(&got, present.MasterStateHead(gs, meta), gs); err != nil {
			t.Fatal(err)
		}
		if err := json.NewEncoder(&ref).Encode(present.MasterStateJSON(gs, meta)); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), ref.Bytes()) {
			t.Fatalf("%s: /master/state\n%s\nreference:\n%s", step, got.Bytes(), ref.Bytes())
		}
		resp := &masterpb.Response{Type: masterpb.Response_GET_STATE.Enum(), GetState: gs}
		for _, c := range []codec.Codec{codec.JSON, codec.Protobuf} {
			b, err := op.Marshal(c, resp)
			if err != nil {
				t.Fatal(err)
			}
			want, err := c.Marshal(resp)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, want) {
				t.Fatalf("%s: GET_STATE in %v differs from the codec's", step, c)
			}
		}
		out := map[string]*masterpb.Response_GetAgents_Agent{}
		for _, e := range gs.GetGetAgents().GetAgents() {
			out[e.GetAgentInfo().GetId().GetValue()] = e
		}
		return out
	}
	// same says which agents kept their entry since the previous query.
	same := func(step string, now map[string]*masterpb.Response_GetAgents_Agent, kept ...string) {
		t.Helper()
		for _, id := range agents {
			want := false
			for _, k := range kept {
				want = want || k == id
			}
			if got := now[id] == entries[id]; got != want {
				t.Errorf("%s: agent %s kept its entry: %v, want %v", step, id, got, want)
			}
		}
		entries = now
	}
	entries = query("start")
	fw, stream := h.subscribe(fwInfo("fw"))
	offered := func() []*mesospb.Offer {
		h.advance(1e9)
		var list []*mesospb.Offer
		for _, ev := range h.events(stream) {
			list = append(list, ev.GetOffers().GetOffers()...)
		}
		return list
	}
	declineAll := func() {
		for _, o := range offered() {
			h.mustCall(fw, stream, declineCall(o.GetId().GetValue(), proto.Float64(0)))
		}
	}

	offers := offered() // every agent
	if len(offers) != len(agents) {
		t.Fatalf("want an offer per agent, got %v", offers)
	}
	same("offered", query("offered"))
	for _, o := range offers {
		h.mustCall(fw, stream, declineCall(o.GetId().GetValue(), proto.Float64(0)))
	}
	same("declined", query("declined"))
	// Offered and declined again: the books changed, the holdings did not.
	declineAll()
	same("declined again", query("declined again"), agents...)

	// A launch on the first agent changes it alone.
	var rest []string
	for _, o := range offered() {
		if o.GetAgentId().GetValue() != agents[0] {
			rest = append(rest, o.GetId().GetValue())
			continue
		}
		h.mustCall(fw, stream, acceptCall([]string{o.GetId().GetValue()}, nil,
			commandTask("t1", agents[0], res(t, "cpus:1;mem:128"))))
	}
	for _, id := range rest {
		h.mustCall(fw, stream, declineCall(id, proto.Float64(0)))
	}
	same("launched", query("launched"), agents[1], agents[2])
	same("unchanged", query("unchanged"), agents...)

	if err := h.c.DeactivateAgent(h.now, agents[1]); err != nil {
		t.Fatal(err)
	}
	h.settle()
	same("deactivated", query("deactivated"), agents[0], agents[2])
	if err := h.c.DrainAgent(h.now, agents[2], nil, false); err != nil {
		t.Fatal(err)
	}
	h.settle()
	same("draining", query("draining"), agents[0], agents[1])
	var drain *mesospb.DrainInfo
	if drain = entries[agents[2]].GetDrainInfo(); drain == nil {
		t.Errorf("draining agent shows no drain info: %v", entries[agents[2]])
	}
}

// sortEntries orders tasks as sorting by the ids' strings does, over
// random ids with long shared prefixes, prefixes of one another, zero
// bytes and ids that differ past the keys' 8 bytes.
func TestSortEntries(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte{0, 1, '0', '9', 'a', 'z', 0xff}
	for round := range 500 {
		prefix := strings.Repeat("f001-t", r.IntN(3))
		n := r.IntN(40)
		tasks := make([]*mesospb.Task, n)
		for i := range tasks {
			b := []byte(prefix)
			for range r.IntN(14) {
				b = append(b, alphabet[r.IntN(len(alphabet))])
			}
			if round%3 == 0 && i > 0 && r.IntN(2) == 0 { // a duplicate or an extension of another
				b = append([]byte(tasks[r.IntN(i)].GetTaskId().GetValue()), b[len(prefix):]...)
			}
			tasks[i] = &mesospb.Task{TaskId: &mesospb.TaskID{Value: proto.String(string(b))}}
		}
		want := slices.Clone(tasks)
		slices.SortStableFunc(want, func(a, b *mesospb.Task) int {
			return strings.Compare(a.GetTaskId().GetValue(), b.GetTaskId().GetValue())
		})
		entries := make([]orderEntry, len(tasks))
		for i, t := range tasks {
			entries[i].id, entries[i].t = t.GetTaskId().GetValue(), t
		}
		sortEntries(entries)
		for i := range entries {
			tasks[i] = entries[i].t
		}
		for i := range tasks {
			if tasks[i].GetTaskId().GetValue() != want[i].GetTaskId().GetValue() {
				t.Fatalf("round %d: sorted %q, want %q", round, ids(tasks), ids(want))
			}
		}
	}
}

func ids(tasks []*mesospb.Task) []string {
	var out []string
	for _, t := range tasks {
		out = append(out, t.GetTaskId().GetValue())
	}
	return out
}
