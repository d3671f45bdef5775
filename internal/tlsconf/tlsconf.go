package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
)

// ErrConfig wraps every configuration error.
var ErrConfig = errors.New("tlsconf: invalid TLS configuration")

// The environment variables libprocess reads.
const (
	EnvEnabled     = "LIBPROCESS_SSL_ENABLED"
	EnvCertFile    = "LIBPROCESS_SSL_CERT_FILE"
	EnvKeyFile     = "LIBPROCESS_SSL_KEY_FILE"
	EnvCAFile      = "LIBPROCESS_SSL_CA_FILE"
	EnvVerifyCert  = "LIBPROCESS_SSL_VERIFY_CERT"
	EnvRequireCert = "LIBPROCESS_SSL_REQUIRE_CERT"
)

// Config is one process's TLS settings. The zero value is TLS off.
type Config struct {
	Enabled     bool
	CertFile    string // PEM certificate chain (required by a server)
	KeyFile     string // PEM private key of CertFile
	CAFile      string // PEM certificates trusted for peers; empty: the system roots
	VerifyCert  bool   // servers verify client certificates when presented
	RequireCert bool   // servers require a valid client certificate
}

// FromEnv reads the LIBPROCESS_SSL_* variables through lookup (os.LookupEnv
// when nil). Booleans are Mesos': true/false or 1/0.
func FromEnv(lookup func(string) (string, bool)) (Config, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	get := func(k string) string { v, _ := lookup(k); return strings.TrimSpace(v) }
	c := Config{CertFile: get(EnvCertFile), KeyFile: get(EnvKeyFile), CAFile: get(EnvCAFile)}
	var errs []error
	for _, b := range []struct {
		key string
		dst *bool
	}{{EnvEnabled, &c.Enabled}, {EnvVerifyCert, &c.VerifyCert}, {EnvRequireCert, &c.RequireCert}} {
		v := get(b.key)
		if v == "" {
			continue
		}
		p, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: %s=%q: want true or false", ErrConfig, b.key, v))
			continue
		}
		*b.dst = p
	}
	return c, errors.Join(errs...)
}

// Override applies the flags that were given (non-empty files, a set
// RequireCert) over c; a certificate file turns TLS on.
func (c Config) Override(flags Config) Config {
	if flags.CertFile != "" {
		c.CertFile, c.Enabled = flags.CertFile, true
	}
	if flags.KeyFile != "" {
		c.KeyFile = flags.KeyFile
	}
	if flags.CAFile != "" {
		c.CAFile = flags.CAFile
	}
	c.VerifyCert = c.VerifyCert || flags.VerifyCert
	c.RequireCert = c.RequireCert || flags.RequireCert
	c.Enabled = c.Enabled || flags.Enabled
	return c
}

func (c Config) pool() (*x509.CertPool, error) {
	if c.CAFile == "" {
		return nil, nil // the system roots
	}
	pem, err := os.ReadFile(c.CAFile)
	if err != nil {
		return nil, fmt.Errorf("%w: CA file: %w", ErrConfig, err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%w: CA file %s holds no PEM certificate", ErrConfig, c.CAFile)
	}
	return p, nil
}

func (c Config) keyPair() ([]tls.Certificate, error) {
	if c.CertFile == "" && c.KeyFile == "" {
		return nil, nil
	}
	if c.CertFile == "" || c.KeyFile == "" {
		return nil, fmt.Errorf("%w: a certificate needs both its file and its key file", ErrConfig)
	}
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return []tls.Certificate{cert}, nil
}

// Server returns the listeners' TLS configuration; nil when TLS is off.
func (c Config) Server() (*tls.Config, error) {
	if !c.Enabled {
		return nil, nil
	}
	certs, err := c.keyPair()
	if err != nil {
		return nil, err
	}
	if certs == nil {
		return nil, fmt.Errorf("%w: TLS is enabled but no certificate is given (--ssl_cert_file, --ssl_key_file or %s, %s)", ErrConfig, EnvCertFile, EnvKeyFile)
	}
	pool, err := c.pool()
	if err != nil {
		return nil, err
	}
	tc := &tls.Config{Certificates: certs, ClientCAs: pool, MinVersion: tls.VersionTLS12}
	switch {
	case c.RequireCert:
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	case c.VerifyCert:
		tc.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return tc, nil
}

// Client returns the TLS configuration of outgoing connections: the
// server is verified against the CA file (or the system roots), and the
// certificate, when set, is presented. It is built even when TLS is off,
// for https:// addresses.
func (c Config) Client() (*tls.Config, error) {
	pool, err := c.pool()
	if err != nil {
		return nil, err
	}
	certs, err := c.keyPair()
	if err != nil {
		return nil, err
	}
	return &tls.Config{RootCAs: pool, Certificates: certs, MinVersion: tls.VersionTLS12}, nil
}

// Transport returns an HTTP transport dialing with Client's configuration.
func (c Config) Transport() (*http.Transport, error) {
	tc, err := c.Client()
	if err != nil {
		return nil, err
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = tc
	return t, nil
}

// Scheme is "https" when TLS is on, else "http".
func (c Config) Scheme() string {
	if c.Enabled {
		return "https"
	}
	return "http"
}

// Environ returns c as LIBPROCESS_SSL_* assignments ("K=V"), for the
// environment of a child process; nil when TLS is off.
func (c Config) Environ() []string {
	if !c.Enabled {
		return nil
	}
	env := []string{EnvEnabled + "=true"}
	for _, kv := range [][2]string{{EnvCertFile, c.CertFile}, {EnvKeyFile, c.KeyFile}, {EnvCAFile, c.CAFile}} {
		if kv[1] != "" {
			env = append(env, kv[0]+"="+kv[1])
		}
	}
	return append(env, EnvVerifyCert+"="+strconv.FormatBool(c.VerifyCert),
		EnvRequireCert+"="+strconv.FormatBool(c.RequireCert))
}
