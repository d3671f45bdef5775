package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/internal/resources"
)

// Helpers for the tests of custom executors and the fetcher: a file server
// that counts downloads, the test executor (e2e/testexecutor) built once,
// and framework helpers to launch tasks on an executor and wait for
// executor events.

var (
	testExecutorOnce sync.Once
	testExecutorPath string
	testExecutorErr  error
)

// testExecutor builds e2e/testexecutor once, beside the meso binary.
func testExecutor(t testing.TB) string {
	t.Helper()
	testExecutorOnce.Do(func() {
		testExecutorPath = filepath.Join(filepath.Dir(mesoBin), "testexecutor")
		out, err := exec.Command("go", "build", "-o", testExecutorPath,
			"github.com/mesoproject/meso/e2e/testexecutor").CombinedOutput()
		if err != nil {
			testExecutorErr = fmt.Errorf("building the test executor: %v\n%s", err, out)
		}
	})
	if testExecutorErr != nil {
		t.Fatal(testExecutorErr)
	}
	return testExecutorPath
}

// fileServer serves files over HTTP, as a framework's artifact repository
// would, and counts the requests for each.
type fileServer struct {
	srv *httptest.Server

	mu    sync.Mutex
	files map[string]string // URL path -> local file
	hits  map[string]int
}

