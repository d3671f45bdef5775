package httpbound

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Errors of New and ReadBody; Status maps ReadBody's to HTTP statuses.
var (
	ErrConfig   = errors.New("httpbound: invalid config")
	ErrTooLarge = errors.New("httpbound: request body too large")
	ErrBusy     = errors.New("httpbound: request body memory exhausted")
	ErrTimeout  = errors.New("httpbound: request body not received in time")
	ErrRead     = errors.New("httpbound: reading the request body")
)

// Defaults of Config's zero fields.
const (
	DefaultHeaderTimeout = 30 * time.Second
	DefaultBodyTimeout   = 30 * time.Second
	DefaultIdleTimeout   = 2 * time.Minute
	DefaultBodyMemory    = 256 << 20
)

// MaxHeaderBytes bounds a request's header block.
const MaxHeaderBytes = 64 << 10

// SmallBody is how much of a body is read before it must reserve its size
// from the body memory budget: calls this small never wait for one.
const SmallBody = 64 << 10

// Config bounds a daemon's HTTP server. Zero fields take the defaults; the
// daemons map them to their --http_* flags.
type Config struct {
	// HeaderTimeout bounds reading a request's headers (--http_header_timeout).
	HeaderTimeout time.Duration
	// BodyTimeout bounds reading a request's body, counted from the end of
	// its headers, waiting for body memory included (--http_body_timeout).
	BodyTimeout time.Duration
	// IdleTimeout closes a keep-alive connection idle that long between
	// requests (--http_idle_timeout).
	IdleTimeout time.Duration
	// BodyMemory bounds the bytes of request bodies held at once, over the
	// SmallBody each one reads freely (--http_body_memory).
	BodyMemory int64
	// HTTP2Cleartext also serves HTTP/2 without TLS to clients that start
	// with its preface (prior knowledge, no Upgrade), at most MaxStreams
	// requests at once per connection (--http2_cleartext). Off by default:
	// Mesos clients speak HTTP/1.1; the simulator uses it to put thousands
	// of agents' links on a few connections.
	HTTP2Cleartext bool
}

// MaxStreams bounds the concurrent requests (streams) of one HTTP/2
// connection when Config.HTTP2Cleartext is on.
const MaxStreams = 1000

// withDefaults checks c and fills in its zero fields.
func (c Config) withDefaults() (Config, error) {
	for _, f := range []struct {
		name string
		d    *time.Duration
		def  time.Duration
	}{
		{"http_header_timeout", &c.HeaderTimeout, DefaultHeaderTimeout},
		{"http_body_timeout", &c.BodyTimeout, DefaultBodyTimeout},
		{"http_idle_timeout", &c.IdleTimeout, DefaultIdleTimeout},
	} {
		if *f.d < 0 {
			return c, fmt.Errorf("%w: --%s must not be negative, got %s", ErrConfig, f.name, *f.d)
		}
		if *f.d == 0 {
			*f.d = f.def
		}
	}
	if c.BodyMemory < 0 {
		return c, fmt.Errorf("%w: --http_body_memory must not be negative, got %d", ErrConfig, c.BodyMemory)
	}
	if c.BodyMemory == 0 {
		c.BodyMemory = DefaultBodyMemory
	}
	return c, nil
}

// Bounds are one server's bounds and its body memory budget. Build it
// with New; it is safe for concurrent use.
type Bounds struct {
	cfg    Config
	budget *budget
}

// New checks cfg and returns the bounds it describes.
func New(cfg Config) (*Bounds, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Bounds{cfg: cfg, budget: newBudget(cfg.BodyMemory)}, nil
}

// Config returns the bounds' config, defaults filled in.
func (b *Bounds) Config() Config { return b.cfg }

// Server returns an http.Server serving h under the bounds. The caller
// may set ErrorLog, BaseContext and the like before serving.
func (b *Bounds) Server(h http.Handler) *http.Server {
	srv := &http.Server{
		Handler:           b.Handler(h),
		ReadHeaderTimeout: b.cfg.HeaderTimeout,
		IdleTimeout:       b.cfg.IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
	}
	if b.cfg.HTTP2Cleartext {
		srv.Protocols = new(http.Protocols)
		srv.Protocols.SetHTTP1(true)
		srv.Protocols.SetUnencryptedHTTP2(true)
		srv.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: MaxStreams}
	}
	return srv
}

// Handler gives every request of h that has a body a read deadline of
// BodyTimeout, lifted when the body has been read to its end.
func (b *Bounds) Handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			deadline := time.Now().Add(b.cfg.BodyTimeout)
			rc := http.NewResponseController(w)
			if rc.SetReadDeadline(deadline) == nil {
				// A copy: the server's own request must keep its body, or
				// it reads what the handler left of it before answering.
				wrapped := *r
				wrapped.Body = &deadlineBody{ReadCloser: r.Body, rc: rc, deadline: deadline}
				r = &wrapped
			}
		}
		h.ServeHTTP(w, r)
	})
}

// deadlineBody lifts the connection's read deadline when the body ends.
// It carries the deadline for ReadBody (in the body rather than the
// request's context, which would cost a copy of the request each time).
type deadlineBody struct {
	io.ReadCloser
	rc       *http.ResponseController
	deadline time.Time
	lifted   bool
}

func (d *deadlineBody) Read(p []byte) (int, error) {
	n, err := d.ReadCloser.Read(p)
	if err == io.EOF && !d.lifted {
		d.lifted = true
		_ = d.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// bodyDeadline is the deadline Handler gave r's body, or BodyTimeout from
// now when r did not come through Handler.
func (b *Bounds) bodyDeadline(r *http.Request) time.Time {
	if d, ok := r.Body.(*deadlineBody); ok {
		return d.deadline
	}
	return time.Now().Add(b.cfg.BodyTimeout)
}

// Status is the HTTP status of a ReadBody error.
func Status(err error) int {
	switch {
	case errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrBusy):
		return http.StatusServiceUnavailable
	case errors.Is(err, ErrTimeout):
		return http.StatusRequestTimeout
	}
	return http.StatusBadRequest
}
