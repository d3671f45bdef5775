package registry

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mesoproject/meso/api/registrypb"
	"google.golang.org/protobuf/proto"
)

// randomCommand draws a command over small pools of ids, so that
// sequences revisit the same agents and frameworks in every state; about
// one in twenty is malformed.
func randomCommand(rng *rand.Rand) *registrypb.Command {
	id := func(prefix string, n int) *string {
		if rng.IntN(20) == 0 {
			return proto.String("")
		}
		return proto.String(fmt.Sprintf("%s%d", prefix, rng.IntN(n)))
	}
	ids := func(prefix string, n int) []string {
		var out []string
		for range rng.IntN(3) {
			out = append(out, *id(prefix, n))
		}
		return out
	}
	blob := func() []byte {
		if rng.IntN(10) == 0 {
			return nil
		}
		return fmt.Appendf(nil, "blob-%d", rng.IntN(1000))
	}
	t := proto.Int64(rng.Int64N(1e12))
	c := &registrypb.Command{Type: registrypb.Command_Type(1 + rng.IntN(13)).Enum()}
	switch c.GetType() {
	case registrypb.Command_BATCH:
		for len(c.Batch) < rng.IntN(3) {
			if sub := randomCommand(rng); sub.GetType() != registrypb.Command_BATCH || rng.IntN(4) == 0 {
				c.Batch = append(c.Batch, sub) // now and then a nested batch, which is invalid
			}
		}
	case registrypb.Command_ADMIT_AGENT:
		c.AdmitAgent = &registrypb.Command_AdmitAgent{AgentId: id("a", 6), AgentInfo: blob()}
	case registrypb.Command_MARK_AGENT_UNREACHABLE:
		c.MarkAgentUnreachable = &registrypb.Command_MarkAgentUnreachable{AgentId: id("a", 6), TimeNanos: t}
	case registrypb.Command_MARK_AGENT_GONE:
		c.MarkAgentGone = &registrypb.Command_MarkAgentGone{AgentId: id("a", 6), TimeNanos: t}
	case registrypb.Command_PRUNE_AGENTS:
		c.PruneAgents = &registrypb.Command_PruneAgents{AgentIds: ids("a", 6)}
	case registrypb.Command_PUT_FRAMEWORK:
		c.PutFramework = &registrypb.Command_PutFramework{FrameworkId: id("f", 4), FrameworkInfo: blob()}
	case registrypb.Command_DISCONNECT_FRAMEWORK:
		c.DisconnectFramework = &registrypb.Command_DisconnectFramework{FrameworkId: id("f", 4), FailoverDeadlineNanos: t}
	case registrypb.Command_REMOVE_FRAMEWORK:
		c.RemoveFramework = &registrypb.Command_RemoveFramework{FrameworkId: id("f", 4), TimeNanos: t}
	case registrypb.Command_PRUNE_FRAMEWORKS:
		c.PruneFrameworks = &registrypb.Command_PruneFrameworks{FrameworkIds: ids("f", 4)}
	case registrypb.Command_SET_WEIGHTS:
		c.SetWeights = &registrypb.Command_SetWeights{}
		for range 1 + rng.IntN(3) {
			c.SetWeights.Weights = append(c.SetWeights.Weights,
				&registrypb.Weight{Role: id("r", 3), Weight: proto.Float64(float64(rng.IntN(40)) / 8)})
		}
	case registrypb.Command_SET_QUOTA:
		c.SetQuota = &registrypb.Command_SetQuota{Role: id("r", 3), Config: blob()}
	case registrypb.Command_SET_MAINTENANCE:
		c.SetMaintenance = &registrypb.Command_SetMaintenance{Schedule: blob()}
	case registrypb.Command_SET_RESERVATIONS:
		c.SetReservations = &registrypb.Command_SetReservations{AgentId: id("a", 6), Resources: blob()}
	}
	return c
}

