package master

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"google.golang.org/protobuf/proto"
)

func TestSubscribeResponseAndHeartbeats(t *testing.T) {
	for _, c := range codecs {
		t.Run(c.MediaType(), func(t *testing.T) {
			_, base := startMaster(t, func(cfg *Config) { cfg.HeartbeatInterval = 20 * time.Millisecond })
			resp := subscribeReq(t, base, c, fwInfo("web"))
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %s", resp.Status)
			}
			if got := resp.Header.Get("Content-Type"); got != c.MediaType() {
				t.Errorf("Content-Type %q, want exactly %q", got, c.MediaType())
			}
			if _, ok := resp.Header["Content-Length"]; ok || resp.ContentLength != -1 {
				t.Errorf("stream has a Content-Length (%d)", resp.ContentLength)
			}
			if len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" {
				t.Errorf("Transfer-Encoding %v, want chunked", resp.TransferEncoding)
			}
			if resp.Header.Get(StreamIDHeader) == "" {
				t.Error("no Mesos-Stream-Id header")
			}
			// Read the RecordIO framing by hand: "<decimal length>\n<bytes>".
			br := bufio.NewReader(resp.Body)
			var types []schedulerpb.Event_Type
			for len(types) < 4 {
				line, err := br.ReadString('\n')
				if err != nil {
					t.Fatal(err)
				}
				n, err := strconv.Atoi(strings.TrimSuffix(line, "\n"))
				if err != nil || n <= 0 {
					t.Fatalf("bad record prefix %q", line)
				}
				data := make([]byte, n)
				if _, err := io.ReadFull(br, data); err != nil {
					t.Fatal(err)
				}
				ev := &schedulerpb.Event{}
				if err := c.Unmarshal(data, ev); err != nil {
					t.Fatalf("event does not decode: %v", err)
				}
				types = append(types, ev.GetType())
			}
			if types[0] != schedulerpb.Event_SUBSCRIBED {
				t.Fatalf("first event %v", types[0])
			}
			for _, typ := range types[1:] {
				if typ != schedulerpb.Event_HEARTBEAT {
					t.Fatalf("events %v, want heartbeats after SUBSCRIBED", types)
				}
			}
		})
	}
}

