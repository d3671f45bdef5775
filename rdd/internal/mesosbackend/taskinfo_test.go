package mesosbackend

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/scheduler"
)

func scalar(name, role string, v float64) *mesospb.Resource {
	r := &mesospb.Resource{Name: proto.String(name), Type: mesospb.Value_SCALAR.Enum(),
		Scalar: &mesospb.Value_Scalar{Value: proto.Float64(v)}, Role: proto.String(role)}
	if role != "*" {
		r.Reservations = []*mesospb.Resource_ReservationInfo{{Type: mesospb.Resource_ReservationInfo_STATIC.Enum(), Role: proto.String(role)}}
		r.AllocationInfo = &mesospb.Resource_AllocationInfo{Role: proto.String(role)}
	}
	return r
}

func testBackend(t *testing.T, s Settings, cmd Command) *Backend {
	t.Helper()
	return &Backend{
		cfg:    Config{Name: "app", Settings: s, Command: cmd, DriverURL: "http://d"},
		client: scheduler.New(scheduler.Config{Master: "127.0.0.1:1"}),
	}
}

// Executors are carved out of the offered resources: reserved ones first,
// role, reservations and allocation info kept, amounts exact.
func TestTaskInfoResources(t *testing.T) {
	offer := &mesospb.Offer{
		Id: &mesospb.OfferID{Value: proto.String("o1")}, AgentId: &mesospb.AgentID{Value: proto.String("a1")},
		Resources: []*mesospb.Resource{
			scalar("cpus", "*", 3), scalar("mem", "*", 4096), scalar("cpus", "spark", 1.5),
			{Name: proto.String("ports"), Type: mesospb.Value_RANGES.Enum(), Ranges: &mesospb.Value_Ranges{}},
		},
	}
	if cpus, mem := offerTotals(offer); cpus != 4.5 || mem != 4096 {
		t.Fatalf("totals cpus %g mem %g", cpus, mem)
	}
	b := testBackend(t, DefaultSettings(), Command{Value: "run"})
	left := newOfferScalars(offer)
	t1 := b.taskInfo(offer, left, Executor{ID: "e0", CPUs: 2, MemMiB: 1408, Slots: 2})
	t2 := b.taskInfo(offer, left, Executor{ID: "e1", CPUs: 2, MemMiB: 1408, Slots: 2})
	got := func(ti *mesospb.TaskInfo) map[string]float64 {
		m := map[string]float64{}
		for _, r := range ti.GetResources() {
			m[r.GetName()+"/"+r.GetRole()] += r.GetScalar().GetValue()
			if r.GetRole() == "spark" && r.GetAllocationInfo().GetRole() != "spark" {
				t.Errorf("reserved resource lost its allocation info: %v", r)
			}
		}
		return m
	}
	if m := got(t1); m["cpus/spark"] != 1.5 || m["cpus/*"] != 0.5 || m["mem/*"] != 1408 {
		t.Errorf("first executor resources %v", m)
	}
	if m := got(t2); m["cpus/spark"] != 0 || m["cpus/*"] != 2 || m["mem/*"] != 1408 {
		t.Errorf("second executor resources %v", m)
	}
	if t1.GetAgentId().GetValue() != "a1" || t1.GetName() != "app e0" || t1.GetTaskId().GetValue() != "e0" {
		t.Errorf("task %v", t1)
	}
	if t1.Container != nil {
		t.Errorf("container without a docker image: %v", t1.Container)
	}
}

func TestCommandInfo(t *testing.T) {
	s := settings(t, KeyFetcherCache, "true", KeyURIs, "http://x/a.tgz", KeyExecutorURI, "http://x/exe",
		KeyExtraCores, "2", KeyExecutorMemory, "2g")
	b := testBackend(t, s, Command{
		Value: "/bin/exe", Args: []string{"exe", "executor"}, Env: map[string]string{"A": "1", EnvExecutorID: "overridden"},
		URIs: []URI{{Value: "http://x/bin", Executable: true, NoExtract: true, OutputFile: "bin"}},
	})
	ci := b.commandInfo(Executor{ID: "e7", CPUs: 2, Slots: 4, Hostname: "h1"})
	if ci.Shell == nil || ci.GetShell() || len(ci.GetArguments()) != 2 || ci.GetValue() != "/bin/exe" {
		t.Errorf("argv form: shell %v value %q args %q", ci.Shell, ci.GetValue(), ci.GetArguments())
	}
	env := map[string]string{}
	for _, v := range ci.GetEnvironment().GetVariables() {
		env[v.GetName()] = v.GetValue()
	}
	want := map[string]string{"A": "1", EnvExecutorID: "e7", EnvExecutorCores: "4", EnvExecutorMemory: "2048",
		EnvDriverURL: "http://d", EnvHostname: "h1", EnvAppID: ""}
	for k, v := range want {
		if got, ok := env[k]; !ok || got != v {
			t.Errorf("env %s=%q, want %q", k, got, v)
		}
	}
	if len(ci.GetUris()) != 3 {
		t.Fatalf("uris %v", ci.GetUris())
	}
	for _, u := range ci.GetUris() {
		if !u.GetCache() {
			t.Errorf("uri %s not cacheable with %s", u.GetValue(), KeyFetcherCache)
		}
	}
	if u := ci.GetUris()[0]; !u.GetExecutable() || u.GetExtract() || u.GetOutputFile() != "bin" {
		t.Errorf("uri flags %v", u)
	}
	shell := testBackend(t, DefaultSettings(), Command{Value: "echo hi"}).commandInfo(Executor{ID: "e0"})
	if shell.Shell != nil || shell.GetUris() != nil {
		t.Errorf("shell form: %v", shell)
	}
}

