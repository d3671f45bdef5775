package e2e

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/internal/resources"
)

// reservedTo returns r dynamically reserved to role by principal.
func reservedTo(t *testing.T, r, role, principal string) resources.Resources {
	t.Helper()
	out, err := resources.MustParse(r).PushReservation(role, principal)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// An operator reserves cpus, mem and disk for role db on an agent (meso
// reserve, RESERVE_RESOURCES); a framework in db is offered them, CREATEs
// a persistent volume on the reserved disk and launches a task that writes
// a file in it; after the task ends a second task reads the file back; the
// agent is SIGKILLed and restarted on its work dir, and the reservation and
// the volume are offered again. A framework in another role never sees
// any of it.
func TestReservationsAndVolumes(t *testing.T) {
	cl := newCluster(t, 0, executorAgentRes, masterFlags...)
	agent := newRecoveryAgent(cl)
	agentID := agent.id()
	web := newFramework(t, cl.master.addr, fwOptions{role: "web"})

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// The agent's resources are all offered to web now: the reservation
	// rescinds its offer first.
	web.waitFor(30*time.Second, "an offer to web", func() bool { return len(web.seen) > 0 })
	out, code := runMeso(t, ctx, "reserve", agentID, "--master", cl.master.addr, "--principal", "ops",
		"--resources", "cpus(db):1;mem(db):256;disk(db):512")
	if code != 0 || !strings.Contains(out, "reserved") {
		t.Fatalf("meso reserve: exit %d: %s", code, out)
	}
	out, code = runMeso(t, ctx, "reserve", agentID, "--master", cl.master.addr, "--principal", "ops",
		"--resources", "cpus(db):100")
	if code == 0 || !strings.Contains(out, "409") && !strings.Contains(out, "not available") {
		t.Errorf("meso reserve of too much: exit %d: %s", code, out)
	}

	reserved := reservedTo(t, "cpus:1;mem:256;disk:512", "db", "ops")
	db := newFramework(t, cl.master.addr, fwOptions{role: "db", principal: "ops", checkpoint: true})
	offer := db.takeWholeOffer(reserved)

	volDisk := reservedTo(t, "disk:256", "db", "ops")
	vol, err := volDisk.Map(func(x resources.Resource) resources.Resource {
		x.Volume = resources.Volume{ID: "v1", Principal: "ops", ContainerPath: "data"}
		return x
	})
	if err != nil {
		t.Fatal(err)
	}
	taskRes := reservedTo(t, "cpus:0.5;mem:64", "db", "ops").Add(vol)
	task := func(id, command string) *mesospb.TaskInfo {
		return &mesospb.TaskInfo{
			Name: proto.String(id), TaskId: &mesospb.TaskID{Value: proto.String(id)}, AgentId: offer.GetAgentId(),
			Resources: taskRes.ToProto("db", false),
			Command:   &mesospb.CommandInfo{Value: proto.String(command)},
		}
	}
	create := &mesospb.Offer_Operation{Type: mesospb.Offer_Operation_CREATE.Enum(), Id: &mesospb.OperationID{Value: proto.String("create-v1")},
		Create: &mesospb.Offer_Operation_Create{Volumes: vol.ToProto("db", false)}}
	launch := func(ti *mesospb.TaskInfo) *mesospb.Offer_Operation {
		return &mesospb.Offer_Operation{Type: mesospb.Offer_Operation_LAUNCH.Enum(),
			Launch: &mesospb.Offer_Operation_Launch{TaskInfos: []*mesospb.TaskInfo{ti}}}
	}
	if err := db.client.Accept(ctx, []*mesospb.OfferID{offer.GetId()},
		[]*mesospb.Offer_Operation{create, launch(task("writer", `echo kept > "$MESOS_SANDBOX/data/f"`))},
		&mesospb.Filters{RefuseSeconds: proto.Float64(0)}); err != nil {
		t.Fatal(err)
	}
	db.waitFor(30*time.Second, "OPERATION_FINISHED for create-v1", func() bool {
		for _, ev := range db.events {
			st := ev.GetUpdateOperationStatus().GetStatus()
			if ev.GetType() == schedulerpb.Event_UPDATE_OPERATION_STATUS && st.GetOperationId().GetValue() == "create-v1" {
				return st.GetState() == mesospb.OperationState_OPERATION_FINISHED
			}
		}
		return false
	})
	db.waitState("writer", mesospb.TaskState_TASK_FINISHED, time.Minute)
	onDisk := filepath.Join(agent.dir, "volumes", "roles", "db", "v1", "f")
	if b, err := os.ReadFile(onDisk); err != nil || string(b) != "kept\n" {
		t.Fatalf("volume file %s: %q, %v", onDisk, b, err)
	}

	// A second task on the volume reads the file back.
	offer = db.takeWholeOffer(taskRes)
	if err := db.client.Accept(ctx, []*mesospb.OfferID{offer.GetId()},
		[]*mesospb.Offer_Operation{launch(task("reader", `test "$(cat "$MESOS_SANDBOX/data/f")" = kept`))},
		&mesospb.Filters{RefuseSeconds: proto.Float64(0)}); err != nil {
		t.Fatal(err)
	}
	db.waitState("reader", mesospb.TaskState_TASK_FINISHED, time.Minute)

	// The agent crashes and comes back on its work dir: the reservation
	// and the volume (with its file) are still there and offered to db.
	agent.proc.kill()
	agent.start()
	if id := agent.id(); id != agentID {
		t.Fatalf("agent came back as %s, was %s", id, agentID)
	}
	rest := reservedTo(t, "cpus:1;mem:256;disk:256", "db", "ops").Add(vol)
	db.takeWholeOffer(rest)
	if b, err := os.ReadFile(onDisk); err != nil || string(b) != "kept\n" {
		t.Errorf("volume file after the restart: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(agent.dir, "meta", "resources.pb")); err != nil {
		t.Errorf("the agent's checkpoint of its reservations: %v", err)
	}
	var st struct {
		Reserved map[string]map[string]any `json:"reserved_resources"`
	}
	if err := getJSON(agent.proc.url("/state"), &st); err != nil || st.Reserved["db"]["disk"] != 512.0 {
		t.Errorf("the agent's /state reserved_resources = %v, %v; want db with disk 512", st.Reserved, err)
	}

	// The master crashes and comes back on its work dir (its registry):
	// the agent re-registers and the reservation and volume are offered
	// again.
	cl.master.kill()
	cl.master = start(t, "master-run2", masterPort(t, cl), "master", "--ip=127.0.0.1", "--port="+strconv.Itoa(masterPort(t, cl)),
		"--work_dir="+filepath.Join(cl.dir, "master"), masterFlags[0])
	cl.master.waitHealthy()
	waitLeader(t, 30*time.Second, cl.master)
	db.takeWholeOffer(rest)

	// web was offered the agent, never its reservations or the volume.
	web.mu.Lock()
	defer web.mu.Unlock()
	for _, o := range web.seen {
		have, err := resources.FromProto(o.GetResources())
		if err != nil || have.HasReserved() {
			t.Errorf("web was offered %v (%v)", have, err)
		}
	}
	if len(web.seen) < 2 {
		t.Errorf("web got %d offers; the test wants it offered the agent before and after the reservation", len(web.seen))
	}
}

// masterPort is the cluster's master's port.
func masterPort(t *testing.T, cl *cluster) int {
	t.Helper()
	_, port, err := net.SplitHostPort(cl.master.addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
