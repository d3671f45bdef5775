package docker

import (
	"encoding/json"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/containerizer"
)

// pureSpec is a valid DOCKER spec for plan tests; edit the copy it returns.
func pureSpec() containerizer.Spec {
	return containerizer.Spec{
		ContainerID: "c1",
		Sandbox:     "/work/sandbox",
		Command:     &mesospb.CommandInfo{Value: proto.String("echo hi")},
		Container: &mesospb.ContainerInfo{
			Type:   mesospb.ContainerInfo_DOCKER.Enum(),
			Docker: &mesospb.ContainerInfo_DockerInfo{Image: proto.String("busybox:1")},
		},
	}
}

func mustPlan(t *testing.T, s containerizer.Spec, o planOptions) runPlan {
	t.Helper()
	p, err := plan(s, o)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	return p
}

func planErr(t *testing.T, s containerizer.Spec, want string) {
	t.Helper()
	_, err := plan(s, planOptions{})
	if !errors.Is(err, errInvalid) || !strings.Contains(err.Error(), want) {
		t.Errorf("plan error = %v, want one containing %q", err, want)
	}
}

func scalar(name string, v float64) *mesospb.Resource {
	return &mesospb.Resource{Name: proto.String(name), Type: mesospb.Value_SCALAR.Enum(), Scalar: &mesospb.Value_Scalar{Value: proto.Float64(v)}}
}

func ports(begin, end uint64) *mesospb.Resource {
	return &mesospb.Resource{Name: proto.String("ports"), Type: mesospb.Value_RANGES.Enum(),
		Ranges: &mesospb.Value_Ranges{Range: []*mesospb.Value_Range{{Begin: proto.Uint64(begin), End: proto.Uint64(end)}}}}
}

