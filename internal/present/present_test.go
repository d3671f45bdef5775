package present

import (
	"encoding/json"
	"testing"

	"github.com/mesoproject/meso/api/masterpb"
	"github.com/mesoproject/meso/api/mesospb"
	"google.golang.org/protobuf/proto"
)

func scalar(name string, v float64, role string) *mesospb.Resource {
	r := &mesospb.Resource{Name: proto.String(name), Type: mesospb.Value_SCALAR.Enum(), Scalar: &mesospb.Value_Scalar{Value: proto.Float64(v)}}
	if role != "" {
		r.Reservations = []*mesospb.Resource_ReservationInfo{{Type: mesospb.Resource_ReservationInfo_STATIC.Enum(), Role: proto.String(role)}}
		r.Role = proto.String(role)
	}
	return r
}

func ranges(name string, bounds ...uint64) *mesospb.Resource {
	r := &mesospb.Resource{Name: proto.String(name), Type: mesospb.Value_RANGES.Enum(), Ranges: &mesospb.Value_Ranges{}}
	for i := 0; i+1 < len(bounds); i += 2 {
		r.Ranges.Range = append(r.Ranges.Range, &mesospb.Value_Range{Begin: proto.Uint64(bounds[i]), End: proto.Uint64(bounds[i+1])})
	}
	return r
}

func set(name string, items ...string) *mesospb.Resource {
	return &mesospb.Resource{Name: proto.String(name), Type: mesospb.Value_SET.Enum(), Set: &mesospb.Value_Set{Item: items}}
}

// Mesos prints Value.Set as "{a, b}" and Value.Ranges as "[a-b, c-d]";
// the master and the agent once disagreed on the set separator.
func TestResourcesModel(t *testing.T) {
	got := Resources([]*mesospb.Resource{
		scalar("cpus", 0.1, ""), scalar("cpus", 0.2, "web"), scalar("mem", 512, ""),
		ranges("ports", 31005, 31010, 31000, 31004), ranges("ports", 32000, 32000),
		set("disks", "sdb", "sda"), set("disks", "sda", "sdc"),
	})
	want := map[string]any{
		"cpus": 0.3, "mem": 512.0, "disk": 0.0, "gpus": 0.0,
		"ports": "[31000-31010, 32000-32000]",
		"disks": "{sda, sdb, sdc}",
	}
	if len(got) != len(want) {
		t.Fatalf("Resources = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("Resources[%q] = %#v, want %#v", k, got[k], v)
		}
	}
	if r := ReservedResources([]*mesospb.Resource{scalar("cpus", 1, "web"), scalar("cpus", 2, "")}); len(r) != 1 ||
		r["web"].(map[string]any)["cpus"] != 1.0 {
		t.Errorf("ReservedResources = %v", r)
	}
	if u := Resources(UnreservedResources([]*mesospb.Resource{scalar("cpus", 1, "web"), scalar("cpus", 2, "")})); u["cpus"] != 2.0 {
		t.Errorf("unreserved = %v", u)
	}
}

func TestAttributesModel(t *testing.T) {
	got := Attributes([]*mesospb.Attribute{
		{Name: proto.String("rack"), Type: mesospb.Value_TEXT.Enum(), Text: &mesospb.Value_Text{Value: proto.String("r1")}},
		{Name: proto.String("n"), Type: mesospb.Value_SCALAR.Enum(), Scalar: &mesospb.Value_Scalar{Value: proto.Float64(2)}},
		{Name: proto.String("zones"), Type: mesospb.Value_SET.Enum(), Set: &mesospb.Value_Set{Item: []string{"a", "b"}}},
	})
	if got["rack"] != "r1" || got["n"] != 2.0 || got["zones"] != "{a, b}" {
		t.Errorf("Attributes = %v", got)
	}
}

// The /state document is derived from GetState: tasks, executors and
// offers land under their framework, unreachable and completed tasks in
// their own lists, and empty lists are [] (never null).
func TestMasterStateJSON(t *testing.T) {
	fwInfo := &mesospb.FrameworkInfo{User: proto.String("u"), Name: proto.String("fw"), Id: &mesospb.FrameworkID{Value: proto.String("f1")}, Role: proto.String("web")}
	task := func(id string, s mesospb.TaskState) *mesospb.Task {
		return &mesospb.Task{Name: proto.String(id), TaskId: &mesospb.TaskID{Value: proto.String(id)},
			FrameworkId: fwInfo.Id, AgentId: &mesospb.AgentID{Value: proto.String("a1")}, State: s.Enum(),
			Resources: []*mesospb.Resource{scalar("cpus", 1, "")}}
	}
	gs := &masterpb.Response_GetState{
		GetTasks: &masterpb.Response_GetTasks{
			Tasks:            []*mesospb.Task{task("t1", mesospb.TaskState_TASK_RUNNING)},
			UnreachableTasks: []*mesospb.Task{task("t2", mesospb.TaskState_TASK_UNREACHABLE)},
			CompletedTasks:   []*mesospb.Task{task("t3", mesospb.TaskState_TASK_FINISHED)},
		},
		GetFrameworks: &masterpb.Response_GetFrameworks{Frameworks: []*masterpb.Response_GetFrameworks_Framework{{
			FrameworkInfo: fwInfo, Active: proto.Bool(true), Connected: proto.Bool(true), Recovered: proto.Bool(false),
			AllocatedResources: []*mesospb.Resource{scalar("cpus", 1, "")},
			OfferedResources:   []*mesospb.Resource{scalar("cpus", 2, "")},
		}}},
		GetAgents: &masterpb.Response_GetAgents{Agents: []*masterpb.Response_GetAgents_Agent{{
			AgentInfo: &mesospb.AgentInfo{Hostname: proto.String("h"), Id: &mesospb.AgentID{Value: proto.String("a1")}},
			Active:    proto.Bool(true), Version: proto.String("v"), TotalResources: []*mesospb.Resource{scalar("cpus", 4, "")},
		}}},
	}
	s := MasterStateJSON(gs, MasterMeta{Info: &mesospb.MasterInfo{Id: proto.String("m"), Pid: proto.String("master@h:1")}})
	if s.ActivatedSlaves != 1 || len(s.Slaves) != 1 || s.Slaves[0].Resources["cpus"] != 4.0 {
		t.Fatalf("slaves: %+v", s.Slaves)
	}
	if len(s.Frameworks) != 1 {
		t.Fatalf("frameworks: %+v", s.Frameworks)
	}
	f := s.Frameworks[0]
	if len(f.Tasks) != 1 || len(f.UnreachableTasks) != 1 || len(f.CompletedTasks) != 1 || f.Tasks[0].Role != "web" ||
		f.Role != "web" || f.Resources["cpus"] != 3.0 || f.UsedResources["cpus"] != 1.0 {
		t.Fatalf("framework: %+v", f)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"completed_frameworks", "orphan_tasks", "unregistered_frameworks"} {
		if _, ok := m[k].([]any); !ok {
			t.Errorf("%s = %v, want a list", k, m[k])
		}
	}
}
