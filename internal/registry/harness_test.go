package registry

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/registrypb"
	"google.golang.org/protobuf/proto"
)

// TestScenarios runs the scripts in testdata against a State. Each
// directive is one command (see harness.command) or "state", which prints
// the whole state. After every command the harness also checks that a
// failed command changed nothing and that the state survives a snapshot
// round trip. Regenerate the expected output with:
// go test ./internal/registry -run TestScenarios -rewrite
func TestScenarios(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		s := NewState()
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			if td.Cmd == "state" {
				return printState(t, s)
			}
			if td.Cmd == "batch" {
				return runBatch(t, s, td)
			}
			c, err := scriptCommand(td.Cmd, td.CmdArgs)
			if err != nil {
				t.Fatalf("%s: %v", td.Pos, err)
			}
			before := s.clone()
			err = s.Apply(c)
			if err != nil && c.GetType() != registrypb.Command_BATCH && !s.Equal(before) {
				t.Fatalf("%s: failed command changed the state", td.Pos)
			}
			checkRoundTrip(t, s)
			if err != nil {
				return "error: " + err.Error() + "\n"
			}
			return "ok\n"
		})
	})
}

// runBatch applies the directives of the input, one a line, as one BATCH
// through ApplyBatch, and prints each one's result.
func runBatch(t *testing.T, s *State, td *datadriven.TestData) string {
	var cmds []*registrypb.Command
	for _, line := range strings.Split(td.Input, "\n") {
		cmd, args, err := datadriven.ParseLine(line)
		if err == nil {
			var c *registrypb.Command
			if c, err = scriptCommand(cmd, args); err == nil {
				cmds = append(cmds, c)
			}
		}
		if err != nil {
			t.Fatalf("%s: %q: %v", td.Pos, line, err)
		}
	}
	var out strings.Builder
	for i, err := range s.ApplyBatch(cmds) {
		if err != nil {
			fmt.Fprintf(&out, "%d: error: %v\n", i, err)
		} else {
			fmt.Fprintf(&out, "%d: ok\n", i)
		}
	}
	checkRoundTrip(t, s)
	return out.String()
}

// scriptCommand turns a directive into a command:
//
//	admit <agent> [host=<hostname>]
//	unreachable <agent> t=<ns>       gone <agent> t=<ns>
//	prune-agents <agent>...
//	put <framework> [name=<name>]
//	disconnect <framework> deadline=<ns>
//	remove <framework> t=<ns>
//	prune-frameworks <framework>...
//	weights <role>=<weight>...
//	quota <role> [config=<text>]
//	maintenance [schedule=<text>]
//	reservations <agent> [resources=<text>]
//
// and "batch", whose input lines are directives applied as one BATCH.
func scriptCommand(cmd string, args []datadriven.CmdArg) (*registrypb.Command, error) {
	var keys []string
	vals := map[string]string{}
	for _, a := range args {
		if len(a.Vals) == 0 {
			keys = append(keys, a.Key)
		} else {
			vals[a.Key] = strings.Join(a.Vals, ",")
		}
	}
	first := ""
	if len(keys) > 0 {
		first = keys[0]
	}
	num := func(k string) int64 {
		n, _ := strconv.ParseInt(vals[k], 10, 64)
		return n
	}
	b := func(k string) []byte {
		if v, ok := vals[k]; ok {
			return []byte(v)
		}
		return nil
	}
	switch cmd {
	case "admit":
		if first == "" { // what AdmitAgentCommand refuses to build
			return &registrypb.Command{Type: registrypb.Command_ADMIT_AGENT.Enum(),
				AdmitAgent: &registrypb.Command_AdmitAgent{AgentInfo: []byte("x")}}, nil
		}
		return AdmitAgentCommand(&mesospb.AgentInfo{Id: &mesospb.AgentID{Value: proto.String(first)}, Hostname: proto.String(vals["host"])})
	case "unreachable":
		return MarkAgentUnreachableCommand(first, time.Unix(0, num("t"))), nil
	case "gone":
		return MarkAgentGoneCommand(first, time.Unix(0, num("t"))), nil
	case "prune-agents":
		return PruneAgentsCommand(keys), nil
	case "put":
		if first == "" {
			return &registrypb.Command{Type: registrypb.Command_PUT_FRAMEWORK.Enum(),
				PutFramework: &registrypb.Command_PutFramework{FrameworkInfo: []byte("x")}}, nil
		}
		return PutFrameworkCommand(&mesospb.FrameworkInfo{User: proto.String("u"), Name: proto.String(vals["name"]),
			Id: &mesospb.FrameworkID{Value: proto.String(first)}})
	case "disconnect":
		return DisconnectFrameworkCommand(first, time.Unix(0, num("deadline"))), nil
	case "remove":
		return RemoveFrameworkCommand(first, time.Unix(0, num("t"))), nil
	case "prune-frameworks":
		return PruneFrameworksCommand(keys), nil
	case "weights":
		m := &registrypb.Command_SetWeights{}
		for _, a := range args { // in script order (SetWeightsCommand sorts by role)
			w, err := strconv.ParseFloat(strings.Join(a.Vals, ""), 64)
			if err != nil {
				return nil, err
			}
			m.Weights = append(m.Weights, &registrypb.Weight{Role: proto.String(a.Key), Weight: &w})
		}
		return &registrypb.Command{Type: registrypb.Command_SET_WEIGHTS.Enum(), SetWeights: m}, nil
	case "quota":
		return SetQuotaCommand(first, b("config")), nil
	case "maintenance":
		return SetMaintenanceCommand(b("schedule")), nil
	case "reservations":
		return SetReservationsCommand(first, b("resources")), nil
	case "unknown-type":
		return &registrypb.Command{Type: registrypb.Command_Type(99).Enum()}, nil
	}
	return nil, fmt.Errorf("unknown directive %q", cmd)
}

