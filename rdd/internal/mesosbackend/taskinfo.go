package mesosbackend

import (
	"maps"
	"math"
	"slices"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
)

// Environment variables every executor task gets (see the package doc).
const (
	EnvDriverURL      = "MESO_RDD_DRIVER_URL"
	EnvExecutorID     = "MESO_RDD_EXECUTOR_ID"
	EnvExecutorCores  = "MESO_RDD_EXECUTOR_CORES"
	EnvExecutorMemory = "MESO_RDD_EXECUTOR_MEMORY"
	EnvAppID          = "MESO_RDD_APP_ID"
	EnvHostname       = "MESO_RDD_HOSTNAME"
)

// Command is what an executor task runs.
type Command struct {
	// Value is a shell command (run with sh -c) when Args is nil; otherwise
	// the program, with Args as its argv (argv[0] included), as Mesos'
	// CommandInfo with shell=false. In a Docker container (the Docker
	// containerizer) the container's command is Value followed by Args[1:],
	// as Mesos' Docker containerizer builds it from value and arguments.
	Value string
	Args  []string
	// Env is added to the task's environment (the MESO_RDD_* variables win).
	Env map[string]string
	// URIs are fetched into the sandbox before the command starts, in
	// addition to spark.executor.uri and spark.mesos.uris; all are cacheable
	// when spark.mesos.fetcherCache.enable is set.
	URIs []URI
}

// URI is one file the agent fetches into the sandbox.
type URI struct {
	Value      string
	Executable bool
	// NoExtract keeps archives as they are (Mesos extracts by default).
	NoExtract  bool
	OutputFile string
}

// offerScalars is what is left of an offer's cpus and mem resources while
// executors are carved out of it.
type offerScalars struct {
	res []*mesospb.Resource // scalar, non-revocable cpus and mem, reserved first
}

func usable(r *mesospb.Resource) bool {
	return (r.GetName() == "cpus" || r.GetName() == "mem") && r.GetType() == mesospb.Value_SCALAR &&
		r.Revocable == nil && r.Disk == nil && r.Shared == nil
}

// offerTotals sums the cpus and mem of an offer the backend can use.
func offerTotals(o *mesospb.Offer) (cpus, mem float64) {
	for _, r := range o.GetResources() {
		if !usable(r) {
			continue
		}
		if r.GetName() == "cpus" {
			cpus += r.GetScalar().GetValue()
		} else {
			mem += r.GetScalar().GetValue()
		}
	}
	return cpus, mem
}

func newOfferScalars(o *mesospb.Offer) *offerScalars {
	s := &offerScalars{}
	for _, r := range o.GetResources() {
		if usable(r) {
			s.res = append(s.res, proto.CloneOf(r))
		}
	}
	// Reserved resources first: they are of no use to other frameworks.
	slices.SortStableFunc(s.res, func(a, b *mesospb.Resource) int {
		return boolInt(reservedProto(a)) - boolInt(reservedProto(b))
	})
	return s
}

func reservedProto(r *mesospb.Resource) bool {
	return len(r.GetReservations()) > 0 || (r.Role != nil && r.GetRole() != "*")
}

func boolInt(b bool) int {
	if b {
		return 0
	}
	return 1
}

// take carves amount of name out of the offer, as copies of the offered
// resources (role, reservations and allocation info kept, so the master
// recognises them).
func (s *offerScalars) take(name string, amount float64) []*mesospb.Resource {
	var out []*mesospb.Resource
	for _, r := range s.res {
		if amount <= 0 {
			break
		}
		have := r.GetScalar().GetValue()
		if r.GetName() != name || have <= 0 {
			continue
		}
		n := min(have, amount)
		part := proto.CloneOf(r)
		part.Scalar = &mesospb.Value_Scalar{Value: proto.Float64(thousandths(n))}
		r.Scalar = &mesospb.Value_Scalar{Value: proto.Float64(thousandths(have - n))}
		amount -= n
		out = append(out, part)
	}
	return out
}

// thousandths rounds as Mesos does its scalar arithmetic.
func thousandths(f float64) float64 { return math.Round(f*1000) / 1000 }

// taskInfo builds the Mesos task of executor e, carved out of offer.
func (b *Backend) taskInfo(offer *mesospb.Offer, left *offerScalars, e Executor) *mesospb.TaskInfo {
	res := append(left.take("cpus", float64(e.CPUs)), left.take("mem", float64(e.MemMiB))...)
	t := &mesospb.TaskInfo{
		Name:      proto.String(b.cfg.Name + " " + e.ID),
		TaskId:    &mesospb.TaskID{Value: proto.String(e.ID)},
		AgentId:   offer.GetAgentId(),
		Resources: res,
		Command:   b.commandInfo(e),
		Container: b.containerInfo(),
	}
	t.Labels = labelsProto(b.cfg.Settings.TaskLabels)
	return t
}

