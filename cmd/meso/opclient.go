package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/agentpb"
	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/masterpb"
	"github.com/mesoproject/meso/internal/operator"
)

// Errors of the operator commands.
var (
	// errUnreachable: no master of the list answered.
	errUnreachable = errors.New("no master answered")
	// errRefused: a daemon answered the call with an error status.
	errRefused = errors.New("call refused")
)

// opFlags are the flags every operator command shares.
type opFlags struct {
	master    string
	principal string
	secret    string
	timeout   time.Duration
	tls       tlsFlags
}

// defaultMaster is where the operator commands look without --master or
// MESOS_MASTER.
const defaultMaster = "127.0.0.1:5050"

func (f *opFlags) add(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.master, "master", "", "master(s) to ask: host:port or http(s) URL, a comma-separated list is tried in turn (default $MESOS_MASTER, else "+defaultMaster+")")
	fs.StringVar(&f.principal, "principal", "", "principal for HTTP Basic authentication (default $MESOS_PRINCIPAL)")
	fs.StringVar(&f.secret, "secret", "", "secret for HTTP Basic authentication (default $MESOS_SECRET)")
	fs.DurationVar(&f.timeout, "timeout", 5*time.Second, "how long to wait for each daemon's answer")
	f.tls.add(fs, false)
}

// client builds the operator client from the flags and the environment.
func (f *opFlags) client() (*opClient, error) {
	m := f.master
	if m == "" {
		m = os.Getenv("MESOS_MASTER")
	}
	if m == "" {
		m = defaultMaster
	}
	tc, err := f.tls.config()
	if err != nil {
		return nil, err
	}
	tr, secure, err := clientTransport(tc)
	if err != nil {
		return nil, err
	}
	m = withScheme(m, secure)
	var masters []string
	for _, s := range strings.Split(m, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		u, err := baseURL(s)
		if err != nil {
			return nil, fmt.Errorf("--master: %w", err)
		}
		masters = append(masters, u)
	}
	if len(masters) == 0 {
		return nil, fmt.Errorf("--master: no address in %q", m)
	}
	principal, secret := f.principal, f.secret
	if principal == "" {
		principal = os.Getenv("MESOS_PRINCIPAL")
	}
	if secret == "" {
		secret = os.Getenv("MESOS_SECRET")
	}
	if principal == "" && secret != "" {
		return nil, errors.New("--secret given without --principal")
	}
	if f.timeout <= 0 {
		return nil, fmt.Errorf("--timeout must be positive, got %v", f.timeout)
	}
	dialer := &net.Dialer{Timeout: f.timeout}
	tr.DialContext, tr.TLSHandshakeTimeout, tr.ResponseHeaderTimeout = dialer.DialContext, f.timeout, f.timeout
	tr.Proxy = nil // daemons are reached directly
	hc := &http.Client{
		Timeout:   f.timeout,
		Transport: &basicAuth{principal: principal, secret: secret, next: tr},
		// Redirects are followed by hand: a 307 from a non-leading master
		// must keep the method, the body and the credentials.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	agentScheme := "http"
	if secure || strings.HasPrefix(masters[0], "https:") {
		agentScheme = "https"
	}
	return &opClient{masters: masters, http: hc, agentScheme: agentScheme}, nil
}

// baseURL turns "host:port" or an http(s) URL into "scheme://host:port".
func baseURL(s string) (string, error) {
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%q is not host:port or an http(s) URL", s)
	}
	return u.Scheme + "://" + u.Host, nil
}

// basicAuth adds HTTP Basic credentials to every request when a principal
// is given.
type basicAuth struct {
	principal, secret string
	next              http.RoundTripper
}

func (b *basicAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	if b.principal != "" {
		r = r.Clone(r.Context())
		r.SetBasicAuth(b.principal, b.secret)
	}
	return b.next.RoundTrip(r)
}

// opClient speaks the v1 operator API (JSON) to the masters and agents.
type opClient struct {
	masters []string
	http    *http.Client
	leader  string // the master that answered last
	// agentScheme is how agents are reached: https when the masters are.
	agentScheme string
}

// maxRedirects bounds how many 307s one call follows.
const maxRedirects = 5

// maxAnswer bounds an operator answer the CLI reads.
const maxAnswer = 256 << 20

