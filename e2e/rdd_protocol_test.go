package e2e

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/schedulerpb"
)

// callRecorder is a reverse proxy in front of a master that keeps every
// request the driver sends and what the master answered.
type callRecorder struct {
	mu    sync.Mutex
	calls []recordedCall
}

type recordedCall struct {
	method, path, ctype, accept, streamID string
	body                                  []byte
	status                                int
	answeredStreamID                      string
}

func newCallRecorder(t *testing.T, master string) (*callRecorder, *httptest.Server) {
	t.Helper()
	target, err := url.Parse("http://" + master)
	if err != nil {
		t.Fatal(err)
	}
	r := &callRecorder{}
	proxy := &httputil.ReverseProxy{
		Rewrite:       func(pr *httputil.ProxyRequest) { pr.SetURL(target); pr.Out.Host = pr.In.Host },
		FlushInterval: -1, // SUBSCRIBE's answer is a stream
		ModifyResponse: func(resp *http.Response) error {
			r.mu.Lock()
			defer r.mu.Unlock()
			if i, ok := resp.Request.Context().Value(callIndex{}).(int); ok {
				r.calls[i].status = resp.StatusCode
				r.calls[i].answeredStreamID = resp.Header.Get("Mesos-Stream-Id")
			}
			return nil
		},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, 16<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		r.mu.Lock()
		i := len(r.calls)
		r.calls = append(r.calls, recordedCall{method: req.Method, path: req.URL.Path, ctype: req.Header.Get("Content-Type"),
			accept: req.Header.Get("Accept"), streamID: req.Header.Get("Mesos-Stream-Id"), body: body})
		r.mu.Unlock()
		proxy.ServeHTTP(w, req.WithContext(contextWithCallIndex(req, i)))
	}))
	t.Cleanup(srv.Close)
	return r, srv
}

