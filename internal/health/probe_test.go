package health

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
)

func serverPort(t *testing.T, srv *httptest.Server) uint32 {
	t.Helper()
	_, p, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return uint32(n)
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) uint32 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return uint32(port)
}

func TestHTTPProbe(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/broken", http.StatusFound) })
	mux.HandleFunc("/broken", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	p := &Prober{}
	port := serverPort(t, srv)
	for path, want := range map[string]int{"/ok": 204, "/moved": 503, "/nothing": 404} {
		r := p.Run(context.Background(), Probe{Kind: KindHTTP, Scheme: "http", Port: port, Path: path, Timeout: 5 * time.Second})
		if r.Err != nil || r.StatusCode != want {
			t.Errorf("GET %s: %+v, want status %d", path, r, want)
		}
	}
	r := p.Run(context.Background(), Probe{Kind: KindHTTP, Scheme: "http", Port: closedPort(t), Timeout: 5 * time.Second})
	if r.Err == nil {
		t.Errorf("GET on a closed port: %+v, want an error", r)
	}
}

func TestHTTPSProbeIgnoresCertificate(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	r := (&Prober{}).Run(context.Background(), Probe{Kind: KindHTTP, Scheme: "https", Port: serverPort(t, srv), Timeout: 5 * time.Second})
	if r.Err != nil || r.StatusCode != 200 {
		t.Errorf("https probe: %+v", r)
	}
}

func TestHTTPProbeTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	r := (&Prober{}).Run(context.Background(), Probe{Kind: KindHTTP, Scheme: "http", Port: serverPort(t, srv), Timeout: 100 * time.Millisecond})
	if r.Err == nil || !strings.Contains(r.Err.Error(), "timed out after 100ms") {
		t.Errorf("slow server: %+v, want a timeout", r)
	}
}

func TestTCPProbe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	p := &Prober{}
	r := p.Run(context.Background(), Probe{Kind: KindTCP, Port: uint32(ln.Addr().(*net.TCPAddr).Port), Timeout: 5 * time.Second})
	if r.Err != nil || !r.Connected {
		t.Errorf("open port: %+v", r)
	}
	r = p.Run(context.Background(), Probe{Kind: KindTCP, Port: closedPort(t), Timeout: 5 * time.Second})
	if r.Err != nil || r.Connected {
		t.Errorf("closed port: %+v, want a result of false", r)
	}
}

func TestCommandProbe(t *testing.T) {
	dir := t.TempDir()
	p := &Prober{Dir: dir, Env: []string{"BASE=1"}}
	run := func(cmd string, timeout time.Duration) Result {
		ci := &mesospb.CommandInfo{Value: proto.String(cmd), Environment: &mesospb.Environment{
			Variables: []*mesospb.Environment_Variable{{Name: proto.String("EXTRA"), Value: proto.String("2")}}}}
		return p.Run(context.Background(), Probe{Kind: KindCommand, Command: ci, Timeout: timeout})
	}
	if r := run(`echo "$BASE$EXTRA" > out; exit 3`, 5*time.Second); r.Err != nil || r.ExitCode != 3 {
		t.Errorf("exit 3: %+v", r)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "out")); string(data) != "12\n" {
		t.Errorf("command ran with environment/cwd giving %q, want the task's", data)
	}
	if r := run("kill -9 $$", 5*time.Second); r.Err == nil || !strings.Contains(r.Err.Error(), "signal Killed") {
		t.Errorf("killed by a signal: %+v, want an error", r)
	}
	start := time.Now()
	r := run("touch started; sleep 30 & wait", 200*time.Millisecond)
	if r.Err == nil || !strings.Contains(r.Err.Error(), "timed out") {
		t.Errorf("sleeping command: %+v, want a timeout", r)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("timeout took %v: the command was not killed", d)
	}
	bad := p.Run(context.Background(), Probe{Kind: KindCommand, Command: &mesospb.CommandInfo{Shell: proto.Bool(false), Value: proto.String("no-such-check-program")}})
	if bad.Err == nil {
		t.Errorf("missing program: %+v, want an error", bad)
	}
}
