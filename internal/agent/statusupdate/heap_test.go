package statusupdate

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
)

// scanDeadline and scanDue are the rule Tick and NextDeadline keep with
// their heap, written as a scan of every stream: the reference the heap
// must agree with.
func scanDeadline(m *Manager) (t time.Time, ok bool) {
	if m.paused {
		return time.Time{}, false
	}
	for _, s := range m.streams {
		if len(s.pending) > 0 && s.sent && (!ok || s.next.Before(t)) {
			t, ok = s.next, true
		}
	}
	return t, ok
}

func scanDue(m *Manager, now time.Time) []Key {
	if m.paused {
		return nil
	}
	var due []Key
	for key, s := range m.streams {
		if len(s.pending) > 0 && s.sent && !now.Before(s.next) {
			due = append(due, key)
		}
	}
	slices.SortFunc(due, compareKeys)
	return due
}

// TestDeadlineHeapMatchesScan drives managers with random updates,
// acknowledgements, pauses, removals and ticks, and checks after every
// step that NextDeadline and Tick answer what a scan of every stream
// answers, and that the heap stays bounded.
func TestDeadlineHeapMatchesScan(t *testing.T) {
	for seed := range uint64(50) {
		rng := rand.New(rand.NewPCG(seed, 12))
		m := New(time.Second, 8*time.Second)
		now := time.Unix(0, 0)
		m.Resume(now)
		uuids := 0
		for step := range 400 {
			now = now.Add(time.Duration(rng.IntN(1500)) * time.Millisecond)
			task := fmt.Sprintf("t%d", rng.IntN(12))
			fw := fmt.Sprintf("f%d", rng.IntN(2))
			var what string
			switch n := rng.IntN(100); {
			case n < 35:
				uuids++
				state := mesospb.TaskState_TASK_RUNNING
				if rng.IntN(4) == 0 {
					state = mesospb.TaskState_TASK_FINISHED
				}
				what = "update " + fw + "/" + task
				_, _ = m.Update(fw, &mesospb.TaskStatus{TaskId: &mesospb.TaskID{Value: &task}, State: state.Enum(),
					Uuid: []byte(fmt.Sprint(uuids))}, now)
			case n < 65:
				what = "ack " + fw + "/" + task
				if p := m.Pending(fw, task); len(p) > 0 {
					_, _, _, _ = m.Acknowledge(fw, task, p[0].GetUuid(), now)
				}
			case n < 70:
				what = "pause"
				m.Pause()
			case n < 78:
				what = "resume"
				m.Resume(now)
			case n < 80:
				what = "remove framework " + fw
				m.RemoveFramework(fw)
			case n < 82:
				what = "remove task " + fw + "/" + task
				m.RemoveTask(fw, task)
			default:
				what = "tick"
				want := scanDue(m, now)
				var got []Key
				for _, f := range m.Tick(now) {
					got = append(got, Key{f.FrameworkID, f.Status.GetTaskId().GetValue()})
				}
				if !slices.Equal(got, want) {
					t.Fatalf("seed %d step %d: Tick forwarded %v, scan says %v", seed, step, got, want)
				}
			}
			gt, gok := m.NextDeadline()
			wt, wok := scanDeadline(m)
			if gok != wok || !gt.Equal(wt) {
				t.Fatalf("seed %d step %d after %s: NextDeadline %v %v, scan says %v %v", seed, step, what, gt, gok, wt, wok)
			}
			if len(m.due) > 2*len(m.streams)+65 {
				t.Fatalf("seed %d step %d: %d heap entries for %d streams", seed, step, len(m.due), len(m.streams))
			}
		}
	}
}

// BenchmarkNextDeadline: the agent asks for the next deadline after every
// input; with 5,000 updates in flight, the heap against the scan it
// replaced (scanDeadline, the same rule).
func BenchmarkNextDeadline(b *testing.B) {
	m := New(0, 0)
	now := time.Unix(0, 0)
	m.Resume(now)
	for i := range 5000 {
		task := fmt.Sprintf("t%d", i)
		_, _ = m.Update("f", &mesospb.TaskStatus{TaskId: &mesospb.TaskID{Value: &task},
			State: mesospb.TaskState_TASK_RUNNING.Enum(), Uuid: []byte(task)}, now.Add(time.Duration(i)))
	}
	b.Run("heap", func(b *testing.B) {
		for b.Loop() {
			m.NextDeadline()
		}
	})
	b.Run("scan", func(b *testing.B) {
		for b.Loop() {
			scanDeadline(m)
		}
	})
}
