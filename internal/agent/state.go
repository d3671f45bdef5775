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
)

// Handler returns the agent's HTTP endpoints: the executor API, /state
// (also /slave(1)/state), /health and /metrics/snapshot. Serve uses it; it
// is exported so that tests and embedders can mount it elsewhere.
func (a *Agent) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(ExecutorAPIPath, a.serveExecutor)
	mux.HandleFunc("/state", a.serveState)
	mux.HandleFunc("/state.json", a.serveState)
	mux.HandleFunc("/slave(1)/state", a.serveState)
	mux.HandleFunc("/slave(1)/state.json", a.serveState)
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("/metrics/snapshot", a.serveMetrics)
	mux.Handle("/metrics", a.prometheusHandler())
	for _, p := range []string{"/monitor/statistics", "/monitor/statistics.json", "/slave(1)/monitor/statistics", "/slave(1)/monitor/statistics.json"} {
		mux.HandleFunc(p, a.serveStatistics)
	}
	mux.HandleFunc("/version", a.serveVersion)
	if files := a.filesHandler(); files != nil {
		mux.Handle("/files/", files)
	}
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

// JSON models of /state, after Mesos' agent.
type (
	stateJSON struct {
		Version             string            `json:"version"`
		StartTime           float64           `json:"start_time"`
		ID                  string            `json:"id"`
		PID                 string            `json:"pid"`
		Hostname            string            `json:"hostname"`
		Port                int32             `json:"port"`
		Resources           map[string]any    `json:"resources"`
		UnreservedResources map[string]any    `json:"unreserved_resources"`
		ReservedResources   map[string]any    `json:"reserved_resources"`
		Attributes          map[string]any    `json:"attributes"`
		MasterHostname      string            `json:"master_hostname,omitempty"`
		Flags               map[string]string `json:"flags"`
		Frameworks          []frameworkJSON   `json:"frameworks"`
		CompletedFrameworks []frameworkJSON   `json:"completed_frameworks"`
	}
	frameworkJSON struct {
		ID                 string         `json:"id"`
		Name               string         `json:"name"`
		User               string         `json:"user"`
		FailoverTimeout    float64        `json:"failover_timeout"`
		Checkpoint         bool           `json:"checkpoint"`
		Hostname           string         `json:"hostname"`
		Role               string         `json:"role"`
		Roles              []string       `json:"roles,omitempty"`
		Executors          []executorJSON `json:"executors"`
		CompletedExecutors []executorJSON `json:"completed_executors"`
	}
	executorJSON struct {
		ID             string         `json:"id"`
		Name           string         `json:"name"`
		Source         string         `json:"source"`
		Container      string         `json:"container"`
		Directory      string         `json:"directory"`
		State          string         `json:"state"`
		Resources      map[string]any `json:"resources"`
		Tasks          []taskJSON     `json:"tasks"`
		QueuedTasks    []taskJSON     `json:"queued_tasks"`
		CompletedTasks []taskJSON     `json:"completed_tasks"`
	}
	taskJSON struct {
		ID          string         `json:"id"`
		Name        string         `json:"name"`
		FrameworkID string         `json:"framework_id"`
		ExecutorID  string         `json:"executor_id"`
		AgentID     string         `json:"slave_id"`
		State       string         `json:"state"`
		Resources   map[string]any `json:"resources"`
		Statuses    []statusJSON   `json:"statuses"`
	}
	statusJSON struct {
		State     string  `json:"state"`
		Timestamp float64 `json:"timestamp"`
	}
)

func (a *Agent) serveState(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	s := a.stateLocked()
	a.mu.Unlock()
	writeJSON(w, r, s)
}

