package tlsconf_test

import (
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/mesoproject/meso/internal/tlsconf"
	"github.com/mesoproject/meso/internal/tlsconf/tlstest"
)

// serve runs an HTTPS server with c's server config on loopback and
// returns its https URL.
func serve(t *testing.T, c tlsconf.Config) string {
	t.Helper()
	sc, err := c.Server()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}), ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(tls.NewListener(ln, sc))
	t.Cleanup(func() { srv.Close() })
	return "https://" + ln.Addr().String() + "/"
}

func get(t *testing.T, c tlsconf.Config, url string) error {
	t.Helper()
	tr, err := c.Transport()
	if err != nil {
		t.Fatal(err)
	}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "ok" {
		t.Fatalf("GET %s: %s %q", url, resp.Status, body)
	}
	return nil
}

func TestHandshakeWithoutClientCertificate(t *testing.T) {
	f := tlstest.Write(t)
	url := serve(t, tlsconf.Config{Enabled: true, CertFile: f.Cert, KeyFile: f.Key})
	if err := get(t, tlsconf.Config{CAFile: f.CA}, url); err != nil {
		t.Fatalf("client trusting the CA: %v", err)
	}
	if err := get(t, tlsconf.Config{CAFile: f.OtherCA}, url); err == nil {
		t.Fatal("client trusting another CA accepted the server")
	}
	if err := get(t, tlsconf.Config{}, url); err == nil {
		t.Fatal("client with the system roots accepted a test CA's server")
	}
}

func TestHandshakeRequiresClientCertificate(t *testing.T) {
	f := tlstest.Write(t)
	url := serve(t, tlsconf.Config{Enabled: true, CertFile: f.Cert, KeyFile: f.Key, CAFile: f.CA, RequireCert: true})
	if err := get(t, tlsconf.Config{CAFile: f.CA}, url); err == nil {
		t.Fatal("a client without a certificate was served")
	}
	if err := get(t, tlsconf.Config{CAFile: f.CA, CertFile: f.OtherCert, KeyFile: f.OtherKey}, url); err == nil {
		t.Fatal("a client with another CA's certificate was served")
	}
	if err := get(t, tlsconf.Config{CAFile: f.CA, CertFile: f.Cert, KeyFile: f.Key}, url); err != nil {
		t.Fatalf("a client with a valid certificate: %v", err)
	}
}

func TestVerifyCertChecksPresentedCertificatesOnly(t *testing.T) {
	f := tlstest.Write(t)
	url := serve(t, tlsconf.Config{Enabled: true, CertFile: f.Cert, KeyFile: f.Key, CAFile: f.CA, VerifyCert: true})
	if err := get(t, tlsconf.Config{CAFile: f.CA}, url); err != nil {
		t.Fatalf("a client without a certificate: %v", err)
	}
	if err := get(t, tlsconf.Config{CAFile: f.CA, CertFile: f.OtherCert, KeyFile: f.OtherKey}, url); err == nil {
		t.Fatal("a client with another CA's certificate was served")
	}
}

func TestPlainHTTPRefused(t *testing.T) {
	f := tlstest.Write(t)
	url := serve(t, tlsconf.Config{Enabled: true, CertFile: f.Cert, KeyFile: f.Key})
	resp, err := http.Get("http" + strings.TrimPrefix(url, "https"))
	if err != nil {
		return // refused outright
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || string(body) == "ok" {
		t.Fatalf("plain HTTP on a TLS port: %s %q", resp.Status, body)
	}
}

func TestFromEnvAndOverride(t *testing.T) {
	env := map[string]string{
		tlsconf.EnvEnabled: "1", tlsconf.EnvCertFile: "/c", tlsconf.EnvKeyFile: "/k",
		tlsconf.EnvCAFile: "/ca", tlsconf.EnvRequireCert: "true",
	}
	c, err := tlsconf.FromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	want := tlsconf.Config{Enabled: true, CertFile: "/c", KeyFile: "/k", CAFile: "/ca", RequireCert: true}
	if c != want {
		t.Fatalf("FromEnv = %+v, want %+v", c, want)
	}
	if got := c.Override(tlsconf.Config{CAFile: "/other"}).CAFile; got != "/other" {
		t.Fatalf("a flag's CA file did not win: %q", got)
	}
	if !(tlsconf.Config{}).Override(tlsconf.Config{CertFile: "/c"}).Enabled {
		t.Fatal("--ssl_cert_file did not enable TLS")
	}
	back, err := tlsconf.FromEnv(func(k string) (string, bool) {
		for _, kv := range c.Environ() {
			if name, v, _ := strings.Cut(kv, "="); name == k {
				return v, true
			}
		}
		return "", false
	})
	if err != nil || back != c {
		t.Fatalf("Environ does not round-trip: %+v, %v", back, err)
	}
	env[tlsconf.EnvVerifyCert] = "maybe"
	if _, err := tlsconf.FromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); !errors.Is(err, tlsconf.ErrConfig) {
		t.Fatalf("a bad boolean: %v", err)
	}
	if _, err := (tlsconf.Config{Enabled: true}).Server(); !errors.Is(err, tlsconf.ErrConfig) {
		t.Fatalf("TLS without a certificate: %v", err)
	}
}
