package registry

import (
	"crypto/tls"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/mesoproject/meso/internal/tlsconf"
	"github.com/mesoproject/meso/internal/tlsconf/tlstest"
)

// raftTLS builds a member's mutual TLS configurations from files.
func raftTLS(t *testing.T, ca, cert, key string) (srv, cli *tls.Config) {
	t.Helper()
	c := tlsconf.Config{Enabled: true, CertFile: cert, KeyFile: key, CAFile: ca}
	srv, err := c.Server()
	if err != nil {
		t.Fatal(err)
	}
	srv.ClientAuth = tls.RequireAndVerifyClientCert
	if cli, err = c.Client(); err != nil {
		t.Fatal(err)
	}
	return srv, cli
}

// Three members over mutual TLS elect a leader and replicate; a client
// without a certificate of the group's authority cannot complete a
// handshake with any of them (so cannot speak raft), and plain TCP gets
// no raft answer.
func TestThreeNodesOverMutualTLS(t *testing.T) {
	f := tlstest.Write(t)
	srv, cli := raftTLS(t, f.CA, f.Cert, f.Key)
	var lns [3]net.Listener
	var peers []Peer
	for i := range lns {
		lns[i] = listen(t, "127.0.0.1:0")
		peers = append(peers, Peer{ID: fmt.Sprintf("m%d", i), Addr: lns[i].Addr().String()})
	}
	rs := make([]*Registry, 3)
	for i := range rs {
		cfg := testConfig(t, t.TempDir(), lns[i])
		cfg.ID, cfg.Peers = peers[i].ID, peers
		cfg.ServerTLS, cfg.ClientTLS = srv, cli
		rs[i] = open(t, cfg)
	}
	writeEverything(t, rs, 1)
	leader := leaderOf(t, rs...)
	for _, r := range rs {
		eventually(t, r.ID()+" replicates over TLS", func() bool { return sameState(t, r, leader) })
	}

	// A stranger: a certificate of another authority, or none.
	_, other := raftTLS(t, f.CA, f.OtherCert, f.OtherKey)
	for name, cfg := range map[string]*tls.Config{"other authority": other, "no certificate": {RootCAs: cli.RootCAs}} {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", peers[0].Addr, cfg)
		if err == nil {
			// TLS 1.3 clients learn of a refused certificate on the
			// first read.
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = conn.Read(make([]byte, 1))
			conn.Close()
		}
		if err == nil {
			t.Errorf("%s: the handshake succeeded", name)
		}
	}
	plain, err := net.DialTimeout("tcp", peers[0].Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	plain.Write([]byte{0, 0, 0, 0, 0, 0, 0, 0}) // not a TLS hello
	plain.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	n, _ := plain.Read(buf)
	if n > 0 && buf[0] != 0x15 { // a TLS alert is all a plain client may get back
		t.Errorf("plain TCP got %d bytes that are not a TLS alert: %x", n, buf[:n])
	}
}

// Half a TLS configuration is refused.
func TestRaftTLSNeedsBothSides(t *testing.T) {
	f := tlstest.Write(t)
	srv, _ := raftTLS(t, f.CA, f.Cert, f.Key)
	cfg := testConfig(t, t.TempDir(), listen(t, "127.0.0.1:0"))
	cfg.ServerTLS = srv
	if _, err := Open(cfg); err == nil {
		t.Fatal("Open accepted a server TLS configuration without a client one")
	}
}
