package docker

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"

	units "github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"

	"github.com/mesoproject/meso/api/mesospb"
)

// A parameter is one `docker run --key=value` option of
// DockerInfo.parameters, applied to the container's definition. Repeatable
// options (env, label, ...) may be given several times.
type parameter func(c *container.Config, h *container.HostConfig, value string) error

// parameters are the docker run options we translate to the Engine API.
// Keys are the long option names, without dashes.
var parameters = map[string]parameter{
	"env": func(c *container.Config, _ *container.HostConfig, v string) error {
		k, _, ok := strings.Cut(v, "=")
		if !ok || k == "" {
			return invalid("parameter env=%q is not KEY=VALUE", v)
		}
		c.Env = slices.DeleteFunc(c.Env, func(kv string) bool { return strings.HasPrefix(kv, k+"=") })
		c.Env = append(c.Env, v)
		return nil
	},
	"label": func(c *container.Config, _ *container.HostConfig, v string) error {
		k, val, _ := strings.Cut(v, "=")
		if k == "" {
			return invalid("parameter label=%q has no key", v)
		}
		if strings.HasPrefix(k, "meso.") {
			return invalid("parameter label=%q: labels starting with \"meso.\" are reserved", v)
		}
		c.Labels[k] = val
		return nil
	},
	"user":        func(c *container.Config, _ *container.HostConfig, v string) error { c.User = v; return nil },
	"workdir":     func(c *container.Config, _ *container.HostConfig, v string) error { c.WorkingDir = v; return nil },
	"hostname":    func(c *container.Config, _ *container.HostConfig, v string) error { c.Hostname = v; return nil },
	"stop-signal": func(c *container.Config, _ *container.HostConfig, v string) error { c.StopSignal = v; return nil },
	"memory-swap": func(_ *container.Config, h *container.HostConfig, v string) error {
		if v == "-1" {
			h.MemorySwap = -1
			return nil
		}
		return bytesParam("memory-swap", v, &h.MemorySwap)
	},
	"memory-reservation": func(_ *container.Config, h *container.HostConfig, v string) error {
		return bytesParam("memory-reservation", v, &h.MemoryReservation)
	},
	"shm-size": func(_ *container.Config, h *container.HostConfig, v string) error {
		return bytesParam("shm-size", v, &h.ShmSize)
	},
	"pids-limit": func(_ *container.Config, h *container.HostConfig, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return invalid("parameter pids-limit=%q is not an integer", v)
		}
		h.PidsLimit = &n
		return nil
	},
	"oom-score-adj": func(_ *container.Config, h *container.HostConfig, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < -1000 || n > 1000 {
			return invalid("parameter oom-score-adj=%q is not an integer in [-1000, 1000]", v)
		}
		h.OomScoreAdj = n
		return nil
	},
	"cap-add": func(_ *container.Config, h *container.HostConfig, v string) error {
		h.CapAdd = append(h.CapAdd, v)
		return nil
	},
	"cap-drop": func(_ *container.Config, h *container.HostConfig, v string) error {
		h.CapDrop = append(h.CapDrop, v)
		return nil
	},
	"add-host": func(_ *container.Config, h *container.HostConfig, v string) error {
		h.ExtraHosts = append(h.ExtraHosts, v)
		return nil
	},
	"group-add": func(_ *container.Config, h *container.HostConfig, v string) error {
		h.GroupAdd = append(h.GroupAdd, v)
		return nil
	},
	"security-opt": func(_ *container.Config, h *container.HostConfig, v string) error {
		h.SecurityOpt = append(h.SecurityOpt, v)
		return nil
	},
	"dns-search": func(_ *container.Config, h *container.HostConfig, v string) error {
		h.DNSSearch = append(h.DNSSearch, v)
		return nil
	},
	"dns-option": func(_ *container.Config, h *container.HostConfig, v string) error {
		h.DNSOptions = append(h.DNSOptions, v)
		return nil
	},
	"dns-opt": func(_ *container.Config, h *container.HostConfig, v string) error {
		h.DNSOptions = append(h.DNSOptions, v)
		return nil
	},
	"dns": func(_ *container.Config, h *container.HostConfig, v string) error {
		a, err := netip.ParseAddr(v)
		if err != nil {
			return invalid("parameter dns=%q is not an IP address", v)
		}
		h.DNS = append(h.DNS, a)
		return nil
	},
	"ulimit": func(_ *container.Config, h *container.HostConfig, v string) error {
		u, err := units.ParseUlimit(v)
		if err != nil {
			return invalid("parameter ulimit=%q: %v", v, err)
		}
		h.Ulimits = append(h.Ulimits, u)
		return nil
	},
	"sysctl": func(_ *container.Config, h *container.HostConfig, v string) error {
		k, val, ok := strings.Cut(v, "=")
		if !ok || k == "" {
			return invalid("parameter sysctl=%q is not KEY=VALUE", v)
		}
		if h.Sysctls == nil {
			h.Sysctls = map[string]string{}
		}
		h.Sysctls[k] = val
		return nil
	},
	"tmpfs": func(_ *container.Config, h *container.HostConfig, v string) error {
		p, opts, _ := strings.Cut(v, ":")
		if !strings.HasPrefix(p, "/") {
			return invalid("parameter tmpfs=%q: path must be absolute", v)
		}
		if h.Tmpfs == nil {
			h.Tmpfs = map[string]string{}
		}
		h.Tmpfs[p] = opts
		return nil
	},
	"device": func(_ *container.Config, h *container.HostConfig, v string) error {
		parts := strings.Split(v, ":")
		if len(parts) > 3 || !strings.HasPrefix(parts[0], "/") {
			return invalid("parameter device=%q is not HOST[:CONTAINER[:PERMISSIONS]]", v)
		}
		d := container.DeviceMapping{PathOnHost: parts[0], PathInContainer: parts[0], CgroupPermissions: "rwm"}
		if len(parts) > 1 && parts[1] != "" {
			d.PathInContainer = parts[1]
		}
		if len(parts) > 2 {
			d.CgroupPermissions = parts[2]
		}
		h.Devices = append(h.Devices, d)
		return nil
	},
	"read-only": func(_ *container.Config, h *container.HostConfig, v string) error {
		return boolParam("read-only", v, &h.ReadonlyRootfs)
	},
	"init": func(_ *container.Config, h *container.HostConfig, v string) error {
		var b bool
		if err := boolParam("init", v, &b); err != nil {
			return err
		}
		h.Init = &b
		return nil
	},
	"ipc": func(_ *container.Config, h *container.HostConfig, v string) error {
		h.IpcMode = container.IpcMode(v)
		return nil
	},
	"pid": func(_ *container.Config, h *container.HostConfig, v string) error {
		h.PidMode = container.PidMode(v)
		return nil
	},
	"log-driver": func(_ *container.Config, h *container.HostConfig, v string) error {
		h.LogConfig.Type = v
		return nil
	},
	"log-opt": func(_ *container.Config, h *container.HostConfig, v string) error {
		k, val, ok := strings.Cut(v, "=")
		if !ok || k == "" {
			return invalid("parameter log-opt=%q is not KEY=VALUE", v)
		}
		if h.LogConfig.Config == nil {
			h.LogConfig.Config = map[string]string{}
		}
		h.LogConfig.Config[k] = val
		return nil
	},
}

// SupportedParameters lists the DockerInfo.parameters keys the docker
// containerizer understands, sorted.
func SupportedParameters() []string {
	out := make([]string, 0, len(parameters))
	for k := range parameters {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// applyParameters applies DockerInfo.parameters in order; a later value of
// a single-valued option wins, as on the docker command line.
func applyParameters(c *container.Config, h *container.HostConfig, ps []*mesospb.Parameter) error {
	for _, p := range ps {
		key := strings.TrimLeft(p.GetKey(), "-")
		apply, ok := parameters[key]
		if !ok {
			return invalid("docker parameter %q is not supported (supported: %s)", p.GetKey(), strings.Join(SupportedParameters(), ", "))
		}
		if err := apply(c, h, p.GetValue()); err != nil {
			return err
		}
	}
	return nil
}

func bytesParam(name, v string, dst *int64) error {
	n, err := units.RAMInBytes(v)
	if err != nil || n < 0 {
		return invalid("parameter %s=%q is not a size (like 512m or 1g)", name, v)
	}
	*dst = n
	return nil
}

func boolParam(name, v string, dst *bool) error {
	if v == "" {
		*dst = true
		return nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return invalid("parameter %s=%q is not true or false", name, v)
	}
	*dst = b
	return nil
}
