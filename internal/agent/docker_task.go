package agent

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/agent/lifecycle"
	"github.com/mesoproject/meso/internal/commandexec"
	"github.com/mesoproject/meso/internal/containerizer"
)

// A command task whose ContainerInfo is DOCKER runs the way Mesos runs it
// with mesos-docker-executor: the agent starts the command executor on the
// host (as a plain MESOS container, under the --isolation isolators), and
// the executor runs the task in a Docker container through the docker
// containerizer, named meso.<executor's container id> and labelled with this
// agent's owner (its work_dir). The agent passes the Docker settings in the
// executor's environment (commandexec.EnvDocker*), measures the task's
// container for /monitor/statistics, removes it if the executor died without
// doing so, and at start removes every container of its owner (orphans).

// runsDockerTask reports whether e is a command executor whose task runs in
// Docker.
func runsDockerTask(e lifecycle.LaunchExecutor) bool {
	ci := e.Executor.GetContainer()
	return e.CommandExecutor && ci != nil && ci.GetType() == mesospb.ContainerInfo_DOCKER
}

// dockerTaskSpec turns the executor's spec into a plain process container
// that knows how to reach Docker, or says why this agent cannot run it.
func (a *Agent) dockerTaskSpec(spec *containerizer.Spec) error {
	if a.docker == nil {
		return fmt.Errorf("the task's container is DOCKER, but this agent does not run Docker containers (--containerizers=%s; start it with --containerizers=docker,mesos)", a.cfg.Containerizers)
	}
	owner, err := dockerOwner(a.cfg)
	if err != nil {
		return err
	}
	cfs := "0"
	if a.cfg.CgroupsEnableCFS {
		cfs = "1"
	}
	spec.Container = nil
	spec.Env = append(spec.Env,
		commandexec.EnvDockerSocket+"="+a.cfg.DockerSocket,
		commandexec.EnvDockerOwner+"="+owner,
		commandexec.EnvDockerSandboxDirectory+"="+a.cfg.SandboxDirectory,
		commandexec.EnvDockerCFS+"="+cfs)
	return nil
}

// dockerOwner is the owner label of this agent's Docker containers: its
// work_dir, which stays the same across restarts and tells agents sharing a
// daemon apart.
func dockerOwner(cfg Config) (string, error) {
	owner, err := filepath.Abs(cfg.WorkDir)
	if err != nil {
		return "", fmt.Errorf("agent: %w", err)
	}
	return owner, nil
}

// reapDockerTaskTimeout bounds the removal of a task container an executor
// left behind.
const reapDockerTaskTimeout = 30 * time.Second

// reapDockerTask removes the Docker container of a command executor's task
// once the executor is gone (it normally removes it itself).
func (a *Agent) reapDockerTask(ctx context.Context, containerID string) {
	if a.docker == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reapDockerTaskTimeout)
	defer cancel()
	if found, err := a.docker.Reap(ctx, containerID); err != nil {
		a.log.Warn("cannot remove the docker container of an executor's task", "container", containerID, "err", err)
	} else if found {
		a.log.Info("removed the docker container the executor left", "container", containerID)
	}
}
