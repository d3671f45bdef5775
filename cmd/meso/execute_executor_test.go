package main

import (
	"strings"
	"testing"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/resources"
)

const testExecutorJSON = `{"executor_id":{"value":"my-exec"},"command":{"value":"./my-executor"},
  "resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":0.1}},{"name":"mem","type":"SCALAR","scalar":{"value":32}}]}`

func TestExecuteCustomExecutorFlags(t *testing.T) {
	p, err := parseExecute(t, "--master", "m:5050", "--name", "work", "--executor", testExecutorJSON,
		"--data", "finish", "--env", `{"LEVEL":"debug"}`,
		"--uri", "http://repo/my-executor", "--uri", `{"value":"http://repo/conf.tgz","extract":false,"cache":true,"output_file":"c.tgz"}`)
	if err != nil {
		t.Fatal(err)
	}
	task := p.task
	if task.Command != nil {
		t.Errorf("a task for a custom executor has command %v", task.GetCommand())
	}
	ex := task.GetExecutor()
	if ex.GetExecutorId().GetValue() != "my-exec" || ex.GetType() != mesospb.ExecutorInfo_CUSTOM || string(task.GetData()) != "finish" {
		t.Errorf("executor %v, data %q", ex, task.GetData())
	}
	uris := ex.GetCommand().GetUris()
	if len(uris) != 2 || uris[0].GetValue() != "http://repo/my-executor" || !uris[0].GetExtract() ||
		uris[1].GetExtract() || !uris[1].GetCache() || uris[1].GetOutputFile() != "c.tgz" {
		t.Errorf("executor URIs %v", uris)
	}
	if vars := ex.GetCommand().GetEnvironment().GetVariables(); len(vars) != 1 || vars[0].GetName() != "LEVEL" {
		t.Errorf("executor environment %v", vars)
	}
	if !p.executorResources.Equal(resources.MustParse("cpus:0.1;mem:32")) || ex.Resources != nil {
		t.Errorf("executor resources %v (left on the info: %v)", p.executorResources, ex.GetResources())
	}
	if sandboxExecutorID(task) != "my-exec" {
		t.Errorf("output read from executor %q", sandboxExecutorID(task))
	}
}

func TestExecuteURIOnCommandTask(t *testing.T) {
	p, err := parseExecute(t, "--master", "m:5050", "--name", "t", "--command", "./tool", "--uri", "/opt/tool")
	if err != nil {
		t.Fatal(err)
	}
	if uris := p.task.GetCommand().GetUris(); len(uris) != 1 || uris[0].GetValue() != "/opt/tool" {
		t.Errorf("URIs %v", uris)
	}
	if p.executorResources != nil || sandboxExecutorID(p.task) != "t" {
		t.Errorf("command task: executor resources %v, sandbox of %q", p.executorResources, sandboxExecutorID(p.task))
	}
}

func TestExecuteTaskJSONWithExecutor(t *testing.T) {
	task := `{"name":"t","task_id":{"value":"t"},"executor":` + testExecutorJSON + `,
	  "resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":0.5}}]}`
	p, err := parseExecute(t, "--master", "m:5050", "--task", task, "--uri", "http://repo/extra")
	if err != nil {
		t.Fatal(err)
	}
	if !p.executorResources.Equal(resources.MustParse("cpus:0.1;mem:32")) || !p.resources.Equal(resources.MustParse("cpus:0.5")) {
		t.Errorf("resources: task %v, executor %v", p.resources, p.executorResources)
	}
	if uris := p.task.GetExecutor().GetCommand().GetUris(); len(uris) != 1 {
		t.Errorf("executor URIs %v", uris)
	}
	if _, err := parseExecute(t, "--master", "m:5050", "--task", task, "--executor", testExecutorJSON); err == nil ||
		!strings.Contains(err.Error(), "already names an executor") {
		t.Errorf("--task with an executor and --executor: %v", err)
	}
}

func TestExecuteExecutorFlagErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--name", "t", "--command", "x", "--executor", testExecutorJSON}, "exclude each other"},
		{[]string{"--name", "t", "--command", "x", "--data", "d"}, "--data needs --executor"},
		{[]string{"--name", "t", "--executor", `{"executor_id":{"value":"e"}}`}, "CUSTOM executor with a command"},
		{[]string{"--name", "t", "--executor", `{"executor_id":{"value":"e"},"type":"DEFAULT"}`}, "CUSTOM executor with a command"},
		{[]string{"--name", "t", "--executor", `{"command":{"value":"x"}}`}, "executor_id"},
		{[]string{"--name", "t", "--executor", `[1]`}, "--executor"},
		{[]string{"--name", "t", "--executor", "/nonexistent/executor.json"}, "--executor"},
		{[]string{"--name", "t", "--executor", testExecutorJSON, "--docker_image", "busybox"}, "do not apply with --executor"},
		{[]string{"--name", "t", "--command", "x", "--uri", `{"executable":true}`}, "--uri"},
		{[]string{"--name", "t", "--command", "x", "--uri", ""}, "--uri: empty"},
		{[]string{"--name", "t", "--command", "x", "--uri", `{"value":"x","cache":"yes"}`}, "--uri"},
	} {
		_, err := parseExecute(t, append([]string{"--master", "m:5050"}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err = %v, want it to mention %q", c.args, err, c.want)
		}
	}
}

func TestFitTaskAndExecutor(t *testing.T) {
	offer := &mesospb.Offer{Resources: resources.MustParse("cpus:1;mem:128;cpus(web):0.5;mem(web):64").ToProto("", false)}
	task, ex := resources.MustParse("cpus:0.4;mem:32"), resources.MustParse("cpus:0.1;mem:32")
	tr, er, ok := fitTaskAndExecutor(offer, task, ex, "web")
	if !ok || !tr.Equal(resources.MustParse("cpus(web):0.4;mem(web):32")) || !er.Equal(resources.MustParse("cpus(web):0.1;mem(web):32")) {
		t.Errorf("reserved pool: %v %v %v", tr, er, ok)
	}
	// Together they do not fit the role's reservation: both unreserved.
	big := resources.MustParse("cpus:0.45;mem:60")
	tr, er, ok = fitTaskAndExecutor(offer, big, ex, "web")
	if !ok || !tr.Equal(big) || !er.Equal(ex) {
		t.Errorf("unreserved pool: %v %v %v", tr, er, ok)
	}
	if _, _, ok := fitTaskAndExecutor(offer, resources.MustParse("cpus:1;mem:100"), ex, "*"); ok {
		t.Error("task and executor fitted an offer too small for both")
	}
}
