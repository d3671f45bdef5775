package rdd

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/rddpb"
	"github.com/mesoproject/meso/api/rddpb/rddpbconnect"
	"github.com/mesoproject/meso/rdd/internal/task"
)

func TestMesosMasters(t *testing.T) {
	for m, want := range map[string][]string{
		"local[2]":                          nil,
		"mesos://127.0.0.1:5050":            {"127.0.0.1:5050"},
		"mesos://h1:1,h2:2/":                {"h1:1", "h2:2"},
		"mesos://127.0.0.1:5050/, h2:5051 ": {"127.0.0.1:5050", "h2:5051"},
	} {
		got, err := mesosMasters(m)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("mesosMasters(%q) = %q, %v; want %q", m, got, err, want)
		}
	}
	for _, m := range []string{"mesos://", "mesos://a,,b", "mesos://h:1/path"} {
		if _, err := mesosMasters(m); !errors.Is(err, ErrConfig) {
			t.Errorf("mesosMasters(%q): %v, want ErrConfig", m, err)
		}
	}
}

// Cluster settings are kept by their Spark names; unknown others still
// fail.
func TestConfigClusterSettings(t *testing.T) {
	var c Config
	for k, v := range map[string]string{"spark.cores.max": "4", "spark.mesos.role": "analytics",
		"spark.executor.memory": "1g", "spark.executorEnv.FOO": "bar"} {
		if err := c.Set(k, v); err != nil {
			t.Fatal(err)
		}
		if c.Cluster[k] != v {
			t.Fatalf("%s: %q", k, c.Cluster[k])
		}
	}
	if err := c.Set("spark.nope", "1"); !errors.Is(err, ErrConfig) {
		t.Fatalf("unknown setting: %v", err)
	}
	if _, err := start(Config{Master: "mesos://127.0.0.1:1", Cluster: map[string]string{"spark.cores.max": "x"}}); !errors.Is(err, ErrConfig) ||
		!strings.Contains(err.Error(), "spark.cores.max") {
		t.Fatalf("bad spark.cores.max: %v", err)
	}
}

// A pipeline and results survive their wire form; prepared values and
// accumulator updates arrive gob-encoded and decode to their types.
func TestWireRoundTrip(t *testing.T) {
	p := &task.Pipeline{Name: "groupBy at x.go:1", Invocation: &task.Invocation{Func: 3, Args: [][]byte{{1, 2}}},
		Target: task.NodeRef{ID: 7, Local: 2}, Shuffle: 4,
		Nodes: []task.Node{{NodeRef: task.NodeRef{ID: 7, Local: 2}, Partitions: 5, Prepared: []int64{0, 10, 20},
			Splits: []task.Split{{Path: "/a", Start: 1, End: 9}}}},
		Shuffles:     []task.Shuffle{{ID: 4, Map: task.NodeRef{ID: 6, Local: 1}, Reduce: task.NodeRef{ID: 7, Local: 2}, Maps: 5, Reducers: 3}},
		Accumulators: []int64{11}, Broadcasts: []int64{12}, Result: resultTakeOrdered,
		ResultFuncs: []int{4, 0, 300}, ResultArgs: [][]byte{{1}, {}, {2, 3}}, Fingerprint: "fp"}
	pp, err := pipelineToProto(1, p)
	if err != nil {
		t.Fatal(err)
	}
	// Through the bytes the RPC sends.
	wire, err := proto.Marshal(pp)
	if err != nil {
		t.Fatal(err)
	}
	pp = &rddpb.Pipeline{}
	if err := proto.Unmarshal(wire, pp); err != nil {
		t.Fatal(err)
	}
	got, err := pipelineFromProto(pp)
	if err != nil {
		t.Fatal(err)
	}
	prep := got.Nodes[0].Prepared.(gobValue)
	got.Nodes[0].Prepared = p.Nodes[0].Prepared
	if !reflect.DeepEqual(got, p) {
		t.Fatalf("pipeline\n got %+v\nwant %+v", got, p)
	}
	if v, err := gobDecode[[]int64](prep); err != nil || !reflect.DeepEqual(v, []int64{0, 10, 20}) {
		t.Fatalf("prepared %v, %v", v, err)
	}
	if _, err := pipelineToProto(2, &task.Pipeline{Name: "x", NotPortable: "why"}); !errors.Is(err, ErrNotPortable) {
		t.Fatalf("not portable: %v", err)
	}
	id := task.ID{Job: 1, Stage: 2, StageAttempt: 1, Shuffle: -1, Partition: 3, Attempt: 2}
	r := resultFromProto("e1", resultToProto(task.Result{ID: id, Value: []byte("recs"), Accums: map[int64]any{11: int64(5)}}))
	if r.ID != id || string(r.Value.([]byte)) != "recs" || r.Err != nil {
		t.Fatalf("result %+v", r)
	}
	a := &Accumulator[int64]{ID: 11, merge: func(a, b int64) int64 { return a + b }}
	if err := a.mergeAny(r.Accums[11]); err != nil || a.Value() != 5 {
		t.Fatalf("accumulator %d, %v", a.Value(), err)
	}
	f := resultFromProto("e1", resultToProto(task.Result{ID: id, Err: errors.New("gone"), Fetch: &task.FetchFailure{Shuffle: 4, Maps: []int{1, 3}}}))
	if f.Fetch == nil || f.Fetch.Shuffle != 4 || !reflect.DeepEqual(f.Fetch.Maps, []int{1, 3}) || !strings.Contains(f.Err.Error(), "gone") {
		t.Fatalf("fetch failure %+v", f)
	}
	// A task error keeps its TaskError: a panic's value as text, its stack.
	for _, te := range []*TaskError{
		{Job: 1, Stage: 2, StageName: "map at x.go:3", Partition: 3, Attempt: 2, Panic: 63, Stack: "x.go:4", Err: errPanic},
		{Job: 1, Stage: 2, StageName: "map at x.go:3", Partition: 3, Attempt: 2, Err: errors.New("bad input")},
	} {
		e := resultFromProto("e1", resultToProto(task.Result{ID: id, Err: fmt.Errorf("wrapped: %w", te)})).Err
		var got *TaskError
		if !errors.As(e, &got) || !errors.Is(e, errRemote) || got.Job != 1 || got.Stage != 2 || got.StageName != te.StageName ||
			got.Partition != 3 || got.Attempt != 2 || got.Stack != te.Stack || got.Error() != te.Error() ||
			(te.Panic != nil) != (got.Panic == "63") || !strings.Contains(e.Error(), "on the executor e1") {
			t.Fatalf("task error %v: got %#v (%v)", te, got, e)
		}
	}
}