func newFileServer(t testing.TB) *fileServer {
	s := &fileServer{files: map[string]string{}, hits: map[string]int{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *fileServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	path, ok := s.files[r.URL.Path]
	s.hits[r.URL.Path]++
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	http.ServeFile(w, r, path) // sets Content-Length, which the fetcher's cache needs
}

// add serves the local file at /name and returns its URL.
func (s *fileServer) add(name, local string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files["/"+name] = local
	return s.srv.URL + "/" + name
}

func (s *fileServer) count(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits["/"+name]
}

// executorOptions shape a test executor's ExecutorInfo.
type executorOptions struct {
	codec          codec.Codec
	grace          time.Duration // ExecutorInfo.shutdown_grace_period; 0: the agent's
	ignoreShutdown bool
	cache          bool   // fetch the binary through the agent's cache
	uri            string // where the binary is fetched from
}

var executorRes = resources.MustParse("cpus:0.1;mem:32")

// testExecutorInfo describes a CUSTOM executor running the test executor,
// fetched by the agent from o.uri.
func testExecutorInfo(id string, o executorOptions) *mesospb.ExecutorInfo {
	name := "protobuf"
	if o.codec == codec.JSON {
		name = "json"
	}
	cmd := &mesospb.CommandInfo{
		Value: proto.String("./testexecutor --codec=" + name),
		Uris: []*mesospb.CommandInfo_URI{{
			Value: proto.String(o.uri), Executable: proto.Bool(true), Cache: proto.Bool(o.cache),
		}},
	}
	if o.ignoreShutdown {
		cmd.Environment = &mesospb.Environment{Variables: []*mesospb.Environment_Variable{{
			Name: proto.String("TESTEXECUTOR_IGNORE_SHUTDOWN"), Value: proto.String("1"),
		}}}
	}
	info := &mesospb.ExecutorInfo{
		Type:       mesospb.ExecutorInfo_CUSTOM.Enum(),
		ExecutorId: &mesospb.ExecutorID{Value: proto.String(id)},
		Name:       proto.String("e2e test executor " + id),
		Command:    cmd,
		Resources:  executorRes.ToProto("*", false),
	}
	if o.grace > 0 {
		info.ShutdownGracePeriod = &mesospb.DurationInfo{Nanoseconds: proto.Int64(int64(o.grace))}
	}
	return info
}

// executorTask is a task for executor ex running script (see
// e2e/testexecutor).
func executorTask(id string, ex *mesospb.ExecutorInfo, res resources.Resources, script string) *mesospb.TaskInfo {
	return &mesospb.TaskInfo{
		Name:      proto.String(id),
		TaskId:    &mesospb.TaskID{Value: proto.String(id)},
		Resources: res.ToProto("*", false),
		Executor:  ex,
		Data:      []byte(script),
	}
}

// launchOn accepts offer with a LAUNCH of tasks (agent ids filled in),
// returning the rest of the offer at once (refuse_seconds 0).
func (f *framework) launchOn(offer *mesospb.Offer, tasks ...*mesospb.TaskInfo) {
	f.t.Helper()
	for _, t := range tasks {
		t.AgentId = offer.GetAgentId()
	}
	err := f.client.Accept(context.Background(), []*mesospb.OfferID{offer.GetId()},
		[]*mesospb.Offer_Operation{{
			Type:   mesospb.Offer_Operation_LAUNCH.Enum(),
			Launch: &mesospb.Offer_Operation_Launch{TaskInfos: tasks},
		}}, &mesospb.Filters{RefuseSeconds: proto.Float64(0)})
	if err != nil {
		f.t.Fatalf("accept: %v", err)
	}
}

// waitEvent waits for a FAILURE / MESSAGE / RESCIND event matching match
// and returns it.
func (f *framework) waitEvent(timeout time.Duration, what string, match func(*schedulerpb.Event) bool) *schedulerpb.Event {
	f.t.Helper()
	var got *schedulerpb.Event
	f.waitFor(timeout, what, func() bool {
		for _, ev := range f.events {
			if match(ev) {
				got = ev
				return true
			}
		}
		return false
	})
	return got
}

// waitMessage waits for a message from executor exID starting with prefix
// and returns its data.
func (f *framework) waitMessage(exID, prefix string) string {
	f.t.Helper()
	ev := f.waitEvent(time.Minute, "a message "+prefix+"... from "+exID, func(ev *schedulerpb.Event) bool {
		m := ev.GetMessage()
		return ev.GetType() == schedulerpb.Event_MESSAGE && m.GetExecutorId().GetValue() == exID &&
			strings.HasPrefix(string(m.GetData()), prefix)
	})
	return string(ev.GetMessage().GetData())
}

// waitFailure waits for the FAILURE event of executor exID.
func (f *framework) waitFailure(exID string) *schedulerpb.Event_Failure {
	f.t.Helper()
	return f.waitEvent(time.Minute, "the FAILURE of executor "+exID, func(ev *schedulerpb.Event) bool {
		return ev.GetType() == schedulerpb.Event_FAILURE && ev.GetFailure().GetExecutorId().GetValue() == exID
	}).GetFailure()
}

// message sends data to executor exID on agent.
func (f *framework) message(agent *mesospb.AgentID, exID, data string) {
	f.t.Helper()
	if err := f.client.Message(context.Background(), agent, &mesospb.ExecutorID{Value: proto.String(exID)}, []byte(data)); err != nil {
		f.t.Fatalf("message %q: %v", data, err)
	}
}

// statesOf lists the states a task went through, in order.
//
// Updates are delivered at least once: an update the agent re-sent before
// the acknowledgement of the first copy reached it arrives twice in a row,
// so repeats are folded.
func (f *framework) statesOf(taskID string) []mesospb.TaskState {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []mesospb.TaskState
	for _, u := range f.updates {
		if u.GetTaskId().GetValue() == taskID {
			out = append(out, u.GetState())
		}
	}
	return slices.Compact(out)
}

// takeWholeOffer waits for one offer holding need, declining the partial
// offers that come while resources are still being returned piecemeal (an
// offer kept by the framework is never merged with resources freed later).
func (f *framework) takeWholeOffer(need resources.Resources) *mesospb.Offer {
	f.t.Helper()
	var offer *mesospb.Offer
	eventually(f.t, time.Minute, func() error {
		f.mu.Lock()
		for id, o := range f.offers {
			if have, err := resources.FromProto(o.GetResources()); err == nil && have.Contains(need) {
				offer = o
				delete(f.offers, id)
			}
		}
		f.mu.Unlock()
		if offer != nil {
			return nil
		}
		f.declineAll()
		return fmt.Errorf("no offer holds %s yet", need)
	})
	return offer
}

// pendingUpdates reads an agent's count of unacknowledged status updates.
func pendingUpdates(a *proc) error {
	var m map[string]float64
	if err := getJSON(a.url("/metrics/snapshot"), &m); err != nil {
		return err
	}
	if n := m["slave/status_updates_pending"]; n != 0 {
		return fmt.Errorf("%s: %v updates not acknowledged", a.name, n)
	}
	return nil
}

// agentExecutorDir finds the sandbox of an executor in an agent's /state
// (running or completed).
func agentExecutorDir(a *proc, exID string) (string, error) {
	var st struct {
		Frameworks []struct {
			Executors          []struct{ ID, Directory string } `json:"executors"`
			CompletedExecutors []struct{ ID, Directory string } `json:"completed_executors"`
		} `json:"frameworks"`
	}
	if err := getJSON(a.url("/state"), &st); err != nil {
		return "", err
	}
	for _, fw := range st.Frameworks {
		for _, e := range append(fw.Executors, fw.CompletedExecutors...) {
			if e.ID == exID {
				return e.Directory, nil
			}
		}
	}
	return "", fmt.Errorf("executor %s not in %s's state", exID, a.name)
}

// writeFile writes a file for a test and returns its path.
func writeFile(t testing.TB, dir, name string, data []byte, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
	return p
}
