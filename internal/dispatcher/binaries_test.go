package dispatcher

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/authn"
	"github.com/mesoproject/meso/internal/resources"
)

func call(t *testing.T, method, url, user, pass string, body []byte) (int, Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var r Response
	_ = json.Unmarshal(data, &r)
	return resp.StatusCode, r, data
}

// serve starts a Service of cfg behind a test server.
func serve(t *testing.T, cfg Config) (*Service, *httptest.Server) {
	t.Helper()
	s, err := NewService(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return s, srv
}

// submit creates a submission of a driver of resource (64m of memory) as user.
func submit(t *testing.T, base, user, pass, resource string) (int, Response, []byte) {
	t.Helper()
	b, _ := json.Marshal(CreateRequest{Action: "CreateSubmissionRequest", AppResource: resource,
		SparkProperties: map[string]string{"spark.driver.memory": "64m"}})
	return call(t, "POST", base+"/v1/submissions/create", user, pass, b)
}

// An uploaded program is stored under its sha256 and answered as an
// upload:// appResource; a driver's task fetches it from the dispatcher's
// URL with a token, which a dispatcher restarted on the same work dir
// still honours; uploads need credentials, are bounded, and a submission
// naming a program never uploaded is refused.
func TestUploadedProgram(t *testing.T) {
	creds, err := authn.New([]authn.Credential{{Principal: "alice", Secret: "s3cret"}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	srv := httptest.NewUnstartedServer(nil)
	cfg := Config{Master: "127.0.0.1:5050", WorkDir: dir, Credentials: creds, URL: "http://" + srv.Listener.Addr().String(), MaxUpload: 1 << 20}
	s, err := NewService(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = s.Handler()
	srv.Start()
	defer srv.Close()
	program := []byte("#!/bin/sh\necho hello\n")
	sum := sha256.Sum256(program)
	hash := hex.EncodeToString(sum[:])

	if code, _, _ := call(t, "POST", srv.URL+"/v1/binaries?name=prog", "", "", program); code != http.StatusUnauthorized {
		t.Fatalf("upload without credentials: %d, want 401", code)
	}
	code, r, body := call(t, "POST", srv.URL+"/v1/binaries?name=prog", "alice", "s3cret", program)
	if code != http.StatusOK || r.AppResource != UploadScheme+hash+"/prog" {
		t.Fatalf("upload: %d %s", code, body)
	}
	for _, bad := range []struct {
		url  string
		body []byte
		code int
		want string
	}{
		{"/v1/binaries?name=../x", program, http.StatusBadRequest, "file name"},
		{"/v1/binaries", program, http.StatusBadRequest, "file name"},
		{"/v1/binaries?name=empty", nil, http.StatusBadRequest, "empty"},
		{"/v1/binaries?name=big", bytes.Repeat([]byte("x"), 1<<20+1), http.StatusRequestEntityTooLarge, "limit"},
	} {
		if code, r, _ := call(t, "POST", srv.URL+bad.url, "alice", "s3cret", bad.body); code != bad.code || !strings.Contains(r.Message, bad.want) {
			t.Errorf("POST %s: %d %q, want %d naming %q", bad.url, code, r.Message, bad.code, bad.want)
		}
	}

	create := func(resource string) (int, Response) {
		code, r, _ := submit(t, srv.URL, "alice", "s3cret", resource)
		return code, r
	}
	if code, r := create(UploadScheme + strings.Repeat("0", 64) + "/prog"); code != http.StatusBadRequest || !strings.Contains(r.Message, "no such uploaded program") {
		t.Errorf("a program never uploaded: %d %q", code, r.Message)
	}
	if code, r := create(UploadScheme + "abc/prog"); code != http.StatusBadRequest || !strings.Contains(r.Message, "sha256") {
		t.Errorf("a malformed upload resource: %d %q", code, r.Message)
	}
	code, r = create(r.AppResource)
	if code != http.StatusOK {
		t.Fatalf("create: %d %+v", code, r)
	}
	d, _ := s.Status(r.SubmissionID)
	launch := func(s *Service) *mesospb.TaskInfo {
		t.Helper()
		task, err := s.taskInfo(Launch{OfferID: "o", AgentID: "a", TaskID: d.ID, DriverID: d.ID, Desc: d.Desc})
		if err != nil {
			t.Fatal(err)
		}
		return task
	}
	task := launch(s)
	uri := task.GetCommand().GetUris()[0].GetValue()
	if !strings.HasPrefix(uri, cfg.URL+"/v1/binaries/"+hash+"/") || !strings.HasSuffix(uri, "/prog") ||
		!strings.HasPrefix(task.GetCommand().GetValue(), "./prog --master mesos://127.0.0.1:5050") {
		t.Fatalf("task fetches %s and runs %s", uri, task.GetCommand().GetValue())
	}
	// The fetcher has no credentials: the token is enough; a wrong one is 404.
	if code, _, got := call(t, "GET", uri, "", "", nil); code != http.StatusOK || !bytes.Equal(got, program) {
		t.Fatalf("fetch %s: %d %q", uri, code, got)
	}
	wrong := cfg.URL + "/v1/binaries/" + hash + "/" + strings.Repeat("0", 32) + "/prog"
	if code, _, _ := call(t, "GET", wrong, "", "", nil); code != http.StatusNotFound {
		t.Errorf("fetch with a wrong token: %d, want 404", code)
	}

	// A dispatcher restarted on the work dir serves the same URI.
	s2, err := NewService(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv2 := httptest.NewServer(s2.Handler())
	defer srv2.Close()
	d2, ok := s2.Status(d.ID)
	if !ok {
		t.Fatal("the restarted dispatcher lost the driver")
	}
	d = d2
	if again := launch(s2).GetCommand().GetUris()[0].GetValue(); again != uri {
		t.Fatalf("after a restart the task fetches %s, want %s", again, uri)
	}
	if code, _, got := call(t, "GET", strings.Replace(uri, cfg.URL, srv2.URL, 1), "", "", nil); code != http.StatusOK || !bytes.Equal(got, program) {
		t.Fatalf("fetch from the restarted dispatcher: %d", code)
	}
}

// A driver in a Docker image: a DOCKER container with the image, volumes
// and force-pull, and a command without a shell (value, arguments) that
// carries the submission label and, for a relaunch, the framework to fail
// over to; local:/// names a program in the image; bad settings are
// refused naming the key.
func TestDockerDriver(t *testing.T) {
	s, err := NewService(Config{Master: "127.0.0.1:5050", WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	req := CreateRequest{Action: "CreateSubmissionRequest", AppResource: "local:///groupby", AppArgs: []string{"--n", "10"},
		SparkProperties: map[string]string{"spark.mesos.executor.docker.image": "meso/groupby:1",
			"spark.mesos.executor.docker.volumes": "/srv/data:/data:ro", "spark.mesos.executor.docker.forcePullImage": "true",
			"spark.mesos.driver.labels": "team:a"}}
	d, err := req.Description("m:5050")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.URIs) != 0 || !strings.HasPrefix(d.Command, "/groupby --master") {
		t.Fatalf("local:///groupby: URIs %v, command %s", d.URIs, d.Command)
	}
	d.Resources = resources.MustParse("cpus:1;mem:512")
	task, err := s.taskInfo(Launch{TaskID: "t", DriverID: "driver-1", AgentID: "a", FrameworkID: "fw-1", Desc: d})
	if err != nil {
		t.Fatal(err)
	}
	c, ci := task.GetCommand(), task.GetContainer()
	want := "--master mesos://m:5050 --conf spark.mesos.driver.frameworkId=fw-1 --conf spark.mesos.driver.labels=team:a,meso.dispatcher.submission:driver-1 " +
		"--conf spark.mesos.executor.docker.forcePullImage=true --conf spark.mesos.executor.docker.image=meso/groupby:1 " +
		"--conf spark.mesos.executor.docker.volumes=/srv/data:/data:ro --n 10"
	if c.GetShell() || c.GetValue() != "/groupby" || strings.Join(c.GetArguments(), " ") != want {
		t.Fatalf("command shell=%v value=%q arguments %q, want %q", c.GetShell(), c.GetValue(), c.GetArguments(), want)
	}
	if ci.GetType() != mesospb.ContainerInfo_DOCKER || ci.GetDocker().GetImage() != "meso/groupby:1" || !ci.GetDocker().GetForcePullImage() ||
		len(ci.GetVolumes()) != 1 || ci.GetVolumes()[0].GetHostPath() != "/srv/data" || ci.GetVolumes()[0].GetMode() != mesospb.Volume_RO {
		t.Fatalf("container %v", ci)
	}
	// Without an image the driver runs in no container, by the shell.
	plain := CreateRequest{Action: "CreateSubmissionRequest", AppResource: "http://files/groupby",
		SparkProperties: map[string]string{"spark.mesos.containerizer": "docker"}}
	if d, err := plain.Description("m:5050"); err != nil || d.Container != nil {
		t.Fatalf("no image: %v %v", d.Container, err)
	}
	for _, bad := range []struct {
		res   string
		props map[string]string
		want  string
	}{
		{"x", map[string]string{"spark.mesos.executor.docker.image": "i", "spark.mesos.containerizer": "lxc"}, "spark.mesos.containerizer"},
		{"x", map[string]string{"spark.mesos.executor.docker.image": "i", "spark.mesos.executor.docker.volumes": "a:b:c:d"}, "spark.mesos.executor.docker.volumes"},
		{"x", map[string]string{"spark.mesos.executor.docker.image": "i", "spark.mesos.executor.docker.forcePullImage": "maybe"}, "forcePullImage"},
		{"local://relative", nil, "local:///absolute/path"},
	} {
		r := CreateRequest{Action: "CreateSubmissionRequest", AppResource: bad.res, SparkProperties: bad.props}
		if _, err := r.Description("m:5050"); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%v: error %v, want one naming %s", bad.props, err, bad.want)
		}
	}
}

// Uploaded programs no driver names are deleted once UploadGrace old; a
// program a driver names (queued here) is kept however old, a young one
// too, and so is a recent upload's temp file but not a stale one. A
// submission naming a deleted program is refused as never uploaded.
func TestSweepBinaries(t *testing.T) {
	dir := t.TempDir()
	s, srv := serve(t, Config{Master: "127.0.0.1:5050", WorkDir: dir, URL: "http://127.0.0.1:1"})
	upload := func(body string) string {
		code, r, data := call(t, "POST", srv.URL+"/v1/binaries?name=prog", "", "", []byte(body))
		if code != http.StatusOK {
			t.Fatalf("upload: %d %s", code, data)
		}
		return r.AppResource
	}
	create := func(resource string) (int, Response) {
		code, r, _ := submit(t, srv.URL, "", "", resource)
		return code, r
	}
	named, unused, young := upload("named"), upload("unused"), upload("young")
	if code, r := create(named); code != http.StatusOK {
		t.Fatalf("create: %d %+v", code, r)
	}
	hashOf := func(resource string) string { h, _, _ := ParseUpload(resource); return h }
	now := time.Now()
	old := now.Add(-UploadGrace - time.Minute)
	bin := filepath.Join(dir, "binaries")
	for _, f := range []string{hashOf(named), hashOf(unused)} {
		if err := os.Chtimes(filepath.Join(bin, f), old, old); err != nil {
			t.Fatal(err)
		}
	}
	for name, mtime := range map[string]time.Time{".upload-stale": old, ".upload-fresh": now} {
		p := filepath.Join(bin, name)
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	if gone := s.SweepBinaries(now); !slices.Equal(gone, []string{hashOf(unused)}) {
		t.Fatalf("deleted %v, want only %s", gone, hashOf(unused))
	}
	var left []string
	entries, _ := os.ReadDir(bin)
	for _, e := range entries {
		left = append(left, e.Name())
	}
	want := []string{".upload-fresh", hashOf(named), hashOf(young)}
	slices.Sort(want)
	if !slices.Equal(left, want) {
		t.Fatalf("left %v, want %v", left, want)
	}
	if code, r := create(unused); code != http.StatusBadRequest || !strings.Contains(r.Message, "no such uploaded program") {
		t.Fatalf("a submission of the deleted program: %d %q", code, r.Message)
	}
}

// spark.mesos.maxDrivers over the submission API: a full queue refuses a
// submission as Spark's dispatcher does (200, success false, saying why).
func TestQueueFull(t *testing.T) {
	_, srv := serve(t, Config{Master: "127.0.0.1:5050", WorkDir: t.TempDir(), MaxDrivers: 1})
	if code, r, data := submit(t, srv.URL, "", "", "http://x/prog"); code != http.StatusOK || r.Success == nil || !*r.Success {
		t.Fatalf("first submission: %d %s", code, data)
	}
	code, r, data := submit(t, srv.URL, "", "", "http://x/prog")
	if code != http.StatusOK || r.Action != "CreateSubmissionResponse" || r.Success == nil || *r.Success ||
		!strings.Contains(r.Message, "queue is full") {
		t.Fatalf("second submission: %d %s", code, data)
	}
}

// The status of a launched driver names its agent (Spark's workerId), its
// Mesos task and the task's page in the master's web UI (its sandbox).
func TestStatusNamesTheTask(t *testing.T) {
	s, srv := serve(t, Config{Master: "127.0.0.1:5050", WorkDir: t.TempDir()})
	_, r, _ := submit(t, srv.URL, "", "", "http://x/prog")
	id := r.SubmissionID
	s.mu.Lock()
	s.fwID = "fw1"
	l := s.core.Offers([]Offer{{ID: "o1", AgentID: "ag1", Resources: resources.MustParse("cpus:2;mem:2048")}}, time.Now())
	s.mu.Unlock()
	if len(l) != 1 {
		t.Fatalf("launches %v", l)
	}
	_, r, data := call(t, "GET", srv.URL+"/v1/submissions/status/"+id, "", "", nil)
	if r.DriverState != "RUNNING" || r.WorkerID != "ag1" || r.TaskID != l[0].TaskID ||
		r.TaskURL != "http://127.0.0.1:5050/#/tasks/fw1/"+l[0].TaskID {
		t.Fatalf("status %s", data)
	}
}
