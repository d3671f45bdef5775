package agent

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mesoproject/meso/api/agentpb"
	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/resources"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

var operatorCodecs = []codec.Codec{codec.JSON, codec.Protobuf}

func agentCall(t *testing.T, url string, c codec.Codec, call *agentpb.Call) (int, string, []byte) {
	t.Helper()
	body, err := proto.MarshalOptions{AllowPartial: true}.Marshal(call)
	if err != nil {
		t.Fatal(err)
	}
	if c == codec.JSON {
		if body, err = c.Marshal(call); err != nil {
			// A call missing a required field, which the codec refuses to
			// write: the protobuf runtime's JSON form of it.
			body = []byte(protojson.Format(call))
		}
	}
	req, err := http.NewRequest(http.MethodPost, url+"/api/v1", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", c.MediaType())
	req.Header.Set("Accept", c.MediaType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), b
}

func agentQuery(t *testing.T, url string, c codec.Codec, call *agentpb.Call) *agentpb.Response {
	t.Helper()
	status, ctype, body := agentCall(t, url, c, call)
	if status != http.StatusOK || ctype != c.MediaType() {
		t.Fatalf("%s: %d %q %s", call.GetType(), status, ctype, body)
	}
	resp := &agentpb.Response{}
	if err := c.Unmarshal(body, resp); err != nil {
		t.Fatalf("%s: the response does not decode: %v", call.GetType(), err)
	}
	if int32(resp.GetType()) != agentpb.Response_Type_value[call.GetType().String()] {
		t.Fatalf("%s: response type %s", call.GetType(), resp.GetType())
	}
	return resp
}

func typed(typ agentpb.Call_Type) *agentpb.Call { return &agentpb.Call{Type: typ.Enum()} }

// Every implemented call of the agent's operator API, both codecs, with a
// command task running: 200, the codec's Content-Type, the data.
func TestAgentOperatorCalls(t *testing.T) {
	for _, c := range operatorCodecs {
		t.Run(c.MediaType(), func(t *testing.T) {
			m := newFakeMaster(t)
			a := startAgent(t, m, func(cfg *Config) {
				cfg.Resources = resources.MustParse("cpus:2;mem:1024;disks:{sdb,sda}")
			})
			s := m.session()
			s.send(runTask("f1", commandTask("t1", "echo hello")))
			spec := a.cz.launch(t)
			ex := newExecClient(t, a.url, c, "f1", "t1")
			ex.subscribe()
			ex.event() // SUBSCRIBED
			ex.event() // LAUNCH
			if code := ex.update("t1", mesospb.TaskState_TASK_RUNNING, uuidOf("u1")); code != http.StatusAccepted {
				t.Fatalf("UPDATE: %d", code)
			}
			if err := os.WriteFile(filepath.Join(spec.Sandbox, "stdout"), []byte("hello world\n"), 0o644); err != nil {
				t.Fatal(err)
			}

			if !agentQuery(t, a.url, c, typed(agentpb.Call_GET_HEALTH)).GetGetHealth().GetHealthy() {
				t.Error("GET_HEALTH: unhealthy")
			}
			flags := map[string]string{}
			for _, f := range agentQuery(t, a.url, c, typed(agentpb.Call_GET_FLAGS)).GetGetFlags().GetFlags() {
				flags[f.GetName()] = f.GetValue()
			}
			if flags["work_dir"] != a.cfg.WorkDir {
				t.Errorf("GET_FLAGS: %v", flags)
			}
			if v := agentQuery(t, a.url, c, typed(agentpb.Call_GET_VERSION)).GetGetVersion().GetVersionInfo().GetVersion(); v != Version {
				t.Errorf("GET_VERSION: %q", v)
			}
			metrics := map[string]float64{}
			for _, mt := range agentQuery(t, a.url, c, typed(agentpb.Call_GET_METRICS)).GetGetMetrics().GetMetrics() {
				metrics[mt.GetName()] = mt.GetValue()
			}
			if metrics["slave/tasks_running"] != 1 || metrics["slave/registered"] != 1 {
				t.Errorf("GET_METRICS: %v", metrics)
			}
			st := agentQuery(t, a.url, c, typed(agentpb.Call_GET_STATE)).GetGetState()
			if lt := st.GetGetTasks().GetLaunchedTasks(); len(lt) != 1 || lt[0].GetState() != mesospb.TaskState_TASK_RUNNING ||
				len(st.GetGetExecutors().GetExecutors()) != 1 || len(st.GetGetFrameworks().GetFrameworks()) != 1 {
				t.Errorf("GET_STATE: %v", st)
			}
			if f := agentQuery(t, a.url, c, typed(agentpb.Call_GET_FRAMEWORKS)).GetGetFrameworks().GetFrameworks(); len(f) != 1 ||
				f[0].GetFrameworkInfo().GetId().GetValue() != "f1" {
				t.Errorf("GET_FRAMEWORKS: %v", f)
			}
			if e := agentQuery(t, a.url, c, typed(agentpb.Call_GET_EXECUTORS)).GetGetExecutors().GetExecutors(); len(e) != 1 ||
				e[0].GetExecutorInfo().GetExecutorId().GetValue() != "t1" {
				t.Errorf("GET_EXECUTORS: %v", e)
			}
			if tk := agentQuery(t, a.url, c, typed(agentpb.Call_GET_TASKS)).GetGetTasks(); len(tk.GetLaunchedTasks()) != 1 {
				t.Errorf("GET_TASKS: %v", tk)
			}
			if cs := agentQuery(t, a.url, c, typed(agentpb.Call_GET_CONTAINERS)).GetGetContainers().GetContainers(); len(cs) != 1 ||
				cs[0].GetContainerId().GetValue() != spec.ContainerID || cs[0].GetExecutorId().GetValue() != "t1" {
				t.Errorf("GET_CONTAINERS: %v", cs)
			}
			if ag := agentQuery(t, a.url, c, typed(agentpb.Call_GET_AGENT)).GetGetAgent().GetAgentInfo(); ag.GetId().GetValue() != "a1" ||
				ag.GetHostname() != "agent-host" {
				t.Errorf("GET_AGENT: %v", ag)
			}
			agentQuery(t, a.url, c, typed(agentpb.Call_GET_OPERATIONS))

			lf := agentQuery(t, a.url, c, &agentpb.Call{Type: agentpb.Call_LIST_FILES.Enum(),
				ListFiles: &agentpb.Call_ListFiles{Path: proto.String(spec.Sandbox)}}).GetListFiles().GetFileInfos()
			found := false
			for _, fi := range lf {
				if fi.GetPath() == spec.Sandbox+"/stdout" && fi.GetSize() == 12 && fi.GetMode()&0o777 == 0o644 {
					found = true
				}
			}
			if !found {
				t.Errorf("LIST_FILES lacks stdout: %v", lf)
			}
			rf := agentQuery(t, a.url, c, &agentpb.Call{Type: agentpb.Call_READ_FILE.Enum(),
				ReadFile: &agentpb.Call_ReadFile{Path: proto.String(spec.Sandbox + "/stdout"), Offset: proto.Uint64(6),
					Length: proto.Uint64(5)}}).GetReadFile()
			if rf.GetSize() != 12 || string(rf.GetData()) != "world" {
				t.Errorf("READ_FILE: %v", rf)
			}

			status, _, body := agentCall(t, a.url, c, &agentpb.Call{Type: agentpb.Call_SET_LOGGING_LEVEL.Enum(),
				SetLoggingLevel: &agentpb.Call_SetLoggingLevel{Level: proto.Uint32(1),
					Duration: &mesospb.DurationInfo{Nanoseconds: proto.Int64(int64(time.Hour))}}})
			if status != http.StatusOK {
				t.Fatalf("SET_LOGGING_LEVEL: %d %s", status, body)
			}
			if lvl := agentQuery(t, a.url, c, typed(agentpb.Call_GET_LOGGING_LEVEL)).GetGetLoggingLevel().GetLevel(); lvl != 1 {
				t.Errorf("GET_LOGGING_LEVEL: %d", lvl)
			}

			// One presenter: /state prints sets as Mesos does, like the master.
			state := getState(t, a.url)
			if got := state.Resources["disks"]; got != "{sda, sdb}" {
				t.Errorf("/state disks = %v, want {sda, sdb}", got)
			}
		})
	}
}

// Container calls answer 501 with a message; bad calls 400 with one; files
// outside the sandboxes or not regular are refused; the agent keeps serving.
func TestAgentOperatorBadCalls(t *testing.T) {
	for _, c := range operatorCodecs {
		t.Run(c.MediaType(), func(t *testing.T) {
			m := newFakeMaster(t)
			a := startAgent(t, m, nil)
			m.session()
			for typ := range notBuilt {
				status, _, body := agentCall(t, a.url, c, typed(typ))
				if status != http.StatusNotImplemented || !strings.Contains(string(body), typ.String()) {
					t.Errorf("%s: %d %s", typ, status, body)
				}
			}
			for name, tc := range map[string]struct {
				call   *agentpb.Call
				status int
			}{
				"no type":            {&agentpb.Call{}, http.StatusBadRequest},
				"UNKNOWN":            {typed(agentpb.Call_UNKNOWN), http.StatusBadRequest},
				"LIST_FILES no body": {typed(agentpb.Call_LIST_FILES), http.StatusBadRequest},
				"READ_FILE no body":  {typed(agentpb.Call_READ_FILE), http.StatusBadRequest},
				"READ_FILE missing required": {&agentpb.Call{Type: agentpb.Call_READ_FILE.Enum(),
					ReadFile: &agentpb.Call_ReadFile{Path: proto.String("/x")}}, http.StatusBadRequest},
				"READ_FILE outside": {&agentpb.Call{Type: agentpb.Call_READ_FILE.Enum(),
					ReadFile: &agentpb.Call_ReadFile{Path: proto.String("/etc/passwd"), Offset: proto.Uint64(0)}}, http.StatusForbidden},
				"READ_FILE directory": {&agentpb.Call{Type: agentpb.Call_READ_FILE.Enum(),
					ReadFile: &agentpb.Call_ReadFile{Path: proto.String(filepath.Join(a.cfg.WorkDir, "slaves")), Offset: proto.Uint64(0)}}, http.StatusBadRequest},
				"LIST_FILES missing": {&agentpb.Call{Type: agentpb.Call_LIST_FILES.Enum(),
					ListFiles: &agentpb.Call_ListFiles{Path: proto.String(filepath.Join(a.cfg.WorkDir, "slaves", "nope"))}}, http.StatusNotFound},
				"SET_LOGGING_LEVEL no body": {typed(agentpb.Call_SET_LOGGING_LEVEL), http.StatusBadRequest},
			} {
				status, _, body := agentCall(t, a.url, c, tc.call)
				if status != tc.status || len(strings.TrimSpace(string(body))) == 0 {
					t.Errorf("%s: %d %q, want %d with a message", name, status, body, tc.status)
				}
			}
			req, _ := http.NewRequest(http.MethodPost, a.url+"/api/v1", strings.NewReader("\x0a\xff"))
			req.Header.Set("Content-Type", c.MediaType())
			if c == codec.JSON {
				req.Body = io.NopCloser(strings.NewReader(`{"type":`))
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("malformed body: %d", resp.StatusCode)
			}
			if !agentQuery(t, a.url, c, typed(agentpb.Call_GET_HEALTH)).GetGetHealth().GetHealthy() {
				t.Error("the agent stopped serving")
			}
		})
	}
}
