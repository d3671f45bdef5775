package executor

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func lookupIn(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestParseEnv(t *testing.T) {
	env, err := ParseEnv(lookupIn(map[string]string{
		"MESOS_AGENT_ENDPOINT":                 "127.0.0.1:5051",
		"MESOS_FRAMEWORK_ID":                   "fw-1",
		"MESOS_EXECUTOR_ID":                    "ex-1",
		"MESOS_SLAVE_ID":                       "agent-1",
		"MESOS_DIRECTORY":                      "/sandbox",
		"MESOS_CHECKPOINT":                     "1",
		"MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": "3secs",
		"MESOS_RECOVERY_TIMEOUT":               "2mins",
		"MESOS_SUBSCRIPTION_BACKOFF_MAX":       "500ms",
		"MESOS_EXECUTOR_AUTHENTICATION_TOKEN":  "tok",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := Env{
		AgentEndpoint: "127.0.0.1:5051", FrameworkID: "fw-1", ExecutorID: "ex-1", AgentID: "agent-1",
		Directory: "/sandbox", Sandbox: "/sandbox", Checkpoint: true,
		ShutdownGracePeriod: 3 * time.Second, RecoveryTimeout: 2 * time.Minute, SubscriptionBackoffMax: 500 * time.Millisecond,
		AuthenticationToken: "tok",
	}
	if env != want {
		t.Errorf("ParseEnv = %+v\nwant %+v", env, want)
	}
	cfg := env.Config()
	if cfg.FrameworkID.GetValue() != "fw-1" || cfg.ExecutorID.GetValue() != "ex-1" || !cfg.Checkpoint ||
		cfg.RecoveryTimeout != 2*time.Minute || cfg.BackoffMax != 500*time.Millisecond || cfg.AuthenticationToken != "tok" {
		t.Errorf("Config() = %+v", cfg)
	}
}

func TestParseEnvDefaults(t *testing.T) {
	env, err := ParseEnv(lookupIn(map[string]string{
		"MESOS_AGENT_ENDPOINT": "h:1", "MESOS_FRAMEWORK_ID": "f", "MESOS_EXECUTOR_ID": "e",
		"MESOS_SANDBOX": "/mnt/mesos/sandbox", "MESOS_DIRECTORY": "/var/x",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if env.Checkpoint || env.ShutdownGracePeriod != 5*time.Second || env.RecoveryTimeout != 15*time.Minute ||
		env.SubscriptionBackoffMax != 2*time.Second || env.Sandbox != "/mnt/mesos/sandbox" {
		t.Errorf("defaults = %+v", env)
	}
}

func TestParseEnvErrors(t *testing.T) {
	_, err := ParseEnv(lookupIn(map[string]string{
		"MESOS_FRAMEWORK_ID":                   "f",
		"MESOS_CHECKPOINT":                     "yes",
		"MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": "soon",
	}))
	if !errors.Is(err, ErrEnv) {
		t.Fatalf("err = %v, want ErrEnv", err)
	}
	for _, want := range []string{"MESOS_AGENT_ENDPOINT", "MESOS_EXECUTOR_ID", "MESOS_CHECKPOINT", "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func FuzzParseEnv(f *testing.F) {
	f.Add("127.0.0.1:5051", "fw", "ex", "1", "5secs", "15mins")
	f.Add("http://h:1/x", "", "e", "yes", "soon", "-1secs")
	f.Add("[::1]:5051", "f", "e", "0", "1.5mins", "100ms")
	f.Fuzz(func(t *testing.T, endpoint, fw, ex, checkpoint, grace, recovery string) {
		m := map[string]string{
			"MESOS_AGENT_ENDPOINT": endpoint, "MESOS_FRAMEWORK_ID": fw, "MESOS_EXECUTOR_ID": ex,
			"MESOS_CHECKPOINT": checkpoint, "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": grace,
			"MESOS_RECOVERY_TIMEOUT": recovery,
		}
		env, err := ParseEnv(lookupIn(m))
		if err != nil {
			if !errors.Is(err, ErrEnv) {
				t.Fatalf("error %v does not wrap ErrEnv", err)
			}
			return
		}
		if env.ShutdownGracePeriod < 0 || env.RecoveryTimeout < 0 {
			t.Fatalf("negative durations accepted: %+v", env)
		}
		// A valid environment gives a client that either runs or reports a
		// configuration error; it never panics.
		_ = New(env.Config())
	})
}
