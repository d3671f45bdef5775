package master

import (
	"net/http"
	"strings"
	"testing"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/masterpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/internal/resources"
	"google.golang.org/protobuf/proto"
)

// dynamic returns r dynamically reserved to role by principal.
func dynamic(t *testing.T, r, role, principal string) resources.Resources {
	t.Helper()
	out, err := resources.MustParse(r).PushReservation(role, principal)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// volume returns the dynamically reserved disk r as volume id.
func volume(t *testing.T, r resources.Resources, id, path string) resources.Resources {
	t.Helper()
	out, err := r.Map(func(x resources.Resource) resources.Resource {
		x.Volume = resources.Volume{ID: id, Principal: x.Reservations[len(x.Reservations)-1].Principal, ContainerPath: path}
		return x
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func agentID(id string) *mesospb.AgentID { return &mesospb.AgentID{Value: proto.String(id)} }

func reserveCall(agent string, r resources.Resources) *masterpb.Call {
	return &masterpb.Call{Type: masterpb.Call_RESERVE_RESOURCES.Enum(), ReserveResources: &masterpb.Call_ReserveResources{
		AgentId: agentID(agent), Resources: r.ToProto("", false)}}
}

func unreserveCall(agent string, r resources.Resources) *masterpb.Call {
	return &masterpb.Call{Type: masterpb.Call_UNRESERVE_RESOURCES.Enum(), UnreserveResources: &masterpb.Call_UnreserveResources{
		AgentId: agentID(agent), Resources: r.ToProto("", false)}}
}

func createCall(agent string, r resources.Resources) *masterpb.Call {
	return &masterpb.Call{Type: masterpb.Call_CREATE_VOLUMES.Enum(), CreateVolumes: &masterpb.Call_CreateVolumes{
		AgentId: agentID(agent), Volumes: r.ToProto("", false)}}
}

func destroyCall(agent string, r resources.Resources) *masterpb.Call {
	return &masterpb.Call{Type: masterpb.Call_DESTROY_VOLUMES.Enum(), DestroyVolumes: &masterpb.Call_DestroyVolumes{
		AgentId: agentID(agent), Volumes: r.ToProto("", false)}}
}

// checkpointed reads the agent's next CHECKPOINT_RESOURCES.
func checkpointed(t *testing.T, a *fakeAgent) resources.Resources {
	t.Helper()
	ev := a.nextOf(linkpb.MasterEvent_CHECKPOINT_RESOURCES)
	r, err := resources.FromProto(ev.GetCheckpointResources().GetResources())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The four operator calls over real HTTP in both codecs: 202 and a
// CHECKPOINT_RESOURCES to the agent on success, 409 when the resources are
// not available, 400 for bad input (and the master keeps serving), and
// the agent's total in GET_AGENTS follows.
func TestOperatorReservationCalls(t *testing.T) {
	for _, c := range codecs {
		t.Run(c.MediaType(), func(t *testing.T) {
			_, base := startMaster(t)
			a := registerAgent(t, base, c, "h1", "cpus:4;mem:1024;disk:1000")
			res := dynamic(t, "cpus:2;mem:512;disk:500", "db", "")
			vol := volume(t, dynamic(t, "disk:100", "db", ""), "v1", "data")
			badID := createCall(a.id, vol)
			badID.GetCreateVolumes().GetVolumes()[0].GetDisk().GetPersistence().Id = proto.String("a/b")
			steps := []struct {
				name   string
				call   *masterpb.Call
				status int
				ckpt   string // the list sent to the agent after a 202
			}{
				{"reserve", reserveCall(a.id, res), http.StatusAccepted, "cpus(db,):2;disk(db,):500;mem(db,):512"},
				{"reserve too much", reserveCall(a.id, dynamic(t, "cpus:3", "db", "")), http.StatusConflict, ""},
				{"create", createCall(a.id, vol), http.StatusAccepted, "cpus(db,):2;disk(db,):400;disk(db,)[v1,data]:100;mem(db,):512"},
				{"create again", createCall(a.id, vol), http.StatusBadRequest, ""},
				{"unreserve a volume", unreserveCall(a.id, vol), http.StatusBadRequest, ""},
				{"destroy", destroyCall(a.id, vol), http.StatusAccepted, "cpus(db,):2;disk(db,):500;mem(db,):512"},
				{"destroy again", destroyCall(a.id, vol), http.StatusBadRequest, ""},
				{"unreserve", unreserveCall(a.id, dynamic(t, "cpus:2;mem:512;disk:500", "db", "")), http.StatusAccepted, ""},
				{"unreserve again", unreserveCall(a.id, dynamic(t, "cpus:1", "db", "")), http.StatusConflict, ""},
				{"reserve unknown agent", reserveCall("nope", res), http.StatusBadRequest, ""},
				{"reserve unreserved", reserveCall(a.id, resources.MustParse("cpus:1")), http.StatusBadRequest, ""},
				{"reserve nothing", reserveCall(a.id, nil), http.StatusBadRequest, ""},
				{"reserve no agent", &masterpb.Call{Type: masterpb.Call_RESERVE_RESOURCES.Enum(), ReserveResources: &masterpb.Call_ReserveResources{
					AgentId: agentID(""), Resources: res.ToProto("", false)}}, http.StatusBadRequest, ""},
				{"reserve no body", &masterpb.Call{Type: masterpb.Call_RESERVE_RESOURCES.Enum()}, http.StatusBadRequest, ""},
				{"unreserve no body", &masterpb.Call{Type: masterpb.Call_UNRESERVE_RESOURCES.Enum()}, http.StatusBadRequest, ""},
				{"create no body", &masterpb.Call{Type: masterpb.Call_CREATE_VOLUMES.Enum()}, http.StatusBadRequest, ""},
				{"destroy no body", &masterpb.Call{Type: masterpb.Call_DESTROY_VOLUMES.Enum()}, http.StatusBadRequest, ""},
				{"create bad id", badID, http.StatusBadRequest, ""},
				{"reserve bad resource", &masterpb.Call{Type: masterpb.Call_RESERVE_RESOURCES.Enum(), ReserveResources: &masterpb.Call_ReserveResources{
					AgentId: agentID(a.id), Resources: []*mesospb.Resource{{Name: proto.String("cpus"), Type: mesospb.Value_SCALAR.Enum(),
						Scalar: &mesospb.Value_Scalar{Value: proto.Float64(-1)}, Role: proto.String("db"), Reservation: &mesospb.Resource_ReservationInfo{}}}}},
					http.StatusBadRequest, ""},
			}
			for _, s := range steps {
				status, _, body := operatorCall(t, base, c, s.call)
				if status != s.status {
					t.Fatalf("%s: %d %s; want %d", s.name, status, body, s.status)
				}
				if status >= 400 && len(strings.TrimSpace(string(body))) == 0 {
					t.Errorf("%s: %d without a message", s.name, status)
				}
				if status == http.StatusAccepted {
					if got := checkpointed(t, a).String(); got != s.ckpt {
						t.Errorf("%s: CHECKPOINT_RESOURCES %q, want %q", s.name, got, s.ckpt)
					}
				}
			}
			agents := query(t, base, c, masterpb.Call_GET_AGENTS).GetGetAgents().GetAgents()
			total, err := resources.FromProto(agents[0].GetTotalResources())
			if err != nil || !total.Equal(resources.MustParse("cpus:4;mem:1024;disk:1000")) {
				t.Errorf("total after undoing everything = %v, %v", total, err)
			}
		})
	}
}

// A framework in db reserves, creates a volume and launches on it in one
// ACCEPT; operations with ids get UPDATE_OPERATION_STATUS and are listed by
// GET_OPERATIONS; the agent gets the list before RUN_TASK.
func TestAcceptReserveCreateLaunch(t *testing.T) {
	_, base := startMaster(t)
	c := codec.JSON
	a := registerAgent(t, base, c, "h1", "cpus:4;mem:1024;disk:1000")
	info := fwInfo("db")
	info.Role, info.Principal = proto.String("db"), proto.String("ops")
	fw := subscribe(t, base, c, info)
	offer := fw.nextOf(schedulerpb.Event_OFFERS).GetOffers().GetOffers()[0]
	res := dynamic(t, "cpus:1;mem:128;disk:100", "db", "ops")
	vol := volume(t, dynamic(t, "disk:50", "db", "ops"), "v1", "data")
	taskRes := dynamic(t, "cpus:1;mem:128", "db", "ops").Add(vol)
	fw.mustCall(&schedulerpb.Call{Type: schedulerpb.Call_ACCEPT.Enum(), Accept: &schedulerpb.Call_Accept{
		OfferIds: []*mesospb.OfferID{offer.GetId()},
		Operations: []*mesospb.Offer_Operation{
			{Type: mesospb.Offer_Operation_RESERVE.Enum(), Id: &mesospb.OperationID{Value: proto.String("r1")},
				Reserve: &mesospb.Offer_Operation_Reserve{Resources: res.ToProto("", false)}},
			{Type: mesospb.Offer_Operation_CREATE.Enum(), Id: &mesospb.OperationID{Value: proto.String("c1")},
				Create: &mesospb.Offer_Operation_Create{Volumes: vol.ToProto("", false)}},
			{Type: mesospb.Offer_Operation_LAUNCH.Enum(), Launch: &mesospb.Offer_Operation_Launch{TaskInfos: []*mesospb.TaskInfo{{
				Name: proto.String("t1"), TaskId: &mesospb.TaskID{Value: proto.String("t1")}, AgentId: offer.GetAgentId(),
				Resources: taskRes.ToProto("", false), Command: &mesospb.CommandInfo{Value: proto.String("true")}}}}},
		}}})
	for _, id := range []string{"r1", "c1"} {
		st := fw.nextOf(schedulerpb.Event_UPDATE_OPERATION_STATUS).GetUpdateOperationStatus().GetStatus()
		if st.GetOperationId().GetValue() != id || st.GetState() != mesospb.OperationState_OPERATION_FINISHED {
			t.Fatalf("operation status %v, want %s finished", st, id)
		}
	}
	checkpointed(t, a)
	if got := checkpointed(t, a); !got.Equal(dynamic(t, "cpus:1;mem:128;disk:50", "db", "ops").Add(vol)) {
		t.Errorf("checkpoint %v", got)
	}
	run := a.nextOf(linkpb.MasterEvent_RUN_TASK).GetRunTask().GetTask()
	if got, _ := resources.FromProto(run.GetResources()); !got.Equal(taskRes) {
		t.Errorf("task resources %v, want %v", got, taskRes)
	}
	ops := query(t, base, c, masterpb.Call_GET_OPERATIONS).GetGetOperations().GetOperations()
	if len(ops) != 2 || ops[0].GetInfo().GetId().GetValue() != "r1" || ops[1].GetLatestStatus().GetState() != mesospb.OperationState_OPERATION_FINISHED {
		t.Errorf("GET_OPERATIONS = %v", ops)
	}
}

// The reserve_resources, unreserve_resources, create_volumes and
// destroy_volumes ACLs are asked with the authenticated principal: eve
// may not, ops may (403 naming the ACL).
func TestReservationACLs(t *testing.T) {
	_, base := startMaster(t, withOps(t), withACLs(t, `{
	  "reserve_resources": [{"principals": {"values": ["ops"]}, "roles": {"type": "ANY"}},
	                        {"principals": {"type": "ANY"}, "roles": {"type": "NONE"}}],
	  "unreserve_resources": [{"principals": {"values": ["ops"]}, "reserver_principals": {"type": "ANY"}},
	                          {"principals": {"type": "ANY"}, "reserver_principals": {"type": "NONE"}}],
	  "create_volumes": [{"principals": {"values": ["ops"]}, "roles": {"type": "ANY"}},
	                     {"principals": {"type": "ANY"}, "roles": {"type": "NONE"}}],
	  "destroy_volumes": [{"principals": {"values": ["ops"]}, "creator_principals": {"type": "ANY"}},
	                      {"principals": {"type": "ANY"}, "creator_principals": {"type": "NONE"}}]
	}`))
	a := registerAgent(t, base, codec.JSON, "h1", "cpus:4;mem:1024;disk:1000").id
	eve, ops := basic{"eve", "e-secret"}, basic{"ops", "o-secret"}
	res := dynamic(t, "cpus:1;disk:100", "db", "ops")
	vol := volume(t, dynamic(t, "disk:100", "db", "ops"), "v1", "data")
	for _, s := range []struct {
		call *masterpb.Call
		acl  string
	}{
		{reserveCall(a, res), "reserve_resources"},
		{createCall(a, vol), "create_volumes"},
		{destroyCall(a, vol), "destroy_volumes"},
		{unreserveCall(a, res), "unreserve_resources"},
	} {
		if status, body := operatorAs(t, base, s.call, eve); status != http.StatusForbidden || !strings.Contains(string(body), s.acl) {
			t.Errorf("%s as eve: %d %s", s.call.GetType(), status, body)
		}
		if status, body := operatorAs(t, base, s.call, ops); status != http.StatusAccepted {
			t.Errorf("%s as ops: %d %s", s.call.GetType(), status, body)
		}
	}
}
