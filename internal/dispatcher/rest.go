package dispatcher

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/mesoproject/meso/internal/httpbound"
	"github.com/mesoproject/meso/internal/mesosflag"
	"github.com/mesoproject/meso/internal/resources"
	"github.com/mesoproject/meso/internal/webui"
	"github.com/mesoproject/meso/rdd"
)

// The submission API is Spark's REST submission protocol (what
// `spark-submit --deploy-mode cluster --master mesos://dispatcher:7077`
// speaks): POST /v1/submissions/create, GET /v1/submissions/status/ID,
// POST /v1/submissions/kill/ID, JSON bodies tagged by "action".

// ServerVersion is what the server reports as serverSparkVersion.
const ServerVersion = "3.5.0"

// CreateRequest is Spark's CreateSubmissionRequest.
type CreateRequest struct {
	Action               string            `json:"action"`
	AppResource          string            `json:"appResource"`
	MainClass            string            `json:"mainClass,omitempty"`
	AppArgs              []string          `json:"appArgs"`
	SparkProperties      map[string]string `json:"sparkProperties"`
	EnvironmentVariables map[string]string `json:"environmentVariables"`
	ClientSparkVersion   string            `json:"clientSparkVersion"`
}

// Response is the union of Spark's submission responses.
type Response struct {
	Action             string `json:"action"`
	ServerSparkVersion string `json:"serverSparkVersion"`
	SubmissionID       string `json:"submissionId,omitempty"`
	Success            *bool  `json:"success,omitempty"`
	DriverState        string `json:"driverState,omitempty"`
	Message            string `json:"message,omitempty"`
	// AppResource answers an upload (not a Spark field): the appResource
	// that names the uploaded program.
	AppResource string `json:"appResource,omitempty"`
	// WorkerID is Spark's field for where the driver runs: the Mesos
	// agent of its current (or last) attempt.
	WorkerID string `json:"workerId,omitempty"`
	// TaskID and TaskURL (not Spark fields) name the attempt's Mesos task
	// and its page in the master's web UI, which browses its sandbox.
	TaskID  string `json:"taskId,omitempty"`
	TaskURL string `json:"taskUrl,omitempty"`
}

// maxBody bounds a submission's body.
const maxBody = 1 << 20

