package agent

import (
	"strings"
	"testing"
)

// An isolator the agent does not provide stops it at start, naming the
// flag; there is no fallback to plain processes.
func TestUnknownIsolatorRefused(t *testing.T) {
	for _, iso := range []string{"cgroups/net", "posix/cpu,network/cni"} {
		_, err := New(Config{Master: "127.0.0.1:1", WorkDir: t.TempDir(), Isolation: iso, Launcher: "/bin/true"})
		if err == nil || !strings.Contains(err.Error(), "--isolation="+iso) {
			t.Errorf("--isolation=%s: err = %v, want one naming the flag", iso, err)
		}
	}
}
