package execpolicy

import (
	"os/exec"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
)

func TestTerminalStatus(t *testing.T) {
	run := func(script string) *exec.Cmd {
		cmd := exec.Command("/bin/sh", "-c", script)
		_ = cmd.Run()
		return cmd
	}
	for _, tc := range []struct {
		script string
		killed bool
		state  mesospb.TaskState
		msg    string
	}{
		{"exit 0", false, mesospb.TaskState_TASK_FINISHED, "Command exited with status 0"},
		{"exit 7", false, mesospb.TaskState_TASK_FAILED, "Command exited with status 7"},
		{"kill -9 $$", false, mesospb.TaskState_TASK_FAILED, "Command terminated with signal Killed"},
		{"kill -15 $$", true, mesospb.TaskState_TASK_KILLED, "Command terminated with signal Terminated"},
		{"exit 0", true, mesospb.TaskState_TASK_KILLED, "Command exited with status 0"},
	} {
		state, msg := TerminalStatus(run(tc.script).ProcessState, tc.killed)
		if state != tc.state || msg != tc.msg {
			t.Errorf("%q killed=%v: %s %q, want %s %q", tc.script, tc.killed, state, msg, tc.state, tc.msg)
		}
	}
	if state, _ := TerminalStatus(nil, false); state != mesospb.TaskState_TASK_FAILED {
		t.Errorf("unknown end: %s, want TASK_FAILED", state)
	}
}

func TestKillGrace(t *testing.T) {
	policy := func(d time.Duration) *mesospb.KillPolicy {
		return &mesospb.KillPolicy{GracePeriod: &mesospb.DurationInfo{Nanoseconds: proto.Int64(int64(d))}}
	}
	def := 5 * time.Second
	if g := KillGrace(policy(time.Second), policy(time.Minute), def); g != time.Second {
		t.Errorf("event policy: %v", g)
	}
	if g := KillGrace(nil, policy(time.Minute), def); g != time.Minute {
		t.Errorf("task policy: %v", g)
	}
	if g := KillGrace(&mesospb.KillPolicy{}, nil, def); g != def {
		t.Errorf("default: %v", g)
	}
	if g := KillGrace(policy(-time.Second), nil, def); g != 0 {
		t.Errorf("negative grace: %v, want 0", g)
	}
	if g := ShutdownGrace(4 * time.Second); g != 3*time.Second {
		t.Errorf("ShutdownGrace(4s) = %v", g)
	}
}