// The framework half of a cluster-mode driver speaks only the public
// Mesos v1 scheduler protocol: every request it sends through a recording
// proxy is a POST to /api/v1/scheduler with a Mesos media type, decodes as
// a v1 Call with its required fields, carries the framework id and the
// Mesos-Stream-Id the SUBSCRIBE answer gave, has the fields its type
// needs, and is accepted by the master.
func TestRDDClusterProtocolRecorded(t *testing.T) {
	bin := buildRDDOps(t)
	c := newCluster(t, 2, "cpus:2;mem:2048;disk:4096;ports:[31000-32000]", masterFlags...)
	rec, proxy := newCallRecorder(t, c.master.addr)
	args := clusterArgs(c, t.TempDir())
	args[1] = "mesos://" + strings.TrimPrefix(proxy.URL, "http://")
	out, err := runProgram(t, 3*time.Minute, bin, append([]string{"--op", "sort", "--n", "20000"}, args...)...)
	if err != nil {
		t.Fatalf("cluster run: %v\n%s", err, out)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	mediaTypes := map[string]bool{"application/x-protobuf": true, "application/json": true}
	seen := map[schedulerpb.Call_Type]int{}
	var streamID, frameworkID string
	for i, r := range rec.calls {
		call := &schedulerpb.Call{}
		where := "call " + strconv.Itoa(i)
		if r.method != http.MethodPost || r.path != "/api/v1/scheduler" {
			t.Errorf("%s: %s %s, want POST /api/v1/scheduler", where, r.method, r.path)
			continue
		}
		var err error
		switch r.ctype {
		case "application/x-protobuf":
			err = proto.Unmarshal(r.body, call) // proto2 required fields are checked
		case "application/json":
			err = protojson.Unmarshal(r.body, call)
		default:
			t.Errorf("%s: Content-Type %q", where, r.ctype)
			continue
		}
		if err != nil {
			t.Errorf("%s: not a v1 Call: %v", where, err)
			continue
		}
		if len(call.ProtoReflect().GetUnknown()) > 0 {
			t.Errorf("%s: fields outside the v1 Call", where)
		}
		where += " (" + call.GetType().String() + ")"
		seen[call.GetType()]++
		if r.accept != "" && !mediaTypes[r.accept] {
			t.Errorf("%s: Accept %q", where, r.accept)
		}
		if call.GetType() == schedulerpb.Call_SUBSCRIBE {
			fi := call.GetSubscribe().GetFrameworkInfo()
			if fi.GetUser() == "" || fi.GetName() != "rddops" {
				t.Errorf("%s: framework_info user %q name %q", where, fi.GetUser(), fi.GetName())
			}
			if !mediaTypes[r.accept] {
				t.Errorf("%s: Accept %q, want a Mesos media type for the event stream", where, r.accept)
			}
			if r.streamID != "" {
				t.Errorf("%s: a first SUBSCRIBE with Mesos-Stream-Id %q", where, r.streamID)
			}
			if r.status != http.StatusOK || r.answeredStreamID == "" {
				t.Errorf("%s: answered %d with stream id %q", where, r.status, r.answeredStreamID)
			}
			streamID = r.answeredStreamID
			continue
		}
		if r.streamID == "" || r.streamID != streamID {
			t.Errorf("%s: Mesos-Stream-Id %q, the SUBSCRIBE answer gave %q", where, r.streamID, streamID)
		}
		if fid := call.GetFrameworkId().GetValue(); fid == "" || frameworkID != "" && fid != frameworkID {
			t.Errorf("%s: framework_id %q (before: %q)", where, fid, frameworkID)
		} else {
			frameworkID = fid
		}
		if r.status != http.StatusAccepted {
			t.Errorf("%s: the master answered %d", where, r.status)
		}
		switch call.GetType() {
		case schedulerpb.Call_ACCEPT:
			a := call.GetAccept()
			if len(a.GetOfferIds()) == 0 || len(a.GetOperations()) == 0 {
				t.Errorf("%s: %d offers, %d operations", where, len(a.GetOfferIds()), len(a.GetOperations()))
			}
			for _, op := range a.GetOperations() {
				for _, ti := range op.GetLaunch().GetTaskInfos() {
					if ti.GetName() == "" || ti.GetTaskId().GetValue() == "" || ti.GetAgentId().GetValue() == "" ||
						len(ti.GetResources()) == 0 || ti.GetCommand() == nil && ti.GetExecutor() == nil {
						t.Errorf("%s: incomplete task %v", where, ti)
					}
				}
			}
		case schedulerpb.Call_DECLINE:
			if len(call.GetDecline().GetOfferIds()) == 0 {
				t.Errorf("%s: no offer ids", where)
			}
		case schedulerpb.Call_KILL:
			if call.GetKill().GetTaskId().GetValue() == "" {
				t.Errorf("%s: no task id", where)
			}
		case schedulerpb.Call_ACKNOWLEDGE:
			a := call.GetAcknowledge()
			if a.GetAgentId().GetValue() == "" || a.GetTaskId().GetValue() == "" || len(a.GetUuid()) == 0 {
				t.Errorf("%s: incomplete %v", where, a)
			}
		case schedulerpb.Call_RECONCILE, schedulerpb.Call_SUPPRESS, schedulerpb.Call_REVIVE, schedulerpb.Call_TEARDOWN:
		default:
			t.Errorf("%s: a call coarse-grained mode has no use for", where)
		}
	}
	for _, typ := range []schedulerpb.Call_Type{schedulerpb.Call_SUBSCRIBE, schedulerpb.Call_ACCEPT,
		schedulerpb.Call_ACKNOWLEDGE, schedulerpb.Call_TEARDOWN} {
		if seen[typ] == 0 {
			t.Errorf("no %s call went through the proxy (calls: %v)", typ, seen)
		}
	}
}

type callIndex struct{}

func contextWithCallIndex(req *http.Request, i int) context.Context {
	return context.WithValue(req.Context(), callIndex{}, i)
}
