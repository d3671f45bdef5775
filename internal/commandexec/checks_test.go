package commandexec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
)

// A task failing its health check is reported at each counted failure,
// killed when they reach consecutive_failures, and ends TASK_KILLED with
// healthy=false.
func TestHealthCheckKillsTask(t *testing.T) {
	task := shellTask(`touch healthy; exec sleep 60`)
	task.HealthCheck = &mesospb.HealthCheck{
		Type:                mesospb.HealthCheck_COMMAND.Enum(),
		Command:             &mesospb.CommandInfo{Value: proto.String("test -f healthy")},
		DelaySeconds:        proto.Float64(0),
		IntervalSeconds:     proto.Float64(0.05),
		GracePeriodSeconds:  proto.Float64(60), // failures before the file exists are ignored
		ConsecutiveFailures: proto.Uint32(2),
	}
	a := newFakeAgent(t, task)
	a.capabilities = []mesospb.FrameworkInfo_Capability_Type{mesospb.FrameworkInfo_Capability_TASK_KILLING_STATE}
	p := startExecutor(t, a)
	expectUpdate(t, a, p, mesospb.TaskState_TASK_STARTING)
	expectUpdate(t, a, p, mesospb.TaskState_TASK_RUNNING)
	st := expectUpdate(t, a, p, mesospb.TaskState_TASK_RUNNING)
	if st.Healthy == nil || !st.GetHealthy() || st.GetReason() != mesospb.TaskStatus_REASON_TASK_HEALTH_CHECK_STATUS_UPDATED {
		t.Fatalf("first health update %v", st)
	}
	if err := os.Remove(filepath.Join(p.sandbox, "healthy")); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		st := expectUpdate(t, a, p, mesospb.TaskState_TASK_RUNNING)
		if st.Healthy == nil || st.GetHealthy() || st.GetReason() != mesospb.TaskStatus_REASON_TASK_HEALTH_CHECK_STATUS_UPDATED {
			t.Fatalf("failure update %v", st)
		}
	}
	expectUpdate(t, a, p, mesospb.TaskState_TASK_KILLING)
	killed := expectUpdate(t, a, p, mesospb.TaskState_TASK_KILLED)
	if killed.Healthy == nil || killed.GetHealthy() || killed.GetMessage() != "Command terminated with signal Terminated" {
		t.Errorf("terminal update %v: want healthy=false after SIGTERM", killed)
	}
	p.expectExit(t)
}

// A check's result is reported in check_status as it changes; every
// status carries check_status; the task is not killed.
func TestCheckReportsStatus(t *testing.T) {
	task := shellTask(`while [ ! -f done ]; do sleep 0.01; done`)
	task.Check = &mesospb.CheckInfo{
		Type:            mesospb.CheckInfo_COMMAND.Enum(),
		Command:         &mesospb.CheckInfo_Command{Command: &mesospb.CommandInfo{Value: proto.String("test -f flag && exit 0; exit 4")}},
		DelaySeconds:    proto.Float64(0),
		IntervalSeconds: proto.Float64(0.05),
	}
	a := newFakeAgent(t, task)
	p := startExecutor(t, a)
	var all []*mesospb.TaskStatus
	all = append(all, expectUpdate(t, a, p, mesospb.TaskState_TASK_STARTING), expectUpdate(t, a, p, mesospb.TaskState_TASK_RUNNING))
	st := expectUpdate(t, a, p, mesospb.TaskState_TASK_RUNNING)
	if st.GetReason() != mesospb.TaskStatus_REASON_TASK_CHECK_STATUS_UPDATED || st.GetCheckStatus().GetCommand().GetExitCode() != 4 {
		t.Fatalf("check update %v, want exit code 4", st)
	}
	if err := os.WriteFile(filepath.Join(p.sandbox, "flag"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	st2 := expectUpdate(t, a, p, mesospb.TaskState_TASK_RUNNING)
	if st2.GetCheckStatus().GetCommand().GetExitCode() != 0 || st2.GetCheckStatus().GetCommand().ExitCode == nil {
		t.Fatalf("check update %v, want exit code 0", st2)
	}
	if err := os.WriteFile(filepath.Join(p.sandbox, "done"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	all = append(all, st, st2, expectUpdate(t, a, p, mesospb.TaskState_TASK_FINISHED))
	p.expectExit(t)
	for _, st := range all {
		if st.GetCheckStatus().GetType() != mesospb.CheckInfo_COMMAND {
			t.Errorf("%s update without check_status", st.GetState())
		}
	}
}

func TestInvalidHealthCheckFailsLaunch(t *testing.T) {
	task := shellTask(`touch ran`)
	task.HealthCheck = &mesospb.HealthCheck{Type: mesospb.HealthCheck_HTTP.Enum()}
	a := newFakeAgent(t, task)
	p := startExecutor(t, a)
	expectUpdate(t, a, p, mesospb.TaskState_TASK_STARTING)
	st := expectUpdate(t, a, p, mesospb.TaskState_TASK_FAILED)
	if st.GetReason() != mesospb.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED || !strings.Contains(st.GetMessage(), "health check") {
		t.Errorf("update %v", st)
	}
	p.expectExit(t)
	if _, err := os.Stat(filepath.Join(p.sandbox, "ran")); err == nil {
		t.Error("the task ran despite its invalid health check")
	}
}
