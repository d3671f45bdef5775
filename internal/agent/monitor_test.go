package agent

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/containerizer"
)

// usageContainerizer adds usage reports to the fake containerizer.
type usageContainerizer struct{ *fakeContainerizer }

func (u usageContainerizer) Usage(_ context.Context, id string) (containerizer.Usage, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.running[id] == nil {
		return containerizer.Usage{}, containerizer.ErrUnknownContainer
	}
	return containerizer.Usage{
		Timestamp: time.Unix(1700000000, 500_000_000), Processes: 2, CPUUser: 1500 * time.Millisecond,
		CPUSystem: 250 * time.Millisecond, RSSBytes: 1 << 20, CPUsLimit: 0.5, MemLimitBytes: 64 << 20,
		Memory: &containerizer.MemoryUsage{TotalBytes: 2 << 20},
	}, nil
}

// GET /monitor/statistics lists running executors with their container's
// ResourceStatistics, in Mesos' JSON shape.
func TestMonitorStatistics(t *testing.T) {
	m := newFakeMaster(t)
	a := startAgent(t, m, func(cfg *Config) {
		cfg.Containerizer = usageContainerizer{cfg.Containerizer.(*fakeContainerizer)}
	})
	s := m.session()
	s.send(runTask("f1", commandTask("t1", "sleep 100")))
	a.cz.launch(t)

	var list []map[string]json.RawMessage
	deadline := time.Now().Add(waitLimit)
	for len(list) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the executor never appeared in /monitor/statistics")
		}
		if list = getStatistics(t, a.url+"/monitor/statistics"); len(list) == 0 {
			<-time.After(10 * time.Millisecond)
		}
	}
	if len(list) != 1 {
		t.Fatalf("statistics = %s", list)
	}
	e := list[0]
	var fields map[string]string
	raw, _ := json.Marshal(map[string]json.RawMessage{"executor_id": e["executor_id"], "executor_name": e["executor_name"],
		"framework_id": e["framework_id"], "source": e["source"]})
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatal(err)
	}
	if fields["executor_id"] != "t1" || fields["framework_id"] != "f1" || fields["source"] != "t1" ||
		!strings.HasPrefix(fields["executor_name"], "Command Executor (Task: t1)") {
		t.Errorf("entry = %v", fields)
	}
	var stats map[string]float64
	if err := json.Unmarshal(e["statistics"], &stats); err != nil {
		t.Fatalf("statistics %s: %v", e["statistics"], err)
	}
	for k, want := range map[string]float64{"timestamp": 1700000000.5, "processes": 2, "cpus_user_time_secs": 1.5,
		"cpus_system_time_secs": 0.25, "mem_rss_bytes": 1 << 20, "cpus_limit": 0.5, "mem_limit_bytes": 64 << 20,
		"mem_total_bytes": 2 << 20} {
		if stats[k] != want {
			t.Errorf("%s = %v, want %v (statistics %s)", k, stats[k], want, e["statistics"])
		}
	}
	for _, path := range []string{"/monitor/statistics.json", "/slave(1)/monitor/statistics"} {
		if got := getStatistics(t, a.url+path); len(got) != 1 {
			t.Errorf("%s: %v", path, got)
		}
	}
	resp, err := http.Post(a.url+"/monitor/statistics", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST answered %s", resp.Status)
	}
}

func getStatistics(t *testing.T, url string) []map[string]json.RawMessage {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET %s: %s %s", url, resp.Status, resp.Header.Get("Content-Type"))
	}
	var list []map[string]json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	return list
}

// A command task in a DOCKER container on an agent without the docker
// containerizer fails at once, naming the flag.
func TestDockerTaskNeedsDockerContainerizer(t *testing.T) {
	m := newFakeMaster(t)
	startAgent(t, m, nil)
	s := m.session()
	task := commandTask("t1", "echo hi")
	task.Container = &mesospb.ContainerInfo{Type: mesospb.ContainerInfo_DOCKER.Enum(),
		Docker: &mesospb.ContainerInfo_DockerInfo{Image: proto.String("busybox")}}
	s.send(runTask("f1", task))
	st := m.call(linkpb.AgentCall_STATUS_UPDATE).GetStatusUpdate().GetStatus()
	if st.GetState() != mesospb.TaskState_TASK_FAILED || st.GetReason() != mesospb.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED ||
		!strings.Contains(st.GetMessage(), "--containerizers=docker,mesos") {
		t.Errorf("update = %v", st)
	}
}