// printState prints every record, one a line, sorted.
func printState(t *testing.T, s *State) string {
	var out strings.Builder
	for _, st := range []AgentStatus{AgentAdmitted, AgentUnreachable, AgentGone} {
		for _, id := range s.AgentIDs(st) {
			a := s.Agent(id)
			var info mesospb.AgentInfo
			if err := proto.Unmarshal(a.Info, &info); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&out, "agent %s %s host=%s", id, a.Status, info.GetHostname())
			if a.Time != 0 {
				fmt.Fprintf(&out, " t=%d", a.Time)
			}
			out.WriteString("\n")
		}
	}
	for _, st := range []FrameworkStatus{FrameworkActive, FrameworkDisconnected, FrameworkRemoved} {
		for _, id := range s.FrameworkIDs(st) {
			f := s.Framework(id)
			fmt.Fprintf(&out, "framework %s %s", id, f.Status)
			if f.Info != nil {
				var info mesospb.FrameworkInfo
				if err := proto.Unmarshal(f.Info, &info); err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(&out, " name=%s", info.GetName())
			}
			if f.FailoverDeadline != 0 {
				fmt.Fprintf(&out, " deadline=%d", f.FailoverDeadline)
			}
			if f.RemovedTime != 0 {
				fmt.Fprintf(&out, " t=%d", f.RemovedTime)
			}
			out.WriteString("\n")
		}
	}
	w := s.Weights()
	for _, role := range slices.Sorted(maps.Keys(w)) {
		fmt.Fprintf(&out, "weight %s=%g\n", role, w[role])
	}
	for _, role := range s.QuotaRoles() {
		fmt.Fprintf(&out, "quota %s=%s\n", role, s.Quota(role))
	}
	if m := s.Maintenance(); m != nil {
		fmt.Fprintf(&out, "maintenance %s\n", m)
	}
	for _, id := range s.ReservationAgents() {
		fmt.Fprintf(&out, "reservations %s=%s\n", id, s.Reservations(id))
	}
	if out.Len() == 0 {
		return "empty\n"
	}
	return out.String()
}

// checkRoundTrip checks that the state's snapshot restores to an equal
// state with the same encoding.
func checkRoundTrip(t *testing.T, s *State) {
	t.Helper()
	b, err := s.MarshalSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	r, err := UnmarshalState(b)
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	if !r.Equal(s) {
		t.Fatalf("restored state differs:\n%s\nwant\n%s", printState(t, r), printState(t, s))
	}
	b2, err := r.MarshalSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	if string(b2) != string(b) {
		t.Fatal("restored state encodes differently")
	}
}