func TestContainerInfo(t *testing.T) {
	s := settings(t, KeyDockerImage, "example:1", KeyDockerVolumes, "/h:/c:ro,/tmp",
		KeyDockerPortMaps, "8080:80", KeyDockerForcePull, "true")
	ci := testBackend(t, s, Command{Value: "x"}).containerInfo()
	if ci.GetType() != mesospb.ContainerInfo_DOCKER || ci.GetDocker().GetImage() != "example:1" ||
		!ci.GetDocker().GetForcePullImage() || len(ci.GetDocker().GetPortMappings()) != 1 ||
		ci.GetDocker().GetNetwork() != mesospb.ContainerInfo_DockerInfo_BRIDGE {
		t.Errorf("docker container %v", ci)
	}
	if len(ci.GetVolumes()) != 2 || ci.GetVolumes()[0].GetMode() != mesospb.Volume_RO || ci.GetVolumes()[0].GetHostPath() != "/h" {
		t.Errorf("volumes %v", ci.GetVolumes())
	}
	if _, err := proto.Marshal(ci); err != nil {
		t.Errorf("container info misses required fields: %v", err)
	}
	// In a Docker container the command is value then arguments (no
	// argv[0]); the Mesos containerizer keeps argv.
	argv := Command{Value: "/prog", Args: []string{"/prog", "--n", "5"}}
	if cmd := testBackend(t, s, argv).commandInfo(Executor{ID: "e0"}); cmd.GetShell() ||
		cmd.GetValue() != "/prog" || !slices.Equal(cmd.GetArguments(), []string{"--n", "5"}) {
		t.Errorf("docker command: shell %v value %q args %q", cmd.GetShell(), cmd.GetValue(), cmd.GetArguments())
	}
	s = settings(t, KeyDockerImage, "example:1", KeyContainerizer, "mesos")
	if cmd := testBackend(t, s, argv).commandInfo(Executor{ID: "e0"}); !slices.Equal(cmd.GetArguments(), argv.Args) {
		t.Errorf("mesos containerizer command: args %q", cmd.GetArguments())
	}
	ci = testBackend(t, s, Command{Value: "x"}).containerInfo()
	if ci.GetType() != mesospb.ContainerInfo_MESOS || ci.GetMesos().GetImage().GetDocker().GetName() != "example:1" ||
		!ci.GetMesos().GetImage().GetCached() {
		t.Errorf("mesos container %v", ci)
	}
	if _, err := proto.Marshal(ci); err != nil {
		t.Errorf("container info misses required fields: %v", err)
	}
}

func TestFrameworkInfo(t *testing.T) {
	s := settings(t, KeyRole, "spark", KeyPrincipal, "me", KeyFailoverTimeout, "60",
		KeyWebUIURL, "http://127.0.0.1:4040", KeyDriverLabels, "a:b", KeyTaskLabels, "c:d,e:f", KeyCheckpoint, "true",
		KeyFrameworkID, "fw-7")
	b := testBackend(t, s, Command{Value: "x"})
	b.cfg.User = "alice"
	fi := b.frameworkInfo()
	if fi.GetUser() != "alice" || fi.GetName() != "app" || fi.GetRole() != "spark" || fi.GetPrincipal() != "me" ||
		fi.GetFailoverTimeout() != 60 || fi.GetWebuiUrl() != "http://127.0.0.1:4040" || !fi.GetCheckpoint() ||
		len(fi.GetLabels().GetLabels()) != 1 || len(fi.GetRoles()) != 0 || len(fi.GetCapabilities()) != 0 ||
		fi.GetId().GetValue() != "fw-7" {
		t.Errorf("framework info %v", fi)
	}
	if _, err := proto.Marshal(fi); err != nil {
		t.Errorf("framework info misses required fields: %v", err)
	}
}
