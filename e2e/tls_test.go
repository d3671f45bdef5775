package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mesoproject/meso/internal/resources"
	"github.com/mesoproject/meso/internal/tlsconf"
	"github.com/mesoproject/meso/internal/tlsconf/tlstest"
)

// httpsDo sends a request with a TLS client of c; it returns the status
// and body.
func httpsDo(t *testing.T, c tlsconf.Config, method, url, body string) (int, string, error) {
	t.Helper()
	tr, err := c.Transport()
	if err != nil {
		t.Fatal(err)
	}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// TestTLSClusterRunsTask runs `meso master` and `meso agent` speaking TLS
// only and requiring client certificates: the agent registers over TLS
// with its certificate, `meso execute` runs a task whose command
// executor reaches the agent's executor API over TLS (from the
// LIBPROCESS_SSL_* the agent gives it), and GET_STATE answers over https
// to a client trusting the CA (as `curl --cacert --cert` would); plain
// HTTP and clients without a certificate are refused.
func TestTLSClusterRunsTask(t *testing.T) {
	f := tlstest.Write(t)
	dir := t.TempDir()
	ssl := []string{"--ssl_cert_file=" + f.Cert, "--ssl_key_file=" + f.Key, "--ssl_ca_file=" + f.CA}
	client := tlsconf.Config{CAFile: f.CA, CertFile: f.Cert, KeyFile: f.Key}

	mport := freePort(t)
	master := start(t, "master", mport, append([]string{"master", "--ip=127.0.0.1", "--port=" + strconv.Itoa(mport),
		"--registry=in_memory", "--allocation_interval=100ms", "--ssl_require_cert"}, ssl...)...)
	aport := freePort(t)
	agent := start(t, "agent", aport, append([]string{"agent", "--master=" + master.addr, "--ip=127.0.0.1",
		"--port=" + strconv.Itoa(aport), "--work_dir=" + filepath.Join(dir, "agent"), "--resources=cpus:2;mem:512",
		"--registration_backoff_factor=100ms", "--ssl_require_cert"}, ssl...)...)

	mbase, abase := "https://"+master.addr, "https://"+agent.addr
	eventually(t, 60*time.Second, func() error {
		code, body, err := httpsDo(t, client, http.MethodGet, mbase+"/master/state", "")
		if err != nil {
			return err
		}
		if code != 200 || !strings.Contains(body, `"active":true`) {
			return fmt.Errorf("master state: %d %.200s", code, body)
		}
		return nil
	})

	// Plain HTTP is refused on both daemons.
	for _, base := range []string{master.addr, agent.addr} {
		resp, err := http.Get("http://" + base + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("plain HTTP to %s: %s; want it refused", base, resp.Status)
			}
		}
	}
	// A client without a certificate, or trusting another CA, is refused.
	if _, _, err := httpsDo(t, tlsconf.Config{CAFile: f.CA}, http.MethodGet, mbase+"/health", ""); err == nil {
		t.Error("master served a client without a certificate")
	}
	if _, _, err := httpsDo(t, tlsconf.Config{CAFile: f.OtherCA, CertFile: f.Cert, KeyFile: f.Key}, http.MethodGet, abase+"/health", ""); err == nil {
		t.Error("a client trusting another CA accepted the agent")
	}

	// Offers locate the agent with url.scheme "https": it serves only TLS.
	tr, err := client.Transport()
	if err != nil {
		t.Fatal(err)
	}
	fw := newFramework(t, mbase, fwOptions{httpClient: &http.Client{Transport: tr}})
	offer := fw.takeOffer(resources.MustParse("cpus:0.01"))
	if u := offer.GetUrl(); u.GetScheme() != "https" || u.GetAddress().GetPort() != int32(aport) {
		t.Errorf("offer url = %v; want scheme https and the agent's port %d", u, aport)
	}
	fw.decline(t, offer)
	fw.stop()
	tr.CloseIdleConnections()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, code := runMeso(t, ctx, "execute", "--master", master.addr, "--ssl_ca_file", f.CA,
		"--ssl_cert_file", f.Cert, "--ssl_key_file", f.Key, "--name", "over-tls",
		"--command", "echo hello-over-tls", "--resources", "cpus:0.1;mem:32")
	if code != 0 || !strings.Contains(out, "TASK_FINISHED") || !strings.Contains(out, "hello-over-tls") {
		t.Fatalf("meso execute over TLS exited %d:\n%s", code, out)
	}

	status, body, err := httpsDo(t, client, http.MethodPost, mbase+"/api/v1", `{"type":"GET_STATE"}`)
	if err != nil || status != 200 || !strings.Contains(body, "over-tls") {
		t.Fatalf("GET_STATE over https: %d %v %.300s", status, err, body)
	}
	out, code = runMeso(t, ctx, "agents", "--master", master.addr, "--ssl_ca_file", f.CA,
		"--ssl_cert_file", f.Cert, "--ssl_key_file", f.Key)
	if code != 0 || !strings.Contains(out, "-S0") {
		t.Fatalf("meso agents over TLS exited %d:\n%s", code, out)
	}
}

// Three `meso master` processes with TLS talk raft over mutual TLS: they
// elect a leader (seen over https), and after the leader's SIGKILL another
// leads. A group whose raft did not speak the same TLS on both sides would
// never elect one.
func TestHAOverTLS(t *testing.T) {
	f := tlstest.Write(t)
	client := tlsconf.Config{CAFile: f.CA, CertFile: f.Cert, KeyFile: f.Key}
	g := startHAGroup(t, t.TempDir(), "--registry_election_timeout=300ms",
		"--ssl_cert_file="+f.Cert, "--ssl_key_file="+f.Key, "--ssl_ca_file="+f.CA)
	leaderOf := func(ms []*proc) *proc {
		var leader *proc
		eventually(t, 60*time.Second, func() error {
			for _, m := range ms {
				code, body, err := httpsDo(t, client, http.MethodGet, "https://"+m.addr+"/master/state", "")
				if err != nil || code != 200 {
					continue
				}
				var st leaderState
				if json.Unmarshal([]byte(body), &st) == nil && st.Leader != "" && st.Leader == st.PID {
					leader = m
					return nil
				}
			}
			return errors.New("no master leads")
		})
		return leader
	}
	first := leaderOf(g.ms)
	// The raft port speaks TLS and wants a certificate of the authority.
	raftAddr := "127.0.0.1:" + strconv.Itoa(g.ports[0]+haRaftOffset)
	good, err := client.Client()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", raftAddr, good)
	if err != nil {
		t.Fatalf("TLS handshake with a master's raft port: %v", err)
	}
	conn.Close()
	noCert := &tls.Config{RootCAs: good.RootCAs}
	if conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", raftAddr, noCert); err == nil {
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = conn.Read(make([]byte, 1))
		conn.Close()
		if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("the raft port served a client without a certificate: %v", err)
		}
	}
	first.kill()
	next := leaderOf(g.others(first))
	t.Logf("%s led, then %s", first.name, next.name)
}
