package finegrained

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

// TestScenarios runs the scripts in testdata, the readable spec of the
// core. Regenerate the expected output with:
//
//	go test ./rdd/internal/finegrained -run TestScenarios -rewrite
//
// Commands (one per line):
//
//	settings [exec-cpus=1] [exec-mem=512] [task-cpus=1] [reject=120s] [constraints=zone:a] [reject-unmet=120s]
//	submit t1 [t2 ...]      kill t1      stop      subscribed      abandon
//	offer o1 agent=a1 cpus=4 mem=8192 [attrs=zone:a;rack:r1]   (offers queue until decide)
//	decide
//	update t1 finished|failed|killed|lost [reason=REASON_EXECUTOR_TERMINATED] [data=x]
//	gone a1 a1-f1          (the executor ended)
//	failed a1 a1-f1        (the executor failed: counts against a1)
//	launch-failed          (the last launch's ACCEPT failed)
//	state
func TestScenarios(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		h := &harness{c: NewCore(Settings{ExecutorCPUs: 1, ExecutorMemMiB: 512, TaskCPUs: 1, RejectFor: 120 * time.Second})}
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
			for _, line := range append([]string{strings.Join(first, " ")}, strings.Split(td.Input, "\n")...) {
				if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
					continue
				}
				h.exec(t, strings.Fields(line))
			}
			out.WriteString(h.ready())
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
	last   Launch
}

func (h *harness) exec(t *testing.T, f []string) {
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
	num := func(k string, def float64) float64 {
		v, ok := args[k]
		if !ok {
			return def
		}
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Fatalf("%v: %s: %v", f, k, err)
		}
		return n
	}
	switch f[0] {
	case "settings":
		d, err := time.ParseDuration(cmpOr(args["reject"], "120s"))
		if err != nil {
			t.Fatal(err)
		}
		unmet, err := time.ParseDuration(cmpOr(args["reject-unmet"], "120s"))
		if err != nil {
			t.Fatal(err)
		}
		cs, err := resources.ParseConstraints(args["constraints"])
		if err != nil {
			t.Fatal(err)
		}
		h.c = NewCore(Settings{ExecutorCPUs: num("exec-cpus", 1), ExecutorMemMiB: num("exec-mem", 512),
			TaskCPUs: num("task-cpus", 1), RejectFor: d, Constraints: cs, RejectUnmet: unmet})
	case "submit":
		for _, id := range pos {
			h.c.Submit(id)
		}
	case "kill":
		h.c.Kill(pos[0])
	case "stop":
		h.c.Stop()
	case "abandon":
		h.c.Abandon("subscription ended")
	case "subscribed":
		h.c.Subscribed()
	case "offer":
		attrs, err := resources.ParseAttributes(args["attrs"])
		if err != nil {
			t.Fatal(err)
		}
		h.queued = append(h.queued, Offer{ID: pos[0], Agent: args["agent"], Hostname: "h-" + args["agent"],
			CPUs: num("cpus", 0), MemMiB: num("mem", 0), Attributes: attrs})
	case "decide":
		h.c.Offers(h.queued)
		h.queued = nil
	case "update":
		st, ok := mesospb.TaskState_value["TASK_"+strings.ToUpper(pos[1])]
		if !ok {
			t.Fatalf("%v: unknown state", f)
		}
		s := Status{TaskID: pos[0], State: mesospb.TaskState(st), Data: []byte(args["data"])}
		if r, ok := args["reason"]; ok {
			s.Reason = mesospb.TaskStatus_Reason(mesospb.TaskStatus_Reason_value[r])
		}
		h.c.Update(s)
	case "gone":
		h.c.ExecutorGone(pos[0], pos[1])
	case "failed":
		h.c.ExecutorFailed(pos[0], pos[1])
	case "launch-failed":
		h.c.LaunchFailed(h.last)
	case "state":
		// printed by ready
	default:
		t.Fatalf("unknown command %q", f[0])
	}
	if f[0] == "state" {
		h.queued = append(h.queued, Offer{ID: "__state"})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (h *harness) ready() string {
	var b strings.Builder
	state := false
	if n := len(h.queued); n > 0 && h.queued[n-1].ID == "__state" {
		h.queued, state = h.queued[:n-1], true
	}
	r := h.c.Ready()
	for _, l := range r.Launch {
		h.last = l
		nw := ""
		if l.NewExecutor {
			nw = " (new executor)"
		}
		fmt.Fprintf(&b, "launch %s on %s (%s) in %s%s\n", strings.Join(l.Tasks, " "), l.Agent, l.OfferID, l.Executor, nw)
	}
	for _, d := range r.Decline {
		if d.Filter > 0 {
			fmt.Fprintf(&b, "decline %s filter=%v\n", d.OfferID, d.Filter)
		} else {
			fmt.Fprintf(&b, "decline %s\n", d.OfferID)
		}
	}
	for _, k := range r.Kill {
		fmt.Fprintf(&b, "kill %s on %s\n", k.Task, k.Agent)
	}
	if r.Suppress {
		b.WriteString("suppress\n")
	}
	if r.Revive {
		b.WriteString("revive\n")
	}
	for _, e := range r.Ended {
		fmt.Fprintf(&b, "ended %s in %q %s", e.Task, e.Executor, e.Status.State)
		if len(e.Status.Data) > 0 {
			fmt.Fprintf(&b, " data=%s", e.Status.Data)
		}
		b.WriteString("\n")
	}
	for _, g := range r.Gone {
		fmt.Fprintf(&b, "gone %s\n", g)
	}
	for _, k := range r.Reconcile {
		fmt.Fprintf(&b, "reconcile %s on %s\n", k.Task, k.Agent)
	}
	if r.Exhausted != "" {
		fmt.Fprintf(&b, "exhausted: %s\n", r.Exhausted)
	}
	if state {
		fmt.Fprintf(&b, "pending %v running %d\n", h.c.pending, h.c.Running())
	}
	return b.String()
}