// TestPropertyDeterministic replays random logs: two replicas applying
// the same log (one through the wire encoding, as raft delivers it, with
// its commands grouped into random batches) reach the same state and
// encoding with the same result for every command, a failed command changes nothing, and a
// replica restored from a snapshot taken anywhere in the log and then fed
// the rest ends where the original does, with the same results on the way.
func TestPropertyDeterministic(t *testing.T) {
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 1))
		log := make([]*registrypb.Command, 1+rng.IntN(150))
		for i := range log {
			log[i] = randomCommand(rng)
		}
		cut := rng.IntN(len(log) + 1)

		a, b := NewState(), NewState()
		var restored *State
		var resultsA, resultsB, resultsR []error
		for i, c := range log {
			if i == cut {
				restored = snapshotCopy(t, a)
			}
			before := a.clone()
			err := a.Apply(c)
			// (A batch is not atomic: its commands fail on their own.)
			if err != nil && c.GetType() != registrypb.Command_BATCH && !a.Equal(before) {
				t.Fatalf("seed %d entry %d: failed command %v changed the state", seed, i, c)
			}
			if err != nil && !errors.Is(err, ErrInvalidCommand) && !errors.Is(err, ErrAgentGone) &&
				!errors.Is(err, ErrAgentUnknown) && !errors.Is(err, ErrFrameworkRemoved) && !errors.Is(err, ErrFrameworkUnknown) {
				t.Fatalf("seed %d entry %d: undesigned error %v", seed, i, err)
			}
			resultsB = append(resultsB, err)
			if i >= cut {
				resultsA = append(resultsA, err)
				resultsR = append(resultsR, restored.Apply(c))
			}
		}
		if restored == nil {
			restored = snapshotCopy(t, a)
		}
		// Replica b gets the log through the wire, its commands grouped
		// into BATCH entries as ProposeBatch groups them.
		var gotB []error
		for rest := log; len(rest) > 0; {
			n := min(len(rest), 1+rng.IntN(5))
			if rest[0].GetType() == registrypb.Command_BATCH {
				gotB = append(gotB, b.Apply(viaWire(t, rest[0])))
				rest = rest[1:]
				continue
			}
			group := rest[:n]
			if k := slices.IndexFunc(group, func(c *registrypb.Command) bool { return c.GetType() == registrypb.Command_BATCH }); k >= 0 {
				group = group[:k]
			}
			batch := viaWire(t, &registrypb.Command{Type: registrypb.Command_BATCH.Enum(), Batch: group})
			gotB = append(gotB, b.ApplyBatch(batch.GetBatch())...)
			rest = rest[len(group):]
		}
		if fmt.Sprint(gotB) != fmt.Sprint(resultsB) {
			t.Fatalf("seed %d: batched replica's results differ:\n%v\nwant\n%v", seed, gotB, resultsB)
		}
		for _, s := range []*State{b, restored} {
			if !s.Equal(a) || string(mustMarshal(t, s)) != string(mustMarshal(t, a)) {
				t.Fatalf("seed %d (cut %d): replica differs:\n%s\nwant\n%s", seed, cut, printState(t, s), printState(t, a))
			}
		}
		if fmt.Sprint(resultsA) != fmt.Sprint(resultsR) {
			t.Fatalf("seed %d: restored replica's results differ: %v vs %v", seed, resultsR, resultsA)
		}
	}
}

func snapshotCopy(t *testing.T, s *State) *State {
	t.Helper()
	r, err := UnmarshalState(mustMarshal(t, s))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustMarshal(t *testing.T, s *State) []byte {
	t.Helper()
	b, err := s.MarshalSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func viaWire(t *testing.T, c *registrypb.Command) *registrypb.Command {
	t.Helper()
	b, err := proto.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var out registrypb.Command
	if err := proto.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

// FuzzApply feeds arbitrary log entries (raft delivers them from the
// network and the disk) to a state that already holds records: applying
// never panics, a failure changes nothing, and the state still round-trips.
func FuzzApply(f *testing.F) {
	rng := rand.New(rand.NewPCG(7, 7))
	for range 20 {
		b, _ := proto.Marshal(randomCommand(rng))
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var c registrypb.Command
		if proto.Unmarshal(data, &c) != nil {
			return
		}
		s := NewState()
		rng := rand.New(rand.NewPCG(1, 2))
		for range 30 {
			_ = s.Apply(randomCommand(rng))
		}
		before := s.clone()
		if err := s.Apply(&c); err != nil && c.GetType() != registrypb.Command_BATCH && !s.Equal(before) {
			t.Fatalf("failed command changed the state")
		}
		checkRoundTrip(t, s)
	})
}

// FuzzRestore feeds arbitrary snapshots (a follower receives them over
// the network): decoding never panics, and what decodes re-encodes to a
// state that decodes the same.
func FuzzRestore(f *testing.F) {
	rng := rand.New(rand.NewPCG(3, 3))
	s := NewState()
	for range 50 {
		_ = s.Apply(randomCommand(rng))
	}
	b, _ := s.MarshalSnapshot()
	f.Add(b)
	// A NaN weight would never equal itself after a round trip.
	nan, _ := proto.Marshal(&registrypb.Snapshot{Weights: []*registrypb.Weight{{Role: proto.String("r"), Weight: proto.Float64(math.NaN())}}})
	f.Add(nan)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := UnmarshalState(data)
		if err != nil {
			return
		}
		checkRoundTrip(t, s)
	})
}
