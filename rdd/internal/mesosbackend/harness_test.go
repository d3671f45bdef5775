package mesosbackend

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/resources"
)

// TestScenarios runs the scripts in testdata, the readable spec of the core.
// Regenerate the expected output with:
//
//	go test ./rdd/internal/mesosbackend -run TestScenarios -rewrite
//
// Commands (one per line; the first line of a block may be followed by more):
//
//	settings [k=v ...]                      new core with these Spark settings
//	offer o1 agent=a1 cpus=4 mem=8192 [attrs=rack:r1;zone:a] [host=h1]
//	decide [t=10s]                          the queued offers at time t
//	update e0 running|finished|failed|killed|lost|error|... [agent=a1] [reason=R] [t=]
//	target N|unlimited   kill e0 [t=]   stop [t=]   tick t=40s
//	launch-failed e0     subscribed     state
func TestScenarios(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		h := &harness{}
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			first := []string{td.Cmd}
			for _, arg := range td.CmdArgs {
				if len(arg.Vals) == 0 {
					first = append(first, arg.Key)
				} else {
					first = append(first, arg.Key+"="+strings.Join(arg.Vals, ","))
				}
			}
			var out strings.Builder
			lines := append([]string{strings.Join(first, " ")}, strings.Split(td.Input, "\n")...)
			for _, line := range lines {
				if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
					continue
				}
				out.WriteString(h.exec(t, strings.Fields(line)))
			}
			if out.Len() == 0 {
				return "ok\n"
			}
			return out.String()
		})
	})
}

type harness struct {
	c      *Core
	queued []Offer
}

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func (h *harness) exec(t *testing.T, f []string) string {
	t.Helper()
	args := map[string]string{}
	var pos []string
	for _, a := range f[1:] {
		if k, v, ok := strings.Cut(a, "="); ok {
			args[k] = v
		} else {
			pos = append(pos, a)
		}
	}
	now := epoch
	if v, ok := args["t"]; ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("%v: t: %v", f, err)
		}
		now = epoch.Add(d)
	}
	if h.c == nil && f[0] != "settings" {
		h.c = NewCore(DefaultSettings())
	}
	switch f[0] {
	case "settings":
		s, err := ParseSettings(args)
		if err != nil {
			return "error: " + err.Error() + "\n"
		}
		h.c, h.queued = NewCore(s), nil
	case "offer":
		o := Offer{ID: pos[0], Agent: args["agent"], Hostname: args["host"]}
		if o.Hostname == "" {
			o.Hostname = o.Agent + ".local"
		}
		o.CPUs = mustFloat(t, args["cpus"])
		o.MemMiB = mustFloat(t, args["mem"])
		if a := args["attrs"]; a != "" {
			attrs, err := resources.ParseAttributes(a)
			if err != nil {
				t.Fatalf("%v: %v", f, err)
			}
			o.Attributes = attrs
		}
		h.queued = append(h.queued, o)
		return ""
	case "decide":
		h.c.Offers(now, h.queued)
		h.queued = nil
	case "update":
		name := "TASK_" + strings.ToUpper(pos[1])
		st, ok := mesospb.TaskState_value[name]
		if !ok {
			t.Fatalf("%v: unknown state %s", f, name)
		}
		h.c.Update(now, Status{ExecutorID: pos[0], Agent: args["agent"], State: mesospb.TaskState(st), Reason: args["reason"]})
	case "target":
		n := Unlimited
		if pos[0] != "unlimited" {
			n = int(mustFloat(t, pos[0]))
		}
		h.c.SetTarget(n)
	case "kill":
		if err := h.c.Kill(now, pos[0]); err != nil {
			return "error: " + err.Error() + "\n"
		}
	case "stop":
		h.c.Stop(now)
	case "tick":
		h.c.Tick(now)
	case "launch-failed":
		h.c.LaunchFailed(pos[0], "call failed")
	case "subscribed":
		h.c.Subscribed()
	case "state":
		return h.state()
	default:
		t.Fatalf("unknown command %q", f[0])
	}
	return formatReady(h.c.Ready())
}

func (h *harness) state() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cores=%d target=%s done=%t\n", h.c.CoresInUse(), targetString(h.c.Target()), h.c.Done())
	for _, e := range h.c.Executors() {
		kill := ""
		if e.Killing {
			kill = " killing"
		}
		fmt.Fprintf(&b, "  %s on %s cpus=%d mem=%d slots=%d %s%s\n", e.ID, e.Agent, e.CPUs, e.MemMiB, e.Slots, e.Phase, kill)
	}
	for agent, n := range h.c.failures {
		_ = n
		if h.c.Blacklisted(agent) {
			fmt.Fprintf(&b, "  blacklisted %s\n", agent)
		}
	}
	return b.String()
}

func targetString(n int) string {
	if n == Unlimited {
		return "unlimited"
	}
	return strconv.Itoa(n)
}

func formatReady(r Ready) string {
	var b strings.Builder
	for _, l := range r.Launch {
		for _, e := range l.Executors {
			fmt.Fprintf(&b, "launch %s on %s (%s) cpus=%d mem=%d slots=%d\n", e.ID, e.Agent, l.OfferID, e.CPUs, e.MemMiB, e.Slots)
		}
	}
	for _, d := range r.Decline {
		filter := "default"
		if d.Filter > 0 {
			filter = d.Filter.String()
		}
		fmt.Fprintf(&b, "decline %s filter=%s reason=%s\n", d.OfferID, filter, d.Reason)
	}
	for _, k := range r.Kill {
		fmt.Fprintf(&b, "kill %s on %s\n", k.ExecutorID, k.Agent)
	}
	if r.Suppress {
		b.WriteString("suppress\n")
	}
	if r.Revive {
		b.WriteString("revive\n")
	}
	for _, e := range r.Events {
		fmt.Fprintf(&b, "event %s %s", e.Type, e.Executor.ID)
		if e.State != "" {
			fmt.Fprintf(&b, " %s", e.State)
		}
		b.WriteString("\n")
	}
	if s := r.Shortage; s != nil {
		fmt.Fprintf(&b, "shortage need cpus=%d mem=%d; largest cpus=%g mem=%g; offers=%d short=%s\n",
			s.NeedCPUs, s.NeedMemMiB, s.MaxCPUs, s.MaxMemMiB, s.Offers, strings.Join(s.Short, ","))
	}
	return b.String()
}

func mustFloat(t *testing.T, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return f
}
