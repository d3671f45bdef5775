package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/recordio"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/internal/subscribe"
)

// Defaults for the zero values of Config.
const (
	DefaultBackoffMin      = 500 * time.Millisecond
	DefaultBackoffMax      = 30 * time.Second
	DefaultHeartbeatMisses = 5
	DefaultEventBuffer     = 64

	// defaultHeartbeat is the interval assumed until SUBSCRIBED announces
	// one (and when it does not): Mesos' 15 seconds.
	defaultHeartbeat = 15 * time.Second

	// maxRedirects bounds how many 307s in a row are followed before the
	// client backs off, so two masters pointing at each other cannot spin.
	maxRedirects = 8
)

// Errors callers branch on.
var (
	// ErrNotSubscribed: a call was made while no subscription is up (before
	// the first SUBSCRIBED, or while reconnecting).
	ErrNotSubscribed = errors.New("scheduler: not subscribed")
	// ErrRejected: the master sent an ERROR event; Run returns an error
	// wrapping it, with the master's message.
	ErrRejected = errors.New("scheduler: rejected by master")
	// ErrHeartbeatLost: no event arrived for HeartbeatMisses heartbeat
	// intervals; the subscription is dropped and made again.
	ErrHeartbeatLost = errors.New("scheduler: heartbeat lost")
	// ErrConfig: the Config cannot work (no master, no FrameworkInfo, an
	// address that is not host:port or an http(s) URL).
	ErrConfig = errors.New("scheduler: invalid config")
	// ErrRunning: Run was called a second time.
	ErrRunning = errors.New("scheduler: Run already called")
)

// HTTPError is a call (or SUBSCRIBE) answered with a status the protocol does
// not treat as success: 400 malformed or wrong stream id, 403 not subscribed,
// 503 no leader, and so on.
type HTTPError struct {
	Status int    // the HTTP status code
	Body   string // the response body (the master's explanation), trimmed
}

func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("scheduler: master answered %d %s", e.Status, http.StatusText(e.Status))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// Config configures a Client. Zero values mean the documented defaults.
type Config struct {
	// Master is where to subscribe: "host:port" or an http(s) URL, or a
	// comma-separated list of them tried in turn. A URL without the
	// /api/v1/scheduler path gets it appended.
	Master string
	// Framework is sent in SUBSCRIBE; user and name are required. Its id,
	// if set, makes the first SUBSCRIBE a failover of that framework.
	Framework *mesospb.FrameworkInfo
	// SuppressedRoles go into SUBSCRIBE.suppressed_roles.
	SuppressedRoles []string
	// Codec encodes calls and is asked for in Accept; default protobuf.
	Codec codec.Codec
	// HTTPClient sends the requests (default, and with a nil Transport:
	// subscribe.DefaultTransport, http.DefaultTransport's settings keeping
	// up to 64 idle connections per master so that concurrent calls reuse
	// them). Its Timeout, if any, applies to calls only;
	// redirects are always handled by this package.
	HTTPClient *http.Client
	// CallTransport, when set, carries the calls (not the subscription):
	// e.g. a subscribe.Pipeline, which pipelines them over a few
	// keep-alive connections (HTTP/1.1; one write for many calls).
	// Default HTTPClient's transport.
	CallTransport http.RoundTripper
	// Header is added to every request (e.g. Authorization).
	Header http.Header
	// Logger receives the client's log lines (default: discarded).
	Logger *slog.Logger
	// BackoffMin and BackoffMax bound the delay between subscription
	// attempts; the delay doubles from min to max, with jitter, and is reset
	// by every SUBSCRIBED.
	BackoffMin, BackoffMax time.Duration
	// HeartbeatMisses is how many heartbeat intervals without any event
	// make the connection count as lost (default 5).
	HeartbeatMisses int
	// MaxEventSize limits one event's encoded size (default
	// recordio.DefaultMaxRecordSize).
	MaxEventSize int
	// EventBuffer is the capacity of the Events channel (default 64).
	EventBuffer int
}

// Client is a Mesos v1 scheduler API client. See the package documentation.
type Client struct {
	cfg     Config
	codec   codec.Codec
	log     *slog.Logger
	masters []*url.URL
	cfgErr  error
	conn    *subscribe.Conn
	events  chan *schedulerpb.Event
	running atomic.Bool

	mu          sync.Mutex
	frameworkID *mesospb.FrameworkID // guarded by mu; nil until assigned
	streamID    string               // guarded by mu; "" when not subscribed
	// streamHeader carries streamID in every call (shared, read-only);
	// guarded by mu.
	streamHeader http.Header
	endpoint     *url.URL           // guarded by mu; the subscribed master's endpoint
	cancel       context.CancelFunc // guarded by mu; ends the current session
	tornDown     bool               // guarded by mu
	// tearingDown is set while a TEARDOWN call is in flight (and after):
	// the master may end the stream with an ERROR before the call's own
	// answer arrives, and that ERROR is then the teardown, not a refusal.
	tearingDown bool          // guarded by mu
	stopped     chan struct{} // closed by a successful Teardown
	stopOnce    sync.Once
}