func TestCallStatusCodes(t *testing.T) {
	for _, c := range codecs {
		t.Run(c.MediaType(), func(t *testing.T) {
			_, base := startMaster(t, func(cfg *Config) { cfg.MaxCallBytes = 1 << 16 })
			f := subscribe(t, base, c, fwInfo("web"))
			url := base + "/api/v1/scheduler"
			revive := func(fwID string) []byte {
				return encode(t, c, &schedulerpb.Call{Type: schedulerpb.Call_REVIVE.Enum(),
					FrameworkId: &mesospb.FrameworkID{Value: proto.String(fwID)}})
			}
			ct := c.MediaType()
			cases := []struct {
				name    string
				method  string
				body    []byte
				headers map[string]string
				want    int
			}{
				{"accepted", "POST", revive(f.id), map[string]string{"Content-Type": ct, StreamIDHeader: f.stream}, 202},
				{"missing stream id", "POST", revive(f.id), map[string]string{"Content-Type": ct}, 400},
				{"wrong stream id", "POST", revive(f.id), map[string]string{"Content-Type": ct, StreamIDHeader: "nope"}, 400},
				{"unknown framework", "POST", revive("nope"), map[string]string{"Content-Type": ct, StreamIDHeader: f.stream}, 403},
				{"garbage body", "POST", []byte("\xff\x00garbage{"), map[string]string{"Content-Type": ct, StreamIDHeader: f.stream}, 400},
				{"empty body", "POST", nil, map[string]string{"Content-Type": ct, StreamIDHeader: f.stream}, 400},
				{"missing content type", "POST", revive(f.id), map[string]string{StreamIDHeader: f.stream}, 400},
				{"unsupported content type", "POST", revive(f.id), map[string]string{"Content-Type": "text/plain", StreamIDHeader: f.stream}, 415},
				{"not acceptable", "POST", revive(f.id), map[string]string{"Content-Type": ct, "Accept": "text/html", StreamIDHeader: f.stream}, 406},
				{"GET", "GET", nil, nil, 405},
				{"huge body", "POST", make([]byte, 1<<17), map[string]string{"Content-Type": ct, StreamIDHeader: f.stream}, 413},
				{"unknown call type", "POST", encode(t, c, &schedulerpb.Call{Type: schedulerpb.Call_UNKNOWN.Enum(),
					FrameworkId: &mesospb.FrameworkID{Value: proto.String(f.id)}}), map[string]string{"Content-Type": ct, StreamIDHeader: f.stream}, 400},
				{"no call type", "POST", encode(t, c, &schedulerpb.Call{FrameworkId: &mesospb.FrameworkID{Value: proto.String(f.id)}}),
					map[string]string{"Content-Type": ct, StreamIDHeader: f.stream}, 400},
				{"subscribe with a stream id", "POST", encode(t, c, &schedulerpb.Call{Type: schedulerpb.Call_SUBSCRIBE.Enum(),
					Subscribe: &schedulerpb.Call_Subscribe{FrameworkInfo: fwInfo("x")}}), map[string]string{"Content-Type": ct, StreamIDHeader: "x"}, 400},
			}
			for _, tc := range cases {
				req, err := http.NewRequest(tc.method, url, strings.NewReader(string(tc.body)))
				if err != nil {
					t.Fatal(err)
				}
				for k, v := range tc.headers {
					req.Header.Set(k, v)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tc.want {
					t.Errorf("%s: status %d (%s), want %d", tc.name, resp.StatusCode, body, tc.want)
					continue
				}
				if tc.want == 202 && len(body) != 0 {
					t.Errorf("%s: 202 with a body %q", tc.name, body)
				}
				if tc.want >= 400 && strings.TrimSpace(string(body)) == "" {
					t.Errorf("%s: %d without a message", tc.name, tc.want)
				}
				if tc.want == 405 && resp.Header.Get("Allow") != "POST" {
					t.Errorf("405 without Allow: POST")
				}
			}
			// The master still serves.
			resp, err := http.Get(base + "/health")
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("health after bad input: %v %v", resp, err)
			}
			f.mustCall(&schedulerpb.Call{Type: schedulerpb.Call_SUPPRESS.Enum()})
		})
	}
}

