package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/mesoproject/meso/internal/sim"
)

func runBench(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := newRootCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(append([]string{"bench"}, args...))
	err = cmd.Execute()
	return out.String(), errOut.String(), err
}

// TestBenchCommand runs a tiny bench, with flags spelt both ways, and
// reads its table and its JSON back.
func TestBenchCommand(t *testing.T) {
	small := []string{"--agents", "5", "--frameworks", "2", "--tasks", "40", "--task-duration", "10ms",
		"--allocation_interval", "100ms"}
	out, errOut, err := runBench(t, append(small, "--quiet")...)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, errOut)
	}
	if errOut != "" {
		t.Errorf("--quiet bench wrote to stderr: %q", errOut)
	}
	figs, err := sim.ParseTable(out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for name, want := range map[string]float64{"agents": 5, "frameworks": 2, "tasks": 40, "tasks FINISHED (acked)": 40, "task duration": 0.01} {
		if got := figs[name].Value; got != want {
			t.Errorf("%q = %v, want %v", name, got, want)
		}
	}
	if f := figs["to FINISHED (acked)"]; f.Unit != "tasks/s" || f.Value <= 0 {
		t.Errorf("to FINISHED (acked): %+v", f)
	}

	out, errOut, err = runBench(t, append(small, "-o", "json", "--state-interval", "0")...)
	if err != nil {
		t.Fatalf("bench -o json: %v\n%s", err, errOut)
	}
	var rep sim.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("-o json output does not parse: %v\n%s", err, out)
	}
	if rep.FinishedAcked != 40 || rep.ToRunningRate <= 0 || rep.Mode != "in-process" || rep.StateLatency.Queries != 0 {
		t.Errorf("JSON report: %+v", rep)
	}
	if !strings.Contains(errOut, "agents 5/5 registered") {
		t.Errorf("no progress line on stderr: %q", errOut)
	}
}

func TestBenchFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-o", "yaml"},
		{"--agents", "0"},
		{"--task_resources", "ports:[1-2]"},
		{"--profile", "/tmp/x", "--master", "127.0.0.1:1"},
	} {
		if _, _, err := runBench(t, args...); err == nil {
			t.Errorf("bench %v: no error", args)
		}
	}
}

// TestBenchCompare runs both offer modes in one bench: two tables, each
// under its header, and as JSON one report per mode.
func TestBenchCompare(t *testing.T) {
	small := []string{"--agents", "5", "--frameworks", "3", "--tasks", "60", "--task-duration", "10ms",
		"--allocation_interval", "100ms", "--offer_mode", "compare", "--decision_time", "5ms", "--quiet", "--state_interval", "0"}
	out, errOut, err := runBench(t, small...)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, errOut)
	}
	parts := strings.Split(out, "# offer_mode=optimistic\n")
	if len(parts) != 2 || !strings.HasPrefix(parts[0], "# offer_mode=pessimistic\n") {
		t.Fatalf("want a pessimistic then an optimistic table:\n%s", out)
	}
	for i, part := range parts {
		figs, err := sim.ParseTable(strings.TrimPrefix(part, "# offer_mode=pessimistic\n"))
		if err != nil {
			t.Fatalf("table %d: %v\n%s", i, err, part)
		}
		if figs["tasks FINISHED (acked)"].Value != 60 || figs["decision time"].Value <= 0 {
			t.Errorf("table %d: finished %v, decision time %v", i, figs["tasks FINISHED (acked)"].Value, figs["decision time"].Value)
		}
		if i == 0 && figs["offers rescinded"].Value != 0 {
			t.Errorf("pessimistic offers were rescinded: %v", figs["offers rescinded"].Value)
		}
	}
	out, errOut, err = runBench(t, append(small, "-o", "json")...)
	if err != nil {
		t.Fatalf("bench -o json: %v\n%s", err, errOut)
	}
	var reps map[string]sim.Report
	if err := json.Unmarshal([]byte(out), &reps); err != nil {
		t.Fatalf("-o json: %v\n%s", err, out)
	}
	if reps["pessimistic"].OfferMode != "pessimistic" || reps["optimistic"].OfferMode != "optimistic" || reps["optimistic"].FinishedAcked != 60 || reps["optimistic"].DecisionTime != 0.005 {
		t.Errorf("JSON reports: %+v", reps)
	}
	if _, _, err := runBench(t, "--offer_mode", "sideways"); err == nil || !strings.Contains(err.Error(), "want pessimistic, optimistic or compare") {
		t.Errorf("--offer_mode sideways: %v", err)
	}
}