func TestPlanBasics(t *testing.T) {
	s := pureSpec()
	s.Env = []string{"MESOS_AGENT_ID=a1", "MESOS_FRAMEWORK_ID=f1", "MESOS_EXECUTOR_ID=e1"}
	p := mustPlan(t, s, planOptions{owner: "/var/lib/meso"})
	if p.name != "meso.c1" || p.image != "busybox:1" || p.config.Image != "busybox:1" || p.forcePull {
		t.Errorf("plan = %+v", p)
	}
	wantLabels := map[string]string{
		LabelContainer: "c1", LabelOwner: "/var/lib/meso", LabelSandbox: "/work/sandbox",
		LabelAgent: "a1", LabelFramework: "f1", LabelExecutor: "e1",
	}
	if !mapsEqual(p.config.Labels, wantLabels) {
		t.Errorf("labels = %v, want %v", p.config.Labels, wantLabels)
	}
	if p.config.WorkingDir != DefaultSandboxDirectory {
		t.Errorf("working dir %q", p.config.WorkingDir)
	}
	if p.host.NetworkMode != "host" {
		t.Errorf("default network %q, want host (Mesos' default)", p.host.NetworkMode)
	}
	if want := []string{"/work/sandbox:/mnt/mesos/sandbox:rw"}; !slices.Equal(p.host.Binds, want) {
		t.Errorf("binds %v, want %v", p.host.Binds, want)
	}
	if p.host.Privileged || p.host.Memory != 0 || p.host.CPUShares != 0 {
		t.Errorf("host config %+v", p.host)
	}
	s.Container.Docker.Privileged = proto.Bool(true)
	s.Container.Docker.ForcePullImage = proto.Bool(true)
	p = mustPlan(t, s, planOptions{mapped: "/sandbox"})
	if !p.host.Privileged || !p.forcePull || p.config.WorkingDir != "/sandbox" || p.host.Binds[0] != "/work/sandbox:/sandbox:rw" {
		t.Errorf("privileged/force pull/mapped: %+v %+v", p, p.host)
	}
	if _, ok := p.config.Labels[LabelOwner]; ok {
		t.Error("owner label without an owner")
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestPlanRejects(t *testing.T) {
	s := pureSpec()
	s.Container = nil
	planErr(t, s, "is not DOCKER")
	s = pureSpec()
	s.Container.Type = mesospb.ContainerInfo_MESOS.Enum()
	planErr(t, s, "is not DOCKER")
	s = pureSpec()
	s.Container.Docker = nil
	planErr(t, s, "no docker image")
	for _, id := range []string{"", "a/b", "a b", "ü"} {
		s = pureSpec()
		s.ContainerID = id
		planErr(t, s, "container id")
	}
	s = pureSpec()
	s.Sandbox = "relative"
	planErr(t, s, "absolute")
	s = pureSpec()
	s.Command = nil
	planErr(t, s, "no command")
}

func TestPlanCommand(t *testing.T) {
	cases := []struct {
		name        string
		ci          *mesospb.CommandInfo
		entry, cmd  []string
		errContains string
	}{
		{name: "shell unset", ci: &mesospb.CommandInfo{Value: proto.String("echo $HOME")},
			entry: []string{"/bin/sh"}, cmd: []string{"-c", "echo $HOME"}},
		{name: "shell true ignores arguments", ci: &mesospb.CommandInfo{Shell: proto.Bool(true), Value: proto.String("ls"), Arguments: []string{"x"}},
			entry: []string{"/bin/sh"}, cmd: []string{"-c", "ls"}},
		{name: "shell without value", ci: &mesospb.CommandInfo{Shell: proto.Bool(true)}, errContains: "without a value"},
		{name: "value and arguments", ci: &mesospb.CommandInfo{Shell: proto.Bool(false), Value: proto.String("echo"), Arguments: []string{"a", "b"}},
			cmd: []string{"echo", "a", "b"}},
		{name: "arguments only", ci: &mesospb.CommandInfo{Shell: proto.Bool(false), Arguments: []string{"--port", "80"}},
			cmd: []string{"--port", "80"}},
		{name: "image defaults", ci: &mesospb.CommandInfo{Shell: proto.Bool(false)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := pureSpec()
			s.Command = tc.ci
			p, err := plan(s, planOptions{})
			if tc.errContains != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errContains) {
					t.Fatalf("err = %v, want %q", err, tc.errContains)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(p.config.Entrypoint, tc.entry) || !slices.Equal(p.config.Cmd, tc.cmd) {
				t.Errorf("entrypoint %q cmd %q, want %q %q", p.config.Entrypoint, p.config.Cmd, tc.entry, tc.cmd)
			}
		})
	}
}

func TestPlanEnvironment(t *testing.T) {
	s := pureSpec()
	s.Env = []string{"A=spec", "B=spec", "MESOS_SANDBOX=/host/sandbox", "EMPTY="}
	s.Command.Environment = &mesospb.Environment{Variables: []*mesospb.Environment_Variable{
		{Name: proto.String("B"), Value: proto.String("command")},
		{Name: proto.String("C"), Type: mesospb.Environment_Variable_VALUE.Enum(), Value: proto.String("x=y")},
	}}
	p := mustPlan(t, s, planOptions{})
	want := []string{"A=spec", "EMPTY=", "B=command", "C=x=y", "MESOS_SANDBOX=/mnt/mesos/sandbox", "MESOS_CONTAINER_NAME=meso.c1"}
	if !slices.Equal(p.config.Env, want) {
		t.Errorf("env = %q, want %q", p.config.Env, want)
	}

	s.Command.Environment.Variables = append(s.Command.Environment.Variables,
		&mesospb.Environment_Variable{Name: proto.String("S"), Type: mesospb.Environment_Variable_SECRET.Enum()})
	planErr(t, s, "SECRET")
	s = pureSpec()
	s.Env = []string{"NOEQUALS"}
	planErr(t, s, "KEY=VALUE")
	s = pureSpec()
	s.Command.Environment = &mesospb.Environment{Variables: []*mesospb.Environment_Variable{{Name: proto.String("A=B")}}}
	planErr(t, s, "variable name")
}

func vol(cpath, hpath string, mode mesospb.Volume_Mode) *mesospb.Volume {
	v := &mesospb.Volume{ContainerPath: proto.String(cpath), Mode: mode.Enum()}
	if hpath != "" {
		v.HostPath = proto.String(hpath)
	}
	return v
}

func TestPlanVolumes(t *testing.T) {
	s := pureSpec()
	dockerVol := vol("/cache", "", mesospb.Volume_RW)
	dockerVol.Source = &mesospb.Volume_Source{Type: mesospb.Volume_Source_DOCKER_VOLUME.Enum(),
		DockerVolume: &mesospb.Volume_Source_DockerVolume{Name: proto.String("cachevol"), Driver: proto.String("local")}}
	s.Container.Volumes = []*mesospb.Volume{
		vol("/data", "/srv/data", mesospb.Volume_RO),
		vol("/work", "sub/dir", mesospb.Volume_RW),     // host path inside the sandbox
		vol("logs", "/var/log/app", mesospb.Volume_RW), // container path inside the mapped sandbox
		dockerVol,
	}
	p := mustPlan(t, s, planOptions{})
	want := []string{
		"/srv/data:/data:ro",
		"/work/sandbox/sub/dir:/work:rw",
		"/var/log/app:/mnt/mesos/sandbox/logs:rw",
		"cachevol:/cache:rw",
		"/work/sandbox:/mnt/mesos/sandbox:rw",
	}
	if !slices.Equal(p.host.Binds, want) {
		t.Errorf("binds\n got %q\nwant %q", p.host.Binds, want)
	}
	if p.host.VolumeDriver != "local" {
		t.Errorf("volume driver %q", p.host.VolumeDriver)
	}

	bad := []struct {
		v    *mesospb.Volume
		want string
	}{
		{vol("a", "b", mesospb.Volume_RW), "both relative"},
		{vol("/a", "../escape", mesospb.Volume_RW), "leaves the sandbox"},
		{vol("", "/a", mesospb.Volume_RW), "container_path"},
		{vol("/a", "", mesospb.Volume_RW), "neither host_path nor a source"},
		{&mesospb.Volume{ContainerPath: proto.String("/a"), HostPath: proto.String("/b"), Mode: mesospb.Volume_Mode(7).Enum()}, "mode"},
		{&mesospb.Volume{ContainerPath: proto.String("/a"), Mode: mesospb.Volume_RW.Enum(),
			Source: &mesospb.Volume_Source{Type: mesospb.Volume_Source_SECRET.Enum()}}, "not supported"},
		{&mesospb.Volume{ContainerPath: proto.String("/a"), Mode: mesospb.Volume_RW.Enum(),
			Source: &mesospb.Volume_Source{Type: mesospb.Volume_Source_DOCKER_VOLUME.Enum(), DockerVolume: &mesospb.Volume_Source_DockerVolume{}}}, "without a name"},
	}
	for _, b := range bad {
		s := pureSpec()
		s.Container.Volumes = []*mesospb.Volume{b.v}
		planErr(t, s, b.want)
	}
	s = pureSpec()
	other := proto.Clone(dockerVol).(*mesospb.Volume)
	other.ContainerPath = proto.String("/other")
	other.Source.DockerVolume.Driver = proto.String("nfs")
	s.Container.Volumes = []*mesospb.Volume{dockerVol, other}
	planErr(t, s, "only one volume driver")
}

func TestPlanNetwork(t *testing.T) {
	s := pureSpec()
	s.Container.Docker.Network = mesospb.ContainerInfo_DockerInfo_BRIDGE.Enum()
	s.Container.Hostname = proto.String("web")
	s.Container.Docker.PortMappings = []*mesospb.ContainerInfo_DockerInfo_PortMapping{
		{HostPort: proto.Uint32(31000), ContainerPort: proto.Uint32(80)},
		{HostPort: proto.Uint32(31001), ContainerPort: proto.Uint32(53), Protocol: proto.String("UDP")},
	}
	s.Resources = []*mesospb.Resource{ports(31000, 31010)}
	p := mustPlan(t, s, planOptions{})
	if p.host.NetworkMode != "bridge" || p.config.Hostname != "web" {
		t.Errorf("network %q hostname %q", p.host.NetworkMode, p.config.Hostname)
	}
	tcp80, udp53 := network.MustParsePort("80/tcp"), network.MustParsePort("53/udp")
	if len(p.config.ExposedPorts) != 2 {
		t.Errorf("exposed %v", p.config.ExposedPorts)
	}
	if b := p.host.PortBindings[tcp80]; len(b) != 1 || b[0].HostPort != "31000" {
		t.Errorf("80/tcp bindings %v", b)
	}
	if b := p.host.PortBindings[udp53]; len(b) != 1 || b[0].HostPort != "31001" {
		t.Errorf("53/udp bindings %v", b)
	}

	s.Container.Docker.PortMappings[0].HostPort = proto.Uint32(40000)
	planErr(t, s, "host port 40000")
	s.Container.Docker.PortMappings[0].HostPort = proto.Uint32(31000)
	s.Container.Docker.PortMappings[0].Protocol = proto.String("icmp")
	planErr(t, s, "protocol")

	s = pureSpec()
	s.Container.Docker.Network = mesospb.ContainerInfo_DockerInfo_NONE.Enum()
	if p := mustPlan(t, s, planOptions{}); p.host.NetworkMode != "none" {
		t.Errorf("NONE -> %q", p.host.NetworkMode)
	}
	s.Container.Docker.PortMappings = []*mesospb.ContainerInfo_DockerInfo_PortMapping{{HostPort: proto.Uint32(1), ContainerPort: proto.Uint32(1)}}
	planErr(t, s, "BRIDGE or a USER network")

	s = pureSpec()
	s.Container.Hostname = proto.String("h")
	planErr(t, s, "HOST network")

	s = pureSpec()
	s.Container.Docker.Network = mesospb.ContainerInfo_DockerInfo_USER.Enum()
	planErr(t, s, "network_infos")
	s.Container.NetworkInfos = []*mesospb.NetworkInfo{{Name: proto.String("backend")}}
	if p := mustPlan(t, s, planOptions{}); p.host.NetworkMode != "backend" {
		t.Errorf("USER -> %q", p.host.NetworkMode)
	}
}

func TestPlanLimits(t *testing.T) {
	cases := []struct {
		name                  string
		res                   []*mesospb.Resource
		cfs                   bool
		shares, quota, period int64
		memory                int64
	}{
		{name: "none"},
		{name: "half a cpu", res: []*mesospb.Resource{scalar("cpus", 0.5), scalar("mem", 64)}, shares: 512, memory: 64 << 20},
		{name: "cfs", res: []*mesospb.Resource{scalar("cpus", 1.5)}, cfs: true, shares: 1536, quota: 150000, period: 100000},
		{name: "minimums", res: []*mesospb.Resource{scalar("cpus", 0.001), scalar("mem", 4)}, cfs: true, shares: 2, quota: 1000, period: 100000, memory: 32 << 20},
	}
	for _, tc := range cases {
		s := pureSpec()
		s.Resources = tc.res
		p := mustPlan(t, s, planOptions{cfsQuota: tc.cfs})
		r := p.host.Resources
		if r.CPUShares != tc.shares || r.CPUQuota != tc.quota || r.CPUPeriod != tc.period || r.Memory != tc.memory {
			t.Errorf("%s: shares %d quota %d period %d memory %d", tc.name, r.CPUShares, r.CPUQuota, r.CPUPeriod, r.Memory)
		}
	}
}

func param(k, v string) *mesospb.Parameter {
	return &mesospb.Parameter{Key: proto.String(k), Value: proto.String(v)}
}

func TestPlanParameters(t *testing.T) {
	s := pureSpec()
	s.Container.Docker.Parameters = []*mesospb.Parameter{
		param("env", "X=1"), param("env", "MESOS_SANDBOX=/elsewhere"), param("label", "team=data"),
		param("user", "nobody"), param("workdir", "/tmp"), param("hostname", "box"), param("stop-signal", "SIGINT"),
		param("memory-swap", "1g"), param("memory-reservation", "128m"), param("shm-size", "64m"),
		param("pids-limit", "100"), param("oom-score-adj", "500"), param("cap-add", "NET_ADMIN"), param("cap-drop", "MKNOD"),
		param("add-host", "db:10.0.0.2"), param("group-add", "audio"), param("security-opt", "no-new-privileges"),
		param("dns", "10.0.0.53"), param("dns-search", "example.test"), param("dns-opt", "ndots:2"),
		param("ulimit", "nofile=1024:2048"), param("sysctl", "net.core.somaxconn=1024"), param("tmpfs", "/run:size=1m"),
		param("device", "/dev/fuse"), param("read-only", "true"), param("init", ""), param("ipc", "private"),
		param("pid", "host"), param("log-driver", "json-file"), param("log-opt", "max-size=1m"),
		param("--env", "DASHES=ok"),
	}
	p := mustPlan(t, s, planOptions{})
	c, h := p.config, p.host
	for _, kv := range []string{"X=1", "MESOS_SANDBOX=/elsewhere", "DASHES=ok"} {
		if !slices.Contains(c.Env, kv) {
			t.Errorf("env %q missing from %q", kv, c.Env)
		}
	}
	if slices.Contains(c.Env, "MESOS_SANDBOX=/mnt/mesos/sandbox") {
		t.Error("env parameter did not override MESOS_SANDBOX")
	}
	check := func(what string, ok bool) {
		t.Helper()
		if !ok {
			t.Errorf("parameter %s not applied", what)
		}
	}
	check("label", c.Labels["team"] == "data")
	check("user", c.User == "nobody")
	check("workdir", c.WorkingDir == "/tmp")
	check("hostname", c.Hostname == "box")
	check("stop-signal", c.StopSignal == "SIGINT")
	check("memory-swap", h.MemorySwap == 1<<30)
	check("memory-reservation", h.MemoryReservation == 128<<20)
	check("shm-size", h.ShmSize == 64<<20)
	check("pids-limit", h.PidsLimit != nil && *h.PidsLimit == 100)
	check("oom-score-adj", h.OomScoreAdj == 500)
	check("cap-add", slices.Equal(h.CapAdd, []string{"NET_ADMIN"}))
	check("cap-drop", slices.Equal(h.CapDrop, []string{"MKNOD"}))
	check("add-host", slices.Equal(h.ExtraHosts, []string{"db:10.0.0.2"}))
	check("group-add", slices.Equal(h.GroupAdd, []string{"audio"}))
	check("security-opt", slices.Equal(h.SecurityOpt, []string{"no-new-privileges"}))
	check("dns", slices.Equal(h.DNS, []netip.Addr{netip.MustParseAddr("10.0.0.53")}))
	check("dns-search", slices.Equal(h.DNSSearch, []string{"example.test"}))
	check("dns-opt", slices.Equal(h.DNSOptions, []string{"ndots:2"}))
	check("ulimit", len(h.Ulimits) == 1 && h.Ulimits[0].Name == "nofile" && h.Ulimits[0].Soft == 1024 && h.Ulimits[0].Hard == 2048)
	check("sysctl", h.Sysctls["net.core.somaxconn"] == "1024")
	check("tmpfs", h.Tmpfs["/run"] == "size=1m")
	check("device", len(h.Devices) == 1 && h.Devices[0] == container.DeviceMapping{PathOnHost: "/dev/fuse", PathInContainer: "/dev/fuse", CgroupPermissions: "rwm"})
	check("read-only", h.ReadonlyRootfs)
	check("init", h.Init != nil && *h.Init)
	check("ipc", h.IpcMode == "private")
	check("pid", h.PidMode == "host")
	check("log-driver", h.LogConfig.Type == "json-file")
	check("log-opt", h.LogConfig.Config["max-size"] == "1m")
	if got := SupportedParameters(); !slices.IsSorted(got) || !slices.Contains(got, "env") {
		t.Errorf("SupportedParameters = %v", got)
	}

	for _, bad := range []struct{ k, v, want string }{
		{"volume", "/a:/b", `"volume" is not supported`},
		{"env", "NOVALUE", "KEY=VALUE"},
		{"label", "meso.container=x", "reserved"},
		{"memory-swap", "lots", "not a size"},
		{"pids-limit", "many", "not an integer"},
		{"oom-score-adj", "2000", "oom-score-adj"},
		{"dns", "resolver.test", "not an IP"},
		{"ulimit", "nofile", "ulimit"},
		{"tmpfs", "run", "absolute"},
		{"device", "fuse", "device"},
		{"read-only", "maybe", "true or false"},
	} {
		s := pureSpec()
		s.Container.Docker.Parameters = []*mesospb.Parameter{param(bad.k, bad.v)}
		planErr(t, s, bad.want)
	}
}

func TestTermination(t *testing.T) {
	cases := []struct {
		st      exitState
		status  int
		message string
		reason  mesospb.TaskStatus_Reason
	}{
		{exitState{code: 0}, 0, "Command exited with status 0", 0},
		{exitState{code: 3}, 3 << 8, "Command exited with status 3", 0},
		{exitState{code: 137}, int(syscall.SIGKILL), "Command terminated with signal Killed", 0},
		{exitState{code: 143}, int(syscall.SIGTERM), "Command terminated with signal Terminated", 0},
		{exitState{code: 128}, 128 << 8, "Command exited with status 128", 0},
		{exitState{code: 255}, 255 << 8, "Command exited with status 255", 0},
		{exitState{code: 127, err: "exec failed"}, 127 << 8, "Command exited with status 127: exec failed", 0},
		{exitState{code: 137, oomKilled: true, memLimit: 64 << 20}, int(syscall.SIGKILL),
			"Memory limit exceeded: Requested: 64MB (the kernel's OOM killer ended the container; Command terminated with signal Killed)",
			mesospb.TaskStatus_REASON_CONTAINER_LIMITATION_MEMORY},
	}
	for _, tc := range cases {
		got := termination(tc.st)
		if got.Status != tc.status || got.Message != tc.message || got.Reason != tc.reason || got.Limited != tc.st.oomKilled {
			t.Errorf("termination(%+v) = %+v, want %d %q %v", tc.st, got, tc.status, tc.message, tc.reason)
		}
	}
}

func TestUsageFromStats(t *testing.T) {
	const v1 = `{"read":"2024-01-02T03:04:05Z","pids_stats":{"current":3},
		"cpu_stats":{"cpu_usage":{"total_usage":3000000000,"usage_in_usermode":2000000000,"usage_in_kernelmode":1000000000},
			"throttling_data":{"periods":10,"throttled_periods":4,"throttled_time":500000000}},
		"memory_stats":{"usage":9000000,"max_usage":9500000,"limit":67108864,"stats":{"rss":4096000,"cache":4000000,"mapped_file":100,"swap":7,"unevictable":8}}}`
	var s container.StatsResponse
	if err := json.Unmarshal([]byte(v1), &s); err != nil {
		t.Fatal(err)
	}
	u := usage(s, 0.5, 64<<20)
	if u.Processes != 3 || u.CPUUser.Seconds() != 2 || u.CPUSystem.Seconds() != 1 || u.RSSBytes != 4096000 ||
		u.CPUsLimit != 0.5 || u.MemLimitBytes != 64<<20 || u.Timestamp.Year() != 2024 {
		t.Errorf("usage = %+v", u)
	}
	if m := u.Memory; m == nil || *m != (containerizer.MemoryUsage{TotalBytes: 9000000, MaxBytes: 9500000, CacheBytes: 4000000, MappedFileBytes: 100, SwapBytes: 7, UnevictableBytes: 8}) {
		t.Errorf("memory = %+v", u.Memory)
	}
	if th := u.Throttling; th == nil || th.Periods != 10 || th.Throttled != 4 || th.ThrottledTime.Seconds() != 0.5 {
		t.Errorf("throttling = %+v", u.Throttling)
	}
	const v2 = `{"memory_stats":{"usage":9000000,"stats":{"anon":5000000,"file":4000000}}}`
	s = container.StatsResponse{}
	json.Unmarshal([]byte(v2), &s)
	if u := usage(s, 0, 0); u.RSSBytes != 5000000 || u.Memory.CacheBytes != 4000000 || u.Throttling != nil {
		t.Errorf("v2 usage = %+v %+v", u, u.Memory)
	}
	s = container.StatsResponse{}
	json.Unmarshal([]byte(`{"memory_stats":{"usage":123}}`), &s)
	if u := usage(s, 0, 0); u.RSSBytes != 123 {
		t.Errorf("fallback rss = %d", u.RSSBytes)
	}
}

func TestSupports(t *testing.T) {
	z := &Containerizer{}
	s := pureSpec()
	if !z.Supports(s) {
		t.Error("DOCKER not supported")
	}
	s.Container.Type = mesospb.ContainerInfo_MESOS.Enum()
	if z.Supports(s) {
		t.Error("MESOS supported")
	}
	s.Container = nil // GetType() of nil would say DOCKER
	if z.Supports(s) {
		t.Error("no ContainerInfo supported")
	}
}

// FuzzPlan feeds plan arbitrary parameters, commands, environments and
// volumes: it must answer, never panic.
func FuzzPlan(f *testing.F) {
	f.Add("env", "A=B", "echo hi", "K=V", "/data", "rel", uint8(1))
	f.Add("ulimit", "nofile=1:2", "", "=", "", "", uint8(0))
	f.Add("memory-swap", "-1", "x", "A", "a", "../..", uint8(2))
	f.Add("device", "/dev/a:/dev/b:rw:x", "", "", "/", "/", uint8(3))
	f.Add("tmpfs", "/x:", "\x00", "\x00=\x00", "x", "/y", uint8(4))
	f.Fuzz(func(t *testing.T, key, value, cmd, env, cpath, hpath string, mode uint8) {
		s := pureSpec()
		s.Command = &mesospb.CommandInfo{Value: proto.String(cmd), Shell: proto.Bool(mode%2 == 0)}
		s.Env = []string{env}
		s.Container.Docker.Parameters = []*mesospb.Parameter{param(key, value)}
		v := &mesospb.Volume{ContainerPath: proto.String(cpath), Mode: mesospb.Volume_Mode(mode % 4).Enum()}
		if hpath != "" {
			v.HostPath = proto.String(hpath)
		}
		s.Container.Volumes = []*mesospb.Volume{v}
		if _, err := plan(s, planOptions{}); err != nil && !errors.Is(err, errInvalid) {
			t.Errorf("plan error %v does not wrap errInvalid", err)
		}
	})
}
