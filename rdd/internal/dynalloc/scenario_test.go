package dynalloc

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mesoproject/meso/internal/scripttest"
)

// TestScenarios runs the scripts in testdata. Regenerate the expected
// output with: go test ./rdd/internal/dynalloc -run TestScenarios -rewrite
//
// Commands (time in seconds since the start; events happen at the time of
// the last "at" or "tick"):
//
//	config min=N max=N initial=N backlog=S sustained=S idle=S cached-idle=S per-executor=N ratio=F
//	at S
//	stage ID tasks=N          stage-done ID
//	start ID PART EXEC        end ID PART EXEC [failed]
//	add EXEC                  remove EXEC          cached EXEC [no]
//	tick S                    prints the decision
//	run FROM TO               ticks every 100 ms (Spark's interval), prints changes
func TestScenarios(t *testing.T) {
	scripttest.Walk(t, "testdata", func(*testing.T) *harness { return &harness{m: New(Defaults())} },
		func(t *testing.T, h *harness, cmd []string, out *strings.Builder) {
			if err := h.exec(cmd, out); err != nil {
				t.Fatalf("%q: %v", cmd, err)
			}
		})
}

type harness struct {
	m    *Manager
	now  time.Duration
	last string // the last decision printed by run
}

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func (h *harness) at() time.Time { return epoch.Add(h.now) }

func seconds(s string) (time.Duration, error) {
	f, err := strconv.ParseFloat(s, 64)
	return time.Duration(f * float64(time.Second)), err
}

func (h *harness) exec(f []string, out *strings.Builder) error {
	kv := map[string]string{}
	var pos []string
	for _, a := range f[1:] {
		if k, v, ok := strings.Cut(a, "="); ok {
			kv[k] = v
		} else {
			pos = append(pos, a)
		}
	}
	num := func(i int) int { n, _ := strconv.Atoi(pos[i]); return n }
	switch f[0] {
	case "config":
		c := Defaults()
		for k, v := range kv {
			var err error
			switch k {
			case "min":
				c.MinExecutors, err = strconv.Atoi(v)
			case "max":
				c.MaxExecutors, err = strconv.Atoi(v)
			case "initial":
				c.InitialExecutors, err = strconv.Atoi(v)
			case "backlog":
				c.BacklogTimeout, err = seconds(v)
			case "sustained":
				c.SustainedBacklogTimeout, err = seconds(v)
			case "idle":
				c.IdleTimeout, err = seconds(v)
			case "cached-idle":
				c.CachedIdleTimeout, err = seconds(v)
			case "per-executor":
				c.TasksPerExecutor, err = strconv.Atoi(v)
			case "ratio":
				c.AllocationRatio, err = strconv.ParseFloat(v, 64)
			default:
				return fmt.Errorf("unknown setting %s", k)
			}
			if err != nil {
				return err
			}
		}
		if err := c.Validate(); err != nil {
			fmt.Fprintf(out, "invalid: %v\n", err)
			return nil
		}
		h.m, h.now, h.last = New(c), 0, ""
		fmt.Fprintf(out, "target=%d\n", h.m.Target())
	case "at":
		d, err := seconds(pos[0])
		h.now = d
		return err
	case "stage":
		n, _ := strconv.Atoi(kv["tasks"])
		h.m.StageSubmitted(num(0), n, h.at())
	case "stage-done":
		h.m.StageCompleted(num(0))
	case "start":
		h.m.TaskStarted(num(0), num(1), pos[2], h.at())
	case "end":
		h.m.TaskEnded(num(0), num(1), pos[2], len(pos) < 4 || pos[3] != "failed", h.at())
	case "add":
		h.m.ExecutorAdded(pos[0], h.at())
	case "remove":
		h.m.ExecutorRemoved(pos[0])
	case "cached":
		h.m.CachedBlocks(pos[0], len(pos) < 2 || pos[1] != "no")
	case "tick":
		d, err := seconds(pos[0])
		if err != nil {
			return err
		}
		h.now = d
		fmt.Fprintf(out, "%s %s\n", pos[0], describe(h.m.Tick(h.at()), h.m))
	case "run":
		from, err1 := seconds(pos[0])
		to, err2 := seconds(pos[1])
		if err1 != nil || err2 != nil {
			return fmt.Errorf("run FROM TO")
		}
		for h.now = from; h.now <= to; h.now += 100 * time.Millisecond {
			dec := h.m.Tick(h.at())
			d := describe(dec, h.m)
			if base, _, _ := strings.Cut(d, " kill="); base != h.last || len(dec.Kill) > 0 {
				fmt.Fprintf(out, "%.1f %s\n", h.now.Seconds(), d)
				h.last = base
			}
		}
		h.now = to
	default:
		return fmt.Errorf("unknown command %s", f[0])
	}
	return nil
}

func describe(d Decision, m *Manager) string {
	s := fmt.Sprintf("target=%d pending=%d", d.Target, m.Pending())
	if len(d.Kill) > 0 {
		s += " kill=" + strings.Join(d.Kill, ",")
	}
	return s
}
