package health

import (
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
)

var t0 = time.Unix(1_000_000, 0)

func at(secs float64) time.Time { return t0.Add(time.Duration(secs * float64(time.Second))) }

func httpSpec(grace time.Duration, failures uint32) HealthSpec {
	return HealthSpec{
		Probe:               Probe{Kind: KindHTTP, Scheme: "http", Port: 80, Timeout: time.Second},
		Delay:               2 * time.Second,
		Interval:            time.Second,
		GracePeriod:         grace,
		ConsecutiveFailures: failures,
	}
}

var (
	ok200  = Result{StatusCode: 200}
	bad503 = Result{StatusCode: 503}
	noConn = Result{Err: errors.New("connection refused")}
)

// step is one probe result and what must be reported for it.
type step struct {
	at     float64
	result Result
	report bool
	want   Status // compared without Message when report
}

func runHealth(t *testing.T, h *Health, steps []step) {
	t.Helper()
	for i, s := range steps {
		st, ok := h.Observe(s.result, at(s.at))
		if ok != s.report {
			t.Fatalf("step %d (t=%v): reported=%v, want %v (%+v)", i, s.at, ok, s.report, st)
		}
		if !ok {
			continue
		}
		st.Message = ""
		if st != s.want {
			t.Fatalf("step %d (t=%v): status %+v, want %+v", i, s.at, st, s.want)
		}
		if want := at(s.at).Add(h.spec.Interval); !h.Due().Equal(want) {
			t.Fatalf("step %d: next probe due %v, want %v (interval after the result)", i, h.Due(), want)
		}
	}
}

func TestHealthFirstProbeAfterDelay(t *testing.T) {
	h := NewHealth(httpSpec(0, 3), t0)
	if !h.Due().Equal(at(2)) {
		t.Fatalf("first probe due %v, want start + delay", h.Due())
	}
}

// Failures count only after the grace period; the count reaching
// consecutive_failures asks for the kill (and keeps asking).
func TestHealthGracePeriodThenConsecutiveFailures(t *testing.T) {
	h := NewHealth(httpSpec(5*time.Second, 3), t0)
	runHealth(t, h, []step{
		{at: 2, result: noConn}, // in grace: ignored
		{at: 4, result: bad503}, // in grace
		{at: 5, result: noConn}, // exactly the end of grace: still ignored (<=)
		{at: 6, result: bad503, report: true, want: Status{ConsecutiveFailures: 1}},
		{at: 7, result: noConn, report: true, want: Status{ConsecutiveFailures: 2}},
		{at: 8, result: bad503, report: true, want: Status{ConsecutiveFailures: 3, Kill: true}},
		{at: 9, result: bad503, report: true, want: Status{ConsecutiveFailures: 4, Kill: true}},
	})
}

// The grace period ends with the first success: a later failure counts at
// once, and a success after failures is reported and resets the count.
func TestHealthGraceEndsAtFirstSuccess(t *testing.T) {
	h := NewHealth(httpSpec(time.Minute, 2), t0)
	runHealth(t, h, []step{
		{at: 2, result: noConn},
		{at: 3, result: ok200, report: true, want: Status{Healthy: true}},
		{at: 4, result: ok200}, // no change: not reported
		{at: 5, result: bad503, report: true, want: Status{ConsecutiveFailures: 1}},
		{at: 6, result: ok200, report: true, want: Status{Healthy: true}},
		{at: 7, result: bad503, report: true, want: Status{ConsecutiveFailures: 1}},
		{at: 8, result: noConn, report: true, want: Status{ConsecutiveFailures: 2, Kill: true}},
	})
}

func TestHealthNoGracePeriod(t *testing.T) {
	h := NewHealth(httpSpec(0, 1), t0)
	runHealth(t, h, []step{
		{at: 2, result: bad503, report: true, want: Status{ConsecutiveFailures: 1, Kill: true}},
	})
}

func TestHealthResultKinds(t *testing.T) {
	for _, tc := range []struct {
		kind Kind
		r    Result
		fail string
	}{
		{KindCommand, Result{ExitCode: 0}, ""},
		{KindCommand, Result{ExitCode: 2}, "COMMAND health check failed: Command exited with status 2"},
		{KindHTTP, Result{StatusCode: 200}, ""},
		{KindHTTP, Result{StatusCode: 302}, ""},
		{KindHTTP, Result{StatusCode: 199}, "HTTP health check failed: Unexpected HTTP response code: 199 "},
		{KindHTTP, Result{StatusCode: 404}, "HTTP health check failed: Unexpected HTTP response code: 404 Not Found"},
		{KindTCP, Result{Connected: true}, ""},
		{KindTCP, Result{}, "TCP health check failed: TCP connection failed"},
		{KindTCP, Result{Err: errors.New("boom")}, "TCP health check failed: boom"},
	} {
		h := NewHealth(HealthSpec{Probe: Probe{Kind: tc.kind}, ConsecutiveFailures: 3}, t0)
		st, ok := h.Observe(tc.r, at(1))
		if !ok {
			t.Fatalf("%v %+v: first result not reported", tc.kind, tc.r)
		}
		if st.Healthy != (tc.fail == "") || st.Message != tc.fail {
			t.Errorf("%v %+v: got %+v, want failure %q", tc.kind, tc.r, st, tc.fail)
		}
	}
}