// Description builds the driver a create request asks for: the program
// (appResource: fetched into the sandbox when it is an upload:// program,
// a URI or an absolute path; local:///path is a path on the agent or in
// the driver's image) runs as `./<name> --master mesos://<master> [--conf k=v ...] <args>`,
// each Spark property given as --conf except those the dispatcher itself
// consumes (spark.master, spark.submit.deployMode, spark.driver.cores,
// spark.driver.memory, spark.mesos.driver.memoryOverhead,
// spark.driver.supervise, spark.app.name, spark.mesos.uris,
// spark.mesos.driver.constraints, spark.mesos.driver.frameworkId), and
// spark.mesos.driver.labels, given on with the submission's label added.
// The Docker settings (spark.mesos.executor.docker.image and friends) give
// the driver its container too.
func (r *CreateRequest) Description(master string) (Description, error) {
	if r.Action != "CreateSubmissionRequest" {
		return Description{}, fmt.Errorf("action %q is not CreateSubmissionRequest", r.Action)
	}
	if r.AppResource == "" {
		return Description{}, errors.New("appResource is required")
	}
	props := r.SparkProperties
	cores := 1.0
	if v, ok := props["spark.driver.cores"]; ok {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || !(f > 0) {
			return Description{}, fmt.Errorf("spark.driver.cores %q is not a positive number", v)
		}
		cores = f
	}
	memMB := 1024.0
	if v, ok := props["spark.driver.memory"]; ok {
		n, err := sparkMemory(v)
		if err != nil {
			return Description{}, fmt.Errorf("spark.driver.memory: %w", err)
		}
		memMB = n
	}
	overhead := max(384, 0.1*memMB)
	if v, ok := props["spark.mesos.driver.memoryOverhead"]; ok {
		n, err := sparkMemory(v)
		if err != nil {
			return Description{}, fmt.Errorf("spark.mesos.driver.memoryOverhead: %w", err)
		}
		overhead = n
	}
	res, err := resources.Parse(fmt.Sprintf("cpus:%g;mem:%g", cores, memMB+overhead))
	if err != nil {
		return Description{}, err
	}
	cons, err := resources.ParseConstraints(props["spark.mesos.driver.constraints"])
	if err != nil {
		return Description{}, fmt.Errorf("spark.mesos.driver.constraints: %w", err)
	}
	d := Description{Name: props["spark.app.name"], Env: r.EnvironmentVariables, Resources: res, Constraints: cons,
		Supervise: props["spark.driver.supervise"] == "true", Labels: props["spark.mesos.driver.labels"]}
	program := "./" + path.Base(r.AppResource)
	switch {
	case strings.HasPrefix(r.AppResource, "local://"):
		// Spark's local: a path on the agent, or in the driver's image.
		p := strings.TrimPrefix(r.AppResource, "local://")
		if !strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") {
			return Description{}, fmt.Errorf("appResource %q: want local:///absolute/path", r.AppResource)
		}
		program = p
	case strings.HasPrefix(r.AppResource, UploadScheme):
		_, name, err := ParseUpload(r.AppResource)
		if err != nil {
			return Description{}, err
		}
		program = "./" + name
		d.URIs = append(d.URIs, r.AppResource)
	case strings.Contains(r.AppResource, "://") || strings.HasPrefix(r.AppResource, "/"):
		d.URIs = append(d.URIs, r.AppResource)
	}
	for _, k := range []string{"spark.mesos.executor.docker.image", "spark.mesos.executor.docker.volumes",
		"spark.mesos.executor.docker.forcePullImage", "spark.mesos.containerizer"} {
		if v, ok := props[k]; ok {
			if d.Container == nil {
				d.Container = map[string]string{}
			}
			d.Container[k] = v
		}
	}
	if ci, err := rdd.DockerContainer(d.Container); err != nil {
		return Description{}, err
	} else if ci == nil {
		d.Container = nil // settings without an image: no container
	}
	for _, u := range strings.Split(props["spark.mesos.uris"], ",") {
		if u = strings.TrimSpace(u); u != "" {
			d.URIs = append(d.URIs, u)
		}
	}
	words := []string{program, "--master", "mesos://" + master}
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch k {
		case "spark.master", "spark.submit.deployMode", "spark.driver.cores", "spark.driver.memory",
			"spark.mesos.driver.memoryOverhead", "spark.driver.supervise", "spark.app.name", "spark.mesos.uris",
			"spark.mesos.driver.constraints", "spark.mesos.driver.labels", "spark.mesos.driver.frameworkId":
			continue
		}
		words = append(words, "--conf", k+"="+props[k])
	}
	words = append(words, r.AppArgs...)
	d.Argv = words
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = shellQuote(w)
	}
	// The driver's framework is labelled with its submission id, and a
	// relaunch fails over to the previous attempt's framework: both from
	// the task's environment (EnvSubmissionID, EnvFrameworkID), so that
	// one command serves every attempt.
	labels := "spark.mesos.driver.labels="
	if user := props["spark.mesos.driver.labels"]; user != "" {
		labels += user + ","
	}
	tail := append([]string{"${" + EnvFrameworkID + ":+--conf spark.mesos.driver.frameworkId=$" + EnvFrameworkID + "}",
		"--conf", shellQuote(labels) + `"` + SubmissionLabel + `:$` + EnvSubmissionID + `"`}, quoted[3:]...)
	d.Command = strings.Join(append(quoted[:3:3], tail...), " ")
	return d, nil
}

// The environment of a driver's task, and the label its framework gets.
const (
	EnvSubmissionID = "MESO_SUBMISSION_ID" // the driver's submission id
	EnvFrameworkID  = "MESO_FRAMEWORK_ID"  // a relaunch: the previous attempt's framework id
	SubmissionLabel = "meso.dispatcher.submission"
)

