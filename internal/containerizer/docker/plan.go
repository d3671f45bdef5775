package docker

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/containerizer"
)

// Names and labels of the containers this package creates.
const (
	// NamePrefix starts the Docker name of every container: meso.<container-id>.
	NamePrefix = "meso."
	// LabelContainer holds the Mesos container id; every container this
	// package creates has it.
	LabelContainer = "meso.container"
	// LabelOwner holds Config.Owner; Recover only touches containers with
	// the same owner.
	LabelOwner = "meso.owner"
	// LabelSandbox holds the host path of the sandbox, so that a recovered
	// container's output keeps going to its stdout/stderr files.
	LabelSandbox = "meso.sandbox"
	// LabelAgent, LabelFramework and LabelExecutor hold MESOS_AGENT_ID,
	// MESOS_FRAMEWORK_ID and MESOS_EXECUTOR_ID from Spec.Env, when set: for
	// operators looking at `docker ps`.
	LabelAgent     = "meso.agent"
	LabelFramework = "meso.framework"
	LabelExecutor  = "meso.executor"
)

// Mesos' constants for docker run options (src/slave/constants.hpp).
const (
	cpuSharesPerCPU = 1024
	minCPUShares    = 2
	cfsPeriodMicros = 100_000 // 100ms, the kernel's default period
	minCFSQuota     = 1_000   // 1ms
	minMemoryBytes  = 32 << 20
)

// DefaultSandboxDirectory is where the sandbox appears inside the container
// (Mesos' --sandbox_directory).
const DefaultSandboxDirectory = "/mnt/mesos/sandbox"

// errInvalid marks a container definition this package refuses.
var errInvalid = errors.New("invalid docker container")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errInvalid, fmt.Sprintf(format, args...))
}

// validID is what Docker accepts in a container name, after our prefix.
var validID = regexp.MustCompile(`^[a-zA-Z0-9_.-]+$`)

// runPlan is everything Docker is told to create one container.
type runPlan struct {
	name      string
	image     string
	forcePull bool
	config    *container.Config
	host      *container.HostConfig
}

// planOptions are the containerizer's settings that shape a plan.
type planOptions struct {
	owner    string
	mapped   string // sandbox directory inside the container
	cfsQuota bool
}

// plan turns spec into the Docker objects to create. It is pure: no daemon,
// no files.
func plan(spec containerizer.Spec, o planOptions) (runPlan, error) {
	ci := spec.Container
	if ci == nil || ci.GetType() != mesospb.ContainerInfo_DOCKER {
		return runPlan{}, invalid("container type %s is not DOCKER", containerizer.TypeName(spec))
	}
	di := ci.GetDocker()
	if di.GetImage() == "" {
		return runPlan{}, invalid("no docker image given (ContainerInfo.docker.image)")
	}
	if !validID.MatchString(spec.ContainerID) {
		return runPlan{}, invalid("container id %q: Docker names allow only letters, digits, '_', '.' and '-'", spec.ContainerID)
	}
	if spec.Sandbox == "" || !filepath.IsAbs(spec.Sandbox) {
		return runPlan{}, invalid("sandbox %q is not an absolute path", spec.Sandbox)
	}
	if o.mapped == "" {
		o.mapped = DefaultSandboxDirectory
	}
	p := runPlan{
		name:      NamePrefix + spec.ContainerID,
		image:     di.GetImage(),
		forcePull: di.GetForcePullImage(),
		config: &container.Config{
			Image:      di.GetImage(),
			WorkingDir: o.mapped,
			Labels:     labels(spec, o.owner),
		},
		host: &container.HostConfig{Privileged: di.GetPrivileged()},
	}
	var err error
	if p.config.Entrypoint, p.config.Cmd, err = command(spec.Command); err != nil {
		return runPlan{}, err
	}
	if p.config.Env, err = environment(spec, p.name, o.mapped); err != nil {
		return runPlan{}, err
	}
	if err := volumes(p.host, ci, spec.Sandbox, o.mapped); err != nil {
		return runPlan{}, err
	}
	if err := networking(p.config, p.host, ci, spec.Resources); err != nil {
		return runPlan{}, err
	}
	limits(&p.host.Resources, spec.Resources, o.cfsQuota)
	if err := applyParameters(p.config, p.host, di.GetParameters()); err != nil {
		return runPlan{}, err
	}
	return p, nil
}

