package e2e

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The README's first command: `meso dev --example` brings up a cluster,
// runs the sample workload (command tasks, then the seed demo job as an rdd
// framework whose executors are the meso binary) and exits 0.
func TestDevExample(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, code := runMeso(t, ctx, "dev", "--example", "--port=0")
	if code != 0 {
		t.Fatalf("meso dev --example exited %d:\n%s", code, out)
	}
	if !strings.Contains(out, "TASK_FINISHED=10") || !strings.Contains(out, "over 2 agents") ||
		!strings.Contains(out, ": 10001 groups (checksum 8939410d097f7668)") {
		t.Errorf("unexpected output:\n%s", out)
	}
}

// `meso execute` against `meso dev`: status updates, the task's output, and
// the task's exit code as its own.
func TestExecuteAgainstDev(t *testing.T) {
	port := freePort(t)
	dev := start(t, "dev", port, "dev", "--port="+strconv.Itoa(port))
	dev.waitHealthy()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, code := runMeso(t, ctx, "execute", "--master", dev.addr, "--name", "hello",
		"--command", "echo hello; echo to-stderr >&2; exit 3", "--resources", "cpus:0.1;mem:32")
	if code != 3 {
		t.Fatalf("meso execute exited %d, want the task's 3:\n%s", code, out)
	}
	for _, want := range []string{"TASK_STARTING", "TASK_RUNNING", "TASK_FAILED", "hello", "to-stderr"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// `meso dev --masters 3 --example`: three masters in one process elect a
// leader; the agents and the example framework find it through the list.
func TestDevExampleThreeMasters(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, code := runMeso(t, ctx, "dev", "--example", "--port=0", "--masters=3")
	if code != 0 {
		t.Fatalf("meso dev --example --masters=3 exited %d:\n%s", code, out)
	}
	if !strings.Contains(out, "3 masters at") || !strings.Contains(out, "TASK_FINISHED=10") {
		t.Errorf("unexpected output:\n%s", out)
	}
}