// sparkMemory parses Spark's memory strings (a plain number is MiB; k, m,
// g, t suffixes) into MiB.
func sparkMemory(v string) (float64, error) {
	s := strings.ToLower(strings.TrimSpace(v))
	if n, err := strconv.ParseFloat(s, 64); err == nil && n > 0 {
		return n, nil
	}
	b, err := mesosflag.ParseBytes(strings.TrimSuffix(s, "b") + "b")
	if err != nil || b <= 0 {
		return 0, fmt.Errorf("%q is not a memory size (e.g. 512m, 2g)", v)
	}
	return float64(b) / (1 << 20), nil
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Server returns an http.Server for the submission API under the HTTP
// bounds every meso listener has (header, body and idle timeouts, body
// memory budget; a body over 1 MiB is refused).
func (s *Service) Server() *http.Server { return s.bounds.Server(s.Handler()) }

// Handler serves the submission API and the web UI (ui.go); with
// Config.Credentials, only to requests with valid HTTP Basic credentials.
func (s *Service) Handler() http.Handler {
	bounds := s.bounds
	mux := http.NewServeMux()
	s.uiHandlers(mux)
	mux.HandleFunc("POST /v1/submissions/create", func(w http.ResponseWriter, r *http.Request) {
		body, release, err := bounds.ReadBody(w, r, maxBody)
		if err != nil {
			reply(w, httpbound.Status(err), errorResponse(err.Error()))
			return
		}
		defer release()
		var req CreateRequest
		if err := json.Unmarshal(body, &req); err != nil {
			reply(w, http.StatusBadRequest, errorResponse("malformed request: "+err.Error()))
			return
		}
		d, err := req.Description(s.cfg.Master)
		if err != nil {
			reply(w, http.StatusBadRequest, errorResponse(err.Error()))
			return
		}
		id, err := s.Submit(d)
		if errors.Is(err, ErrNoProgram) {
			reply(w, http.StatusBadRequest, errorResponse(err.Error()))
			return
		}
		if errors.Is(err, ErrQueueFull) { // as Spark's dispatcher: a refused submission, not an error
			reply(w, http.StatusOK, Response{Action: "CreateSubmissionResponse", Success: ptr(false), Message: err.Error()})
			return
		}
		if err != nil {
			reply(w, http.StatusInternalServerError, errorResponse(err.Error()))
			return
		}
		reply(w, http.StatusOK, Response{Action: "CreateSubmissionResponse", SubmissionID: id, Success: ptr(true),
			Message: "Driver queued as " + id})
	})
	mux.HandleFunc("GET /v1/submissions/status/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		d, ok := s.Status(id)
		if !ok {
			reply(w, http.StatusOK, Response{Action: "SubmissionStatusResponse", SubmissionID: id, Success: ptr(false),
				DriverState: "NOT_FOUND", Message: "no driver " + id})
			return
		}
		msg := d.Message
		if d.Retries > 0 {
			msg = strings.TrimSpace(fmt.Sprintf("%s (retries: %d)", msg, d.Retries))
		}
		s.mu.Lock()
		fwID := s.fwID
		s.mu.Unlock()
		u := s.uiDriver(d, webui.MasterURL(s.cfg.Master), fwID)
		reply(w, http.StatusOK, Response{Action: "SubmissionStatusResponse", SubmissionID: id, Success: ptr(true),
			DriverState: string(d.State), Message: msg, WorkerID: d.AgentID, TaskID: d.TaskID, TaskURL: u.TaskURL})
	})
	mux.HandleFunc("POST /v1/submissions/kill/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		msg, err := s.Kill(r.Context(), id)
		if err != nil {
			reply(w, http.StatusOK, Response{Action: "KillSubmissionResponse", SubmissionID: id, Success: ptr(false), Message: err.Error()})
			return
		}
		reply(w, http.StatusOK, Response{Action: "KillSubmissionResponse", SubmissionID: id, Success: ptr(true), Message: msg})
	})
	mux.HandleFunc("POST /v1/binaries", s.upload)
	// The agents' fetcher has no credentials: an uploaded program is
	// served to whoever holds its token.
	top := http.NewServeMux()
	top.HandleFunc("GET /v1/binaries/{hash}/{token}/{name}", s.serveBinary)
	top.Handle("/", s.cfg.Credentials.RequireIf(s.cfg.Credentials != nil, mux))
	return top
}

func ptr[T any](v T) *T { return &v }

func errorResponse(msg string) Response { return Response{Action: "ErrorResponse", Message: msg} }

func reply(w http.ResponseWriter, status int, r Response) {
	r.ServerSparkVersion = ServerVersion
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(r)
}
