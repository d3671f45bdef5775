package master

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/masterpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/quotapb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/internal/acl"
	"github.com/mesoproject/meso/internal/authn"
	"google.golang.org/protobuf/proto"
)

func withACLs(t *testing.T, text string) func(*Config) {
	a, err := acl.Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return func(c *Config) { c.ACLs = a }
}

// withOps authenticates operators (alice, eve and ops) but not frameworks.
func withOps(t *testing.T) func(*Config) {
	creds, err := authn.New([]authn.Credential{{Principal: "alice", Secret: "a-secret"}, {Principal: "eve", Secret: "e-secret"}, {Principal: "ops", Secret: "o-secret"}})
	if err != nil {
		t.Fatal(err)
	}
	return func(c *Config) {
		c.Credentials = creds
		c.AuthenticateHTTPReadWrite = true
		c.AuthenticateHTTPReadOnly = true
	}
}

// operatorAs posts an operator call as who (JSON) and returns the status
// and body.
func operatorAs(t *testing.T, base string, call *masterpb.Call, who basic) (int, []byte) {
	t.Helper()
	resp := send(t, http.MethodPost, base+"/api/v1", encode(t, codec.JSON, call), who,
		map[string]string{"Content-Type": codec.JSON.MediaType(), "Accept": codec.JSON.MediaType()})
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// A framework whose principal is not allowed a role is refused 403 naming
// the ACL; the same principal subscribes with an allowed role, and changing
// to a forbidden role with UPDATE_FRAMEWORK is refused too.
func TestRegisterFrameworksACL(t *testing.T) {
	_, base := startMaster(t, withAuth(t), withACLs(t, `{"register_frameworks": [
	  {"principals": {"values": ["alice"]}, "roles": {"values": ["web"]}},
	  {"principals": {"type": "ANY"}, "roles": {"type": "NONE"}}]}`))
	alice := basic{"alice", "a-secret"}
	info := principalInfo("fw", "alice")
	info.Role = proto.String("batch")
	_, status, body := subscribeAs(t, base, info, alice)
	if status != http.StatusForbidden || !strings.Contains(body, "register_frameworks[1]") || !strings.Contains(body, "'batch'") {
		t.Fatalf("alice in role batch: %d %q, want 403 naming the ACL", status, body)
	}
	info.Role = proto.String("web")
	f, status, body := subscribeAs(t, base, info, alice)
	if f == nil {
		t.Fatalf("alice in role web: %d %s", status, body)
	}
	f.id = f.nextOf(schedulerpb.Event_SUBSCRIBED).GetSubscribed().GetFrameworkId().GetValue()
	changed := proto.Clone(info).(*mesospb.FrameworkInfo)
	changed.Id = &mesospb.FrameworkID{Value: proto.String(f.id)}
	changed.Role = proto.String("batch")
	update := &schedulerpb.Call{Type: schedulerpb.Call_UPDATE_FRAMEWORK.Enum(), FrameworkId: changed.Id,
		UpdateFramework: &schedulerpb.Call_UpdateFramework{FrameworkInfo: changed}}
	if status, body := callAs(t, base, f.stream, update, alice); status != http.StatusForbidden || !strings.Contains(body, "register_frameworks") {
		t.Fatalf("UPDATE_FRAMEWORK to batch: %d %q", status, body)
	}
}

// run_tasks decides which users a framework's principal may run tasks as:
// a task asking for root gets TASK_ERROR with REASON_TASK_UNAUTHORIZED and
// never reaches the agent; a task as the framework's user runs.
func TestRunTasksACL(t *testing.T) {
	cl := startCluster(t, codec.JSON, withACLs(t, `{"run_tasks": [
	  {"principals": {"type": "ANY"}, "users": {"values": ["alice"]}},
	  {"principals": {"type": "ANY"}, "users": {"type": "NONE"}}]}`))
	offer := cl.next(t, schedulerpb.Event_OFFERS).GetOffers().GetOffers()[0]
	task := func(id, user string) *mesospb.TaskInfo {
		ti := &mesospb.TaskInfo{Name: proto.String(id), TaskId: &mesospb.TaskID{Value: proto.String(id)}, AgentId: offer.GetAgentId(),
			Resources: []*mesospb.Resource{{Name: proto.String("cpus"), Type: mesospb.Value_SCALAR.Enum(), Scalar: &mesospb.Value_Scalar{Value: proto.Float64(0.1)}}},
			Command:   &mesospb.CommandInfo{Value: proto.String("true")}}
		if user != "" {
			ti.Command.User = proto.String(user)
		}
		return ti
	}
	cl.fw.mustCall(&schedulerpb.Call{Type: schedulerpb.Call_ACCEPT.Enum(), Accept: &schedulerpb.Call_Accept{
		OfferIds: []*mesospb.OfferID{offer.GetId()},
		Operations: []*mesospb.Offer_Operation{{Type: mesospb.Offer_Operation_LAUNCH.Enum(),
			Launch: &mesospb.Offer_Operation_Launch{TaskInfos: []*mesospb.TaskInfo{task("as-root", "root"), task("as-alice", "")}}}},
		Filters: &mesospb.Filters{RefuseSeconds: proto.Float64(0)},
	}})
	up := cl.fw.nextOf(schedulerpb.Event_UPDATE).GetUpdate().GetStatus()
	if up.GetTaskId().GetValue() != "as-root" || up.GetState() != mesospb.TaskState_TASK_ERROR ||
		up.GetReason() != mesospb.TaskStatus_REASON_TASK_UNAUTHORIZED || !strings.Contains(up.GetMessage(), "run_tasks[1]") {
		t.Fatalf("root task: %v", up)
	}
	if run := cl.agent.nextOf(linkpb.MasterEvent_RUN_TASK).GetRunTask(); run.GetTask().GetTaskId().GetValue() != "as-alice" {
		t.Fatalf("RUN_TASK = %v, want as-alice only", run)
	}

	// A group with one task asking for root: every task of it is refused.
	offer = cl.next(t, schedulerpb.Event_OFFERS).GetOffers().GetOffers()[0]
	cl.fw.mustCall(&schedulerpb.Call{Type: schedulerpb.Call_ACCEPT.Enum(), Accept: &schedulerpb.Call_Accept{
		OfferIds: []*mesospb.OfferID{offer.GetId()},
		Operations: []*mesospb.Offer_Operation{{Type: mesospb.Offer_Operation_LAUNCH_GROUP.Enum(),
			LaunchGroup: &mesospb.Offer_Operation_LaunchGroup{
				Executor: &mesospb.ExecutorInfo{Type: mesospb.ExecutorInfo_DEFAULT.Enum(),
					ExecutorId: &mesospb.ExecutorID{Value: proto.String("group")}},
				TaskGroup: &mesospb.TaskGroupInfo{Tasks: []*mesospb.TaskInfo{task("g-alice", ""), task("g-root", "root")}}}}},
	}})
	for range 2 {
		up := cl.fw.nextOf(schedulerpb.Event_UPDATE).GetUpdate().GetStatus()
		if up.GetState() != mesospb.TaskState_TASK_ERROR || up.GetReason() != mesospb.TaskStatus_REASON_TASK_GROUP_UNAUTHORIZED {
			t.Fatalf("group task: %v", up)
		}
	}
}

// Operator calls ask their ACLs with the authenticated principal: eve may
// not TEARDOWN alice's framework or mark agents gone (403 naming the ACL),
// ops may; GET_STATE, GET_FRAMEWORKS, GET_TASKS and /master/state show eve
// only what view_* let her see.
func TestOperatorACLs(t *testing.T) {
	cl := startCluster(t, codec.JSON, withOps(t), withACLs(t, `{
	  "teardown_frameworks": [{"principals": {"values": ["ops"]}, "framework_principals": {"type": "ANY"}},
	                          {"principals": {"type": "ANY"}, "framework_principals": {"type": "NONE"}}],
	  "mark_agents_gone": [{"principals": {"values": ["ops"]}, "agents": {"type": "ANY"}},
	                       {"principals": {"type": "ANY"}, "agents": {"type": "NONE"}}],
	  "update_weights": [{"principals": {"values": ["ops"]}, "roles": {"type": "ANY"}},
	                     {"principals": {"type": "ANY"}, "roles": {"type": "NONE"}}],
	  "view_frameworks": [{"principals": {"values": ["ops"]}, "users": {"type": "ANY"}},
	                      {"principals": {"type": "ANY"}, "users": {"type": "NONE"}}],
	  "view_tasks": [{"principals": {"values": ["ops"]}, "users": {"type": "ANY"}},
	                 {"principals": {"type": "ANY"}, "users": {"type": "NONE"}}],
	  "view_flags": [{"principals": {"values": ["ops"]}, "flags": {"type": "ANY"}},
	                 {"principals": {"type": "ANY"}, "flags": {"type": "NONE"}}]
	}`), func(cfg *Config) { cfg.Flags = map[string]string{"work_dir": "/m"} })
	eve, ops := basic{"eve", "e-secret"}, basic{"ops", "o-secret"}
	cl.launch(t, "t1")

	counts := func(who basic) (fws, tasks int) {
		status, body := operatorAs(t, cl.base, &masterpb.Call{Type: masterpb.Call_GET_STATE.Enum()}, who)
		if status != http.StatusOK {
			t.Fatalf("GET_STATE as %s: %d %s", who.user, status, body)
		}
		resp := &masterpb.Response{}
		if err := codec.JSON.Unmarshal(body, resp); err != nil {
			t.Fatal(err)
		}
		gs := resp.GetGetState()
		return len(gs.GetGetFrameworks().GetFrameworks()), len(gs.GetGetTasks().GetTasks())
	}
	if f, n := counts(ops); f != 1 || n != 1 {
		t.Errorf("ops sees %d frameworks, %d tasks; want 1, 1", f, n)
	}
	if f, n := counts(eve); f != 0 || n != 0 {
		t.Errorf("eve sees %d frameworks, %d tasks; want none", f, n)
	}
	for _, typ := range []masterpb.Call_Type{masterpb.Call_GET_FRAMEWORKS, masterpb.Call_GET_TASKS} {
		_, body := operatorAs(t, cl.base, &masterpb.Call{Type: typ.Enum()}, eve)
		if strings.Contains(string(body), cl.fw.id) {
			t.Errorf("%s as eve shows the framework: %s", typ, body)
		}
	}
	resp := send(t, http.MethodGet, cl.base+"/master/state", nil, eve, nil)
	var st struct {
		Frameworks []json.RawMessage `json:"frameworks"`
		Flags      map[string]string `json:"flags"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || len(st.Frameworks) != 0 || len(st.Flags) != 0 {
		t.Errorf("/master/state as eve: %d frameworks, flags %v (%v)", len(st.Frameworks), st.Flags, err)
	}
	resp.Body.Close()
	if status, body := operatorAs(t, cl.base, &masterpb.Call{Type: masterpb.Call_GET_FLAGS.Enum()}, eve); status != http.StatusForbidden {
		t.Errorf("eve's GET_FLAGS: %d %s", status, body)
	}
	if status, body := operatorAs(t, cl.base, &masterpb.Call{Type: masterpb.Call_GET_FLAGS.Enum()}, ops); status != http.StatusOK || !strings.Contains(string(body), "work_dir") {
		t.Errorf("ops' GET_FLAGS: %d %s", status, body)
	}

	gone := &masterpb.Call{Type: masterpb.Call_MARK_AGENT_GONE.Enum(), MarkAgentGone: &masterpb.Call_MarkAgentGone{
		AgentId: &mesospb.AgentID{Value: proto.String("no-such-agent")}}}
	if status, body := operatorAs(t, cl.base, gone, eve); status != http.StatusForbidden || !strings.Contains(string(body), "mark_agents_gone[1]") {
		t.Errorf("eve's MARK_AGENT_GONE: %d %s", status, body)
	}
	if status, body := operatorAs(t, cl.base, gone, ops); status != http.StatusNotFound {
		t.Errorf("ops' MARK_AGENT_GONE of an unknown agent: %d %s, want 404 (authorized)", status, body)
	}
	weights := &masterpb.Call{Type: masterpb.Call_UPDATE_WEIGHTS.Enum(), UpdateWeights: &masterpb.Call_UpdateWeights{
		WeightInfos: []*mesospb.WeightInfo{{Role: proto.String("web"), Weight: proto.Float64(2)}}}}
	if status, body := operatorAs(t, cl.base, weights, eve); status != http.StatusForbidden || !strings.Contains(string(body), "update_weights") {
		t.Errorf("eve's UPDATE_WEIGHTS: %d %s", status, body)
	}
	teardown := &masterpb.Call{Type: masterpb.Call_TEARDOWN.Enum(), Teardown: &masterpb.Call_Teardown{
		FrameworkId: &mesospb.FrameworkID{Value: proto.String(cl.fw.id)}}}
	if status, body := operatorAs(t, cl.base, teardown, eve); status != http.StatusForbidden || !strings.Contains(string(body), "teardown_frameworks[1]") {
		t.Fatalf("eve's TEARDOWN: %d %s", status, body)
	}
	if status, body := operatorAs(t, cl.base, teardown, ops); status != http.StatusOK {
		t.Fatalf("ops' TEARDOWN: %d %s", status, body)
	}
}

// An operator SUBSCRIBE stream shows eve only what view_* let her see: no
// framework or task in SUBSCRIBED, no TASK_ADDED for a framework she may
// not view, while agent events reach her and ops sees everything.
func TestOperatorSubscribeFiltered(t *testing.T) {
	cl := startCluster(t, codec.JSON, withOps(t), withACLs(t, `{
	  "view_frameworks": [{"principals": {"values": ["ops"]}, "users": {"type": "ANY"}},
	                      {"principals": {"type": "ANY"}, "users": {"type": "NONE"}}],
	  "view_tasks": [{"principals": {"values": ["ops"]}, "users": {"type": "ANY"}},
	                 {"principals": {"type": "ANY"}, "users": {"type": "NONE"}}]}`))
	cl.launch(t, "t1")
	open := func(who basic) *eventStream[*masterpb.Event] {
		resp := send(t, http.MethodPost, cl.base+"/api/v1", encode(t, codec.JSON, &masterpb.Call{Type: masterpb.Call_SUBSCRIBE.Enum()}), who,
			map[string]string{"Content-Type": codec.JSON.MediaType(), "Accept": codec.JSON.MediaType()})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("SUBSCRIBE as %s: %s", who.user, resp.Status)
		}
		return newEventStream(t, resp, codec.JSON, func() *masterpb.Event { return &masterpb.Event{} },
			func(e *masterpb.Event) bool { return e.GetType() != masterpb.Event_HEARTBEAT })
	}
	eve, ops := open(basic{"eve", "e-secret"}), open(basic{"ops", "o-secret"})
	if gs := eve.next().GetSubscribed().GetGetState(); len(gs.GetGetFrameworks().GetFrameworks()) != 0 || len(gs.GetGetTasks().GetTasks()) != 0 {
		t.Fatalf("eve's SUBSCRIBED shows %v", gs)
	}
	if gs := ops.next().GetSubscribed().GetGetState(); len(gs.GetGetFrameworks().GetFrameworks()) != 1 || len(gs.GetGetTasks().GetTasks()) != 1 {
		t.Fatalf("ops' SUBSCRIBED shows %v", gs)
	}
	cl.launch(t, "t2")
	for _, typ := range []masterpb.Event_Type{masterpb.Event_TASK_ADDED, masterpb.Event_TASK_UPDATED} {
		if ev := ops.next(); ev.GetType() != typ {
			t.Fatalf("ops: want %s, got %v", typ, ev)
		}
	}
	registerAgent(t, cl.base, codec.JSON, "host2", "cpus:1;mem:128")
	if ev := eve.next(); ev.GetType() != masterpb.Event_AGENT_ADDED {
		t.Fatalf("eve's next event: %v, want AGENT_ADDED (t2's events are not hers to see)", ev)
	}
}

// update_quotas decides who may set a role's quota (UPDATE_QUOTA and the
// deprecated SET_QUOTA / REMOVE_QUOTA), get_quotas which roles' quotas a
// principal sees in GET_QUOTA.
func TestQuotaACLs(t *testing.T) {
	cl := startCluster(t, codec.JSON, withOps(t), withACLs(t, `{
	  "update_quotas": [{"principals": {"values": ["ops"]}, "roles": {"type": "ANY"}},
	                    {"principals": {"type": "ANY"}, "roles": {"type": "NONE"}}],
	  "get_quotas": [{"principals": {"values": ["ops"]}, "roles": {"type": "ANY"}},
	                 {"principals": {"values": ["eve"]}, "roles": {"values": ["web"]}},
	                 {"principals": {"type": "ANY"}, "roles": {"type": "NONE"}}]
	}`))
	eve, ops := basic{"eve", "e-secret"}, basic{"ops", "o-secret"}
	update := func(who basic, role string) (int, string) {
		status, body := operatorAs(t, cl.base, &masterpb.Call{Type: masterpb.Call_UPDATE_QUOTA.Enum(),
			UpdateQuota: &masterpb.Call_UpdateQuota{Force: proto.Bool(true), QuotaConfigs: []*quotapb.QuotaConfig{
				{Role: proto.String(role), Limits: scalars(map[string]float64{"cpus": 1})}}}}, who)
		return status, string(body)
	}
	if status, body := update(eve, "web"); status != http.StatusForbidden || !strings.Contains(body, "update_quotas") {
		t.Fatalf("eve's UPDATE_QUOTA: %d %s; want 403 naming update_quotas", status, body)
	}
	status, body := operatorAs(t, cl.base, &masterpb.Call{Type: masterpb.Call_REMOVE_QUOTA.Enum(),
		RemoveQuota: &masterpb.Call_RemoveQuota{Role: proto.String("web")}}, eve)
	if status != http.StatusForbidden {
		t.Fatalf("eve's REMOVE_QUOTA: %d %s; want 403", status, body)
	}
	for _, role := range []string{"web", "db"} {
		if status, body := update(ops, role); status != http.StatusOK {
			t.Fatalf("ops' UPDATE_QUOTA %s: %d %s", role, status, body)
		}
	}
	roles := func(who basic) []string {
		status, body := operatorAs(t, cl.base, &masterpb.Call{Type: masterpb.Call_GET_QUOTA.Enum()}, who)
		if status != http.StatusOK {
			t.Fatalf("GET_QUOTA as %s: %d %s", who.user, status, body)
		}
		resp := &masterpb.Response{}
		if err := codec.JSON.Unmarshal(body, resp); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, qc := range resp.GetGetQuota().GetStatus().GetConfigs() {
			out = append(out, qc.GetRole())
		}
		slices.Sort(out)
		return out
	}
	if got := roles(ops); !slices.Equal(got, []string{"db", "web"}) {
		t.Errorf("ops sees quotas of %v, want db and web", got)
	}
	if got := roles(eve); !slices.Equal(got, []string{"web"}) {
		t.Errorf("eve sees quotas of %v, want web only", got)
	}
}

// /master/state and its cuts keep filtering by view_tasks with the
// encoder's cache of rendered tasks: once ops' documents rendered the
// task, eve (who may view the framework but no task) still gets none of
// it, before and after ops asks again, and ops still gets it.
func TestStateACLsWithCachedTasks(t *testing.T) {
	cl := startCluster(t, codec.JSON, withOps(t), withACLs(t, `{
	  "view_frameworks": [{"principals": {"type": "ANY"}, "users": {"type": "ANY"}}],
	  "view_tasks": [{"principals": {"values": ["ops"]}, "users": {"type": "ANY"}},
	                 {"principals": {"type": "ANY"}, "users": {"type": "NONE"}}]
	}`))
	eve, ops := basic{"eve", "e-secret"}, basic{"ops", "o-secret"}
	cl.launch(t, "secret-task")
	get := func(path string, who basic) string {
		t.Helper()
		resp := send(t, http.MethodGet, cl.base+path, nil, who, nil)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK || !json.Valid(b) {
			t.Fatalf("%s as %s: %d %v %s", path, who.user, resp.StatusCode, err, b)
		}
		return string(b)
	}
	for round := range 2 {
		for _, path := range []string{"/master/state", "/master/frameworks", "/master/tasks"} {
			if body := get(path, ops); !strings.Contains(body, `"id":"secret-task"`) {
				t.Errorf("round %d: %s as ops lacks the task: %s", round, path, body)
			}
			body := get(path, eve)
			if strings.Contains(body, "secret-task") {
				t.Errorf("round %d: %s as eve shows the task: %s", round, path, body)
			}
			if path != "/master/tasks" && !strings.Contains(body, cl.fw.id) {
				t.Errorf("round %d: %s as eve lacks the framework: %s", round, path, body)
			}
		}
	}
}
