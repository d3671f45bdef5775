package rdd

import (
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/rdd/internal/mesosbackend"
)

// DockerContainer is the container that spark.mesos.executor.docker.image,
// .volumes and .forcePullImage and spark.mesos.containerizer describe, as
// executors get it (nil without an image; other keys of conf are
// ignored). The driver dispatcher gives drivers the same container, as
// Spark's does. A malformed value is an error naming its key.
func DockerContainer(conf map[string]string) (*mesospb.ContainerInfo, error) {
	sub := map[string]string{}
	for _, k := range []string{mesosbackend.KeyDockerImage, mesosbackend.KeyDockerVolumes,
		mesosbackend.KeyDockerForcePull, mesosbackend.KeyContainerizer} {
		if v, ok := conf[k]; ok {
			sub[k] = v
		}
	}
	s, err := mesosbackend.ParseSettings(sub)
	if err != nil {
		return nil, err
	}
	return mesosbackend.ContainerInfo(s), nil
}
