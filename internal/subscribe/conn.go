package subscribe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/recordio"
)

// maxErrorBody bounds how much of an error answer is kept.
const maxErrorBody = 4 << 10

// StatusError is an answer with a status the protocol does not treat as
// success (for Open anything but 200 and 307, for Send anything but 2xx),
// or a 307 whose Location is unusable.
type StatusError struct {
	Status int    // the HTTP status code
	Body   string // a bounded prefix of the body, trimmed
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("answered %d %s", e.Status, http.StatusText(e.Status))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// Redirect is a 307 from a peer that does not lead, naming the one that
// does.
type Redirect struct{ From, To *url.URL }

func (e *Redirect) Error() string { return "redirected to " + e.To.String() }

// Options configure a Conn.
type Options struct {
	// HTTPClient's Transport and Jar carry the requests (nil, or a nil
	// Transport: DefaultTransport). Its Timeout applies to Send only (a
	// stream lives long); its CheckRedirect is ignored: 307s are this
	// package's.
	HTTPClient *http.Client
	// CallTransport, when set, carries Send's requests (not the streams):
	// a Pipeline, say. Default HTTPClient's.
	CallTransport http.RoundTripper
	// Header, when set, is called on every request's header before the
	// protocol's own (Content-Type, Accept) are set: credentials and the
	// like.
	Header func(http.Header)
	// Codec encodes the bodies given to Open and Send; it is named in
	// Content-Type and asked for in Accept. Default protobuf.
	Codec codec.Codec
	// Path is given to a Location without one (the API's path).
	Path string
	// MaxRedirects bounds the 307s Send follows (default
	// DefaultMaxRedirects).
	MaxRedirects int
	// MaxRecordSize bounds one record of a Stream (default
	// recordio.DefaultMaxRecordSize).
	MaxRecordSize int
}

// DefaultMaxIdleConnsPerHost is how many idle keep-alive connections
// DefaultTransport keeps per host: enough for a client with many calls in
// flight to reuse its connections (http.DefaultTransport keeps 2, so that
// concurrent calls close and open TCP connections all the time).
const DefaultMaxIdleConnsPerHost = 64

// DefaultTransport is the transport of a Conn whose HTTPClient has none:
// http.DefaultTransport's settings (proxies from the environment, dial
// and TLS timeouts, HTTP/2 over TLS) with DefaultMaxIdleConnsPerHost. It
// is shared by every such Conn.
var DefaultTransport http.RoundTripper = newDefaultTransport()

func newDefaultTransport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = DefaultMaxIdleConnsPerHost
	tr.MaxIdleConns = max(tr.MaxIdleConns, DefaultMaxIdleConnsPerHost)
	return tr
}

// Conn sends a client's requests; see the package documentation.
type Conn struct {
	opts          Options
	stream, calls *http.Client
	// mediaType is the codec's media type as a header value, shared by
	// every request's Content-Type and Accept (read-only).
	mediaType []string
	// direct is the calls' transport when calls can skip http.Client
	// (no cookie jar, no timeout: the client would add nothing but
	// copies); nil otherwise.
	direct http.RoundTripper
	// tmpl is the request made for the last target; requests to it are
	// copies (the URL is not printed and parsed again for each).
	tmpl atomic.Pointer[reqTemplate]
}

// reqTemplate is a POST to target as http.NewRequest makes it, without a
// body; its URL is shared (read-only) by the requests copied from it.
type reqTemplate struct {
	target                       *url.URL
	scheme, host, path, rawQuery string
	req                          *http.Request
}

func (t *reqTemplate) matches(u *url.URL) bool {
	return t.target == u && t.scheme == u.Scheme && t.host == u.Host && t.path == u.Path && t.rawQuery == u.RawQuery
}

// NewConn returns a Conn for o.
func NewConn(o Options) *Conn {
	if o.Codec == nil {
		o.Codec = codec.Protobuf
	}
	if o.MaxRedirects <= 0 {
		o.MaxRedirects = DefaultMaxRedirects
	}
	if o.MaxRecordSize <= 0 {
		o.MaxRecordSize = recordio.DefaultMaxRecordSize
	}
	base := o.HTTPClient
	if base == nil {
		base = &http.Client{}
	}
	tr := base.Transport
	if tr == nil {
		tr = DefaultTransport
	}
	callTr := o.CallTransport
	if callTr == nil {
		callTr = tr
	}
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c := &Conn{
		opts:      o,
		stream:    &http.Client{Transport: tr, Jar: base.Jar, CheckRedirect: noRedirect},
		calls:     &http.Client{Transport: callTr, Jar: base.Jar, CheckRedirect: noRedirect, Timeout: base.Timeout},
		mediaType: []string{o.Codec.MediaType()},
	}
	if base.Jar == nil && base.Timeout == 0 {
		c.direct = callTr
	}
	return c
}

// Codec is the codec of the requests.
func (c *Conn) Codec() codec.Codec { return c.opts.Codec }

// request builds a POST of body to target; extra headers (a stream id)
// are added last.
func (c *Conn) request(ctx context.Context, target *url.URL, body []byte, extra http.Header) (*http.Request, error) {
	t := c.tmpl.Load()
	if t == nil || !t.matches(target) {
		r, err := http.NewRequest(http.MethodPost, target.String(), nil)
		if err != nil {
			return nil, err
		}
		t = &reqTemplate{target: target, scheme: target.Scheme, host: target.Host, path: target.Path,
			rawQuery: target.RawQuery, req: r}
		c.tmpl.Store(t)
	}
	// As http.NewRequestWithContext with a *bytes.Reader of body.
	req := t.req.WithContext(ctx)
	req.Header = make(http.Header, 4)
	if len(body) > 0 {
		req.ContentLength = int64(len(body))
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	} else {
		req.Body = http.NoBody
		req.GetBody = func() (io.ReadCloser, error) { return http.NoBody, nil }
	}
	if c.opts.Header != nil {
		c.opts.Header(req.Header)
	}
	req.Header["Content-Type"] = c.mediaType
	req.Header["Accept"] = c.mediaType
	for k, vs := range extra {
		req.Header[k] = vs
	}
	return req, nil
}

