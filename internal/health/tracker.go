package health

import (
	"fmt"
	"net/http"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
)

// Result is the outcome of one probe.
type Result struct {
	// Err is set when the probe produced no result: it timed out, could not
	// start, a command was killed by a signal, or an HTTP request failed.
	Err        error
	ExitCode   int  // KindCommand: the command's exit status
	StatusCode int  // KindHTTP: the response's status code (after redirects)
	Connected  bool // KindTCP: the connection opened
}

// failure says why a result is a failed health check, "" when it passed.
func (r Result) failure(k Kind) string {
	switch {
	case r.Err != nil:
		return r.Err.Error()
	case k == KindCommand && r.ExitCode != 0:
		return fmt.Sprintf("Command exited with status %d", r.ExitCode)
	case k == KindHTTP && (r.StatusCode < 200 || r.StatusCode >= 400):
		return fmt.Sprintf("Unexpected HTTP response code: %d %s", r.StatusCode, http.StatusText(r.StatusCode))
	case k == KindTCP && !r.Connected:
		return "TCP connection failed"
	}
	return ""
}

// Status is a health update for the executor to report: Mesos'
// TaskHealthStatus.
type Status struct {
	Healthy             bool
	ConsecutiveFailures uint32 // when !Healthy
	Kill                bool   // the failures reached the limit: kill the task
	Message             string // why the last probe failed
}

// Health is the state machine of one task's health check, pure: probes run
// elsewhere and their results come in with the time they ended.
//
// Semantics (Mesos' health checker): the first probe is due Delay after
// the start; each later one Interval after the previous result. A failure
// before the first success, within GracePeriod of the start, is ignored.
// Any other failure counts and is reported (healthy=false, the count, and
// Kill once the count reaches ConsecutiveFailures). A success is reported
// when it is the first one or ends a run of failures (healthy=true), and
// resets the count.
type Health struct {
	spec         HealthSpec
	start        time.Time
	due          time.Time
	initializing bool // no success yet
	failures     uint32
}

// NewHealth starts tracking a health check for a task started at start.
func NewHealth(spec HealthSpec, start time.Time) *Health {
	return &Health{spec: spec, start: start, due: start.Add(spec.Delay), initializing: true}
}

// Spec returns the check being tracked.
func (h *Health) Spec() HealthSpec { return h.spec }

// Due is when the next probe should start.
func (h *Health) Due() time.Time { return h.due }

// Observe records the result of the probe that ended at now and schedules
// the next. ok tells whether the result is to be reported.
func (h *Health) Observe(r Result, now time.Time) (st Status, ok bool) {
	h.due = now.Add(h.spec.Interval)
	if why := r.failure(h.spec.Kind); why != "" {
		if h.initializing && h.spec.GracePeriod > 0 && now.Sub(h.start) <= h.spec.GracePeriod {
			return Status{}, false
		}
		h.failures++
		return Status{
			ConsecutiveFailures: h.failures,
			Kill:                h.failures >= h.spec.ConsecutiveFailures,
			Message:             h.spec.Kind.String() + " health check failed: " + why,
		}, true
	}
	report := h.initializing || h.failures > 0
	h.initializing, h.failures = false, 0
	return Status{Healthy: true}, report
}

// Check is the state machine of one task's check (CheckInfo), pure. The
// first probe is due Delay after the start, each later one Interval after
// the previous result; a result is reported only when it differs from the
// last one reported (initially the empty status of the check's kind).
type Check struct {
	spec CheckSpec
	due  time.Time
	last *mesospb.CheckStatusInfo
}

// NewCheck starts tracking a check for a task started at start.
func NewCheck(spec CheckSpec, start time.Time) *Check {
	return &Check{spec: spec, due: start.Add(spec.Delay), last: EmptyCheckStatus(spec.Kind)}
}

// Spec returns the check being tracked.
func (c *Check) Spec() CheckSpec { return c.spec }

// Due is when the next probe should start.
func (c *Check) Due() time.Time { return c.due }

// Observe records the result of the probe that ended at now and schedules
// the next. It returns the new check status when it changed.
func (c *Check) Observe(r Result, now time.Time) (*mesospb.CheckStatusInfo, bool) {
	c.due = now.Add(c.spec.Interval)
	st := checkStatus(c.spec.Kind, r)
	if proto.Equal(st, c.last) {
		return nil, false
	}
	c.last = st
	return proto.CloneOf(st), true
}

// checkStatus is the CheckStatusInfo for a result: the exit code, status
// code or connection outcome; only the kind when the probe gave no result.
func checkStatus(k Kind, r Result) *mesospb.CheckStatusInfo {
	st := EmptyCheckStatus(k)
	if r.Err != nil {
		return st
	}
	switch k {
	case KindCommand:
		st.Command.ExitCode = proto.Int32(int32(r.ExitCode))
	case KindHTTP:
		st.Http.StatusCode = proto.Uint32(uint32(r.StatusCode))
	case KindTCP:
		st.Tcp.Succeeded = proto.Bool(r.Connected)
	}
	return st
}

// EmptyCheckStatus is the check status of a task whose check has no result
// yet: only the type and an empty message of that type. Mesos sets it on
// every status of a task that has a check.
func EmptyCheckStatus(k Kind) *mesospb.CheckStatusInfo {
	st := &mesospb.CheckStatusInfo{}
	switch k {
	case KindCommand:
		st.Type = mesospb.CheckInfo_COMMAND.Enum()
		st.Command = &mesospb.CheckStatusInfo_Command{}
	case KindHTTP:
		st.Type = mesospb.CheckInfo_HTTP.Enum()
		st.Http = &mesospb.CheckStatusInfo_Http{}
	case KindTCP:
		st.Type = mesospb.CheckInfo_TCP.Enum()
		st.Tcp = &mesospb.CheckStatusInfo_Tcp{}
	}
	return st
}

// InitialCheckStatus is EmptyCheckStatus for a task's CheckInfo, nil when
// the task has none (or an invalid one).
func InitialCheckStatus(ci *mesospb.CheckInfo) *mesospb.CheckStatusInfo {
	if ci == nil {
		return nil
	}
	switch ci.GetType() {
	case mesospb.CheckInfo_COMMAND:
		return EmptyCheckStatus(KindCommand)
	case mesospb.CheckInfo_HTTP:
		return EmptyCheckStatus(KindHTTP)
	case mesospb.CheckInfo_TCP:
		return EmptyCheckStatus(KindTCP)
	}
	return nil
}