func TestCheckReportsChanges(t *testing.T) {
	c := NewCheck(CheckSpec{Probe: Probe{Kind: KindHTTP}, Delay: time.Second, Interval: 3 * time.Second}, t0)
	if !c.Due().Equal(at(1)) {
		t.Fatalf("first check due %v", c.Due())
	}
	code := func(n uint32) *mesospb.CheckStatusInfo {
		st := EmptyCheckStatus(KindHTTP)
		st.Http.StatusCode = proto.Uint32(n)
		return st
	}
	for i, s := range []struct {
		at   float64
		r    Result
		want *mesospb.CheckStatusInfo // nil: nothing reported
	}{
		{1, noConn, nil},                         // empty, same as the initial status
		{4, Result{StatusCode: 200}, code(200)},  // changed
		{7, Result{StatusCode: 200}, nil},        // same
		{10, Result{StatusCode: 500}, code(500)}, // changed; checks never judge
		{13, noConn, EmptyCheckStatus(KindHTTP)}, // back to empty
	} {
		got, ok := c.Observe(s.r, at(s.at))
		if ok != (s.want != nil) || (ok && !proto.Equal(got, s.want)) {
			t.Fatalf("step %d: got %v (%v), want %v", i, got, ok, s.want)
		}
		if !c.Due().Equal(at(s.at + 3)) {
			t.Fatalf("step %d: next due %v", i, c.Due())
		}
	}
}

func TestCheckStatusKinds(t *testing.T) {
	cmd, _ := NewCheck(CheckSpec{Probe: Probe{Kind: KindCommand}}, t0).Observe(Result{ExitCode: 3}, t0)
	if cmd.GetType() != mesospb.CheckInfo_COMMAND || cmd.GetCommand().GetExitCode() != 3 {
		t.Errorf("command check status %v", cmd)
	}
	tcp, _ := NewCheck(CheckSpec{Probe: Probe{Kind: KindTCP}}, t0).Observe(Result{Connected: false}, t0)
	if tcp.GetType() != mesospb.CheckInfo_TCP || tcp.GetTcp().Succeeded == nil || tcp.GetTcp().GetSucceeded() {
		t.Errorf("tcp check status %v: want succeeded=false set", tcp)
	}
	if InitialCheckStatus(nil) != nil {
		t.Error("no check: want no initial status")
	}
	if st := InitialCheckStatus(&mesospb.CheckInfo{Type: mesospb.CheckInfo_TCP.Enum()}); !proto.Equal(st, EmptyCheckStatus(KindTCP)) {
		t.Errorf("initial TCP status %v", st)
	}
}

func TestUpdateTaskStatus(t *testing.T) {
	last := &mesospb.TaskStatus{
		TaskId:      &mesospb.TaskID{Value: proto.String("t1")},
		State:       mesospb.TaskState_TASK_RUNNING.Enum(),
		Uuid:        []byte("0123456789abcdef"),
		Timestamp:   proto.Float64(12),
		Data:        []byte("kept"),
		CheckStatus: EmptyCheckStatus(KindTCP),
	}
	st := Update{TaskID: "t1", Health: &Status{Healthy: false, ConsecutiveFailures: 1}}.TaskStatus(last)
	if st.Uuid != nil || st.Timestamp != nil || st.GetState() != mesospb.TaskState_TASK_RUNNING ||
		st.GetReason() != mesospb.TaskStatus_REASON_TASK_HEALTH_CHECK_STATUS_UPDATED ||
		st.Healthy == nil || st.GetHealthy() || string(st.GetData()) != "kept" || st.CheckStatus == nil {
		t.Errorf("health update status %v", st)
	}
	cs := EmptyCheckStatus(KindTCP)
	cs.Tcp.Succeeded = proto.Bool(true)
	st2 := Update{TaskID: "t1", Check: cs}.TaskStatus(st)
	if st2.GetReason() != mesospb.TaskStatus_REASON_TASK_CHECK_STATUS_UPDATED || !st2.GetCheckStatus().GetTcp().GetSucceeded() ||
		st2.Healthy == nil {
		t.Errorf("check update status %v: want check_status set and healthy kept", st2)
	}
	if last.Uuid == nil || last.Reason != nil {
		t.Error("TaskStatus modified the last status")
	}
}
