package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestExecuteSandboxGoneAfterAgentRestart: `meso execute` (no
// --checkpoint) runs a task; its agent is SIGKILLed and started again on
// the same work dir, which ends the task (the agent does not recover a
// framework that does not checkpoint). The agent no longer serves the
// task's sandbox, and execute says so, not the files API's "outside the
// served directory".
func TestExecuteSandboxGoneAfterAgentRestart(t *testing.T) {
	cl := newCluster(t, 0, executorAgentRes, masterFlags...)
	agent := newRecoveryAgent(cl)
	agent.id()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, mesoBin, "execute", "--master", cl.master.addr, "--name", "gone",
		"--command", "echo started; sleep 600", "--resources", "cpus:0.1;mem:32")
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	eventually(t, time.Minute, func() error {
		for _, fw := range cl.state().Frameworks {
			for _, task := range fw.Tasks {
				if task.ID == "gone" && task.State == "TASK_RUNNING" {
					return nil
				}
			}
		}
		return fmt.Errorf("task not running yet; meso execute says:\n%s", out.String())
	})
	agent.proc.kill()
	agent.start()

	select {
	case <-done:
	case <-ctx.Done():
		t.Fatalf("meso execute did not end after the agent's restart:\n%s", out.String())
	}
	got := out.String()
	if strings.Contains(got, "outside the served directory") || !strings.Contains(got, "no longer knows executor 'gone'") ||
		!strings.Contains(got, "--checkpoint") {
		t.Fatalf("meso execute's output does not explain that the sandbox is gone:\n%s", got)
	}
}
