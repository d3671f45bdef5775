package mesosbackend

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDefaultSettings(t *testing.T) {
	s := DefaultSettings()
	if s.CoresMax != 0 || s.ExecutorCores != 0 {
		t.Errorf("cores: max %d, executor %d; want unset (0)", s.CoresMax, s.ExecutorCores)
	}
	if s.ExecutorMemoryMiB != 1024 || s.MemoryOverheadMiB != 384 || s.MemoryMiB() != 1408 {
		t.Errorf("memory %d + %d; want 1024 + 384", s.ExecutorMemoryMiB, s.MemoryOverheadMiB)
	}
	if s.Role != "*" || s.Containerizer != "docker" {
		t.Errorf("role %q containerizer %q", s.Role, s.Containerizer)
	}
	for name, d := range map[string]time.Duration{
		"reject": s.RejectOfferDuration, "unmet": s.RejectUnmetConstraints, "maxcores": s.RejectReachedMaxCores,
	} {
		if d != 120*time.Second {
			t.Errorf("%s filter %v, want 120s", name, d)
		}
	}
	if s.InitialTarget != Unlimited {
		t.Errorf("initial target %d, want Unlimited", s.InitialTarget)
	}
	if s.ShutdownTimeout != 10*time.Second || s.ConnectTimeout != 30*time.Second {
		t.Errorf("shutdown %v connect %v", s.ShutdownTimeout, s.ConnectTimeout)
	}
}

