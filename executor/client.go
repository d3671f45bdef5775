package executor

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/executorpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/recordio"
	"github.com/mesoproject/meso/internal/subscribe"
)

// Defaults for the zero values of Config.
const (
	DefaultBackoffMin  = 100 * time.Millisecond
	DefaultEventBuffer = 16
)

// Errors callers branch on.
var (
	// ErrNotSubscribed: a call was made while no subscription is up.
	// Update keeps the status anyway and sends it with the next SUBSCRIBE.
	ErrNotSubscribed = errors.New("executor: not subscribed")
	// ErrDisconnected: the executor lost its agent for good (see the package
	// documentation); Run returns an error wrapping it.
	ErrDisconnected = errors.New("executor: disconnected from agent")
	// ErrConfig: the Config cannot work.
	ErrConfig = errors.New("executor: invalid config")
	// ErrBadCall: a call that cannot be sent as given.
	ErrBadCall = errors.New("executor: bad call")
	// ErrRunning: Run was called a second time.
	ErrRunning = errors.New("executor: Run already called")
)

// HTTPError is a call answered with a status other than 2xx.
type HTTPError struct {
	Status int    // the HTTP status code
	Body   string // the response body, trimmed
}

func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("executor: agent answered %d %s", e.Status, http.StatusText(e.Status))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// Config configures a Client; Env.Config fills it from the environment.
type Config struct {
	// AgentEndpoint is the agent's "host:port" (MESOS_AGENT_ENDPOINT) or an
	// http(s) URL; /api/v1/executor is appended.
	AgentEndpoint string
	FrameworkID   *mesospb.FrameworkID // required
	ExecutorID    *mesospb.ExecutorID  // required
	// Checkpoint: the framework checkpoints, so a broken subscription is
	// retried for up to RecoveryTimeout instead of ending Run.
	Checkpoint      bool
	RecoveryTimeout time.Duration // default 15 minutes
	// BackoffMin and BackoffMax bound the delay between subscription
	// attempts (defaults 100ms and MESOS_SUBSCRIPTION_BACKOFF_MAX's 2s).
	BackoffMin, BackoffMax time.Duration
	Codec                  codec.Codec  // default protobuf
	HTTPClient             *http.Client // default: http.DefaultTransport
	Logger                 *slog.Logger // default: discard
	MaxEventSize           int          // default recordio.DefaultMaxRecordSize
	EventBuffer            int          // capacity of Events (default 16)
	// AuthenticationToken, when set, is sent on every call as
	// "Authorization: Bearer <token>" (the agent's
	// MESOS_EXECUTOR_AUTHENTICATION_TOKEN, as Mesos executors send it).
	AuthenticationToken string
}

// pending is an update not yet acknowledged by the agent.
type pending struct {
	update *executorpb.Call_Update
	gen    int // the session generation that last sent it; 0 = never sent
}

// Client is a Mesos v1 executor API client. See the package documentation.
type Client struct {
	cfg      Config
	codec    codec.Codec
	log      *slog.Logger
	endpoint *url.URL
	cfgErr   error
	conn     *subscribe.Conn
	events   chan *executorpb.Event
	running  atomic.Bool

	mu         sync.Mutex
	gen        int                          // guarded by mu: current session generation
	subscribed bool                         // guarded by mu
	tasks      map[string]*mesospb.TaskInfo // guarded by mu: launched, no update acknowledged yet
	taskOrder  []string                     // guarded by mu: launch order of tasks' keys
	updates    []*pending                   // guarded by mu: unacknowledged, in send order
	info       *executorpb.Event_Subscribed // guarded by mu: from the last SUBSCRIBED
}

// New returns a Client for cfg; configuration errors are reported by Run.
func New(cfg Config) *Client {
	c := &Client{cfg: cfg, codec: cfg.Codec, log: cfg.Logger, tasks: map[string]*mesospb.TaskInfo{}}
	if c.codec == nil {
		c.codec = codec.Protobuf
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.cfg.RecoveryTimeout <= 0 {
		c.cfg.RecoveryTimeout = DefaultRecoveryTimeout
	}
	if c.cfg.BackoffMax <= 0 {
		c.cfg.BackoffMax = DefaultSubscriptionBackoffMax
	}
	if c.cfg.BackoffMin <= 0 {
		c.cfg.BackoffMin = min(DefaultBackoffMin, c.cfg.BackoffMax)
	}
	c.cfg.BackoffMax = max(c.cfg.BackoffMax, c.cfg.BackoffMin)
	if c.cfg.MaxEventSize <= 0 {
		c.cfg.MaxEventSize = recordio.DefaultMaxRecordSize
	}
	if c.cfg.EventBuffer <= 0 {
		c.cfg.EventBuffer = DefaultEventBuffer
	}
	c.events = make(chan *executorpb.Event, c.cfg.EventBuffer)
	c.conn = subscribe.NewConn(subscribe.Options{HTTPClient: cfg.HTTPClient, Header: c.header,
		Codec: c.codec, Path: apiPath, MaxRecordSize: c.cfg.MaxEventSize})
	c.endpoint, c.cfgErr = parseEndpoint(cfg.AgentEndpoint)
	if c.cfgErr == nil && (cfg.FrameworkID.GetValue() == "" || cfg.ExecutorID.GetValue() == "") {
		c.cfgErr = fmt.Errorf("%w: FrameworkID and ExecutorID are required", ErrConfig)
	}
	return c
}

// apiPath is the executor endpoint of an agent.
const apiPath = "/api/v1/executor"

// parseEndpoint turns "host:port" or a URL into the executor API URL.
func parseEndpoint(s string) (*url.URL, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("%w: no agent endpoint", ErrConfig)
	}
	u, err := subscribe.ParseEndpoint(s, apiPath)
	if err != nil {
		return nil, fmt.Errorf("%w: agent endpoint %q: want host:port: %w", ErrConfig, s, err)
	}
	return u, nil
}

