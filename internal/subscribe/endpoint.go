package subscribe

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// ParseEndpoints turns a comma-separated list of "host:port" or http(s)
// URLs into the URLs of the API at path: a URL that does not already end
// in path gets it appended to its own path. Empty elements are skipped; an
// empty list is an error.
func ParseEndpoints(list, path string) ([]*url.URL, error) {
	var out []*url.URL
	for _, part := range strings.Split(list, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		u, err := ParseEndpoint(part, path)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", part, err)
		}
		out = append(out, u)
	}
	if len(out) == 0 {
		return nil, errors.New("no address")
	}
	return out, nil
}

// ParseEndpoint is ParseEndpoints for one address.
func ParseEndpoint(s, path string) (*url.URL, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "http", "https":
	case "zk":
		return nil, errors.New("zk:// addresses are not supported; give the masters as host:port")
	default:
		return nil, fmt.Errorf("unsupported scheme %q", u.Scheme)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, errors.New("no host")
	}
	if !strings.HasSuffix(u.Path, path) {
		u.Path = strings.TrimSuffix(u.Path, "/") + path
	}
	u.RawPath, u.RawQuery, u.Fragment, u.User = "", "", "", nil
	return u, nil
}

// ResolveLocation resolves a 307's Location against the URL that was
// asked. Mesos writes it scheme-relative ("//host:port/api/v1/scheduler"),
// which keeps the scheme of the request; a Location without a path gets
// path.
func ResolveLocation(from *url.URL, loc, path string) (*url.URL, error) {
	if loc == "" {
		return nil, errors.New("empty Location")
	}
	to, err := from.Parse(loc)
	if err != nil {
		return nil, err
	}
	if to.Scheme != "http" && to.Scheme != "https" {
		return nil, fmt.Errorf("unsupported scheme %q", to.Scheme)
	}
	if to.Hostname() == "" {
		return nil, errors.New("no host")
	}
	if to.Path == "" || to.Path == "/" {
		to.Path = path
	}
	// url.Parse takes some authorities ("//::") it cannot read back.
	if _, err := url.Parse(to.String()); err != nil {
		return nil, err
	}
	return to, nil
}