// New returns a Client for cfg. Configuration errors are reported by Run.
func New(cfg Config) *Client {
	c := &Client{cfg: cfg, codec: cfg.Codec, log: cfg.Logger}
	if c.codec == nil {
		c.codec = codec.Protobuf
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.cfg.BackoffMin <= 0 {
		c.cfg.BackoffMin = DefaultBackoffMin
	}
	if c.cfg.BackoffMax < c.cfg.BackoffMin {
		c.cfg.BackoffMax = max(DefaultBackoffMax, c.cfg.BackoffMin)
	}
	if c.cfg.HeartbeatMisses <= 0 {
		c.cfg.HeartbeatMisses = DefaultHeartbeatMisses
	}
	if c.cfg.MaxEventSize <= 0 {
		c.cfg.MaxEventSize = recordio.DefaultMaxRecordSize
	}
	if c.cfg.EventBuffer <= 0 {
		c.cfg.EventBuffer = DefaultEventBuffer
	}
	c.events = make(chan *schedulerpb.Event, c.cfg.EventBuffer)
	c.stopped = make(chan struct{})
	c.conn = subscribe.NewConn(subscribe.Options{HTTPClient: cfg.HTTPClient, CallTransport: cfg.CallTransport, Header: c.header,
		Codec: c.codec, Path: apiPath, MaxRedirects: maxRedirects, MaxRecordSize: c.cfg.MaxEventSize})
	c.masters, c.cfgErr = parseMasters(cfg.Master)
	if c.cfgErr == nil && cfg.Framework == nil {
		c.cfgErr = fmt.Errorf("%w: Framework is required", ErrConfig)
	}
	if id := cfg.Framework.GetId(); id.GetValue() != "" {
		c.frameworkID = id
	}
	return c
}

// Events returns the channel on which Run delivers every event in order. It
// is closed when Run returns.
func (c *Client) Events() <-chan *schedulerpb.Event { return c.events }

// FrameworkID returns the framework id assigned by the master (or given in
// Config.Framework.id), nil before there is one.
func (c *Client) FrameworkID() *mesospb.FrameworkID {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.frameworkID
}

// StreamID returns the Mesos-Stream-Id of the current subscription, "" when
// not subscribed.
func (c *Client) StreamID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.streamID
}

// Leader returns the base URL ("http://host:port") of the master the
// current subscription is with, "" when not subscribed. Useful to reach the
// master's other endpoints, such as /master/state.
func (c *Client) Leader() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.streamID == "" || c.endpoint == nil {
		return ""
	}
	return (&url.URL{Scheme: c.endpoint.Scheme, Host: c.endpoint.Host}).String()
}

// Run subscribes and keeps the subscription up until ctx is done, the
// framework is torn down, or the master rejects it. See the package
// documentation for what it returns. It may be called once.
func (c *Client) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer close(c.events)
	if c.cfgErr != nil {
		return c.cfgErr
	}
	loop := subscribe.Loop{
		Policy: &subscribe.Policy{
			Route:   subscribe.NewRoute(c.masters, maxRedirects),
			Backoff: subscribe.Backoff{Min: c.cfg.BackoffMin, Max: c.cfg.BackoffMax},
		},
		Session: c.session,
		End: func(_ bool, err error) (bool, error) {
			if c.isTornDown() || (errors.Is(err, ErrRejected) && c.isTearingDown()) {
				return true, nil
			}
			if fatal(err) {
				c.log.Error("subscription refused", "err", err)
				return true, err
			}
			return false, nil
		},
		Stop: c.stopped,
		Log:  c.log,
	}
	return loop.Run(ctx)
}

// fatal reports whether a session error ends Run instead of a retry.
func fatal(err error) bool {
	if errors.Is(err, ErrRejected) || errors.Is(err, ErrConfig) {
		return true
	}
	if he, ok := errors.AsType[*HTTPError](err); ok {
		return he.Status >= 400 && he.Status < 500 &&
			he.Status != http.StatusRequestTimeout && he.Status != http.StatusTooManyRequests
	}
	return false
}

func (c *Client) isTearingDown() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tearingDown
}

func (c *Client) isTornDown() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tornDown
}
