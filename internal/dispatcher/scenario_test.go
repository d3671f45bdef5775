package dispatcher

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mesoproject/meso/internal/resources"
	"github.com/mesoproject/meso/internal/scripttest"
)

// TestScenarios runs the scripts in testdata. Regenerate the expected
// output with: go test ./internal/dispatcher -run TestScenarios -rewrite
//
// Commands (times in seconds since the start):
//
//	at S                              the time of what follows
//	submit NAME RES [supervise] [constraints=C]   prints the id
//	attributes AGENT TEXT             the agent's attributes in later offers
//	offer AGENT RES [AGENT RES ...]   one offer per pair; prints launches
//	end TASK finished|killed|error|failed [MESSAGE...]
//	kill ID                           prints the task to kill, if any
//	drivers                           prints every driver
//	history ID                        prints a driver's state history
//	taskstate TASK STATE              a non-terminal status update
//	wanted                            prints whether offers are wanted, and the next wake
//	limits QUEUED RETAINED            a new, empty core with these Limits
func TestScenarios(t *testing.T) {
	scripttest.Walk(t, "testdata", func(*testing.T) *harness { return &harness{c: New(Limits{})} },
		func(t *testing.T, h *harness, cmd []string, out *strings.Builder) {
			if err := h.exec(cmd, out); err != nil {
				fmt.Fprintf(out, "error: %v\n", err)
			}
		})
}

type harness struct {
	c      *Core
	now    time.Duration
	offers int
	attrs  map[string]resources.Attributes
}

var epoch = time.Date(2026, 12, 7, 1, 2, 3, 0, time.UTC)

func (h *harness) at() time.Time { return epoch.Add(h.now) }

func (h *harness) exec(f []string, out *strings.Builder) error {
	switch f[0] {
	case "at":
		s, err := strconv.ParseFloat(f[1], 64)
		h.now = time.Duration(s * float64(time.Second))
		return err
	case "submit":
		res, err := resources.Parse(f[2])
		if err != nil {
			return err
		}
		d := Description{Name: f[1], Command: "./" + f[1], Resources: res}
		for _, opt := range f[3:] {
			if c, ok := strings.CutPrefix(opt, "constraints="); ok {
				if d.Constraints, err = resources.ParseConstraints(c); err != nil {
					return err
				}
			} else {
				d.Supervise = opt == "supervise"
			}
		}
		id, err := h.c.Submit(d, h.at())
		if err != nil {
			return err
		}
		fmt.Fprintln(out, id)
	case "offer":
		var offers []Offer
		for i := 1; i+1 < len(f); i += 2 {
			res, err := resources.Parse(f[i+1])
			if err != nil {
				return err
			}
			h.offers++
			offers = append(offers, Offer{ID: fmt.Sprintf("o%d", h.offers), AgentID: f[i], Resources: res, Attributes: h.attrs[f[i]]})
		}
		for _, l := range h.c.Offers(offers, h.at()) {
			fmt.Fprintf(out, "launch %s on %s (%s) from %s\n", l.TaskID, l.AgentID, l.DriverID, l.OfferID)
		}
	case "end":
		ends := map[string]TaskEnd{"finished": EndFinished, "killed": EndKilled, "error": EndError, "failed": EndFailed}
		end, ok := ends[f[2]]
		if !ok {
			return fmt.Errorf("unknown end %s", f[2])
		}
		h.c.TaskEnded(f[1], end, strings.Join(f[3:], " "), h.at())
	case "kill":
		task, err := h.c.Kill(f[1], h.at())
		if err != nil {
			return err
		}
		if task != "" {
			fmt.Fprintf(out, "kill task %s\n", task)
		}
	case "drivers":
		for _, d := range h.c.Drivers() {
			fmt.Fprintf(out, "%s %s %s", d.ID, d.Desc.Name, d.State)
			if d.TaskID != "" {
				fmt.Fprintf(out, " task=%s agent=%s", d.TaskID, d.AgentID)
			}
			if d.Retries > 0 {
				fmt.Fprintf(out, " retries=%d wait=%s next=%.0fs", d.Retries, d.Wait, d.NextRetry.Sub(epoch).Seconds())
			}
			if d.Message != "" {
				fmt.Fprintf(out, " (%s)", d.Message)
			}
			fmt.Fprintln(out)
		}
	case "attributes":
		a, err := resources.ParseAttributes(f[2])
		if err != nil {
			return err
		}
		if h.attrs == nil {
			h.attrs = map[string]resources.Attributes{}
		}
		h.attrs[f[1]] = a
	case "history":
		d, ok := h.c.Driver(f[1])
		if !ok {
			return fmt.Errorf("no driver %s", f[1])
		}
		for _, tr := range d.History {
			fmt.Fprintf(out, "%.0fs %s %s\n", tr.Time.Sub(epoch).Seconds(), tr.State, tr.Message)
		}
		if d.TaskState != "" {
			fmt.Fprintf(out, "task state %s\n", d.TaskState)
		}
	case "taskstate":
		h.c.TaskUpdate(f[1], f[2])
	case "limits":
		q, err := strconv.Atoi(f[1])
		if err != nil {
			return err
		}
		r, err := strconv.Atoi(f[2])
		if err != nil {
			return err
		}
		h.c = New(Limits{MaxQueued: q, Retained: r})
	case "wanted":
		w := h.c.NextWake()
		next := "none"
		if !w.IsZero() {
			next = fmt.Sprintf("%.0fs", w.Sub(epoch).Seconds())
		}
		fmt.Fprintf(out, "wanted=%v next-wake=%s\n", h.c.Wanted(h.at()), next)
	default:
		return fmt.Errorf("unknown command %s", f[0])
	}
	return nil
}

// A restored core carries on where the persisted one stopped: queued
// drivers launch, running ones take their updates, ids keep counting.
func TestSnapshotRestore(t *testing.T) {
	c := New(Limits{})
	now := epoch
	res := resources.MustParse("cpus:1;mem:64")
	a, _ := c.Submit(Description{Name: "a", Command: "./a", Resources: res, Supervise: true}, now)
	if l := c.Offers([]Offer{{ID: "o1", AgentID: "ag", Resources: res}}, now); len(l) != 1 {
		t.Fatalf("launches %v", l)
	}
	b, _ := c.Submit(Description{Name: "b", Command: "./b", Resources: res}, now)
	r := Restore(c.Snapshot(), Limits{})
	r.TaskEnded(a, EndFailed, "TASK_LOST", now)
	if d, _ := r.Driver(a); d.State != Retrying {
		t.Fatalf("restored running driver after TASK_LOST: %+v", d)
	}
	l := r.Offers([]Offer{{ID: "o2", AgentID: "ag", Resources: res}}, now)
	if len(l) != 1 || l[0].DriverID != b {
		t.Fatalf("restored queued driver not launched: %+v", l)
	}
	c2, _ := r.Submit(Description{Name: "c", Command: "./c", Resources: res}, now)
	if c2 == a || c2 == b {
		t.Fatalf("restored core reused id %s", c2)
	}
}
