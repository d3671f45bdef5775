package rdd

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/rddpb"
	"github.com/mesoproject/meso/rdd/internal/mesosbackend"
)

// The status data of a fine-grained task: a result in the update itself,
// one kept by the executor and fetched once with the application's token,
// and what is refused.
func TestFineResultData(t *testing.T) {
	big := &fineResults{m: map[string][]byte{}}
	want := &rddpb.TaskResult{Value: bytes.Repeat([]byte("v"), 100)}
	enc, err := proto.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	big.m["t1"] = enc
	mux := http.NewServeMux()
	mux.Handle("GET /result/{task}", tokenOnly("tok", big))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := &cluster{token: "tok", execs: map[string]*remoteExec{
		"e1": {id: "e1", addr: strings.TrimPrefix(srv.URL, "http://")},
	}}
	f := &fineExec{c: c, http: srv.Client()}
	check := func(what string, data []byte) {
		t.Helper()
		got, err := f.result("e1", data)
		if err != nil || !proto.Equal(got, want) {
			t.Errorf("%s: %v, %v; want the result", what, got, err)
		}
	}
	check("direct", append([]byte{resultDirect}, enc...))
	check("indirect", append([]byte{resultIndirect}, "/result/t1"...))
	if _, err := f.result("e1", append([]byte{resultIndirect}, "/result/t1"...)); !errors.Is(err, ErrExecutorLost) {
		t.Errorf("second fetch: %v, want ErrExecutorLost (a result is served once)", err)
	}
	if got, err := f.result("e1", nil); got != nil || err != nil {
		t.Errorf("no data: %v, %v; want no result", got, err)
	}
	for _, bad := range [][]byte{{7, 1}, {resultDirect, 0xff, 0xff}} {
		if _, err := f.result("e1", bad); err == nil {
			t.Errorf("%x: no error", bad)
		}
	}
	c.token = "other"
	big.m["t2"] = enc
	if _, err := f.result("e1", append([]byte{resultIndirect}, "/result/t2"...)); err == nil {
		t.Errorf("fetch with a wrong token succeeded")
	}
	if _, err := f.result("e9", append([]byte{resultIndirect}, "/result/t2"...)); !errors.Is(err, ErrExecutorLost) {
		t.Errorf("unknown executor: %v, want ErrExecutorLost", err)
	}
}

// FuzzFineResultData: status data from the network never panics the
// driver; a direct result decodes or errs.
func FuzzFineResultData(f *testing.F) {
	enc, _ := proto.Marshal(&rddpb.TaskResult{Value: []byte("x")})
	f.Add(append([]byte{resultDirect}, enc...))
	f.Add([]byte{resultIndirect, '/', 'x'})
	f.Add([]byte{})
	fe := &fineExec{c: &cluster{execs: map[string]*remoteExec{}}}
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := fe.result("e1", data)
		if err == nil && len(data) > 0 && res == nil {
			t.Fatalf("%x: no result and no error", data)
		}
	})
}

func TestFineSettings(t *testing.T) {
	s := mesosbackend.DefaultSettings()
	fs, err := fineSettings(map[string]string{}, s)
	if err != nil || fs.ExecutorCPUs != 1 || fs.TaskCPUs != 1 || fs.ExecutorMemMiB != float64(s.ExecutorMemoryMiB+s.MemoryOverheadMiB) {
		t.Errorf("defaults: %+v, %v", fs, err)
	}
	fs, err = fineSettings(map[string]string{keyMesosExecutorCPUs: "0.5", keyTaskCPUs: "2"}, s)
	if err != nil || fs.ExecutorCPUs != 0.5 || fs.TaskCPUs != 2 {
		t.Errorf("set: %+v, %v", fs, err)
	}
	for _, bad := range []map[string]string{{keyTaskCPUs: "0"}, {keyTaskCPUs: "x"}, {keyMesosExecutorCPUs: "-1"}} {
		if _, err := fineSettings(bad, s); !errors.Is(err, ErrConfig) {
			t.Errorf("%v: %v, want ErrConfig", bad, err)
		}
	}
}
