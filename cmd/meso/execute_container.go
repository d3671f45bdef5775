package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/pflag"
	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/mesospb"
)

// containerFlags are mesos-execute's flags that give the task a
// ContainerInfo.
type containerFlags struct {
	dockerImage   string
	containerizer string
	volumes       string
}

func (c *containerFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&c.dockerImage, "docker_image", "", "run the command in this Docker image (<image>:<tag>, e.g. busybox:latest)")
	fs.StringVar(&c.containerizer, "containerizer", "",
		`containerizer of the task: "docker" (a DOCKER ContainerInfo; agents need --containerizers=docker,mesos) or "mesos" (a MESOS one, with --docker_image as its image, which only Apache Mesos' unified containerizer runs); default docker with --docker_image, mesos without`)
	fs.StringVar(&c.volumes, "volumes", "", `volumes of the container: a JSON array of Mesos Volume objects, e.g. '[{"container_path":"/data","host_path":"/srv/data","mode":"RO"}]', or the path of a file holding one ('file:///path' or '/path')`)
}

// used reports whether any of the flags was given (they exclude --task).
func (c *containerFlags) used() bool {
	return c.dockerImage != "" || c.volumes != "" || c.containerizer != ""
}

// containerInfo builds the task's ContainerInfo as mesos-execute does, or
// nil when the task needs none.
func (c *containerFlags) containerInfo() (*mesospb.ContainerInfo, error) {
	kind := c.containerizer
	if kind == "" {
		kind = "mesos"
		if c.dockerImage != "" {
			kind = "docker" // meso's mesos containerizer runs no images
		}
	}
	var volumes []*mesospb.Volume
	if c.volumes != "" {
		var err error
		if volumes, err = parseVolumes(c.volumes); err != nil {
			return nil, err
		}
	}
	switch kind {
	case "docker":
		if c.dockerImage == "" {
			return nil, errors.New("--containerizer=docker needs --docker_image")
		}
		return &mesospb.ContainerInfo{
			Type:    mesospb.ContainerInfo_DOCKER.Enum(),
			Docker:  &mesospb.ContainerInfo_DockerInfo{Image: proto.String(c.dockerImage), Network: mesospb.ContainerInfo_DockerInfo_HOST.Enum()},
			Volumes: volumes,
		}, nil
	case "mesos":
		if c.dockerImage == "" && len(volumes) == 0 {
			return nil, nil
		}
		ci := &mesospb.ContainerInfo{Type: mesospb.ContainerInfo_MESOS.Enum(), Volumes: volumes}
		if c.dockerImage != "" {
			ci.Mesos = &mesospb.ContainerInfo_MesosInfo{Image: &mesospb.Image{
				Type:   mesospb.Image_DOCKER.Enum(),
				Docker: &mesospb.Image_Docker{Name: proto.String(c.dockerImage)},
			}}
		}
		return ci, nil
	default:
		return nil, fmt.Errorf("--containerizer=%q: want docker or mesos", c.containerizer)
	}
}

// parseVolumes reads --volumes: a JSON array of Volume objects (Mesos
// JSON), inline or in a file.
func parseVolumes(s string) ([]*mesospb.Volume, error) {
	data, err := flagValueOrFile(s)
	if err != nil {
		return nil, fmt.Errorf("--volumes: %w", err)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(data, &items); err != nil {
		return nil, fmt.Errorf("--volumes: want a JSON array of volumes: %w", err)
	}
	out := make([]*mesospb.Volume, 0, len(items))
	for i, item := range items {
		v := &mesospb.Volume{}
		if err := codec.JSON.Unmarshal(item, v); err != nil {
			return nil, fmt.Errorf("--volumes: volume %d: %w", i, err)
		}
		if strings.TrimSpace(v.GetContainerPath()) == "" {
			return nil, fmt.Errorf("--volumes: volume %d has no container_path", i)
		}
		out = append(out, v)
	}
	return out, nil
}
