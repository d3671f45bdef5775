package health

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
)

// ErrInvalid: a HealthCheck or CheckInfo that cannot be run as given.
var ErrInvalid = errors.New("health: invalid check")

// Kind is what a probe does.
type Kind int

// Probe kinds, as in HealthCheck.Type and CheckInfo.Type.
const (
	KindCommand Kind = iota + 1
	KindHTTP
	KindTCP
)

func (k Kind) String() string {
	switch k {
	case KindCommand:
		return "COMMAND"
	case KindHTTP:
		return "HTTP"
	case KindTCP:
		return "TCP"
	}
	return "UNKNOWN"
}

// Host is where HTTP and TCP probes connect: the task shares the
// executor's network namespace, and Mesos uses 127.0.0.1 rather than
// localhost.
const Host = "127.0.0.1"

// Probe is one kind of check, ready to run.
type Probe struct {
	Kind    Kind
	Command *mesospb.CommandInfo // KindCommand
	Scheme  string               // KindHTTP: "http" or "https"
	Port    uint32               // KindHTTP, KindTCP
	Path    string               // KindHTTP: "" or starting with "/"
	Timeout time.Duration        // 0: no timeout
}

// HealthSpec is a validated HealthCheck with Mesos' defaults applied.
type HealthSpec struct {
	Probe
	Delay               time.Duration // before the first probe
	Interval            time.Duration // between the end of a probe and the next
	GracePeriod         time.Duration // failures before the first success are ignored this long
	ConsecutiveFailures uint32        // failures in a row that get the task killed
}

// CheckSpec is a validated CheckInfo with Mesos' defaults applied.
type CheckSpec struct {
	Probe
	Delay    time.Duration
	Interval time.Duration
}

// ParseHealthCheck validates hc as Mesos does and applies its defaults
// (delay 15s, interval 10s, timeout 20s, 3 consecutive failures, grace
// period 10s). Errors wrap ErrInvalid.
func ParseHealthCheck(hc *mesospb.HealthCheck) (HealthSpec, error) {
	var s HealthSpec
	var err error
	durations := []struct {
		name string
		v    float64
		dst  *time.Duration
	}{
		{"delay_seconds", hc.GetDelaySeconds(), &s.Delay},
		{"interval_seconds", hc.GetIntervalSeconds(), &s.Interval},
		{"timeout_seconds", hc.GetTimeoutSeconds(), &s.Timeout},
		{"grace_period_seconds", hc.GetGracePeriodSeconds(), &s.GracePeriod},
	}
	for _, d := range durations {
		if *d.dst, err = seconds(d.name, d.v); err != nil {
			return HealthSpec{}, err
		}
	}
	s.ConsecutiveFailures = hc.GetConsecutiveFailures()
	switch hc.GetType() {
	case mesospb.HealthCheck_COMMAND:
		s.Kind, s.Command = KindCommand, hc.GetCommand()
		err = validateCommand(s.Command)
	case mesospb.HealthCheck_HTTP:
		if hc.GetHttp() == nil {
			return HealthSpec{}, fmt.Errorf("%w: expecting 'http' to be set for HTTP health check", ErrInvalid)
		}
		h := hc.GetHttp()
		s.Kind, s.Port, s.Path, s.Scheme = KindHTTP, h.GetPort(), h.GetPath(), h.GetScheme()
		err = validateHTTP(&s.Probe)
	case mesospb.HealthCheck_TCP:
		if hc.GetTcp() == nil {
			return HealthSpec{}, fmt.Errorf("%w: expecting 'tcp' to be set for TCP health check", ErrInvalid)
		}
		s.Kind, s.Port = KindTCP, hc.GetTcp().GetPort()
		err = validatePort(s.Port)
	default:
		return HealthSpec{}, fmt.Errorf("%w: health check 'type' must be COMMAND, HTTP or TCP", ErrInvalid)
	}
	if err != nil {
		return HealthSpec{}, err
	}
	return s, nil
}

// ParseCheck validates ci as Mesos does and applies its defaults (delay
// 15s, interval 10s, timeout 20s). Errors wrap ErrInvalid.
func ParseCheck(ci *mesospb.CheckInfo) (CheckSpec, error) {
	var s CheckSpec
	var err error
	if s.Delay, err = seconds("delay_seconds", ci.GetDelaySeconds()); err != nil {
		return CheckSpec{}, err
	}
	if s.Interval, err = seconds("interval_seconds", ci.GetIntervalSeconds()); err != nil {
		return CheckSpec{}, err
	}
	if s.Timeout, err = seconds("timeout_seconds", ci.GetTimeoutSeconds()); err != nil {
		return CheckSpec{}, err
	}
	switch ci.GetType() {
	case mesospb.CheckInfo_COMMAND:
		s.Kind, s.Command = KindCommand, ci.GetCommand().GetCommand()
		err = validateCommand(s.Command)
	case mesospb.CheckInfo_HTTP:
		if ci.GetHttp() == nil {
			return CheckSpec{}, fmt.Errorf("%w: expecting 'http' to be set for HTTP check", ErrInvalid)
		}
		s.Kind, s.Port, s.Path = KindHTTP, ci.GetHttp().GetPort(), ci.GetHttp().GetPath()
		err = validateHTTP(&s.Probe)
	case mesospb.CheckInfo_TCP:
		if ci.GetTcp() == nil {
			return CheckSpec{}, fmt.Errorf("%w: expecting 'tcp' to be set for TCP check", ErrInvalid)
		}
		s.Kind, s.Port = KindTCP, ci.GetTcp().GetPort()
		err = validatePort(s.Port)
	default:
		return CheckSpec{}, fmt.Errorf("%w: check 'type' must be COMMAND, HTTP or TCP", ErrInvalid)
	}
	if err != nil {
		return CheckSpec{}, err
	}
	return s, nil
}

// seconds converts a non-negative number of seconds.
func seconds(name string, v float64) (time.Duration, error) {
	if math.IsNaN(v) || v < 0 || v > float64(math.MaxInt64/int64(time.Second)) {
		return 0, fmt.Errorf("%w: '%s' must be a non-negative number of seconds, got %v", ErrInvalid, name, v)
	}
	return time.Duration(v * float64(time.Second)), nil
}

func validateCommand(ci *mesospb.CommandInfo) error {
	if ci == nil {
		return fmt.Errorf("%w: expecting 'command' to be set for a COMMAND check", ErrInvalid)
	}
	if ci.GetShell() && ci.Value == nil || !ci.GetShell() && ci.GetValue() == "" {
		return fmt.Errorf("%w: the check's command has no value", ErrInvalid)
	}
	for _, v := range ci.GetEnvironment().GetVariables() {
		if v.GetType() == mesospb.Environment_Variable_SECRET {
			return fmt.Errorf("%w: secret environment variables are not supported in checks", ErrInvalid)
		}
	}
	return nil
}

func validateHTTP(p *Probe) error {
	if p.Scheme == "" {
		p.Scheme = "http"
	}
	if p.Scheme != "http" && p.Scheme != "https" {
		return fmt.Errorf("%w: the scheme must be 'http' or 'https', got %q", ErrInvalid, p.Scheme)
	}
	if p.Path != "" && !strings.HasPrefix(p.Path, "/") {
		return fmt.Errorf("%w: the path %q must start with '/'", ErrInvalid, p.Path)
	}
	return validatePort(p.Port)
}

func validatePort(port uint32) error {
	if port == 0 || port > math.MaxUint16 {
		return fmt.Errorf("%w: port %d is not in [1, 65535]", ErrInvalid, port)
	}
	return nil
}
