package agent

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/agent/lifecycle"
	"github.com/mesoproject/meso/internal/agent/statusupdate"
	"github.com/mesoproject/meso/internal/mesosflag"
	"github.com/mesoproject/meso/internal/operator"
	"github.com/mesoproject/meso/internal/present"
	"github.com/mesoproject/meso/internal/webui"
	"google.golang.org/protobuf/proto"
)

// Handler returns the agent's HTTP endpoints: the executor API, /state
// (also /slave(1)/state), /health and /metrics/snapshot. Serve uses it; it
// is exported so that tests and embedders can mount it elsewhere.
func (a *Agent) Handler() http.Handler {
	mux := http.NewServeMux()
	ro := func(h http.Handler) http.Handler {
		return a.cfg.Credentials.RequireIf(a.cfg.AuthenticateHTTPReadOnly, h)
	}
	rw := a.cfg.Credentials.RequireIf(a.cfg.AuthenticateHTTPReadWrite, http.HandlerFunc(a.serveOperator))
	mux.HandleFunc(ExecutorAPIPath, a.serveExecutor)
	// The master's web UI reads sandboxes through the operator API and the
	// files API from the master's origin: both answer its pages (CORS
	// outside authentication, so that preflight requests get an answer).
	masters := func() []string { return webui.MasterOrigins(a.cfg.Master) }
	mux.Handle(operator.Path, webui.CORS(rw, masters))
	mux.Handle("/slave(1)"+operator.Path, webui.CORS(rw, masters))
	state := ro(http.HandlerFunc(a.serveState))
	for _, p := range []string{"/state", "/state.json", "/slave(1)/state", "/slave(1)/state.json"} {
		mux.Handle(p, state)
	}
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.Handle("/metrics/snapshot", ro(http.HandlerFunc(a.serveMetrics)))
	mux.Handle("/metrics", ro(a.prometheusHandler()))
	for _, p := range []string{"/monitor/statistics", "/monitor/statistics.json", "/slave(1)/monitor/statistics", "/slave(1)/monitor/statistics.json"} {
		mux.Handle(p, ro(http.HandlerFunc(a.serveStatistics)))
	}
	mux.HandleFunc("/version", a.serveVersion)
	if files := a.filesHandler(); files != nil {
		mux.Handle("/files/", webui.CORS(ro(files), masters))
	}
	mux.Handle("/", webui.AgentPage(func() webui.AgentInfo {
		return webui.AgentInfo{ID: a.ID(), Version: Version, Master: webui.MasterURL(a.cfg.Master)}
	}))
	return mux
}

func writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	if r.URL.Query().Has("jsonp") || r.URL.Query().Get("pretty") == "true" {
		enc.SetIndent("", "  ")
	}
	_ = enc.Encode(v)
}

func (a *Agent) serveVersion(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, r, map[string]string{"version": Version})
}

func (a *Agent) serveState(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	v, meta := a.viewLocked(), a.stateMetaLocked()
	a.mu.Unlock()
	writeJSON(w, r, present.AgentStateJSON(v, meta))
}

// stateMetaLocked is what /state says beyond the view.
func (a *Agent) stateMetaLocked() present.AgentMeta {
	return present.AgentMeta{
		Version:        Version,
		StartTime:      float64(a.started.UnixNano()) / 1e9,
		ID:             a.core.Snapshot().AgentID,
		PID:            "slave(1)@" + a.endpoint,
		Info:           a.totalInfoLocked(),
		MasterHostname: a.link.masterInfo.GetHostname(),
		Flags:          a.flags(),
	}
}

// viewLocked describes the frameworks, executors and tasks for both
// renderings of the state (/state and GET_STATE). Its messages are copies.
func (a *Agent) viewLocked() present.AgentView {
	snap := a.core.Snapshot()
	var v present.AgentView
	for _, fw := range snap.Frameworks {
		v.Frameworks = append(v.Frameworks, a.frameworkView(snap.AgentID, fw))
	}
	for _, fw := range snap.Completed {
		v.Completed = append(v.Completed, a.frameworkView(snap.AgentID, fw))
	}
	return v
}