func labels(spec containerizer.Spec, owner string) map[string]string {
	l := map[string]string{
		LabelContainer: spec.ContainerID,
		LabelSandbox:   spec.Sandbox,
	}
	if owner != "" {
		l[LabelOwner] = owner
	}
	for label, keys := range map[string][]string{
		LabelAgent:     {"MESOS_AGENT_ID", "MESOS_SLAVE_ID"},
		LabelFramework: {"MESOS_FRAMEWORK_ID"},
		LabelExecutor:  {"MESOS_EXECUTOR_ID"},
	} {
		for _, k := range keys {
			if v, ok := lookup(spec.Env, k); ok && v != "" {
				l[label] = v
				break
			}
		}
	}
	return l
}

func lookup(env []string, key string) (string, bool) {
	for _, kv := range slices.Backward(env) {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// command maps CommandInfo to the container's entrypoint and cmd, as Mesos'
// docker containerizer does: with the shell (the default) the entrypoint is
// replaced by /bin/sh and cmd is [-c, value]; without it, the image's
// entrypoint stays and cmd is value (when set) followed by the arguments.
// With neither value nor arguments, the image's own cmd runs.
func command(ci *mesospb.CommandInfo) (entrypoint, cmd []string, err error) {
	if ci == nil {
		return nil, nil, invalid("no command (CommandInfo) given")
	}
	if ci.Shell == nil || ci.GetShell() {
		if ci.Value == nil {
			return nil, nil, invalid("shell command without a value")
		}
		return []string{"/bin/sh"}, []string{"-c", ci.GetValue()}, nil
	}
	if ci.Value != nil {
		cmd = append(cmd, ci.GetValue())
	}
	return nil, append(cmd, ci.GetArguments()...), nil
}

// environment lays, later winning: Spec.Env (the agent's MESOS_* variables),
// the CommandInfo's variables, then MESOS_SANDBOX (the sandbox as the
// container sees it) and MESOS_CONTAINER_NAME.
func environment(spec containerizer.Spec, name, mapped string) ([]string, error) {
	var env []string
	set := func(k, v string) {
		env = slices.DeleteFunc(env, func(kv string) bool { return strings.HasPrefix(kv, k+"=") })
		env = append(env, k+"="+v)
	}
	for _, kv := range spec.Env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, invalid("environment entry %q is not KEY=VALUE", kv)
		}
		set(k, v)
	}
	for _, v := range spec.Command.GetEnvironment().GetVariables() {
		name := v.GetName()
		if name == "" || strings.ContainsAny(name, "=\x00") {
			return nil, invalid("environment variable name %q", name)
		}
		switch v.GetType() {
		case mesospb.Environment_Variable_VALUE:
			set(name, v.GetValue())
		case mesospb.Environment_Variable_SECRET:
			return nil, invalid("environment variable %q is a SECRET, which the docker containerizer does not resolve", name)
		default:
			return nil, invalid("environment variable %q has type %v", name, v.GetType())
		}
	}
	set("MESOS_SANDBOX", mapped)
	set("MESOS_CONTAINER_NAME", name)
	return env, nil
}

// volumes binds the ContainerInfo volumes and then the sandbox. Relative
// container paths are inside the mapped sandbox; relative host paths are
// inside the host sandbox (and may not leave it).
func volumes(h *container.HostConfig, ci *mesospb.ContainerInfo, sandbox, mapped string) error {
	for _, v := range ci.GetVolumes() {
		cpath := v.GetContainerPath()
		if cpath == "" {
			return invalid("volume without a container_path")
		}
		if !path.IsAbs(cpath) {
			cpath = path.Join(mapped, cpath)
		}
		var mode string
		switch v.GetMode() {
		case mesospb.Volume_RW:
			mode = "rw"
		case mesospb.Volume_RO:
			mode = "ro"
		default:
			return invalid("volume %q: unsupported mode %v", v.GetContainerPath(), v.GetMode())
		}
		var source string
		switch {
		case v.HostPath != nil:
			hp := v.GetHostPath()
			if !filepath.IsAbs(hp) {
				if !path.IsAbs(v.GetContainerPath()) {
					return invalid("volume: host_path %q and container_path %q are both relative", hp, v.GetContainerPath())
				}
				if !filepath.IsLocal(hp) {
					return invalid("volume: relative host_path %q leaves the sandbox", hp)
				}
				hp = filepath.Join(sandbox, hp)
			}
			source = hp
		case v.GetSource().GetType() == mesospb.Volume_Source_DOCKER_VOLUME:
			dv := v.GetSource().GetDockerVolume()
			if dv.GetName() == "" {
				return invalid("volume %q: docker volume without a name", v.GetContainerPath())
			}
			if d := dv.GetDriver(); d != "" {
				if h.VolumeDriver != "" && h.VolumeDriver != d {
					return invalid("volume %q: only one volume driver per container (%q and %q)", v.GetContainerPath(), h.VolumeDriver, d)
				}
				h.VolumeDriver = d
			}
			source = dv.GetName()
		case v.Source != nil:
			return invalid("volume %q: source type %v is not supported by the docker containerizer (host_path or DOCKER_VOLUME)", v.GetContainerPath(), v.GetSource().GetType())
		default:
			return invalid("volume %q: neither host_path nor a source", v.GetContainerPath())
		}
		h.Binds = append(h.Binds, source+":"+cpath+":"+mode)
	}
	h.Binds = append(h.Binds, sandbox+":"+mapped+":rw")
	return nil
}

