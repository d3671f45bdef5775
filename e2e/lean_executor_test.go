package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/resources"
)

// TestLeanExecutor checks which binary runs a task's executor: with
// meso-executor beside meso (as `make build` and this package's TestMain
// put it), command tasks and task groups run in it; with
// --launcher_dir=none, in `meso executor` / `meso default-executor`. Each
// task writes the path of its parent process's binary (its executor) to a
// file, then the test compares.
func TestLeanExecutor(t *testing.T) {
	cl := newCluster(t, 1, "cpus:2;mem:1024", masterFlags...)
	cl.addAgent("cpus:2;mem:1024", "--launcher_dir=none")
	cl.waitAgents(2)
	lean, full := agentIDOf(cl.agents[0]), agentIDOf(cl.agents[1])
	f := newFramework(t, cl.master.addr, fwOptions{})
	out := t.TempDir()
	exeOf := func(name string) string { return "readlink /proc/$PPID/exe > " + filepath.Join(out, name) }

	f.launch("lean-command", exeOf("lean-command"), "cpus:0.1;mem:32", lean)
	f.launch("full-command", exeOf("full-command"), "cpus:0.1;mem:32", full)
	one := resources.MustParse("cpus:0.1;mem:32")
	for _, g := range []struct{ id, agent string }{{"lean-group", lean}, {"full-group", full}} {
		offer := f.takeOfferOn(g.agent, executorRes.Add(one))
		f.launchGroupOn(offer, defaultExecutorInfo(g.id+"-executor"), groupTask(g.id, exeOf(g.id), one))
	}
	for _, id := range []string{"lean-command", "full-command", "lean-group", "full-group"} {
		f.waitState(id, mesospb.TaskState_TASK_FINISHED, time.Minute)
	}
	want := map[string]string{
		"lean-command": filepath.Join(filepath.Dir(mesoBin), "meso-executor"),
		"lean-group":   filepath.Join(filepath.Dir(mesoBin), "meso-executor"),
		"full-command": mesoBin,
		"full-group":   mesoBin,
	}
	for id, exe := range want {
		b, err := os.ReadFile(filepath.Join(out, id))
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if got := strings.TrimSpace(string(b)); got != exe {
			t.Errorf("%s ran in %s, want %s", id, got, exe)
		}
	}
}

// takeOfferOn waits for an offer of agentID that holds need and takes it.
func (f *framework) takeOfferOn(agentID string, need resources.Resources) *mesospb.Offer {
	f.t.Helper()
	var offer *mesospb.Offer
	f.waitFor(30*time.Second, "an offer on "+agentID, func() bool {
		for id, o := range f.offers {
			have, err := resources.FromProto(o.GetResources())
			if err == nil && have.Contains(need) && o.GetAgentId().GetValue() == agentID {
				offer = o
				delete(f.offers, id)
				return true
			}
		}
		return false
	})
	return offer
}
