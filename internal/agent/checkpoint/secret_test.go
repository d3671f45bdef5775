package checkpoint

import (
	"os"
	"path/filepath"
	"testing"
)

func TestAgentSecret(t *testing.T) {
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.AgentSecret("a1"); got != "" || err != nil {
		t.Fatalf("no secret yet: %q %v", got, err)
	}
	if err := s.WriteAgentSecret("a1", "s1"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.AgentSecret("a1"); got != "s1" || err != nil {
		t.Fatalf("secret of a1 = %q %v", got, err)
	}
	if got, _ := s.AgentSecret("a2"); got != "" {
		t.Fatalf("a1's secret offered for a2: %q", got)
	}
	fi, err := os.Stat(filepath.Join(s.Dir(), secretFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret file mode %v, %v", fi.Mode(), err)
	}
}