// Events returns the channel on which Run delivers every event in order; it
// is closed when Run returns.
func (c *Client) Events() <-chan *executorpb.Event { return c.events }

// Subscribed returns the last SUBSCRIBED event's content (ExecutorInfo,
// FrameworkInfo, AgentInfo), nil before the first.
func (c *Client) Subscribed() *executorpb.Event_Subscribed {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.info
}

// Unacknowledged returns copies of the launched tasks without an
// acknowledged update and of the unacknowledged updates, in order: what the
// next SUBSCRIBE would carry.
func (c *Client) Unacknowledged() ([]*mesospb.TaskInfo, []*executorpb.Call_Update) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.unackedLocked()
}

func (c *Client) unackedLocked() ([]*mesospb.TaskInfo, []*executorpb.Call_Update) {
	var tasks []*mesospb.TaskInfo
	for _, id := range c.taskOrder {
		if t, ok := c.tasks[id]; ok {
			tasks = append(tasks, proto.CloneOf(t))
		}
	}
	var updates []*executorpb.Call_Update
	for _, p := range c.updates {
		updates = append(updates, proto.CloneOf(p.update))
	}
	return tasks, updates
}

// Update sends a task status update. It sets a new uuid when the status has
// none, the executor id, source SOURCE_EXECUTOR and the timestamp when
// unset, and keeps the update until the agent acknowledges it. When not
// subscribed it returns ErrNotSubscribed, and the update goes out with the
// next SUBSCRIBE.
func (c *Client) Update(ctx context.Context, status *mesospb.TaskStatus) error {
	if status.GetTaskId().GetValue() == "" || status.State == nil {
		return fmt.Errorf("%w: a status needs task_id and state", ErrBadCall)
	}
	if len(status.Uuid) == 0 {
		status.Uuid = newUUID()
	}
	if status.ExecutorId == nil {
		status.ExecutorId = c.cfg.ExecutorID
	}
	if status.Source == nil {
		status.Source = mesospb.TaskStatus_SOURCE_EXECUTOR.Enum()
	}
	if status.Timestamp == nil {
		status.Timestamp = proto.Float64(float64(time.Now().UnixNano()) / 1e9)
	}
	u := &executorpb.Call_Update{Status: status}
	c.mu.Lock()
	p := &pending{update: u}
	c.updates = append(c.updates, p)
	ok := c.subscribed
	if ok {
		p.gen = c.gen
	}
	c.mu.Unlock()
	if !ok {
		return ErrNotSubscribed
	}
	return c.send(ctx, &executorpb.Call{Type: executorpb.Call_UPDATE.Enum(), Update: u})
}

// Message sends data to the scheduler (through the agent and master).
func (c *Client) Message(ctx context.Context, data []byte) error {
	if data == nil {
		data = []byte{}
	}
	return c.Call(ctx, &executorpb.Call{
		Type:    executorpb.Call_MESSAGE.Enum(),
		Message: &executorpb.Call_Message{Data: data},
	})
}

// Call sends one call on its own request. It fills in executor_id and
// framework_id. SUBSCRIBE is Run's job, and UPDATE should go through Update
// (which keeps it until acknowledged); both are refused here.
func (c *Client) Call(ctx context.Context, call *executorpb.Call) error {
	switch call.GetType() {
	case executorpb.Call_SUBSCRIBE, executorpb.Call_UPDATE:
		return fmt.Errorf("%w: send %s through Run/Update", ErrBadCall, call.GetType())
	}
	c.mu.Lock()
	ok := c.subscribed
	c.mu.Unlock()
	if !ok {
		return ErrNotSubscribed
	}
	return c.send(ctx, call)
}

// send POSTs call (ids filled in) and checks for a 2xx answer.
func (c *Client) send(ctx context.Context, call *executorpb.Call) error {
	c.fillIDs(call)
	body, err := c.codec.Marshal(call)
	if err != nil {
		return fmt.Errorf("%w: encoding %s: %w", ErrBadCall, call.GetType(), err)
	}
	return c.callError(call.GetType(), c.conn.Send(ctx, c.endpoint, body, nil))
}

func (c *Client) fillIDs(call *executorpb.Call) {
	if call.ExecutorId == nil {
		call.ExecutorId = c.cfg.ExecutorID
	}
	if call.FrameworkId == nil {
		call.FrameworkId = c.cfg.FrameworkID
	}
}

// header is the per-request hook: the executor's token, when it has one.
func (c *Client) header(h http.Header) {
	if c.cfg.AuthenticationToken != "" {
		h.Set("Authorization", "Bearer "+c.cfg.AuthenticationToken)
	}
}

// callError gives the executor's form of a request's failure: an
// *HTTPError for an answer that is not a success.
func (c *Client) callError(typ executorpb.Call_Type, err error) error {
	if err == nil {
		return nil
	}
	if se, ok := errors.AsType[*subscribe.StatusError](err); ok {
		return &HTTPError{Status: se.Status, Body: se.Body}
	}
	if _, ok := errors.AsType[*subscribe.Redirect](err); ok {
		return err
	}
	return fmt.Errorf("executor: %s call: %w", typ, err)
}

// newUUID returns 16 random bytes (a version 4 UUID), the form of
// TaskStatus.uuid.
func newUUID() []byte {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return b
}
