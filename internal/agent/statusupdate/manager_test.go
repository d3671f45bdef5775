package statusupdate

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/mesoproject/meso/api/mesospb"
)

// The scenario scripts in testdata drive a Manager with commands; `at` is
// seconds since an arbitrary epoch. Commands:
//
//	new [min=<secs>] [max=<secs>]
//	resume at=<s> | pause
//	update [fw=<id>] task=<id> state=<STATE> uuid=<u> at=<s>
//	ack [fw=<id>] task=<id> uuid=<u> at=<s>
//	tick at=<s>
//	deadline
//	pending [fw=<id>] task=<id>
//	remove-framework fw=<id>
//
// Output lists the forwarded updates, errors, and for ack what was popped.
func TestScenarios(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		var m *Manager
		epoch := time.Unix(1_000_000, 0)
		at := func(d *datadriven.TestData) time.Time {
			var s float64
			d.ScanArgs(t, "at", &s)
			return epoch.Add(time.Duration(s * float64(time.Second)))
		}
		fw := func(d *datadriven.TestData) string {
			f := "f1"
			d.MaybeScanArgs(t, "fw", &f)
			return f
		}
		str := func(d *datadriven.TestData, key string) string {
			var s string
			d.ScanArgs(t, key, &s)
			return s
		}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "new":
				lo, hi := 10.0, 600.0
				d.MaybeScanArgs(t, "min", &lo)
				d.MaybeScanArgs(t, "max", &hi)
				m = New(time.Duration(lo*float64(time.Second)), time.Duration(hi*float64(time.Second)))
				return "ok"
			case "resume":
				return show(m.Resume(at(d)), nil)
			case "pause":
				m.Pause()
				return "ok"
			case "update":
				st := &mesospb.TaskStatus{
					TaskId: &mesospb.TaskID{Value: ptr(str(d, "task"))},
					State:  mesospb.TaskState(mesospb.TaskState_value[str(d, "state")]).Enum(),
					Uuid:   []byte(str(d, "uuid")),
				}
				out, err := m.Update(fw(d), st, at(d))
				return show(out, err)
			case "ack":
				out, acked, closed, err := m.Acknowledge(fw(d), str(d, "task"), []byte(str(d, "uuid")), at(d))
				if acked == nil {
					return show(out, err)
				}
				s := fmt.Sprintf("acked %s closed=%v\n", acked.GetUuid(), closed)
				if len(out) > 0 {
					s = show(out, err) + s
				}
				return s
			case "tick":
				return show(m.Tick(at(d)), nil)
			case "deadline":
				t0, ok := m.NextDeadline()
				if !ok {
					return "none"
				}
				return fmt.Sprintf("%gs", t0.Sub(epoch).Seconds())
			case "pending":
				var b strings.Builder
				for _, st := range m.Pending(fw(d), str(d, "task")) {
					fmt.Fprintf(&b, "%s %s\n", st.GetState(), st.GetUuid())
				}
				fmt.Fprintf(&b, "total %d\n", m.Len())
				return b.String()
			case "remove-framework":
				m.RemoveFramework(fw(d))
				return "ok"
			}
			t.Fatalf("unknown command %q", d.Cmd)
			return ""
		})
	})
}

func show(out []Forward, err error) string {
	var b strings.Builder
	for _, f := range out {
		fmt.Fprintf(&b, "forward %s/%s %s %s latest=%s\n", f.FrameworkID,
			f.Status.GetTaskId().GetValue(), f.Status.GetState(), f.Status.GetUuid(), f.LatestState)
	}
	if err != nil {
		fmt.Fprintf(&b, "error: %v\n", err)
	}
	if b.Len() == 0 {
		return "nothing"
	}
	return b.String()
}

func ptr[T any](v T) *T { return &v }

func TestUpdateRejectsIncomplete(t *testing.T) {
	m := New(0, 0)
	_, err := m.Update("f", &mesospb.TaskStatus{TaskId: &mesospb.TaskID{Value: ptr("t")}}, time.Time{})
	if !errors.Is(err, ErrInvalidUpdate) {
		t.Fatalf("missing uuid: got %v, want ErrInvalidUpdate", err)
	}
	_, err = m.Update("f", &mesospb.TaskStatus{Uuid: []byte("u")}, time.Time{})
	if !errors.Is(err, ErrInvalidUpdate) {
		t.Fatalf("missing task id: got %v, want ErrInvalidUpdate", err)
	}
}

func TestDefaults(t *testing.T) {
	m := New(0, 0)
	if m.min != DefaultRetryMin || m.max != DefaultRetryMax {
		t.Fatalf("defaults: got %v/%v", m.min, m.max)
	}
	if m := New(time.Minute, time.Second); m.max != time.Minute {
		t.Fatalf("max below min must be raised to min, got %v", m.max)
	}
}

// TestRetriesNeverExceedMax checks the backoff over a long outage without
// acknowledgements: each interval doubles and is capped.
func TestRetriesNeverExceedMax(t *testing.T) {
	m := New(10*time.Second, 10*time.Minute)
	now := time.Unix(0, 0)
	m.Resume(now)
	st := &mesospb.TaskStatus{TaskId: &mesospb.TaskID{Value: ptr("t")}, State: mesospb.TaskState_TASK_RUNNING.Enum(), Uuid: []byte("u")}
	if out, _ := m.Update("f", st, now); len(out) != 1 {
		t.Fatalf("first update not forwarded at once: %v", out)
	}
	var intervals []time.Duration
	last := now
	for range 12 {
		next, ok := m.NextDeadline()
		if !ok {
			t.Fatal("no deadline while an update is in flight")
		}
		if out := m.Tick(next.Add(-time.Nanosecond)); len(out) != 0 {
			t.Fatalf("forwarded before its deadline")
		}
		if out := m.Tick(next); len(out) != 1 {
			t.Fatalf("not forwarded at its deadline")
		}
		intervals = append(intervals, next.Sub(last))
		last = next
	}
	want := []time.Duration{10, 20, 40, 80, 160, 320, 600, 600, 600, 600, 600, 600}
	for i, w := range want {
		if intervals[i] != w*time.Second {
			t.Fatalf("intervals %v, want %v seconds", intervals, want)
		}
	}
}
