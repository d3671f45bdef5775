// Package dockerexec gives the command executor its Docker engine. Open
// reads the agent's Docker settings from the executor's environment
// (commandexec.EnvDocker*) and connects the docker containerizer, which
// then runs the task's container as mesos-docker-executor would.
//
// It is a package of its own so that the command executor's core does not
// link the Docker client: `meso executor` passes Open as
// commandexec.Config.OpenDocker, while the lean `meso-executor` binary
// passes nothing and runs only tasks without a Docker container.
package dockerexec