func TestParseSettings(t *testing.T) {
	s, err := ParseSettings(map[string]string{
		KeyCoresMax:               "8",
		KeyExecutorCores:          "2",
		KeyExecutorMemory:         "8g",
		KeyExtraCores:             "1",
		KeyRejectOfferDuration:    "30", // plain number: seconds
		KeyRejectReachedMaxCores:  "2min",
		KeyShutdownTimeout:        "1500", // plain number: milliseconds
		KeyFailoverTimeout:        "3600.5",
		KeyTaskLabels:             `team:data,env:prod\,eu,flag`,
		KeyURIs:                   "http://a/x.tgz, http://b/y",
		KeyFetcherCache:           "true",
		KeyDockerVolumes:          "/data,/host:/in:ro,/out:rw",
		KeyDockerPortMaps:         "8080:80,53:53:udp",
		KeyConstraints:            "zone:a,b; rack:r1",
		KeyContainerizer:          "mesos",
		KeyDriverLabels:           "x:y",
		KeyCheckpoint:             "true",
		KeyExecutorHome:           "/opt/app",
		KeyShortageInterval:       "5s",
		"spark.unrelated.setting": "whatever",
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.MemoryOverheadMiB != 819 { // 10% of 8192
		t.Errorf("overhead %d, want 819", s.MemoryOverheadMiB)
	}
	if s.RejectOfferDuration != 30*time.Second || s.RejectUnmetConstraints != 30*time.Second || s.RejectReachedMaxCores != 2*time.Minute {
		t.Errorf("filters %v %v %v", s.RejectOfferDuration, s.RejectUnmetConstraints, s.RejectReachedMaxCores)
	}
	if s.ShutdownTimeout != 1500*time.Millisecond || s.FailoverTimeout != 3600500*time.Millisecond {
		t.Errorf("shutdown %v failover %v", s.ShutdownTimeout, s.FailoverTimeout)
	}
	wantLabels := []Label{{"team", "data"}, {"env", "prod,eu"}, {"flag", ""}}
	if !reflect.DeepEqual(s.TaskLabels, wantLabels) {
		t.Errorf("labels %q", s.TaskLabels)
	}
	if !reflect.DeepEqual(s.URIs, []string{"http://a/x.tgz", "http://b/y"}) || !s.FetcherCache {
		t.Errorf("uris %q cache %t", s.URIs, s.FetcherCache)
	}
	if !reflect.DeepEqual(s.DriverLabels, []Label{{"x", "y"}}) || !s.Checkpoint {
		t.Errorf("driver labels %q checkpoint %t", s.DriverLabels, s.Checkpoint)
	}
	wantVols := []Volume{{ContainerPath: "/data"}, {HostPath: "/host", ContainerPath: "/in", ReadOnly: true}, {ContainerPath: "/out"}}
	if !reflect.DeepEqual(s.DockerVolumes, wantVols) {
		t.Errorf("volumes %+v", s.DockerVolumes)
	}
	wantPorts := []PortMap{{8080, 80, "tcp"}, {53, 53, "udp"}}
	if !reflect.DeepEqual(s.DockerPortMaps, wantPorts) {
		t.Errorf("portmaps %+v", s.DockerPortMaps)
	}
	if s.Constraints.String() != "rack:r1;zone:a,b" {
		t.Errorf("constraints %q", s.Constraints)
	}
	if s.ExecutorHome != "/opt/app" || s.ShortageInterval != 5*time.Second {
		t.Errorf("executor home %q, shortage interval %v", s.ExecutorHome, s.ShortageInterval)
	}
}

func TestDynamicAllocationInitialTarget(t *testing.T) {
	for _, tc := range []struct {
		conf map[string]string
		want int
	}{
		{map[string]string{KeyDynamicAllocation: "true"}, 0},
		{map[string]string{KeyDynamicAllocation: "true", KeyInitialExecutors: "3"}, 3},
		{map[string]string{KeyDynamicAllocation: "true", KeyInitialExecutors: "1", KeyMinExecutors: "2"}, 2},
		{map[string]string{KeyDynamicAllocation: "false", KeyInitialExecutors: "3"}, Unlimited},
	} {
		s, err := ParseSettings(tc.conf)
		if err != nil || s.InitialTarget != tc.want {
			t.Errorf("%v: target %d, %v; want %d", tc.conf, s.InitialTarget, err, tc.want)
		}
	}
}

func TestParseSizeForms(t *testing.T) {
	for in, want := range map[string]int64{
		"512m": 512, "1g": 1024, "1G": 1024, "1024k": 1, "2048": 2048, "1gb": 1024, "1t": 1 << 20,
	} {
		s, err := ParseSettings(map[string]string{KeyExecutorMemory: in})
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if int64(s.ExecutorMemoryMiB) != want {
			t.Errorf("%q: %d MiB, want %d", in, s.ExecutorMemoryMiB, want)
		}
	}
}

func TestParseSettingsErrors(t *testing.T) {
	for _, tc := range []struct{ key, val string }{
		{KeyCoresMax, "0"},
		{KeyCoresMax, "-1"},
		{KeyCoresMax, "2.5"},
		{KeyExecutorCores, "many"},
		{KeyExecutorMemory, "1.5g"},
		{KeyExecutorMemory, "100k"}, // not whole MiB
		{KeyExecutorMemory, "0"},
		{KeyExecutorMemory, "9999999999p"},
		{KeyExecutorMemory, "12q"},
		{KeyMemoryOverhead, "-5"},
		{KeyExtraCores, "-1"},
		{KeyRejectOfferDuration, "-1s"},
		{KeyRejectOfferDuration, "5 fortnights"},
		{KeyRejectUnmetConstraints, "2y"},
		{KeyShutdownTimeout, "1.5s"},
		{KeyConnectTimeout, "0"},
		{KeyFailoverTimeout, "-3"},
		{KeyFailoverTimeout, "NaN"},
		{KeyFetcherCache, "yes please"},
		{KeyConstraints, "a:b:c"},
		{KeyConstraints, "zone:a;zone:b"},
		{KeyTaskLabels, ":v"},
		{KeyDockerVolumes, "a:b:c:d"},
		{KeyDockerVolumes, "/a:/b:rx"},
		{KeyDockerPortMaps, "80"},
		{KeyDockerPortMaps, "70000:80"},
		{KeyDockerPortMaps, "80:80:sctp"},
		{KeyContainerizer, "lxc"},
	} {
		_, err := ParseSettings(map[string]string{tc.key: tc.val})
		if !errors.Is(err, ErrSetting) || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%s=%q: error %v, want ErrSetting naming the key", tc.key, tc.val, err)
		}
	}
	_, err := ParseSettings(map[string]string{KeyCoresMax: "2", KeyExecutorCores: "4"})
	if !errors.Is(err, ErrSetting) || !strings.Contains(err.Error(), KeyExecutorCores) {
		t.Errorf("executor cores over cores.max: %v", err)
	}
}
