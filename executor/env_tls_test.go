package executor

import (
	"errors"
	"testing"

	"github.com/mesoproject/meso/internal/tlsconf/tlstest"
)

// An agent speaking TLS passes LIBPROCESS_SSL_*: the client then reaches
// it over https with a TLS client of those settings.
func TestParseEnvTLS(t *testing.T) {
	f := tlstest.Write(t)
	base := map[string]string{
		"MESOS_AGENT_ENDPOINT": "127.0.0.1:5051", "MESOS_FRAMEWORK_ID": "fw-1", "MESOS_EXECUTOR_ID": "ex-1",
		"LIBPROCESS_SSL_ENABLED": "true", "LIBPROCESS_SSL_CA_FILE": f.CA,
		"LIBPROCESS_SSL_CERT_FILE": f.Cert, "LIBPROCESS_SSL_KEY_FILE": f.Key,
	}
	env, err := ParseEnv(lookupIn(base))
	if err != nil {
		t.Fatal(err)
	}
	cfg := env.Config()
	if cfg.AgentEndpoint != "https://127.0.0.1:5051" || cfg.HTTPClient == nil || !env.TLS.Enabled {
		t.Fatalf("TLS environment: endpoint %q, client %v", cfg.AgentEndpoint, cfg.HTTPClient)
	}
	c := New(cfg)
	if c.endpoint.String() != "https://127.0.0.1:5051/api/v1/executor" {
		t.Fatalf("endpoint = %s", c.endpoint)
	}
	base["LIBPROCESS_SSL_CA_FILE"] = f.Key // not a certificate
	if _, err := ParseEnv(lookupIn(base)); !errors.Is(err, ErrEnv) {
		t.Fatalf("a CA file without certificates: %v", err)
	}
	delete(base, "LIBPROCESS_SSL_ENABLED")
	env, err = ParseEnv(lookupIn(base))
	if err != nil || env.Config().AgentEndpoint != "127.0.0.1:5051" || env.HTTPClient != nil {
		t.Fatalf("TLS off: %+v %v", env, err)
	}
}
