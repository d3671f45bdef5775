package lifecycle

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
)

// disk is what a shell would have persisted from the Checkpoints effects:
// the scenario and property tests rebuild Cores from it.
type disk struct {
	frameworks map[string]*mesospb.FrameworkInfo
	executors  map[[3]string]ExecutorCheckpoint // framework, executor, container
}

func newDisk() *disk {
	return &disk{frameworks: map[string]*mesospb.FrameworkInfo{}, executors: map[[3]string]ExecutorCheckpoint{}}
}

func (d *disk) apply(effs []Effect) {
	for _, e := range effs {
		switch e := e.(type) {
		case CheckpointFramework:
			d.frameworks[e.Info.GetId().GetValue()] = e.Info
		case CheckpointExecutor:
			x := e.Executor
			d.executors[[3]string{x.FrameworkID, x.ExecutorID, x.ContainerID}] = x
		case RemoveCheckpoint:
			if e.ExecutorID == "" {
				delete(d.frameworks, e.FrameworkID)
				for k := range d.executors {
					if k[0] == e.FrameworkID {
						delete(d.executors, k)
					}
				}
				continue
			}
			delete(d.executors, [3]string{e.FrameworkID, e.ExecutorID, e.ContainerID})
		}
	}
}

// recovered is what a shell would read back, in id order; executors whose
// framework has no checkpoint are left out, as a shell skips them.
func (d *disk) recovered(agentID string) Recovered {
	r := Recovered{AgentID: agentID}
	var ids []string
	for id := range d.frameworks {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		r.Frameworks = append(r.Frameworks, d.frameworks[id])
	}
	var keys [][3]string
	for k := range d.executors {
		if d.frameworks[k[0]] != nil {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b [3]string) int { return strings.Compare(a[0]+"/"+a[1]+"/"+a[2], b[0]+"/"+b[1]+"/"+b[2]) })
	for _, k := range keys {
		r.Executors = append(r.Executors, d.executors[k])
	}
	return r
}

func (d *disk) show() string {
	r := d.recovered("")
	var b strings.Builder
	for _, f := range r.Frameworks {
		fmt.Fprintf(&b, "framework %s\n", f.GetId().GetValue())
	}
	for _, x := range r.Executors {
		fmt.Fprintf(&b, "%s\n", showCheckpoint(x))
	}
	if b.Len() == 0 {
		return "empty"
	}
	return b.String()
}

func showCheckpoint(x ExecutorCheckpoint) string {
	s := fmt.Sprintf("%s/%s container=%s %s", x.FrameworkID, x.ExecutorID, x.ContainerID, x.State)
	for _, q := range x.Queued {
		for _, t := range q.Tasks {
			s += " queued:" + t.GetTaskId().GetValue()
		}
	}
	for _, t := range x.Tasks {
		s += fmt.Sprintf(" %s:%s", t.Task.GetTaskId().GetValue(), strings.TrimPrefix(t.Task.GetState().String(), "TASK_"))
		var ups []string
		for _, u := range t.Updates {
			ups = append(ups, strings.TrimPrefix(u.GetState().String(), "TASK_")+"/"+showUUID(u.GetUuid()))
		}
		if len(ups) > 0 {
			s += "[" + strings.Join(ups, ",") + "]"
		}
	}
	return s
}

// sameRecovered compares two checkpointed states.
func sameRecovered(t *testing.T, got, want Recovered) {
	t.Helper()
	if len(got.Frameworks) != len(want.Frameworks) || len(got.Executors) != len(want.Executors) {
		t.Fatalf("checkpoints hold %d frameworks and %d executors, the core %d and %d",
			len(got.Frameworks), len(got.Executors), len(want.Frameworks), len(want.Executors))
	}
	for i := range got.Frameworks {
		if !proto.Equal(got.Frameworks[i], want.Frameworks[i]) {
			t.Fatalf("framework %d: checkpoint %v, core %v", i, got.Frameworks[i], want.Frameworks[i])
		}
	}
	for i := range got.Executors {
		if g, w := showCheckpoint(got.Executors[i]), showCheckpoint(want.Executors[i]); g != w {
			t.Fatalf("executor %d: checkpoint %s, core %s", i, g, w)
		}
	}
}
