package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/resources"
)

// parseExecute runs the command's flag parsing and returns the plan.
func parseExecute(t *testing.T, args ...string) (*executePlan, error) {
	t.Helper()
	f := &executeFlags{}
	cmd := newExecuteCmdWith(f)
	if err := cmd.ParseFlags(args); err != nil {
		return nil, err
	}
	f.resourcesSet = cmd.Flags().Changed("resources")
	return f.plan("alice")
}

func TestExecuteFlagsBuildTask(t *testing.T) {
	p, err := parseExecute(t, "--master", "m:5050", "--name", "hello", "--command", "echo hi; exit 3",
		"--resources", "cpus:0.1;mem:32", "--env", `{"B":"2","A":"1"}`, "--role", "web", "--checkpoint",
		"--framework_capabilities", "GPU_RESOURCES", "--content_type", "json")
	if err != nil {
		t.Fatal(err)
	}
	task := p.task
	if task.GetName() != "hello" || task.GetTaskId().GetValue() != "hello" {
		t.Errorf("task name/id = %q/%q", task.GetName(), task.GetTaskId().GetValue())
	}
	if c := task.GetCommand(); !c.GetShell() || c.GetValue() != "echo hi; exit 3" {
		t.Errorf("command = %v", c)
	}
	vars := task.GetCommand().GetEnvironment().GetVariables()
	if len(vars) != 2 || vars[0].GetName() != "A" || vars[0].GetValue() != "1" || vars[1].GetName() != "B" {
		t.Errorf("environment = %v", vars)
	}
	if !p.resources.Equal(resources.MustParse("cpus:0.1;mem:32")) {
		t.Errorf("resources = %v", p.resources)
	}
	if p.codec != codec.JSON {
		t.Errorf("codec = %v, want JSON", p.codec.MediaType())
	}
	fw := p.framework
	if fw.GetUser() != "alice" || fw.GetName() != "meso-execute instance" || fw.GetRole() != "web" || !fw.GetCheckpoint() {
		t.Errorf("framework = %v", fw)
	}
	var caps []string
	for _, c := range fw.GetCapabilities() {
		caps = append(caps, c.GetType().String())
	}
	if got := strings.Join(caps, ","); got != "RESERVATION_REFINEMENT,TASK_KILLING_STATE,PARTITION_AWARE,GPU_RESOURCES" {
		t.Errorf("capabilities = %s", got)
	}
}

func TestExecuteFlagsNonShellAndDefaults(t *testing.T) {
	p, err := parseExecute(t, "--master", "m:5050", "--name", "ls", "--command", "/bin/ls -l /tmp",
		"--shell=false", "--partition_aware=false")
	if err != nil {
		t.Fatal(err)
	}
	c := p.task.GetCommand()
	if c.GetShell() || c.GetValue() != "/bin/ls" || strings.Join(c.GetArguments(), "|") != "/bin/ls|-l|/tmp" {
		t.Errorf("non-shell command = %v", c)
	}
	if !p.resources.Equal(resources.MustParse("cpus:1;mem:128")) {
		t.Errorf("default resources = %v, want mesos-execute's cpus:1;mem:128", p.resources)
	}
	if p.codec != codec.Protobuf {
		t.Errorf("default codec = %v", p.codec.MediaType())
	}
	for _, c := range p.framework.GetCapabilities() {
		if c.GetType() == mesospb.FrameworkInfo_Capability_PARTITION_AWARE {
			t.Errorf("PARTITION_AWARE declared with --partition_aware=false")
		}
	}
}

func TestExecuteFlagsEnvFromFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "env.json")
	if err := os.WriteFile(path, []byte(`{"X": "from file"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{path, "file://" + path} {
		p, err := parseExecute(t, "--master", "m:1", "--name", "n", "--command", "true", "--env", v)
		if err != nil {
			t.Fatalf("--env %s: %v", v, err)
		}
		if vars := p.task.GetCommand().GetEnvironment().GetVariables(); len(vars) != 1 || vars[0].GetValue() != "from file" {
			t.Errorf("--env %s: %v", v, vars)
		}
	}
}

func TestExecuteFlagsTaskJSON(t *testing.T) {
	task := `{"name": "t", "task_id": {"value": "t-1"},
		"resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.5}}],
		"command": {"value": "sleep 1"}}`
	p, err := parseExecute(t, "--master", "m:1", "--task", task)
	if err != nil {
		t.Fatal(err)
	}
	if p.task.GetTaskId().GetValue() != "t-1" || p.task.GetCommand().GetValue() != "sleep 1" || p.task.AgentId != nil || p.task.Resources != nil {
		t.Errorf("task = %v", p.task)
	}
	if !p.resources.Equal(resources.MustParse("cpus:0.5")) {
		t.Errorf("resources = %v", p.resources)
	}
}

func TestExecuteFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--name", "n", "--command", "c"}, "--master"},
		{[]string{"--master", "m:1", "--command", "c"}, "--name"},
		{[]string{"--master", "m:1", "--name", "n"}, "--command"},
		{[]string{"--master", "m:1", "--name", "n", "--command", "c", "--resources", "cpus:lots"}, "--resources"},
		{[]string{"--master", "m:1", "--name", "n", "--command", "c", "--env", `["x"]`}, "--env"},
		{[]string{"--master", "m:1", "--name", "n", "--command", "c", "--env", `{"=x":"1"}`}, "--env"},
		{[]string{"--master", "m:1", "--name", "n", "--command", "c", "--content_type", "xml"}, "--content_type"},
		{[]string{"--master", "m:1", "--name", "n", "--command", "c", "--framework_capabilities", "MULTI_ROLE"}, "--framework_capabilities"},
		{[]string{"--master", "m:1", "--task", `{"name":"t","task_id":{"value":"t"}}`, "--name", "n"}, "--task"},
		{[]string{"--master", "m:1", "--task", `{"name":"t","task_id":{"value":"t"}}`, "--resources", "cpus:1"}, "--task"},
		{[]string{"--master", "m:1", "--task", `{"name":"t"}`}, "--task"},
		{[]string{"--master", "m:1", "--task", `{"name":"t","task_id":{"value":"t"}}`}, "needs some resources"},
	} {
		_, err := parseExecute(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want one mentioning %s", tc.args, err, tc.want)
		}
	}
	if _, err := parseExecute(t, "--kill_after", "soon"); err == nil {
		t.Errorf("--kill_after soon accepted")
	}
}

func TestExecuteHelpDocumentsEveryFlag(t *testing.T) {
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"execute", "--help"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	for _, flag := range []string{"master", "name", "command", "shell", "env", "resources", "task", "role",
		"framework_name", "principal", "secret", "checkpoint", "partition_aware", "framework_capabilities", "content_type",
		"kill_after", "verbose"} {
		if !strings.Contains(out.String(), "--"+flag+" ") {
			t.Errorf("help lacks --%s", flag)
		}
	}
	if strings.Contains(out.String(), "0ns") {
		t.Errorf("help shows a Go-style zero duration:\n%s", out.String())
	}
}

func TestFormatUpdate(t *testing.T) {
	var b bytes.Buffer
	formatUpdate(&b, &mesospb.TaskStatus{
		TaskId:  &mesospb.TaskID{Value: proto.String("hello")},
		State:   mesospb.TaskState_TASK_FAILED.Enum(),
		Message: proto.String("Command exited with status 3"),
		Source:  mesospb.TaskStatus_SOURCE_EXECUTOR.Enum(),
		Reason:  mesospb.TaskStatus_REASON_COMMAND_EXECUTOR_FAILED.Enum(),
		Healthy: proto.Bool(false),
	})
	want := `Received status update TASK_FAILED for task 'hello'
  message: 'Command exited with status 3'
  source: SOURCE_EXECUTOR
  reason: REASON_COMMAND_EXECUTOR_FAILED
  healthy?: false
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	formatUpdate(&b, &mesospb.TaskStatus{TaskId: &mesospb.TaskID{Value: proto.String("x")}, State: mesospb.TaskState_TASK_RUNNING.Enum()})
	if b.String() != "Received status update TASK_RUNNING for task 'x'\n" {
		t.Errorf("minimal update printed as %q", b.String())
	}
}

func TestTaskExitCode(t *testing.T) {
	for _, tc := range []struct {
		state mesospb.TaskState
		msg   string
		want  int
	}{
		{mesospb.TaskState_TASK_FINISHED, "Command exited with status 0", 0},
		{mesospb.TaskState_TASK_FAILED, "Command exited with status 3", 3},
		{mesospb.TaskState_TASK_FAILED, "Command exited with status 255", 255},
		{mesospb.TaskState_TASK_FAILED, "Command terminated with signal Segmentation fault", 139},
		{mesospb.TaskState_TASK_KILLED, "Command terminated with signal Killed", 137},
		{mesospb.TaskState_TASK_KILLED, "Command terminated with signal Terminated", 143},
		{mesospb.TaskState_TASK_KILLED, "", 137},
		{mesospb.TaskState_TASK_FAILED, "Failed to launch task: not found", 1},
		{mesospb.TaskState_TASK_FAILED, "Command exited with status 0", 1},
		{mesospb.TaskState_TASK_LOST, "Agent removed", 1},
		{mesospb.TaskState_TASK_ERROR, "bad resources", 1},
	} {
		st := &mesospb.TaskStatus{State: tc.state.Enum(), Message: proto.String(tc.msg)}
		if got := taskExitCode(st); got != tc.want {
			t.Errorf("%s %q: exit code %d, want %d", tc.state, tc.msg, got, tc.want)
		}
	}
}

func TestIsTerminal(t *testing.T) {
	for s, want := range map[mesospb.TaskState]bool{
		mesospb.TaskState_TASK_RUNNING: false, mesospb.TaskState_TASK_UNREACHABLE: false,
		mesospb.TaskState_TASK_KILLING: false, mesospb.TaskState_TASK_FINISHED: true,
		mesospb.TaskState_TASK_DROPPED: true, mesospb.TaskState_TASK_GONE_BY_OPERATOR: true,
	} {
		if mesospb.IsTerminal(s) != want {
			t.Errorf("mesospb.IsTerminal(%s) = %v", s, !want)
		}
	}
}

func TestFitTask(t *testing.T) {
	offer := func(spec string) *mesospb.Offer {
		return &mesospb.Offer{Resources: resources.MustParse(spec).ToProto("", false)}
	}
	want := resources.MustParse("cpus:1;mem:64")
	if got, ok := fitTask(offer("cpus:2;mem:128;ports:[31000-32000]"), want, "*"); !ok || !got.Equal(want) {
		t.Errorf("unreserved fit = %v, %v", got, ok)
	}
	if _, ok := fitTask(offer("cpus:0.5;mem:128"), want, "*"); ok {
		t.Errorf("too small an offer fits")
	}
	got, ok := fitTask(offer("cpus(web):2;mem(web):128;cpus:4;mem:512"), want, "web")
	if !ok || !got.Equal(resources.MustParse("cpus(web):1;mem(web):64")) {
		t.Errorf("reserved fit = %v, %v; want the role's reservation first", got, ok)
	}
	got, ok = fitTask(offer("cpus(web):0.5;cpus:4;mem:512"), want, "web")
	if !ok || !got.Equal(want) {
		t.Errorf("fallback to unreserved = %v, %v", got, ok)
	}
}

func TestMasterStateAgentURL(t *testing.T) {
	var s masterState
	s.Slaves = append(s.Slaves, struct {
		ID       string `json:"id"`
		PID      string `json:"pid"`
		Hostname string `json:"hostname"`
		Port     int    `json:"port"`
	}{ID: "a1", PID: "slave(1)@10.0.0.1:5051"}, struct {
		ID       string `json:"id"`
		PID      string `json:"pid"`
		Hostname string `json:"hostname"`
		Port     int    `json:"port"`
	}{ID: "a2", Hostname: "node2", Port: 5052})
	if u, err := s.agentURL("a1"); err != nil || u != "http://10.0.0.1:5051" {
		t.Errorf("a1: %q, %v", u, err)
	}
	if u, err := s.agentURL("a2"); err != nil || u != "http://node2:5052" {
		t.Errorf("a2: %q, %v", u, err)
	}
	if _, err := s.agentURL("a3"); err == nil {
		t.Errorf("unknown agent found")
	}
}
