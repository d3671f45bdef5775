package executor

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/mesosflag"
	"github.com/mesoproject/meso/internal/tlsconf"
)

// Mesos' defaults for what the environment may leave out.
const (
	DefaultShutdownGracePeriod    = 5 * time.Second
	DefaultRecoveryTimeout        = 15 * time.Minute
	DefaultSubscriptionBackoffMax = 2 * time.Second
)

// ErrEnv: the environment lacks a variable the agent must set, or holds a
// malformed one.
var ErrEnv = errors.New("executor: bad environment")

// Env is what an agent tells an executor through its environment.
type Env struct {
	AgentEndpoint string // MESOS_AGENT_ENDPOINT: host:port of the agent (required)
	FrameworkID   string // MESOS_FRAMEWORK_ID (required)
	ExecutorID    string // MESOS_EXECUTOR_ID (required)
	AgentID       string // MESOS_AGENT_ID, or MESOS_SLAVE_ID; may be empty
	Directory     string // MESOS_DIRECTORY: the sandbox path on the host
	Sandbox       string // MESOS_SANDBOX: the sandbox as the executor sees it (default Directory)
	Checkpoint    bool   // MESOS_CHECKPOINT == "1"
	// AuthenticationToken is MESOS_EXECUTOR_AUTHENTICATION_TOKEN, which
	// an agent authenticating executors sets; sent as
	// "Authorization: Bearer <token>". Empty when the agent does not.
	AuthenticationToken string
	// TLS is the agent's LIBPROCESS_SSL_* settings: when enabled, the
	// executor API is reached over https with HTTPClient, which verifies
	// the agent against LIBPROCESS_SSL_CA_FILE and presents the
	// certificate the variables name.
	TLS        tlsconf.Config
	HTTPClient *http.Client // nil without TLS

	ShutdownGracePeriod    time.Duration // MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD (default 5s)
	RecoveryTimeout        time.Duration // MESOS_RECOVERY_TIMEOUT (default 15m)
	SubscriptionBackoffMax time.Duration // MESOS_SUBSCRIPTION_BACKOFF_MAX (default 2s)
}

// EnvFromOS reads the process environment with ParseEnv.
func EnvFromOS() (Env, error) { return ParseEnv(os.LookupEnv) }

// ParseEnv reads the Mesos executor environment through lookup. Durations
// are in Mesos syntax ("5secs") or Go syntax ("5s"). The error wraps ErrEnv
// and names every missing or malformed variable.
func ParseEnv(lookup func(string) (string, bool)) (Env, error) {
	get := func(k string) string { v, _ := lookup(k); return v }
	e := Env{
		AgentEndpoint: get("MESOS_AGENT_ENDPOINT"),
		FrameworkID:   get("MESOS_FRAMEWORK_ID"),
		ExecutorID:    get("MESOS_EXECUTOR_ID"),
		AgentID:       get("MESOS_AGENT_ID"),
		Directory:     get("MESOS_DIRECTORY"),
		Sandbox:       get("MESOS_SANDBOX"),

		AuthenticationToken: get("MESOS_EXECUTOR_AUTHENTICATION_TOKEN"),
	}
	if e.AgentID == "" {
		e.AgentID = get("MESOS_SLAVE_ID")
	}
	if e.Sandbox == "" {
		e.Sandbox = e.Directory
	}
	var errs []string
	tc, err := tlsconf.FromEnv(lookup)
	if err == nil && tc.Enabled {
		var tr *http.Transport
		if tr, err = tc.Transport(); err == nil {
			e.TLS, e.HTTPClient = tc, &http.Client{Transport: tr}
		}
	}
	if err != nil {
		errs = append(errs, err.Error())
	}
	for _, k := range []string{"MESOS_AGENT_ENDPOINT", "MESOS_FRAMEWORK_ID", "MESOS_EXECUTOR_ID"} {
		if get(k) == "" {
			errs = append(errs, k+" is not set")
		}
	}
	switch v := get("MESOS_CHECKPOINT"); v {
	case "", "0", "false":
	case "1", "true":
		e.Checkpoint = true
	default:
		errs = append(errs, fmt.Sprintf("MESOS_CHECKPOINT=%q: want 0 or 1", v))
	}
	for _, d := range []struct {
		key string
		dst *time.Duration
		def time.Duration
	}{
		{"MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD", &e.ShutdownGracePeriod, DefaultShutdownGracePeriod},
		{"MESOS_RECOVERY_TIMEOUT", &e.RecoveryTimeout, DefaultRecoveryTimeout},
		{"MESOS_SUBSCRIPTION_BACKOFF_MAX", &e.SubscriptionBackoffMax, DefaultSubscriptionBackoffMax},
	} {
		*d.dst = d.def
		v := get(d.key)
		if v == "" {
			continue
		}
		p, err := mesosflag.ParseDuration(v)
		if err != nil || p < 0 {
			errs = append(errs, fmt.Sprintf("%s=%q: want a duration such as 5secs", d.key, v))
			continue
		}
		*d.dst = p
	}
	if len(errs) > 0 {
		return e, fmt.Errorf("%w: %s", ErrEnv, strings.Join(errs, "; "))
	}
	return e, nil
}

// Config returns a client Config for this environment (protobuf codec;
// https and a TLS client when the agent speaks TLS, else the default
// HTTP client; set the other fields on the result as needed).
func (e Env) Config() Config {
	endpoint := e.AgentEndpoint
	if e.TLS.Enabled && !strings.Contains(endpoint, "://") {
		endpoint = "https://" + endpoint
	}
	return Config{
		AgentEndpoint:   endpoint,
		HTTPClient:      e.HTTPClient,
		FrameworkID:     &mesospb.FrameworkID{Value: proto.String(e.FrameworkID)},
		ExecutorID:      &mesospb.ExecutorID{Value: proto.String(e.ExecutorID)},
		Checkpoint:      e.Checkpoint,
		RecoveryTimeout: e.RecoveryTimeout,
		BackoffMax:      e.SubscriptionBackoffMax,

		AuthenticationToken: e.AuthenticationToken,
	}
}
