// Package docker is the docker containerizer: it runs containers whose
// ContainerInfo has type DOCKER as Docker containers, through the Docker
// Engine API (the moby client, API version negotiated; daemons with API
// 1.40 or later).
//
// It implements containerizer.Containerizer, Supporter (DOCKER containers
// only, so that Composing routes them here: --containerizers=docker,mesos)
// and UsageReporter, plus Recover for agent restarts and Close.
//
// A container, as Mesos' docker containerizer makes it:
//
//   - Docker name meso.<container-id>, labels meso.container=<id>,
//     meso.owner (Config.Owner), meso.sandbox and, when the agent's
//     environment has them, meso.agent, meso.framework, meso.executor.
//   - The image is pulled only when missing (always with force_pull_image);
//     a failed pull fails the launch with containerizer.ErrLaunchFailed and
//     Docker's message naming the image.
//   - The command: with the shell (the default) the entrypoint becomes
//     /bin/sh and cmd [-c, value]; with shell=false the image's entrypoint
//     stays and cmd is value (when set) then the arguments.
//   - Environment: Spec.Env, then the CommandInfo's variables, then
//     MESOS_SANDBOX (the sandbox inside the container) and
//     MESOS_CONTAINER_NAME. The sandbox is bind-mounted at
//     Config.SandboxDirectory (/mnt/mesos/sandbox) and is the working
//     directory.
//   - Limits: cpu shares 1024 per cpu (at least 2), a CFS quota of cpus x
//     100ms per 100ms period with Config.CFSQuota, a memory limit of mem (at
//     least 32 MB).
//   - Network HOST (default), BRIDGE, NONE or USER (network_infos[0].name);
//     port mappings on BRIDGE/USER for host ports among the ports resources;
//     volumes bind host paths (relative ones inside the sandbox) or name
//     Docker volumes; DockerInfo.parameters are a documented subset of
//     `docker run` options (SupportedParameters), others fail the launch.
//   - The container's stdout and stderr are streamed (attached before
//     start) into the sandbox's stdout and stderr files, appending.
//   - Wait gives a waitpid status: Docker's exit code 128+N reads as signal
//     N; an OOM kill carries REASON_CONTAINER_LIMITATION_MEMORY.
//   - Kill sends a signal through Docker; Destroy sends the container's
//     stop signal, waits up to the grace period, sends SIGKILL, then removes
//     the container and its anonymous volumes. A container that stopped by
//     itself stays in Docker (and known here) until Destroy.
//
// Goroutines: one per running container waits for its exit, one copies its
// output; both end when it stops or when Close is called.
package docker