// callMaster sends call to the leading master and returns the JSON answer
// (nil for an empty 200 body). A master that cannot be reached or has no
// leader (503) makes it try the next one of the list; a 307 is followed.
func (c *opClient) callMaster(ctx context.Context, call *masterpb.Call, resp *masterpb.Response) ([]byte, error) {
	body, err := codec.JSON.Marshal(call)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, m := range c.masters {
		data, err := c.post(ctx, m, body, true)
		if err == nil {
			if resp != nil && len(data) > 0 {
				if err := codec.JSON.Unmarshal(data, resp); err != nil {
					return nil, fmt.Errorf("%s: decoding the answer to %s: %w", c.leader, call.GetType(), err)
				}
			}
			return data, nil
		}
		if errors.Is(err, errRefused) {
			return nil, fmt.Errorf("%s: %w", call.GetType(), err)
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("%w (%s): %w", errUnreachable, strings.Join(c.masters, ", "), errors.Join(errs...))
}

// callAgent sends call to the agent at base (scheme://host:port).
func (c *opClient) callAgent(ctx context.Context, base string, call *agentpb.Call, resp *agentpb.Response) error {
	body, err := codec.JSON.Marshal(call)
	if err != nil {
		return err
	}
	data, err := c.post(ctx, base, body, false)
	if err != nil {
		return fmt.Errorf("agent %s: %s: %w", base, call.GetType(), err)
	}
	if err := codec.JSON.Unmarshal(data, resp); err != nil {
		return fmt.Errorf("agent %s: decoding the answer to %s: %w", base, call.GetType(), err)
	}
	return nil
}

// retryAfter is how long a 503 asks the client to wait.
type retryAfter struct {
	wait time.Duration
	msg  string
}

func (r *retryAfter) Error() string { return "busy (503): " + r.msg }

// post sends one operator call to base's /api/v1, following 307s.
// master says whether a 503 means "no leader, try another" (masters) or
// "busy, retry later" (agents: a *retryAfter error).
func (c *opClient) post(ctx context.Context, base string, body []byte, master bool) ([]byte, error) {
	target := base + operator.Path
	for range maxRedirects + 1 {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", codec.JSON.MediaType())
		req.Header.Set("Accept", codec.JSON.MediaType())
		resp, err := c.http.Do(req)
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: reading the answer: %w", target, err)
		}
		msg := strings.TrimSpace(string(data))
		switch {
		case resp.StatusCode == http.StatusOK, resp.StatusCode == http.StatusAccepted:
			if master {
				c.leader = base
			}
			return data, nil
		case resp.StatusCode == http.StatusTemporaryRedirect:
			loc, err := req.URL.Parse(resp.Header.Get("Location"))
			if err != nil || resp.Header.Get("Location") == "" {
				return nil, fmt.Errorf("%s: 307 without a usable Location %q", target, resp.Header.Get("Location"))
			}
			if loc.Path == "" || loc.Path == "/" {
				loc.Path = operator.Path
			}
			target = loc.String()
			base = loc.Scheme + "://" + loc.Host
			continue
		case resp.StatusCode == http.StatusServiceUnavailable:
			if master {
				return nil, fmt.Errorf("%s: no leading master (503): %s", target, msg)
			}
			wait := time.Second
			if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
				wait = time.Duration(s) * time.Second
			}
			return nil, &retryAfter{wait: wait, msg: msg}
		case resp.StatusCode == http.StatusUnauthorized:
			return nil, fmt.Errorf("%w: 401 Unauthorized (give --principal and --secret, or MESOS_PRINCIPAL and MESOS_SECRET): %s", errRefused, msg)
		default:
			if msg == "" {
				msg = resp.Status
			}
			return nil, fmt.Errorf("%w: %d %s: %s", errRefused, resp.StatusCode, http.StatusText(resp.StatusCode), msg)
		}
	}
	return nil, fmt.Errorf("%s: more than %d redirects", base, maxRedirects)
}

// masterCall is a call of type t without payload.
func masterCall(t masterpb.Call_Type) *masterpb.Call { return &masterpb.Call{Type: t.Enum()} }

// strp is proto.String, short for the payloads built here.
func strp(s string) *string { return proto.String(s) }