// Open sends a subscription request and returns its stream on 200. A 307
// gives a *Redirect (or a *StatusError when its Location is unusable), any
// other status a *StatusError. Cancelling ctx ends the stream.
func (c *Conn) Open(ctx context.Context, target *url.URL, body []byte, extra http.Header) (*Stream, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	req, err := c.request(ctx, target, body, extra)
	if err != nil {
		cancel(nil)
		return nil, err
	}
	resp, err := c.stream.Do(req)
	if err != nil {
		cancel(nil)
		return nil, err
	}
	return c.openStream(target, resp, ctx, cancel)
}

// OpenUpgrade is Open asking the peer to switch the connection to
// protocol (HTTP/1.1 Upgrade). A peer that switches (101) gives the
// connection, closed by the caller (cancelling ctx may close it too); a
// peer that ignores the Upgrade answers as to Open, whose stream it
// gives.
func (c *Conn) OpenUpgrade(ctx context.Context, target *url.URL, body []byte, protocol string) (*Stream, io.ReadWriteCloser, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	req, err := c.request(ctx, target, body, http.Header{"Connection": {"Upgrade"}, "Upgrade": {protocol}})
	if err != nil {
		cancel(nil)
		return nil, nil, err
	}
	resp, err := c.stream.Do(req)
	if err != nil {
		cancel(nil)
		return nil, nil, err
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		rwc, ok := resp.Body.(io.ReadWriteCloser)
		if !ok || !strings.EqualFold(resp.Header.Get("Upgrade"), protocol) {
			resp.Body.Close()
			cancel(nil)
			return nil, nil, fmt.Errorf("switching protocols: to %q, asked for %q", resp.Header.Get("Upgrade"), protocol)
		}
		return nil, &upgraded{ReadWriteCloser: rwc, cancel: cancel}, nil
	}
	s, err := c.openStream(target, resp, ctx, cancel)
	return s, nil, err
}

// upgraded is a switched connection; closing it releases its request's
// context.
type upgraded struct {
	io.ReadWriteCloser
	cancel context.CancelCauseFunc
}

func (u *upgraded) Close() error {
	err := u.ReadWriteCloser.Close()
	u.cancel(nil)
	return err
}

// openStream turns the answer to a subscription into its stream.
func (c *Conn) openStream(target *url.URL, resp *http.Response, ctx context.Context, cancel context.CancelCauseFunc) (*Stream, error) {
	if resp.StatusCode != http.StatusOK {
		defer cancel(nil)
		defer resp.Body.Close()
		return nil, c.refusal(target, resp)
	}
	dec, err := codec.ForContentType(resp.Header.Get("Content-Type"))
	if err != nil {
		resp.Body.Close()
		cancel(nil)
		return nil, fmt.Errorf("event stream: %w", err)
	}
	return &Stream{
		Header: resp.Header, URL: target, codec: dec, body: resp.Body,
		rd: recordio.NewReader(resp.Body, c.opts.MaxRecordSize), ctx: ctx, cancel: cancel,
	}, nil
}

// Send posts one call to target and returns nil on a 2xx answer. It
// follows up to MaxRedirects 307s; any other answer gives a *StatusError.
func (c *Conn) Send(ctx context.Context, target *url.URL, body []byte, extra http.Header) error {
	for hops := 0; ; hops++ {
		req, err := c.request(ctx, target, body, extra)
		if err != nil {
			return err
		}
		resp, err := c.do(req)
		if err != nil {
			return err
		}
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			if resp.ContentLength != 0 { // read for the connection's reuse
				_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
			}
			resp.Body.Close()
			return nil
		}
		err = c.refusal(target, resp)
		resp.Body.Close()
		rd, ok := errors.AsType[*Redirect](err)
		if !ok || hops >= c.opts.MaxRedirects {
			if ok {
				return &StatusError{Status: http.StatusTemporaryRedirect, Body: "too many redirects, last to " + rd.To.String()}
			}
			return err
		}
		target = rd.To
	}
}

// do sends a call: straight to the transport when http.Client would add
// nothing (no jar, no timeout, no user in the URL; redirects are Send's),
// its errors wrapped as the client wraps them.
func (c *Conn) do(req *http.Request) (*http.Response, error) {
	if c.direct == nil || req.URL.User != nil {
		return c.calls.Do(req)
	}
	resp, err := c.direct.RoundTrip(req)
	if err == nil && resp == nil {
		err = fmt.Errorf("http: RoundTripper implementation (%T) returned a nil *Response with a nil error", c.direct)
	}
	if err != nil {
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		return nil, &url.Error{Op: "Post", URL: req.URL.String(), Err: err}
	}
	if resp.Body == nil {
		resp.Body = http.NoBody
	}
	return resp, nil
}

// refusal turns an answer that is not a success into its error.
func (c *Conn) refusal(from *url.URL, resp *http.Response) error {
	if resp.StatusCode == http.StatusTemporaryRedirect {
		loc := resp.Header.Get("Location")
		to, err := ResolveLocation(from, loc, c.opts.Path)
		if err != nil {
			return &StatusError{Status: resp.StatusCode, Body: fmt.Sprintf("bad Location %q: %v", loc, err)}
		}
		return &Redirect{From: from, To: to}
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	return &StatusError{Status: resp.StatusCode, Body: string(bytes.TrimSpace(data))}
}