// labelsProto is ls on the wire; nil when empty.
func labelsProto(ls []Label) *mesospb.Labels {
	if len(ls) == 0 {
		return nil
	}
	out := &mesospb.Labels{}
	for _, l := range ls {
		out.Labels = append(out.Labels, &mesospb.Label{Key: proto.String(l.Key), Value: proto.String(l.Value)})
	}
	return out
}

func (b *Backend) commandInfo(e Executor) *mesospb.CommandInfo {
	return CommandInfo(b.cfg.Settings, b.cfg.Command, b.cfg.DriverURL, b.client.FrameworkID().GetValue(), e)
}

// CommandInfo is the Mesos command of executor e (its ID, Slots and
// Hostname are used) of application appID: cmd with the MESO_RDD_*
// variables, spark.executor.uri and spark.mesos.uris. Fine-grained mode
// uses it for its Mesos executors.
func CommandInfo(s Settings, cmd Command, driverURL, appID string, e Executor) *mesospb.CommandInfo {
	env := maps.Clone(cmd.Env)
	if env == nil {
		env = map[string]string{}
	}
	env[EnvDriverURL] = driverURL
	env[EnvExecutorID] = e.ID
	env[EnvExecutorCores] = strconv.Itoa(e.Slots)
	env[EnvExecutorMemory] = strconv.Itoa(s.ExecutorMemoryMiB)
	env[EnvAppID] = appID
	env[EnvHostname] = e.Hostname
	ci := &mesospb.CommandInfo{Value: proto.String(cmd.Value), Environment: &mesospb.Environment{}}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		ci.Environment.Variables = append(ci.Environment.Variables,
			&mesospb.Environment_Variable{Name: proto.String(k), Value: proto.String(env[k])})
	}
	if cmd.Args != nil {
		ci.Shell = proto.Bool(false)
		ci.Arguments = slices.Clone(cmd.Args)
		if s.DockerImage != "" && s.Containerizer == containerizerDocker && len(ci.Arguments) > 0 {
			ci.Arguments = ci.Arguments[1:]
		}
	}
	uris := slices.Clone(cmd.URIs)
	if s.ExecutorURI != "" {
		uris = append(uris, URI{Value: s.ExecutorURI})
	}
	for _, u := range s.URIs {
		uris = append(uris, URI{Value: u})
	}
	for _, u := range uris {
		pu := &mesospb.CommandInfo_URI{Value: proto.String(u.Value), Cache: proto.Bool(s.FetcherCache)}
		if u.Executable {
			pu.Executable = proto.Bool(true)
		}
		if u.NoExtract {
			pu.Extract = proto.Bool(false)
		}
		if u.OutputFile != "" {
			pu.OutputFile = proto.String(u.OutputFile)
		}
		ci.Uris = append(ci.Uris, pu)
	}
	return ci
}

// containerInfo is spark.mesos.executor.docker.image and friends, nil
// without an image: the Docker containerizer by default, or the Mesos
// containerizer with a Docker image (spark.mesos.containerizer=mesos).
func (b *Backend) containerInfo() *mesospb.ContainerInfo { return ContainerInfo(b.cfg.Settings) }

// ContainerInfo is the container executors run in (nil without
// spark.mesos.executor.docker.image).
func ContainerInfo(s Settings) *mesospb.ContainerInfo {
	if s.DockerImage == "" {
		return nil
	}
	ci := &mesospb.ContainerInfo{}
	for _, v := range s.DockerVolumes {
		mode := mesospb.Volume_RW
		if v.ReadOnly {
			mode = mesospb.Volume_RO
		}
		pv := &mesospb.Volume{ContainerPath: proto.String(v.ContainerPath), Mode: mode.Enum()}
		if v.HostPath != "" {
			pv.HostPath = proto.String(v.HostPath)
		}
		ci.Volumes = append(ci.Volumes, pv)
	}
	if s.Containerizer == containerizerMesos {
		ci.Type = mesospb.ContainerInfo_MESOS.Enum()
		ci.Mesos = &mesospb.ContainerInfo_MesosInfo{Image: &mesospb.Image{
			Type:   mesospb.Image_DOCKER.Enum(),
			Docker: &mesospb.Image_Docker{Name: proto.String(s.DockerImage)},
			Cached: proto.Bool(!s.DockerForcePull),
		}}
		return ci
	}
	ci.Type = mesospb.ContainerInfo_DOCKER.Enum()
	ci.Docker = &mesospb.ContainerInfo_DockerInfo{Image: proto.String(s.DockerImage)}
	if s.DockerForcePull {
		ci.Docker.ForcePullImage = proto.Bool(true)
	}
	if len(s.DockerPortMaps) > 0 {
		ci.Docker.Network = mesospb.ContainerInfo_DockerInfo_BRIDGE.Enum()
		for _, p := range s.DockerPortMaps {
			ci.Docker.PortMappings = append(ci.Docker.PortMappings, &mesospb.ContainerInfo_DockerInfo_PortMapping{
				HostPort: proto.Uint32(p.HostPort), ContainerPort: proto.Uint32(p.ContainerPort), Protocol: proto.String(p.Protocol),
			})
		}
	}
	return ci
}
