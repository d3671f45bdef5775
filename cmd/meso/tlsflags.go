package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/spf13/pflag"

	"github.com/mesoproject/meso/internal/tlsconf"
)

// tlsFlags are the --ssl_* flags of the daemons and clients; the
// LIBPROCESS_SSL_* environment fills in what they leave out.
type tlsFlags struct {
	flags tlsconf.Config
}

// add registers the flags; server adds --ssl_require_cert (daemons only).
func (t *tlsFlags) add(f *pflag.FlagSet, server bool) {
	f.StringVar(&t.flags.CertFile, "ssl_cert_file", "",
		"PEM certificate: a daemon serves TLS with it (on every listener, refusing plain HTTP); a client presents it (default $"+tlsconf.EnvCertFile+")")
	f.StringVar(&t.flags.KeyFile, "ssl_key_file", "", "PEM private key of --ssl_cert_file (default $"+tlsconf.EnvKeyFile+")")
	f.StringVar(&t.flags.CAFile, "ssl_ca_file", "",
		"PEM certificates trusted for peers (servers verified by clients, client certificates); default $"+tlsconf.EnvCAFile+", else the system roots")
	if server {
		f.BoolVar(&t.flags.RequireCert, "ssl_require_cert", false,
			"refuse clients without a certificate signed by --ssl_ca_file (default $"+tlsconf.EnvRequireCert+")")
	}
}

// config merges the flags over the environment.
func (t *tlsFlags) config() (tlsconf.Config, error) {
	env, err := tlsconf.FromEnv(nil)
	if err != nil {
		return tlsconf.Config{}, err
	}
	return env.Override(t.flags), nil
}

// listen opens a daemon's listener, speaking TLS when c enables it.
func listen(addr string, c tlsconf.Config) (net.Listener, error) {
	sc, err := c.Server()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil || sc == nil {
		return ln, err
	}
	return tls.NewListener(ln, sc), nil
}

// withScheme prefixes "https://" to the addresses of a comma-separated
// list that carry no scheme, when secure; others are kept.
func withScheme(list string, secure bool) string {
	if !secure || list == "" {
		return list
	}
	parts := strings.Split(list, ",")
	for i, p := range parts {
		if p = strings.TrimSpace(p); p != "" && !strings.Contains(p, "://") {
			parts[i] = "https://" + p
		}
	}
	return strings.Join(parts, ",")
}

// clientTransport is the transport of a client of the daemons: TLS as c
// says (it verifies servers against the CA file and presents the
// certificate), used for https:// addresses. secure says whether plain
// addresses mean https: TLS is enabled or a CA file is given.
func clientTransport(c tlsconf.Config) (tr *http.Transport, secure bool, err error) {
	tr, err = c.Transport()
	if err != nil {
		return nil, false, fmt.Errorf("TLS: %w", err)
	}
	return tr, c.Enabled || c.CAFile != "", nil
}