func TestLaunchThroughFakeAgent(t *testing.T) {
	for _, c := range codecs {
		t.Run(c.MediaType(), func(t *testing.T) {
			_, base := startMaster(t)
			agent := registerAgent(t, base, c, "host1", "cpus:2;mem:256")
			f := subscribe(t, base, c, fwInfo("web"))
			offer := f.nextOf(schedulerpb.Event_OFFERS).GetOffers().GetOffers()[0]
			if offer.GetAgentId().GetValue() != agent.id || offer.GetHostname() != "host1" {
				t.Fatalf("offer = %v", offer)
			}
			task := &mesospb.TaskInfo{
				Name: proto.String("t1"), TaskId: &mesospb.TaskID{Value: proto.String("t1")},
				AgentId:   offer.GetAgentId(),
				Resources: offer.GetResources()[:1],
				Command:   &mesospb.CommandInfo{Value: proto.String("echo hi")},
			}
			f.mustCall(&schedulerpb.Call{Type: schedulerpb.Call_ACCEPT.Enum(), Accept: &schedulerpb.Call_Accept{
				OfferIds: []*mesospb.OfferID{offer.GetId()},
				Operations: []*mesospb.Offer_Operation{{Type: mesospb.Offer_Operation_LAUNCH.Enum(),
					Launch: &mesospb.Offer_Operation_Launch{TaskInfos: []*mesospb.TaskInfo{task}}}},
			}})
			run := agent.nextOf(linkpb.MasterEvent_RUN_TASK).GetRunTask()
			if run.GetTask().GetTaskId().GetValue() != "t1" || run.GetTask().GetCommand().GetValue() != "echo hi" {
				t.Fatalf("RUN_TASK = %v", run)
			}
			uuid := []byte("0123456789abcdef")
			status, body := agent.send(&linkpb.AgentCall{Type: linkpb.AgentCall_STATUS_UPDATE.Enum(),
				StatusUpdate: &linkpb.AgentCall_StatusUpdate{FrameworkId: &mesospb.FrameworkID{Value: proto.String(f.id)},
					Status: &mesospb.TaskStatus{TaskId: task.TaskId, State: mesospb.TaskState_TASK_RUNNING.Enum(),
						Source: mesospb.TaskStatus_SOURCE_EXECUTOR.Enum(), AgentId: offer.GetAgentId(), Uuid: uuid,
						Timestamp: proto.Float64(1)}}})
			if status != http.StatusAccepted {
				t.Fatalf("status update: %d %s", status, body)
			}
			up := f.nextOf(schedulerpb.Event_UPDATE).GetUpdate().GetStatus()
			if up.GetState() != mesospb.TaskState_TASK_RUNNING || string(up.GetUuid()) != string(uuid) {
				t.Fatalf("UPDATE = %v", up)
			}
			f.mustCall(&schedulerpb.Call{Type: schedulerpb.Call_ACKNOWLEDGE.Enum(), Acknowledge: &schedulerpb.Call_Acknowledge{
				AgentId: offer.GetAgentId(), TaskId: task.TaskId, Uuid: uuid}})
			if ack := agent.nextOf(linkpb.MasterEvent_ACKNOWLEDGE).GetAcknowledge(); string(ack.GetUuid()) != string(uuid) {
				t.Fatalf("ACKNOWLEDGE = %v", ack)
			}
			// A stale link id gets 409.
			status, _ = agent.send(&linkpb.AgentCall{Type: linkpb.AgentCall_PONG.Enum(), LinkId: proto.String("stale"),
				Pong: &linkpb.AgentCall_Pong{Seq: proto.Uint64(1)}})
			if status != http.StatusConflict {
				t.Errorf("stale link: %d", status)
			}

			var st struct {
				Slaves []struct {
					ID            string         `json:"id"`
					UsedResources map[string]any `json:"used_resources"`
				} `json:"slaves"`
				Frameworks []struct {
					ID    string `json:"id"`
					Tasks []struct {
						ID, State string
					} `json:"tasks"`
				} `json:"frameworks"`
				Leader string `json:"leader"`
			}
			getJSON(t, base+"/master/state", &st)
			if len(st.Slaves) != 1 || st.Slaves[0].ID != agent.id || len(st.Frameworks) != 1 ||
				len(st.Frameworks[0].Tasks) != 1 || st.Frameworks[0].Tasks[0].State != "TASK_RUNNING" {
				t.Fatalf("state = %+v", st)
			}
			if !strings.HasPrefix(st.Leader, "master@127.0.0.1:") {
				t.Errorf("leader = %q", st.Leader)
			}
			var tasks struct {
				Tasks []struct {
					ID      string `json:"id"`
					SlaveID string `json:"slave_id"`
				} `json:"tasks"`
			}
			getJSON(t, base+"/master/tasks", &tasks)
			if len(tasks.Tasks) != 1 || tasks.Tasks[0].SlaveID != agent.id {
				t.Errorf("/master/tasks = %+v", tasks)
			}
			var slaves struct {
				Slaves []struct{ ID string } `json:"slaves"`
			}
			getJSON(t, base+"/master/slaves", &slaves)
			if len(slaves.Slaves) != 1 {
				t.Errorf("/master/slaves = %+v", slaves)
			}
			var snap map[string]float64
			getJSON(t, base+"/metrics/snapshot", &snap)
			if snap["master/tasks_running"] != 1 || snap["master/slaves_active"] != 1 || snap["master/frameworks_active"] != 1 ||
				snap["master/cpus_total"] != 2 {
				t.Errorf("snapshot = %v", snap)
			}
			resp, err := http.Get(base + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			prom, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.Contains(string(prom), "meso_master_tasks_running 1") {
				t.Errorf("/metrics lacks meso_master_tasks_running 1")
			}
		})
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%s: %s %s", url, resp.Status, resp.Header.Get("Content-Type"))
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func TestResubscribeClosesOldStream(t *testing.T) {
	_, base := startMaster(t)
	info := fwInfo("web")
	info.FailoverTimeout = proto.Float64(60)
	old := subscribe(t, base, codec.Protobuf, info)
	info.Id = &mesospb.FrameworkID{Value: proto.String(old.id)}
	fresh := subscribe(t, base, codec.JSON, info)
	if fresh.id != old.id || fresh.stream == old.stream {
		t.Fatalf("ids %s/%s streams %s/%s", fresh.id, old.id, fresh.stream, old.stream)
	}
	if ev := old.nextOf(schedulerpb.Event_ERROR); !strings.Contains(ev.GetError().GetMessage(), "failed over") {
		t.Errorf("old stream error = %v", ev)
	}
	if err := old.events.ended(); !isEOF(err) {
		t.Errorf("old stream ended with %v", err)
	}
	fresh.mustCall(&schedulerpb.Call{Type: schedulerpb.Call_REVIVE.Enum()})
	if status, _ := old.call(&schedulerpb.Call{Type: schedulerpb.Call_REVIVE.Enum()}); status != http.StatusBadRequest {
		t.Errorf("call on the replaced stream: %d", status)
	}
}

func TestDisconnectWithoutFailoverKillsTasks(t *testing.T) {
	_, base := startMaster(t)
	agent := registerAgent(t, base, codec.Protobuf, "host1", "cpus:2;mem:256")
	f := subscribe(t, base, codec.Protobuf, fwInfo("web"))
	offer := f.nextOf(schedulerpb.Event_OFFERS).GetOffers().GetOffers()[0]
	f.mustCall(&schedulerpb.Call{Type: schedulerpb.Call_ACCEPT.Enum(), Accept: &schedulerpb.Call_Accept{
		OfferIds: []*mesospb.OfferID{offer.GetId()},
		Operations: []*mesospb.Offer_Operation{{Type: mesospb.Offer_Operation_LAUNCH.Enum(),
			Launch: &mesospb.Offer_Operation_Launch{TaskInfos: []*mesospb.TaskInfo{{
				Name: proto.String("t"), TaskId: &mesospb.TaskID{Value: proto.String("t")}, AgentId: offer.GetAgentId(),
				Resources: offer.GetResources(), Command: &mesospb.CommandInfo{Value: proto.String("sleep 100")}}}}}},
	}})
	agent.nextOf(linkpb.MasterEvent_RUN_TASK)
	f.events.resp.Body.Close() // the scheduler goes away
	sd := agent.nextOf(linkpb.MasterEvent_SHUTDOWN_FRAMEWORK)
	if sd.GetShutdownFramework().GetFrameworkId().GetValue() != f.id {
		t.Fatalf("SHUTDOWN_FRAMEWORK = %v", sd)
	}
}

type fixedLeader struct {
	hostport string
	self     bool
}

func (l fixedLeader) Leader() (string, bool) { return l.hostport, l.self }

func TestNonLeaderRedirects(t *testing.T) {
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	_, base := startMaster(t, func(cfg *Config) { cfg.Leadership = fixedLeader{hostport: "10.0.0.7:5050"} })
	resp, err := noRedirect.Post(base+"/api/v1/scheduler", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != "//10.0.0.7:5050/api/v1/scheduler" {
		t.Errorf("scheduler on a non-leader: %s %q", resp.Status, resp.Header.Get("Location"))
	}
	resp, err = noRedirect.Get(base + "/master/redirect")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != "//10.0.0.7:5050" {
		t.Errorf("redirect: %s %q", resp.Status, resp.Header.Get("Location"))
	}

	_, base = startMaster(t, func(cfg *Config) { cfg.Leadership = fixedLeader{} })
	resp, err = noRedirect.Post(base+"/api/v1/scheduler", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("no leader: %s", resp.Status)
	}
}

func TestSingleMasterRedirectsToItself(t *testing.T) {
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	_, base := startMaster(t)
	resp, err := noRedirect.Get(base + "/master/redirect")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if want := "//" + strings.TrimPrefix(base, "http://"); resp.StatusCode != 307 || resp.Header.Get("Location") != want {
		t.Errorf("redirect: %s %q, want %q", resp.Status, resp.Header.Get("Location"), want)
	}
	resp, err = http.Get(base + "/version")
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&v)
	resp.Body.Close()
	if v["version"] != "test" {
		t.Errorf("version = %v", v)
	}
}

func TestLinkBadRequests(t *testing.T) {
	_, base := startMaster(t)
	for _, c := range codecs {
		url := base + "/internal/v1/link"
		resp, body := post(t, url, []byte("garbage\xff"), map[string]string{"Content-Type": c.MediaType()})
		if resp.StatusCode != 400 || body == "" {
			t.Errorf("%s garbage: %d %q", c.MediaType(), resp.StatusCode, body)
		}
		// REGISTER with invalid resources.
		call := &linkpb.AgentCall{Type: linkpb.AgentCall_REGISTER.Enum(), Register: &linkpb.AgentCall_Register{
			AgentInfo: &mesospb.AgentInfo{Hostname: proto.String("h"), Resources: []*mesospb.Resource{{
				Name: proto.String("cpus"), Type: mesospb.Value_SCALAR.Enum(), Scalar: &mesospb.Value_Scalar{Value: proto.Float64(-1)}}}}}}
		resp, body = post(t, url, encode(t, c, call), map[string]string{"Content-Type": c.MediaType()})
		if resp.StatusCode != 400 || !strings.Contains(body, "cpus") {
			t.Errorf("%s bad resources: %d %q", c.MediaType(), resp.StatusCode, body)
		}
	}
}

func TestSilentAgentIsLost(t *testing.T) {
	_, base := startMaster(t, func(cfg *Config) {
		cfg.AgentPingTimeout = 100 * time.Millisecond
		cfg.MaxAgentPingTimeouts = 3
	})
	agent := registerAgent(t, base, codec.JSON, "host1", "cpus:2;mem:256")
	f := subscribe(t, base, codec.JSON, fwInfo("web"))
	offer := f.nextOf(schedulerpb.Event_OFFERS).GetOffers().GetOffers()[0]
	f.mustCall(&schedulerpb.Call{Type: schedulerpb.Call_ACCEPT.Enum(), Accept: &schedulerpb.Call_Accept{
		OfferIds: []*mesospb.OfferID{offer.GetId()},
		Operations: []*mesospb.Offer_Operation{{Type: mesospb.Offer_Operation_LAUNCH.Enum(),
			Launch: &mesospb.Offer_Operation_Launch{TaskInfos: []*mesospb.TaskInfo{{
				Name: proto.String("t"), TaskId: &mesospb.TaskID{Value: proto.String("t")}, AgentId: offer.GetAgentId(),
				Resources: offer.GetResources(), Command: &mesospb.CommandInfo{Value: proto.String("sleep 100")}}}}}},
	}})
	agent.nextOf(linkpb.MasterEvent_RUN_TASK)
	// From now on the agent does not answer its pings.
	agent.pong.Store(false)
	up := f.nextOf(schedulerpb.Event_UPDATE).GetUpdate().GetStatus()
	if up.GetState() != mesospb.TaskState_TASK_LOST || up.GetReason() != mesospb.TaskStatus_REASON_AGENT_REMOVED {
		t.Fatalf("update = %v", up)
	}
	if fail := f.nextOf(schedulerpb.Event_FAILURE).GetFailure(); fail.GetAgentId().GetValue() != agent.id {
		t.Fatalf("failure = %v", fail)
	}
	if err := agent.events.ended(); !isEOF(err) {
		t.Errorf("lost agent's link ended with %v", err)
	}
	var snap map[string]float64
	getJSON(t, base+"/metrics/snapshot", &snap)
	if snap["master/slave_removals"] != 1 || snap["master/tasks_lost"] != 1 || snap["master/cpus_total"] != 0 ||
		snap["master/slave_registrations"] != 1 {
		t.Errorf("snapshot: removals %v lost %v cpus %v", snap["master/slave_removals"], snap["master/tasks_lost"], snap["master/cpus_total"])
	}
}
