package main

import (
	"strings"
	"testing"
)

// A shuffle service port out of range is refused before the agent starts
// anything (it used to fail only when the service tried to listen).
func TestAgentRefusesBadShuffleServicePort(t *testing.T) {
	for _, port := range []string{"99999", "-1", "65536"} {
		err := newRootCmdRun(t, "agent", "--master", "127.0.0.1:1", "--work_dir", t.TempDir(), "--shuffle_service="+port)
		if err == nil || !strings.Contains(err.Error(), "--shuffle_service="+port) || !strings.Contains(err.Error(), "1-65535") {
			t.Errorf("--shuffle_service=%s: %v; want an error naming the flag and the range", port, err)
		}
	}
}

// A command executor host's idle time of zero or below is refused (it
// used to fall back to the default silently).
func TestAgentRefusesNonPositiveHostIdle(t *testing.T) {
	for _, d := range []string{"0s", "-5s"} {
		err := newRootCmdRun(t, "agent", "--master", "127.0.0.1:1", "--work_dir", t.TempDir(), "--command_executor_host_idle="+d)
		if err == nil || !strings.Contains(err.Error(), "--command_executor_host_idle") || !strings.Contains(err.Error(), "positive") {
			t.Errorf("--command_executor_host_idle=%s: %v; want an error naming the flag", d, err)
		}
	}
}