func (a *Agent) frameworkView(agentID string, fw lifecycle.FrameworkView) present.AgentFramework {
	out := present.AgentFramework{Info: proto.Clone(fw.Info).(*mesospb.FrameworkInfo)}
	for _, ex := range fw.Executors {
		out.Executors = append(out.Executors, a.executorView(agentID, ex))
	}
	for _, ex := range fw.Completed {
		out.Completed = append(out.Completed, a.executorView(agentID, ex))
	}
	return out
}

func (a *Agent) executorView(agentID string, ex lifecycle.ExecutorView) present.AgentExecutor {
	info := proto.Clone(ex.Info).(*mesospb.ExecutorInfo)
	execID := info.GetExecutorId().GetValue()
	out := present.AgentExecutor{
		Info:        info,
		FrameworkID: ex.FrameworkID,
		ContainerID: ex.ContainerID,
		Directory:   a.Sandbox(agentID, ex.FrameworkID, execID, ex.ContainerID),
		State:       ex.State.String(),
		Tasks:       cloneTasks(ex.Tasks),
		Completed:   cloneTasks(ex.Completed),
	}
	for _, t := range ex.Queued {
		out.Queued = append(out.Queued, &mesospb.Task{
			Name: proto.String(t.GetName()), TaskId: proto.Clone(t.GetTaskId()).(*mesospb.TaskID),
			FrameworkId: &mesospb.FrameworkID{Value: proto.String(ex.FrameworkID)},
			ExecutorId:  &mesospb.ExecutorID{Value: proto.String(execID)},
			AgentId:     &mesospb.AgentID{Value: proto.String(agentID)},
			State:       mesospb.TaskState_TASK_STAGING.Enum(),
			Resources:   cloneResources(t.GetResources()),
		})
	}
	return out
}

func cloneTasks(list []*mesospb.Task) []*mesospb.Task {
	out := make([]*mesospb.Task, len(list))
	for i, t := range list {
		out[i] = proto.Clone(t).(*mesospb.Task)
	}
	return out
}

func cloneResources(list []*mesospb.Resource) []*mesospb.Resource {
	out := make([]*mesospb.Resource, len(list))
	for i, r := range list {
		out[i] = proto.Clone(r).(*mesospb.Resource)
	}
	return out
}

func (a *Agent) flags() map[string]string {
	c := a.cfg
	return map[string]string{
		"master":                           c.Master,
		"work_dir":                         c.WorkDir,
		"resources":                        c.Resources.String(),
		"attributes":                       c.Attributes.String(),
		"isolation":                        c.Isolation,
		"containerizers":                   c.Containerizers,
		"cgroups_root":                     c.CgroupsRoot,
		"cgroups_enable_cfs":               strconv.FormatBool(c.CgroupsEnableCFS),
		"cgroups_pids_limit":               strconv.FormatUint(c.CgroupsPidsLimit, 10),
		"docker_socket":                    c.DockerSocket,
		"sandbox_directory":                c.SandboxDirectory,
		"launcher":                         c.Launcher,
		"launcher_dir":                     c.LauncherDir,
		"executor_registration_timeout":    durationFlag(c.ExecutorRegistrationTimeout, lifecycle.DefaultRegistrationTimeout),
		"executor_shutdown_grace_period":   durationFlag(c.ExecutorShutdownGracePeriod, lifecycle.DefaultShutdownGracePeriod),
		"status_update_retry_interval_min": durationFlag(c.StatusUpdateRetryIntervalMin, statusupdate.DefaultRetryMin),
		"status_update_retry_interval_max": durationFlag(c.StatusUpdateRetryIntervalMax, statusupdate.DefaultRetryMax),
		"registration_backoff_factor":      durationFlag(c.RegistrationBackoffFactor, DefaultRegistrationBackoffFactor),
		"registration_backoff_max":         durationFlag(c.RegistrationBackoffMax, DefaultRegistrationBackoffMax),
		"recovery_timeout":                 durationFlag(c.RecoveryTimeout, DefaultRecoveryTimeout),
		"recover":                          c.Recover,
		"strict":                           strconv.FormatBool(!c.NonStrict),
	}
}

