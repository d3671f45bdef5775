package health

import (
	"errors"
	"math"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
)

func TestParseHealthCheckDefaults(t *testing.T) {
	s, err := ParseHealthCheck(&mesospb.HealthCheck{
		Type: mesospb.HealthCheck_TCP.Enum(),
		Tcp:  &mesospb.HealthCheck_TCPCheckInfo{Port: proto.Uint32(8080)},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := HealthSpec{
		Probe:               Probe{Kind: KindTCP, Port: 8080, Timeout: 20 * time.Second},
		Delay:               15 * time.Second,
		Interval:            10 * time.Second,
		GracePeriod:         10 * time.Second,
		ConsecutiveFailures: 3,
	}
	if s != want {
		t.Errorf("got %+v\nwant %+v", s, want)
	}
}

func TestParseHealthCheckHTTP(t *testing.T) {
	s, err := ParseHealthCheck(&mesospb.HealthCheck{
		Type:                mesospb.HealthCheck_HTTP.Enum(),
		Http:                &mesospb.HealthCheck_HTTPCheckInfo{Port: proto.Uint32(80), Path: proto.String("/ok")},
		DelaySeconds:        proto.Float64(0.5),
		IntervalSeconds:     proto.Float64(0.25),
		TimeoutSeconds:      proto.Float64(0),
		ConsecutiveFailures: proto.Uint32(1),
		GracePeriodSeconds:  proto.Float64(0),
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.Scheme != "http" || s.Path != "/ok" || s.Delay != 500*time.Millisecond || s.Interval != 250*time.Millisecond ||
		s.Timeout != 0 || s.ConsecutiveFailures != 1 || s.GracePeriod != 0 {
		t.Errorf("got %+v", s)
	}
}

func TestParseErrors(t *testing.T) {
	port := func(p uint32) *mesospb.HealthCheck_TCPCheckInfo {
		return &mesospb.HealthCheck_TCPCheckInfo{Port: proto.Uint32(p)}
	}
	for name, hc := range map[string]*mesospb.HealthCheck{
		"no type":        {},
		"command unset":  {Type: mesospb.HealthCheck_COMMAND.Enum()},
		"command empty":  {Type: mesospb.HealthCheck_COMMAND.Enum(), Command: &mesospb.CommandInfo{}},
		"http unset":     {Type: mesospb.HealthCheck_HTTP.Enum()},
		"bad scheme":     {Type: mesospb.HealthCheck_HTTP.Enum(), Http: &mesospb.HealthCheck_HTTPCheckInfo{Port: proto.Uint32(1), Scheme: proto.String("ftp")}},
		"relative path":  {Type: mesospb.HealthCheck_HTTP.Enum(), Http: &mesospb.HealthCheck_HTTPCheckInfo{Port: proto.Uint32(1), Path: proto.String("ok")}},
		"tcp unset":      {Type: mesospb.HealthCheck_TCP.Enum()},
		"port 0":         {Type: mesospb.HealthCheck_TCP.Enum(), Tcp: port(0)},
		"port too big":   {Type: mesospb.HealthCheck_TCP.Enum(), Tcp: port(70000)},
		"negative delay": {Type: mesospb.HealthCheck_TCP.Enum(), Tcp: port(1), DelaySeconds: proto.Float64(-1)},
		"NaN interval":   {Type: mesospb.HealthCheck_TCP.Enum(), Tcp: port(1), IntervalSeconds: proto.Float64(math.NaN())},
		"huge grace":     {Type: mesospb.HealthCheck_TCP.Enum(), Tcp: port(1), GracePeriodSeconds: proto.Float64(1e300)},
		"secret env": {Type: mesospb.HealthCheck_COMMAND.Enum(), Command: &mesospb.CommandInfo{Value: proto.String("true"),
			Environment: &mesospb.Environment{Variables: []*mesospb.Environment_Variable{{Name: proto.String("X"), Type: mesospb.Environment_Variable_SECRET.Enum()}}}}},
	} {
		if _, err := ParseHealthCheck(hc); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err %v, want ErrInvalid", name, err)
		}
	}
	for name, ci := range map[string]*mesospb.CheckInfo{
		"no type":      {},
		"command nil":  {Type: mesospb.CheckInfo_COMMAND.Enum(), Command: &mesospb.CheckInfo_Command{}},
		"http unset":   {Type: mesospb.CheckInfo_HTTP.Enum()},
		"tcp port 0":   {Type: mesospb.CheckInfo_TCP.Enum(), Tcp: &mesospb.CheckInfo_Tcp{Port: proto.Uint32(0)}},
		"neg timeout":  {Type: mesospb.CheckInfo_TCP.Enum(), Tcp: &mesospb.CheckInfo_Tcp{Port: proto.Uint32(1)}, TimeoutSeconds: proto.Float64(-2)},
		"bad path":     {Type: mesospb.CheckInfo_HTTP.Enum(), Http: &mesospb.CheckInfo_Http{Port: proto.Uint32(1), Path: proto.String("x")}},
		"tcp no check": {Type: mesospb.CheckInfo_TCP.Enum()},
	} {
		if _, err := ParseCheck(ci); !errors.Is(err, ErrInvalid) {
			t.Errorf("check %s: err %v, want ErrInvalid", name, err)
		}
	}
}

func TestParseCheckDefaults(t *testing.T) {
	s, err := ParseCheck(&mesospb.CheckInfo{
		Type:    mesospb.CheckInfo_COMMAND.Enum(),
		Command: &mesospb.CheckInfo_Command{Command: &mesospb.CommandInfo{Value: proto.String("true")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.Kind != KindCommand || s.Delay != 15*time.Second || s.Interval != 10*time.Second || s.Timeout != 20*time.Second {
		t.Errorf("got %+v", s)
	}
}

// FuzzParseHealthCheck: whatever a framework sends, parsing never panics
// and a parsed check is usable.
func FuzzParseHealthCheck(f *testing.F) {
	for _, hc := range []*mesospb.HealthCheck{
		{Type: mesospb.HealthCheck_TCP.Enum(), Tcp: &mesospb.HealthCheck_TCPCheckInfo{Port: proto.Uint32(80)}},
		{Type: mesospb.HealthCheck_HTTP.Enum(), Http: &mesospb.HealthCheck_HTTPCheckInfo{Port: proto.Uint32(80), Path: proto.String("/x")}, DelaySeconds: proto.Float64(-1)},
		{Type: mesospb.HealthCheck_COMMAND.Enum(), Command: &mesospb.CommandInfo{Value: proto.String("true")}},
	} {
		b, _ := proto.Marshal(hc)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		hc := &mesospb.HealthCheck{}
		if proto.Unmarshal(data, hc) != nil {
			return
		}
		s, err := ParseHealthCheck(hc)
		if err != nil {
			return
		}
		if s.Delay < 0 || s.Interval < 0 || s.Timeout < 0 || s.GracePeriod < 0 || s.Kind < KindCommand || s.Kind > KindTCP {
			t.Fatalf("parsed an unusable check: %+v", s)
		}
		if s.Kind != KindCommand && (s.Port == 0 || s.Port > 65535) {
			t.Fatalf("bad port accepted: %+v", s)
		}
	})
}
