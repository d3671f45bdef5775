package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// `meso execute` against a master with --authenticate_frameworks: with the
// principal and secret (flags, or MESOS_PRINCIPAL / MESOS_SECRET) the task
// runs; with a wrong secret the master refuses it (401) and execute fails.
func TestExecuteAuthenticates(t *testing.T) {
	creds := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(creds, []byte("ops s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cl := newCluster(t, 1, agentRes, append(masterFlags, "--authenticate_frameworks", "--credentials="+creds)...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run := func(env []string, args ...string) (string, int) {
		cmd := exec.CommandContext(ctx, mesoBin, append([]string{"execute", "--master=" + cl.master.addr,
			"--resources=cpus:0.1;mem:32", "--command=echo authenticated"}, args...)...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
	if out, code := run(nil, "--name=flags", "--principal=ops", "--secret=s3cret"); code != 0 || !strings.Contains(out, "authenticated") {
		t.Fatalf("with --principal/--secret: exit %d\n%s", code, out)
	}
	if out, code := run([]string{"MESOS_PRINCIPAL=ops", "MESOS_SECRET=s3cret"}, "--name=env"); code != 0 || !strings.Contains(out, "authenticated") {
		t.Fatalf("with MESOS_PRINCIPAL/MESOS_SECRET: exit %d\n%s", code, out)
	}
	if out, code := run(nil, "--name=wrong", "--principal=ops", "--secret=nope"); code == 0 || !strings.Contains(out, "401") {
		t.Fatalf("with a wrong secret: exit %d\n%s", code, out)
	}
}