func TestCompareRegistry(t *testing.T) {
	if err := compareRegistry([]string{"a.go:1", "b.go:2"}, []string{"a.go:1", "b.go:2"}); err != nil {
		t.Fatal(err)
	}
	err := compareRegistry([]string{"a.go:1", "b.go:2"}, []string{"a.go:1", "c.go:3", "b.go:2"})
	if !errors.Is(err, ErrRegistry) || !strings.Contains(err.Error(), "Func 1 is registered at b.go:2 on the driver and at c.go:3") {
		t.Fatalf("%v", err)
	}
	if err := compareRegistry([]string{"a.go:1"}, nil); err == nil || !strings.Contains(err.Error(), "(none)") {
		t.Fatalf("%v", err)
	}
}

// The network-shuffle settings reach the executors' fetcher by their Spark
// names; bad values are errors naming the setting.
func TestFetcherConfig(t *testing.T) {
	fc, err := fetcherConfig(map[string]string{"spark.reducer.maxSizeInFlight": "4m", "spark.shuffle.io.maxRetries": "0",
		"spark.shuffle.io.retryWait": "1s", "spark.network.timeout": "2min"})
	if err != nil || fc.MaxBytesInFlight != 4<<20 || fc.MaxRetries != -1 || fc.RetryWait != time.Second || fc.Timeout != 2*time.Minute {
		t.Fatalf("%+v, %v", fc, err)
	}
	if !fc.HostLocal { // spark.shuffle.readHostLocalDisk defaults to true, as in Spark 3
		t.Error("host-local reads off by default")
	}
	if fc, err := fetcherConfig(map[string]string{keyReadHostLocalDisk: "false"}); err != nil || fc.HostLocal {
		t.Errorf("%s=false: HostLocal %v, %v", keyReadHostLocalDisk, fc.HostLocal, err)
	}
	for k, v := range map[string]string{"spark.reducer.maxSizeInFlight": "-1", "spark.shuffle.io.maxRetries": "x",
		"spark.shuffle.io.retryWait": "soon", "spark.network.timeout": "0", keyReadHostLocalDisk: "maybe"} {
		if _, err := fetcherConfig(map[string]string{k: v}); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: %v", k, v, err)
		}
	}
	var c Config
	if err := c.Set("spark.reducer.maxSizeInFlight", "4m"); err != nil || c.Cluster["spark.reducer.maxSizeInFlight"] != "4m" {
		t.Fatalf("Set: %v", err)
	}
	if err := c.Set(keyReadHostLocalDisk, "false"); err != nil || c.Cluster[keyReadHostLocalDisk] != "false" {
		t.Fatalf("Set: %v", err)
	}
}