func (a *Agent) serveMetrics(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	m := a.metricsLocked()
	a.mu.Unlock()
	writeJSON(w, r, m)
}

// metricsLocked returns Mesos' agent metrics that this agent can tell.
func (a *Agent) metricsLocked() map[string]float64 {
	st := a.core.Stats()
	ct := a.core.Counters()
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	m := map[string]float64{
		"slave/uptime_secs":                time.Since(a.started).Seconds(),
		"slave/registered":                 b(a.link.id != ""),
		"slave/frameworks_active":          float64(st.Frameworks),
		"slave/executors_registering":      float64(st.Executors[lifecycle.ExecutorRegistering]),
		"slave/executors_running":          float64(st.Executors[lifecycle.ExecutorRunning]),
		"slave/executors_terminating":      float64(st.Executors[lifecycle.ExecutorTerminating]),
		"slave/executors_terminated":       float64(ct.ExecutorsTerminated),
		"slave/valid_status_updates":       float64(ct.ValidStatusUpdates),
		"slave/invalid_status_updates":     float64(ct.InvalidStatusUpdates),
		"slave/valid_framework_messages":   float64(ct.ValidFrameworkMessages),
		"slave/invalid_framework_messages": float64(ct.InvalidFrameworkMessages),
		"slave/container_launch_errors":    float64(ct.ContainerLaunchErrors),
		"slave/status_updates_pending":     float64(st.PendingUpdates),
	}
	for _, s := range []mesospb.TaskState{mesospb.TaskState_TASK_STAGING, mesospb.TaskState_TASK_STARTING,
		mesospb.TaskState_TASK_RUNNING, mesospb.TaskState_TASK_KILLING} {
		m["slave/"+metricName(s)] = float64(st.Tasks[s])
	}
	for _, s := range []mesospb.TaskState{mesospb.TaskState_TASK_FINISHED, mesospb.TaskState_TASK_FAILED,
		mesospb.TaskState_TASK_KILLED, mesospb.TaskState_TASK_LOST, mesospb.TaskState_TASK_ERROR,
		mesospb.TaskState_TASK_DROPPED, mesospb.TaskState_TASK_GONE} {
		m["slave/"+metricName(s)] = float64(ct.TerminalTasks[s])
	}
	total := present.Resources(a.info.GetResources())
	used := a.usedLocked()
	for _, name := range []string{"cpus", "mem", "disk", "gpus"} {
		t, _ := total[name].(float64)
		u := used[name]
		m["slave/"+name+"_total"] = t
		m["slave/"+name+"_used"] = u
		m["slave/"+name+"_percent"] = 0
		if t > 0 {
			m["slave/"+name+"_percent"] = u / t
		}
	}
	return m
}

// metricName is "tasks_running" for TASK_RUNNING.
func metricName(s mesospb.TaskState) string {
	return "tasks_" + strings.ToLower(strings.TrimPrefix(s.String(), "TASK_"))
}

// usedLocked sums the scalar resources of unfinished tasks and of custom
// executors that have not terminated.
func (a *Agent) usedLocked() map[string]float64 {
	used := map[string]float64{}
	add := func(list []*mesospb.Resource) {
		for _, r := range list {
			if r.GetType() == mesospb.Value_SCALAR {
				used[r.GetName()] += r.GetScalar().GetValue()
			}
		}
	}
	for _, fw := range a.core.Snapshot().Frameworks {
		for _, ex := range fw.Executors {
			if ex.State == lifecycle.ExecutorTerminated {
				continue
			}
			if !ex.Command {
				add(ex.Info.GetResources())
			}
			for _, t := range ex.Tasks {
				if !mesospb.IsTerminal(t.GetState()) {
					add(t.GetResources())
				}
			}
			for _, t := range ex.Queued {
				add(t.GetResources())
			}
		}
	}
	return used
}

func durationFlag(v, def time.Duration) string {
	if v <= 0 {
		v = def
	}
	return mesosflag.FormatDuration(v)
}
