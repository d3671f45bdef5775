package scheduler

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"time"
)

// apiPath is the scheduler endpoint of a Mesos master.
const apiPath = "/api/v1/scheduler"

// parseMasters turns Config.Master into the scheduler endpoint URLs to try.
// Each comma-separated element is "host:port" or an http(s) URL; a URL that
// does not already name the endpoint gets apiPath appended to its path.
func parseMasters(s string) ([]*url.URL, error) {
	var out []*url.URL
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		u, err := parseMaster(part)
		if err != nil {
			return nil, fmt.Errorf("%w: master %q: %w", ErrConfig, part, err)
		}
		out = append(out, u)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no master address", ErrConfig)
	}
	return out, nil
}

func parseMaster(s string) (*url.URL, error) {
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
	if !strings.HasSuffix(u.Path, apiPath) {
		u.Path = strings.TrimSuffix(u.Path, "/") + apiPath
	}
	u.RawPath, u.RawQuery, u.Fragment, u.User = "", "", "", nil
	return u, nil
}

// resolveLocation resolves a 307's Location against the URL that was asked.
// Mesos writes it scheme-relative ("//host:port/api/v1/scheduler"), which
// keeps the scheme of the request.
func resolveLocation(from *url.URL, loc string) (*url.URL, error) {
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
		to.Path = apiPath
	}
	// url.Parse takes some authorities ("//::") it cannot read back.
	if _, err := url.Parse(to.String()); err != nil {
		return nil, err
	}
	return to, nil
}

// backoff yields exponentially growing delays with jitter: each delay is
// drawn from [d/2, d] where d doubles from min up to max.
type backoff struct {
	min, max time.Duration
	cur      time.Duration
}

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(2*b.cur, b.max)
	}
	half := b.cur / 2
	return half + rand.N(b.cur-half+1)
}

func (b *backoff) reset() { b.cur = 0 }
