package main

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/mesoproject/meso/internal/acl"
	"github.com/mesoproject/meso/internal/authn"
	"github.com/mesoproject/meso/internal/httpbound"
	"github.com/mesoproject/meso/internal/mesosflag"
)

// httpBoundFlags adds the --http_* flags (meso's own) bounding the HTTP
// server of a daemon, the master's and the agent's alike.
func httpBoundFlags(f *pflag.FlagSet, c *httpbound.Config) {
	mesosflag.DurationVar(f, &c.HeaderTimeout, "http_header_timeout", httpbound.DefaultHeaderTimeout,
		"a request's headers must arrive within this time")
	mesosflag.DurationVar(f, &c.BodyTimeout, "http_body_timeout", httpbound.DefaultBodyTimeout,
		"a request's body must arrive within this time after its headers (else 408); event streams are not affected")
	mesosflag.DurationVar(f, &c.IdleTimeout, "http_idle_timeout", httpbound.DefaultIdleTimeout,
		"a keep-alive connection idle this long between requests is closed")
	mesosflag.BytesVar(f, &c.BodyMemory, "http_body_memory", httpbound.DefaultBodyMemory,
		`memory request bodies over 64KB may hold at once, e.g. "256MB"; others wait for it until --http_body_timeout (then 503)`)
	f.BoolVar(&c.HTTP2Cleartext, "http2_cleartext", false,
		fmt.Sprintf("also serve HTTP/2 without TLS to clients that start with its preface (at most %d requests at once per connection); off: HTTP/1.1 only, as Mesos", httpbound.MaxStreams))
}

// aclsUsage describes --acls on master and agent.
const aclsUsage = `ACLs in Mesos' JSON format, inline or as a file (path or file:///path), e.g. {"permissive":false,"run_tasks":[...]}; none: everything is allowed`

// loadAuth reads --credentials and --acls (either may be empty: none).
func loadAuth(credentials, acls string) (*authn.Credentials, *acl.ACLs, error) {
	var c *authn.Credentials
	var a *acl.ACLs
	var err error
	if credentials != "" {
		if c, err = authn.Load(credentials); err != nil {
			return nil, nil, fmt.Errorf("--credentials: %w", err)
		}
	}
	if acls != "" {
		if a, err = acl.Load(acls); err != nil {
			return nil, nil, fmt.Errorf("--acls: %w", err)
		}
	}
	return c, a, nil
}