// The driver's RPC serves only the application's executors: a client
// without the token (anyone who can reach the driver's port) cannot
// register, take tasks or report results, and Register does not hand the
// token out; with the token, Register works.
func TestDriverRPCNeedsTheToken(t *testing.T) {
	s, err := Start(Config{Master: "local[1]", LocalDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, _, err := newCluster(s, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.srv.Close()
	ctx := t.Context()
	for _, tok := range []string{"", "wrong"} {
		cl := rddpbconnect.NewDriverServiceClient(&http.Client{Transport: withToken{tok, &http.Transport{Protocols: h2c(false)}}}, c.url)
		_, err := cl.Register(ctx, connect.NewRequest(&rddpb.RegisterRequest{ExecutorId: "rogue", Slots: 1000, Registry: registrySites()}))
		if connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Errorf("token %q: Register: %v, want unauthenticated", tok, err)
		}
		_, err = cl.PollTasks(ctx, connect.NewRequest(&rddpb.PollTasksRequest{ExecutorId: "rogue"}))
		if connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Errorf("token %q: PollTasks: %v, want unauthenticated", tok, err)
		}
		rogue := &executor{driverURL: c.url, results: resultsClient(tok, 1)}
		_, err = rogue.report(ctx, &rddpb.ReportResultsRequest{ExecutorId: "rogue"})
		if re := (*errReport)(nil); !errors.As(err, &re) || re.status != "401 Unauthorized" {
			t.Errorf("token %q: result report: %v, want 401", tok, err)
		}
	}
	if n := c.pool.Len(); n != 0 {
		t.Fatalf("%d executors registered without the token", n)
	}
	cl := rddpbconnect.NewDriverServiceClient(&http.Client{Transport: withToken{c.token, &http.Transport{Protocols: h2c(false)}}}, c.url)
	resp, err := cl.Register(ctx, connect.NewRequest(&rddpb.RegisterRequest{ExecutorId: "e0", Slots: 1, Registry: registrySites()}))
	if err != nil {
		t.Fatalf("Register with the token: %v", err)
	}
	if resp.Msg.GetShuffleToken() != "" {
		t.Fatal("Register handed out the application's token")
	}
}

// A task's map locations name each distinct server once, and the executor
// reads back every map output's address: missing outputs and outputs of a
// lost executor have none, and a server index out of the table is refused.
func TestMapLocationsServerTable(t *testing.T) {
	c := &cluster{execs: map[string]*remoteExec{
		"e0": {addr: "127.0.0.1:1"}, "e1": {addr: "127.0.0.1:2"}, "e2": {addr: "127.0.0.1:3", gone: true},
	}}
	execs := []string{"e0", "e1", "", "e1", "e2", "e0", "e9"}
	ml := mapLocs{&rddpb.MapLocations{Shuffle: 3, Sizes: []int64{1, 2, 3, 4, 5, 6, 7}}, execs}
	locs := c.addressesLocked([]mapLocs{ml})
	if len(locs) != 1 || len(locs[0].GetServers()) != 2 {
		t.Fatalf("servers %v, want the 2 live executors' addresses once each", locs[0].GetServers())
	}
	b, err := proto.Marshal(locs[0])
	if err != nil {
		t.Fatal(err)
	}
	back := &rddpb.MapLocations{}
	if err := proto.Unmarshal(b, back); err != nil {
		t.Fatal(err)
	}
	got, ok := mapAddresses(back)
	want := []string{"127.0.0.1:1", "127.0.0.1:2", "", "127.0.0.1:2", "", "127.0.0.1:1", ""}
	if !ok || !slices.Equal(got, want) {
		t.Fatalf("addresses %q (%v), want %q", got, ok, want)
	}
	back.Server[1] = 3
	if _, ok := mapAddresses(back); ok {
		t.Fatal("a server index past the table was accepted")
	}
}
