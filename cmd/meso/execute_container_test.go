package main

import (
	"strings"
	"testing"

	"github.com/mesoproject/meso/api/mesospb"
)

func TestExecuteDockerImage(t *testing.T) {
	p, err := parseExecute(t, "--master", "m:1", "--name", "d", "--command", "echo hi", "--docker_image", "busybox:latest",
		"--volumes", `[{"container_path": "/data", "host_path": "/srv/data", "mode": "RO"}]`)
	if err != nil {
		t.Fatal(err)
	}
	ci := p.task.GetContainer()
	if ci.GetType() != mesospb.ContainerInfo_DOCKER || ci.GetDocker().GetImage() != "busybox:latest" ||
		ci.GetDocker().GetNetwork() != mesospb.ContainerInfo_DockerInfo_HOST {
		t.Errorf("container = %v, want DOCKER busybox:latest on the HOST network", ci)
	}
	if v := ci.GetVolumes(); len(v) != 1 || v[0].GetContainerPath() != "/data" || v[0].GetHostPath() != "/srv/data" || v[0].GetMode() != mesospb.Volume_RO {
		t.Errorf("volumes = %v", v)
	}
	if c := p.task.GetCommand(); !c.GetShell() || c.GetValue() != "echo hi" {
		t.Errorf("command = %v", c)
	}
}

// --shell=false without --command runs the image's own command.
func TestExecuteDockerImageOwnCommand(t *testing.T) {
	p, err := parseExecute(t, "--master", "m:1", "--name", "d", "--shell=false", "--docker_image", "img")
	if err != nil {
		t.Fatal(err)
	}
	if c := p.task.GetCommand(); c.GetShell() || c.Value != nil || len(c.GetArguments()) != 0 {
		t.Errorf("command = %v, want shell=false and no value", c)
	}
}

// --containerizer=mesos builds Mesos' unified-containerizer ContainerInfo;
// without any container flag there is no ContainerInfo at all.
func TestExecuteMesosContainerizer(t *testing.T) {
	p, err := parseExecute(t, "--master", "m:1", "--name", "d", "--command", "true", "--containerizer", "mesos", "--docker_image", "img:1")
	if err != nil {
		t.Fatal(err)
	}
	ci := p.task.GetContainer()
	if ci.GetType() != mesospb.ContainerInfo_MESOS || ci.GetMesos().GetImage().GetType() != mesospb.Image_DOCKER ||
		ci.GetMesos().GetImage().GetDocker().GetName() != "img:1" {
		t.Errorf("container = %v", ci)
	}
	p, err = parseExecute(t, "--master", "m:1", "--name", "d", "--command", "true")
	if err != nil {
		t.Fatal(err)
	}
	if p.task.Container != nil {
		t.Errorf("container = %v, want none", p.task.Container)
	}
}

func TestExecuteContainerFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--containerizer", "docker"}, "--docker_image"},
		{[]string{"--containerizer", "rkt"}, "--containerizer"},
		{[]string{"--docker_image", "i", "--volumes", `{"container_path": "/x"}`}, "--volumes"},
		{[]string{"--docker_image", "i", "--volumes", `[{"mode": "RW"}]`}, "--volumes"},
		{[]string{"--docker_image", "i", "--volumes", `[{"mode": "RW", "container_path": " "}]`}, "container_path"},
	} {
		args := append([]string{"--master", "m:1", "--name", "n", "--command", "c"}, tc.args...)
		if _, err := parseExecute(t, args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want one mentioning %s", tc.args, err, tc.want)
		}
	}
	_, err := parseExecute(t, "--master", "m:1", "--task", `{"name":"t","task_id":{"value":"t"}}`, "--docker_image", "i")
	if err == nil || !strings.Contains(err.Error(), "--task excludes") {
		t.Errorf("--task with --docker_image: err = %v", err)
	}
}