func (a *Agent) stateLocked() stateJSON {
	snap := a.core.Snapshot()
	info := a.info
	s := stateJSON{
		Version:             Version,
		StartTime:           float64(a.started.UnixNano()) / 1e9,
		ID:                  snap.AgentID,
		PID:                 "slave(1)@" + a.endpoint,
		Hostname:            info.GetHostname(),
		Port:                info.GetPort(),
		Resources:           resourcesJSON(info.GetResources(), func(*mesospb.Resource) bool { return true }),
		UnreservedResources: resourcesJSON(info.GetResources(), func(r *mesospb.Resource) bool { return len(r.GetReservations()) == 0 }),
		ReservedResources:   reservedJSON(info.GetResources()),
		Attributes:          attributesJSON(info.GetAttributes()),
		MasterHostname:      a.link.masterInfo.GetHostname(),
		Flags:               a.flags(),
		Frameworks:          []frameworkJSON{},
		CompletedFrameworks: []frameworkJSON{},
	}
	for _, fw := range snap.Frameworks {
		s.Frameworks = append(s.Frameworks, a.frameworkJSON(snap.AgentID, fw))
	}
	for _, fw := range snap.Completed {
		s.CompletedFrameworks = append(s.CompletedFrameworks, a.frameworkJSON(snap.AgentID, fw))
	}
	return s
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

func (a *Agent) frameworkJSON(agentID string, fw lifecycle.FrameworkView) frameworkJSON {
	info := fw.Info
	out := frameworkJSON{
		ID:                 info.GetId().GetValue(),
		Name:               info.GetName(),
		User:               info.GetUser(),
		FailoverTimeout:    info.GetFailoverTimeout(),
		Checkpoint:         info.GetCheckpoint(),
		Hostname:           info.GetHostname(),
		Role:               info.GetRole(),
		Roles:              info.GetRoles(),
		Executors:          []executorJSON{},
		CompletedExecutors: []executorJSON{},
	}
	for _, ex := range fw.Executors {
		out.Executors = append(out.Executors, a.executorJSON(agentID, ex))
	}
	for _, ex := range fw.Completed {
		out.CompletedExecutors = append(out.CompletedExecutors, a.executorJSON(agentID, ex))
	}
	return out
}

func (a *Agent) executorJSON(agentID string, ex lifecycle.ExecutorView) executorJSON {
	info := ex.Info
	out := executorJSON{
		ID:             info.GetExecutorId().GetValue(),
		Name:           info.GetName(),
		Source:         info.GetSource(),
		Container:      ex.ContainerID,
		Directory:      a.Sandbox(agentID, ex.FrameworkID, info.GetExecutorId().GetValue(), ex.ContainerID),
		State:          ex.State.String(),
		Resources:      resourcesJSON(info.GetResources(), func(*mesospb.Resource) bool { return true }),
		Tasks:          []taskJSON{},
		QueuedTasks:    []taskJSON{},
		CompletedTasks: []taskJSON{},
	}
	for _, t := range ex.Tasks {
		out.Tasks = append(out.Tasks, taskModel(t))
	}
	for _, t := range ex.Queued {
		out.QueuedTasks = append(out.QueuedTasks, taskJSON{
			ID: t.GetTaskId().GetValue(), Name: t.GetName(), FrameworkID: ex.FrameworkID,
			ExecutorID: info.GetExecutorId().GetValue(), AgentID: agentID, State: mesospb.TaskState_TASK_STAGING.String(),
			Resources: resourcesJSON(t.GetResources(), func(*mesospb.Resource) bool { return true }), Statuses: []statusJSON{},
		})
	}
	for _, t := range ex.Completed {
		out.CompletedTasks = append(out.CompletedTasks, taskModel(t))
	}
	return out
}

func taskModel(t *mesospb.Task) taskJSON {
	out := taskJSON{
		ID:          t.GetTaskId().GetValue(),
		Name:        t.GetName(),
		FrameworkID: t.GetFrameworkId().GetValue(),
		ExecutorID:  t.GetExecutorId().GetValue(),
		AgentID:     t.GetAgentId().GetValue(),
		State:       t.GetState().String(),
		Resources:   resourcesJSON(t.GetResources(), func(*mesospb.Resource) bool { return true }),
		Statuses:    []statusJSON{},
	}
	for _, st := range t.GetStatuses() {
		out.Statuses = append(out.Statuses, statusJSON{State: st.GetState().String(), Timestamp: st.GetTimestamp()})
	}
	return out
}

// resourcesJSON renders resources as Mesos' JSON model does: scalars as
// numbers (summed across roles), ranges as "[a-b, c-d]", sets as "{a,b}".
func resourcesJSON(list []*mesospb.Resource, keep func(*mesospb.Resource) bool) map[string]any {
	out := map[string]any{"cpus": 0.0, "mem": 0.0, "disk": 0.0, "gpus": 0.0}
	for _, r := range list {
		if !keep(r) {
			continue
		}
		switch r.GetType() {
		case mesospb.Value_SCALAR:
			sum, _ := out[r.GetName()].(float64)
			out[r.GetName()] = sum + r.GetScalar().GetValue()
		case mesospb.Value_RANGES:
			var parts []string
			for _, rg := range r.GetRanges().GetRange() {
				parts = append(parts, formatRange(rg))
			}
			if prev, ok := out[r.GetName()].(string); ok && len(prev) > 2 {
				parts = append([]string{prev[1 : len(prev)-1]}, parts...)
			}
			out[r.GetName()] = "[" + strings.Join(parts, ", ") + "]"
		case mesospb.Value_SET:
			out[r.GetName()] = "{" + strings.Join(r.GetSet().GetItem(), ",") + "}"
		}
	}
	return out
}

func formatRange(rg *mesospb.Value_Range) string {
	return jsonNumber(rg.GetBegin()) + "-" + jsonNumber(rg.GetEnd())
}

func jsonNumber(v uint64) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func reservedJSON(list []*mesospb.Resource) map[string]any {
	out := map[string]any{}
	roles := map[string]bool{}
	for _, r := range list {
		if rs := r.GetReservations(); len(rs) > 0 {
			roles[rs[len(rs)-1].GetRole()] = true
		}
	}
	for role := range roles {
		out[role] = resourcesJSON(list, func(r *mesospb.Resource) bool {
			rs := r.GetReservations()
			return len(rs) > 0 && rs[len(rs)-1].GetRole() == role
		})
	}
	return out
}

func attributesJSON(list []*mesospb.Attribute) map[string]any {
	out := map[string]any{}
	for _, at := range list {
		switch at.GetType() {
		case mesospb.Value_SCALAR:
			out[at.GetName()] = at.GetScalar().GetValue()
		case mesospb.Value_RANGES:
			var parts []string
			for _, rg := range at.GetRanges().GetRange() {
				parts = append(parts, formatRange(rg))
			}
			out[at.GetName()] = "[" + strings.Join(parts, ", ") + "]"
		case mesospb.Value_SET:
			out[at.GetName()] = "{" + strings.Join(at.GetSet().GetItem(), ",") + "}"
		case mesospb.Value_TEXT:
			out[at.GetName()] = at.GetText().GetValue()
		}
	}
	return out
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
	total := resourcesJSON(a.info.GetResources(), func(*mesospb.Resource) bool { return true })
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
				if !statusupdate.IsTerminal(t.GetState()) {
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