// networking sets the network mode, hostname and port mappings.
func networking(c *container.Config, h *container.HostConfig, ci *mesospb.ContainerInfo, res []*mesospb.Resource) error {
	di := ci.GetDocker()
	switch di.GetNetwork() { // unset is HOST, the proto default (as in Mesos)
	case mesospb.ContainerInfo_DockerInfo_HOST:
		h.NetworkMode = "host"
	case mesospb.ContainerInfo_DockerInfo_BRIDGE:
		h.NetworkMode = "bridge"
	case mesospb.ContainerInfo_DockerInfo_NONE:
		h.NetworkMode = "none"
	case mesospb.ContainerInfo_DockerInfo_USER:
		nis := ci.GetNetworkInfos()
		if len(nis) != 1 || nis[0].GetName() == "" {
			return invalid("network USER needs exactly one network_infos entry with a name (got %d)", len(nis))
		}
		h.NetworkMode = container.NetworkMode(nis[0].GetName())
	default:
		return invalid("unsupported docker network %v", di.GetNetwork())
	}
	if ci.Hostname != nil {
		if h.NetworkMode == "host" {
			return invalid("a hostname cannot be set with the HOST network")
		}
		c.Hostname = ci.GetHostname()
	}
	if len(di.GetPortMappings()) == 0 {
		return nil
	}
	if h.NetworkMode == "host" || h.NetworkMode == "none" {
		return invalid("port mappings need the BRIDGE or a USER network, not %s", h.NetworkMode)
	}
	ranges := portRanges(res)
	c.ExposedPorts = network.PortSet{}
	h.PortBindings = network.PortMap{}
	for _, m := range di.GetPortMappings() {
		hp := uint64(m.GetHostPort())
		if !slices.ContainsFunc(ranges, func(r [2]uint64) bool { return hp >= r[0] && hp <= r[1] }) {
			return invalid("port mapping: host port %d is not among the container's ports resources", hp)
		}
		proto := strings.ToLower(m.GetProtocol())
		if proto == "" {
			proto = "tcp"
		}
		if proto != "tcp" && proto != "udp" && proto != "sctp" {
			return invalid("port mapping %d: protocol %q (want tcp, udp or sctp)", hp, m.GetProtocol())
		}
		port, err := network.ParsePort(strconv.FormatUint(uint64(m.GetContainerPort()), 10) + "/" + proto)
		if err != nil || m.GetContainerPort() == 0 {
			return invalid("port mapping %d: container port %d", hp, m.GetContainerPort())
		}
		c.ExposedPorts[port] = struct{}{}
		h.PortBindings[port] = append(h.PortBindings[port], network.PortBinding{HostPort: strconv.FormatUint(hp, 10)})
	}
	return nil
}

func portRanges(res []*mesospb.Resource) [][2]uint64 {
	var out [][2]uint64
	for _, r := range res {
		if r.GetName() != "ports" || r.GetType() != mesospb.Value_RANGES {
			continue
		}
		for _, rg := range r.GetRanges().GetRange() {
			out = append(out, [2]uint64{rg.GetBegin(), rg.GetEnd()})
		}
	}
	return out
}

// limits passes the cpus and mem resources to Docker as Mesos does: cpu
// shares 1024 per cpu (at least 2); with CFS enabled a quota of cpus times
// the 100ms period (at least 1ms); a memory limit of mem (at least 32 MB).
func limits(r *container.Resources, res []*mesospb.Resource, cfs bool) {
	cpus, mem := containerizer.Limits(res)
	if cpus > 0 {
		r.CPUShares = max(int64(cpus*cpuSharesPerCPU), minCPUShares)
		if cfs {
			r.CPUPeriod = cfsPeriodMicros
			r.CPUQuota = max(int64(cpus*cfsPeriodMicros), minCFSQuota)
		}
	}
	if mem > 0 {
		r.Memory = max(int64(mem), minMemoryBytes)
	}
}
