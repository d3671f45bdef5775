package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mesoproject/meso/internal/resources"
)

const twoTaskGroup = `{"tasks": [
  {"name": "web", "task_id": {"value": "web"},
   "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}}, {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}}],
   "command": {"value": "sleep 1000"},
   "health_check": {"type": "HTTP", "http": {"port": 8080, "path": "/"}, "consecutive_failures": 2}},
  {"name": "log", "task_id": {"value": "log"}, "agent_id": {"value": ""},
   "resources": [{"name": "mem", "type": "SCALAR", "scalar": {"value": 16}}],
   "command": {"value": "tail -f /dev/null"}}
]}`

func TestExecuteTaskGroupFlag(t *testing.T) {
	path := filepath.Join(t.TempDir(), "group.json")
	if err := os.WriteFile(path, []byte(twoTaskGroup), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, arg := range []string{twoTaskGroup, path, "file://" + path} {
		p, err := parseExecute(t, "--master", "m:5050", "--task_group", arg)
		if err != nil {
			t.Fatal(err)
		}
		tasks := p.group.group.GetTasks()
		if len(tasks) != 2 || tasks[0].GetTaskId().GetValue() != "web" || tasks[1].GetTaskId().GetValue() != "log" {
			t.Fatalf("tasks %v", tasks)
		}
		if tasks[0].GetHealthCheck().GetConsecutiveFailures() != 2 || tasks[0].GetHealthCheck().GetHttp().GetPort() != 8080 {
			t.Errorf("health check not kept: %v", tasks[0].GetHealthCheck())
		}
		if tasks[0].AgentId != nil || tasks[0].Resources != nil {
			t.Errorf("agent id and resources are set at launch, not in the plan: %v", tasks[0])
		}
		want := resources.MustParse("cpus:0.2;mem:80;disk:32") // the executor's and both tasks'
		if !p.resources.Equal(want) {
			t.Errorf("launch needs %v, want %v", p.resources, want)
		}
		if !p.group.needs[1].Equal(resources.MustParse("mem:16")) {
			t.Errorf("second task needs %v", p.group.needs[1])
		}
		if p.task.GetTaskId().GetValue() != "web" {
			t.Errorf("the plan's task is %v, want the group's first (kill_after kills it, and so the group)", p.task)
		}
	}
}

func TestExecuteTaskGroupErrors(t *testing.T) {
	task := func(id, res string) string {
		return `{"name": "` + id + `", "task_id": {"value": "` + id + `"}` + res + `, "command": {"value": "true"}}`
	}
	res := `, "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}}]`
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--task_group", `[]`}, "JSON object"},
		{[]string{"--task_group", `{"tasks": []}`}, "at least one task"},
		{[]string{"--task_group", `{"tasks": [` + task("", res) + `]}`}, "task_id"},
		{[]string{"--task_group", `{"tasks": [` + task("a", res) + `,` + task("a", res) + `]}`}, "twice"},
		{[]string{"--task_group", `{"tasks": [` + task("a", "") + `]}`}, "needs some resources"},
		{[]string{"--task_group", `{"tasks": [{"name": 3}]}`}, "--task_group"},
		{[]string{"--task_group", `{"tasks": [` + task("a", res) + `]}`, "--name", "x"}, "excludes"},
		{[]string{"--task_group", `{"tasks": [` + task("a", res) + `]}`, "--task", "{}"}, "excludes"},
		{[]string{"--task_group", `{"tasks": [` + task("a", res) + `]}`, "--uri", "/bin/true"}, "excludes"},
		{[]string{"--task_group", "/no/such/file.json"}, "no such file"},
	} {
		_, err := parseExecute(t, append([]string{"--master", "m:1"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want one mentioning %q", tc.args, err, tc.want)
		}
	}
}

// FuzzTaskGroupFlag: whatever --task_group holds, parsing gives an error
// or a usable plan, never a panic.
func FuzzTaskGroupFlag(f *testing.F) {
	f.Add(twoTaskGroup)
	f.Add(`{"tasks": [{"name": "a", "task_id": {"value": "a"}, "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}}]}]}`)
	f.Add(`{"tasks": null}`)
	f.Add(`{"tasks": [{}]}`)
	f.Fuzz(func(t *testing.T, arg string) {
		if strings.HasPrefix(arg, "/") || strings.HasPrefix(arg, "file:") {
			return // file names: not what this target is about
		}
		fl := &executeFlags{taskGroup: arg}
		p, total, err := fl.groupFromJSON()
		if err != nil {
			return
		}
		if len(p.group.GetTasks()) == 0 || len(p.needs) != len(p.group.GetTasks()) || total.IsEmpty() {
			t.Fatalf("unusable plan from %q: %v", arg, p.group)
		}
	})
}
