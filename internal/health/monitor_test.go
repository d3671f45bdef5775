package health

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
)

func nextUpdate(t *testing.T, ch <-chan Update) Update {
	t.Helper()
	select {
	case u := <-ch:
		return u
	case <-time.After(20 * time.Second):
		t.Fatal("no update from the monitor")
	}
	return Update{}
}

// A served task is reported healthy; when it stops answering well it is
// reported unhealthy, with a kill after the configured failures; its check
// follows the status code.
func TestMonitorHealthAndCheck(t *testing.T) {
	var failing atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			w.WriteHeader(500)
		}
	}))
	defer srv.Close()
	port := serverPort(t, srv)
	probe := Probe{Kind: KindHTTP, Scheme: "http", Port: port, Timeout: 5 * time.Second}
	out := make(chan Update)
	m := Start(Config{
		TaskID: "t1",
		Health: &HealthSpec{Probe: probe, Interval: 10 * time.Millisecond, ConsecutiveFailures: 2},
	}, out)
	defer m.Stop()
	if u := nextUpdate(t, out); u.TaskID != "t1" || u.Health == nil || !u.Health.Healthy {
		t.Fatalf("first update %+v, want healthy", u)
	}
	failing.Store(true)
	if u := nextUpdate(t, out); u.Health.Healthy || u.Health.ConsecutiveFailures != 1 || u.Health.Kill {
		t.Fatalf("update %+v, want the first failure", u.Health)
	}
	if u := nextUpdate(t, out); u.Health.Healthy || u.Health.ConsecutiveFailures != 2 || !u.Health.Kill {
		t.Fatalf("update %+v, want the kill", u.Health)
	}
	m.Stop()
	select {
	case u := <-out:
		t.Fatalf("update %+v after Stop", u)
	default:
	}

	failing.Store(false)
	checks := make(chan Update)
	m2 := Start(Config{TaskID: "t2", Check: &CheckSpec{Probe: probe, Interval: 10 * time.Millisecond}}, checks)
	defer m2.Stop()
	u := nextUpdate(t, checks)
	want := EmptyCheckStatus(KindHTTP)
	want.Http.StatusCode = proto.Uint32(200)
	if u.Check == nil || !proto.Equal(u.Check, want) {
		t.Fatalf("check update %+v, want %v", u, want)
	}
	failing.Store(true)
	if u := nextUpdate(t, checks); u.Check.GetHttp().GetStatusCode() != 500 {
		t.Fatalf("check update %v, want 500", u.Check)
	}
}

// Stop abandons a running COMMAND probe (killing it) promptly.
func TestMonitorStopKillsProbe(t *testing.T) {
	out := make(chan Update)
	dir := t.TempDir()
	spec := &HealthSpec{Probe: Probe{Kind: KindCommand, Command: &mesospb.CommandInfo{Value: proto.String("touch started; exec sleep 60")}}}
	m := Start(Config{TaskID: "t", Health: spec, Prober: &Prober{Dir: dir}}, out)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, "started")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the probe never started")
		}
		time.Sleep(5 * time.Millisecond) // polling a file the probe creates
	}
	done := make(chan struct{})
	go func() { m.Stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop did not return while a probe ran")
	}
}
